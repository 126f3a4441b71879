"""Warnings when too few patients stand behind a sequence for its maps to mean much.

A permutation test is exact at any size, but with a handful of patients the group means (or
the regression path) are themselves noisy: a 16-film study marked 19.7 % of pixels
"significant" for an invented age variable, where reruns on fresh noise gave 0.7–2.6 %. The
maps then show the sample, not the feature. These helpers count *patients* (not images, since
one patient's films are not independent) and say so in one sentence the CLI prints.

Example::

    sel = select_rows(table, "ahf", from_level="0", to_level="1")
    for line in selection_warnings(sel):
        print("warning:", line)
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from seegaan.latent.select import Selection
from seegaan.latent.store import LatentTable

MIN_GROUP_PATIENTS = 20        # per group of a qualitative sequence (or class of a CNN split)
MIN_REGRESSION_PATIENTS = 30   # behind a regression path

_WHY = ("with so few, sampling noise alone can make many pixels look significant; "
        "read the maps as illustrations, not findings")


def count_patients(meta: pd.DataFrame) -> int:
    """Distinct patients among ``meta``'s rows (rows, when the table has no patient_id)."""
    if "patient_id" in meta.columns:
        return int(meta["patient_id"].astype(str).nunique())
    return len(meta)


def selection_warnings(sel: Selection,
                       min_group:      int = MIN_GROUP_PATIENTS,
                       min_regression: int = MIN_REGRESSION_PATIENTS) -> list[str]:
    """One sentence per group (or regression) of ``sel`` with fewer patients than the minimum."""
    where = "the latent table" if sel.split == "all" else f"split '{sel.split}'"
    if sel.feature_type == "quantitative":
        n = count_patients(sel.meta)
        if n < min_regression:
            return [f"'{sel.feature}': the regression path rests on {n} patients of {where} "
                    f"(fewer than {min_regression}); {_WHY}"]
        return []
    out = []
    names = list(sel.levels or ("from", "to"))
    for name, is_to in zip(names, (False, True)):
        n = count_patients(sel.meta[np.asarray(sel.is_to) == is_to])
        if n < min_group:
            out.append(f"'{sel.feature}' = {name}: {n} patients in {where} (fewer than "
                       f"{min_group}); {_WHY}")
    return out


def class_warnings(table: LatentTable, target: str, threshold: float, split: str,
                   min_group: int = MIN_GROUP_PATIENTS) -> list[str]:
    """Warnings for ``seegaan explain``: patients above and at-or-below ``threshold``."""
    meta = table.meta
    if split != "all" and "split" in meta.columns:
        meta = meta[meta["split"].astype(str) == split]
    if target not in meta.columns:
        return []  # the pipeline reports the missing column itself
    y = pd.to_numeric(meta[target], errors="coerce")
    where = "the latent table" if split == "all" else f"split '{split}'"
    out = []
    for name, mask in ((f"{target} > {threshold:g}", y > threshold),
                       (f"{target} ≤ {threshold:g}", y <= threshold)):
        n = count_patients(meta[mask.to_numpy()])
        if 0 < n < min_group:  # an empty class is the pipeline's one-line error, not a warning
            out.append(f"{name}: {n} patients in {where} (fewer than {min_group}); {_WHY}")
    return out
