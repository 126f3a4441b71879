"""Which cohort version a folder, a prepared dataset, a latent table or a checkpoint belongs to.

Version-1 and version-2 films differ in framing, processing and factors, so each has its own
oracle (``assets/oracle`` and ``assets/oracle/v2``). Reading version-2 films with the
version-1 oracle gives numbers that look plausible and mean nothing; every reader of the
oracle therefore asks this module which version the data is, and :func:`oracle_for` refuses
in one line when that version's oracle is not installed.

Where the version is recorded (absent everywhere = version 1, the original cohort):

- ``cohort.json`` of ``seegaan cohort``: ``cohort_version`` (written for version 2 only);
- ``prepare.json`` of a prepared cohort: ``cohort_version`` (copied from ``cohort.json``);
  older prepared folders are traced back to the ``cohort.json`` beside their ``csv``;
- a latent table's info: ``cohort_version`` (from its prepared dataset), else its ``data_dir``;
- a checkpoint directory: ``train_config.json`` or the training run's ``config.json``,
  top-level ``cohort_version`` or ``train.extra.cohort_version``, else its ``data_dir``.

Example::

    v = dataset_cohort_version("data64")
    oracle = oracle_for(v, 64)
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from seegaan.errors import CheckpointError

VERSIONS = (1, 2)


def _read(path: Path) -> dict[str, Any] | None:
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def _valid(v: Any) -> int | None:
    return int(v) if isinstance(v, int) and not isinstance(v, bool) and v in VERSIONS else None


def cohort_json_version(folder: str | os.PathLike) -> int | None:
    """The version of the ``seegaan cohort`` output in ``folder`` (None: no cohort.json there)."""
    doc = _read(Path(folder) / "cohort.json")
    if doc is None:
        return None
    return _valid(doc.get("cohort_version", 1)) or 1


def find_cohort_version(*places: str | os.PathLike | None) -> int | None:
    """The version of the first ``cohort.json`` found in ``places`` (None: none found)."""
    for p in places:
        if p is None:
            continue
        v = cohort_json_version(p)
        if v is not None:
            return v
    return None


def dataset_cohort_version(data_dir: str | os.PathLike, default: int = 1) -> int:
    """The cohort version of a prepared dataset (``default`` when it is not a known cohort)."""
    info = _read(Path(data_dir) / "prepare.json") or {}
    v = _valid(info.get("cohort_version"))
    if v is not None:
        return v
    # Prepared before prepare.json recorded it: the cohort.json beside its table or images.
    places = [Path(info[k]).parent for k in ("csv", "images") if isinstance(info.get(k), str)]
    found = find_cohort_version(*places)
    return found if found is not None else default


def table_cohort_version(table: Any, default: int = 1) -> int:
    """The cohort version of a :class:`~seegaan.latent.store.LatentTable` (info, else data_dir)."""
    info = getattr(table, "info", None) or {}
    v = _valid(info.get("cohort_version"))
    if v is not None:
        return v
    if info.get("data_dir") and Path(info["data_dir"]).is_dir():
        return dataset_cohort_version(info["data_dir"], default)
    return default


def checkpoint_cohort_version(path: str | os.PathLike | None = None, default: int = 1) -> int:
    """The cohort version a checkpoint was trained on (``None``: the bundled demo checkpoint).

    Looks in the checkpoint folder's ``train_config.json``, then in the training run's
    ``config.json`` one level up (``RUN/best`` -> ``RUN/config.json``).
    """
    if path is None:
        from seegaan.models.autoencoder import DEMO_CHECKPOINT

        path = DEMO_CHECKPOINT
    root = Path(path)
    for doc in (_read(root / "train_config.json"), _read(root.parent / "config.json"),
                _read(root / "config.json")):
        if not doc:
            continue
        v = _valid(doc.get("cohort_version"))
        if v is None:
            extra = (doc.get("train") or {}).get("extra") if isinstance(doc.get("train"), dict) else None
            v = _valid((extra or {}).get("cohort_version"))
        if v is None and isinstance(doc.get("data_dir"), str) and Path(doc["data_dir"]).is_dir():
            v = dataset_cohort_version(doc["data_dir"], default=0) or None
        if v is not None:
            return v
    return default


def ae_cohort_version(ae: Any, default: int = 1) -> int:
    """The cohort version recorded on a loaded autoencoder (``load_autoencoder`` sets it)."""
    return _valid(getattr(ae, "cohort_version", None)) or default


def oracle_for(version: int, size: int | None = None, path: str | os.PathLike | None = None):
    """The oracle of cohort ``version``; a one-line error when it is not installed.

    ``path`` (an oracle directory) overrides the shipped one; its recorded version must match.
    """
    from seegaan.cohort.oracle import ASSET_DIRS, load_oracle

    if path is None and not (ASSET_DIRS.get(version, Path("/nonexistent")) / "model.safetensors").is_file():
        raise CheckpointError(
            f"cohort version {version} films need the version-{version} oracle, which is not in "
            f"this install ({ASSET_DIRS.get(version)}); train it with `python -m "
            f"seegaan.cohort.oracle --version {version}` or pass an oracle directory")
    oracle = load_oracle(size, path=path, version=version)
    check_oracle(oracle, version)
    return oracle


def check_oracle(oracle: Any, version: int) -> None:
    """Refuse an oracle trained on another cohort version than the data's."""
    cfg = getattr(oracle, "cfg", None)
    have = getattr(cfg, "cohort_version", None)
    if have is not None and int(have) != int(version):
        raise CheckpointError(f"the oracle reads cohort version {have} films but the data are "
                              f"cohort version {version}; use the version-{version} oracle")
