"""seegaan.data: readers, ``seegaan prepare``, and the prepared dataset.

Example::

    from seegaan.data import PreparedDataset, PrepareOptions, prepare_dataset
    prepare_dataset("cohort/images", "cohort/cohort.csv", "data/c64", options=PrepareOptions(size=64))
    image, meta = PreparedDataset("data/c64", split="train")[0]

(``prepare_dataset`` and ``make_table1`` are :func:`seegaan.data.prepare.prepare` and
:func:`seegaan.data.table1.table1` under names that do not clash with their modules.)
Names are imported on first use, so that decoding workers (which import
:mod:`seegaan.data.readers`) never pay for importing torch.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "PreparedDataset": "seegaan.data.prepared",
    "to_uint16": "seegaan.data.prepared",
    "from_uint16": "seegaan.data.prepared",
    "write_prepared": "seegaan.data.prepared",
    "prepare_dataset": "seegaan.data.prepare",
    "PrepareOptions": "seegaan.data.prepare",
    "resolve_spec": "seegaan.data.prepare",
    "read_image": "seegaan.data.readers",
    "fit_and_normalise": "seegaan.data.transform",
    "patient_split": "seegaan.data.split",
    "make_table1": "seegaan.data.table1",
    "TableSpec": "seegaan.data.presets",
    "PRESETS": "seegaan.data.presets",
}

__all__ = sorted(_EXPORTS)


_ALIASES = {"prepare_dataset": "prepare", "make_table1": "table1"}


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), _ALIASES.get(name, name))
    raise AttributeError(f"module 'seegaan.data' has no attribute {name!r}")
