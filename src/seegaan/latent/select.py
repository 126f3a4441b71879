"""Choosing the rows and groups a sequence is built from, with the checks users need.

Everything here is cheap and runs before any checkpoint is loaded or output written, so a
mistyped feature or level fails in a second with a one-line message naming the option.

- rows are filtered by split (default ``test``, as in the paper; ``all`` keeps every row);
- rows whose feature value is missing are dropped and counted;
- a feature is *qualitative* when ``--from``/``--to`` are given, or when it is not numeric,
  or has exactly two distinct values; otherwise *quantitative*.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from seegaan.data.prepared import SPLIT_CHOICES
from seegaan.errors import InputError, OptionError
from seegaan.latent.store import LatentTable
from seegaan.utils.renamed import renamed_keywords

ID_COLUMNS = ("image_id", "patient_id", "split", "source_path")
FEATURE_TYPES = ("auto", "qualitative", "quantitative")


@dataclass
class Selection:
    feature: str
    feature_type: str                      # "qualitative" | "quantitative"
    split: str
    w: np.ndarray                          # (n, D) latents of the rows used
    meta: pd.DataFrame                     # their metadata rows
    n_missing: int                         # rows of the split dropped for a missing value
    rows: np.ndarray                       # (n,) positions of these rows in the table
    x: np.ndarray | None = None            # (n,) feature values (quantitative)
    is_to: np.ndarray | None = None        # (n,) True for the "to" group (qualitative)
    levels: tuple[str, str] | None = None  # (from, to) as written by the user / table
    groups: dict[str, int] = field(default_factory=dict)  # group (or "all") -> n


def feature_columns(table: LatentTable) -> list[str]:
    return [c for c in table.meta.columns if c not in ID_COLUMNS and not c.startswith("_")]


def _level_name(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _match_level(levels: list, wanted: str, option: str, feature: str, where: str) -> object:
    for lv in levels:
        if _level_name(lv) == wanted or str(lv) == wanted:
            return lv
    for lv in levels:  # "1" matches 1.0, "0.5" matches 0.5
        try:
            if float(lv) == float(wanted):
                return lv
        except (TypeError, ValueError):
            continue
    shown = ", ".join(_level_name(lv) for lv in levels[:20])
    raise OptionError(f"{option} {wanted}: no such level of '{feature}' in {where} (levels: {shown})")


@renamed_keywords(kind="feature_type")
def select_rows(table: LatentTable,
                feature:    str,
                split:      str = "test",           # test | val | train | all
                feature_type: str = "auto",         # auto | qualitative | quantitative
                from_level: str | None = None,      # qualitative start group
                to_level:   str | None = None,      # qualitative end group
                ) -> Selection:
    """Rows and groups for a sequence of ``feature``; raises one-line errors on bad input.

    Example::

        sel = select_rows(table, "manufacturer", from_level="Carestream", to_level="GE")
        sel.groups        # {"Carestream": 412, "GE": 388}
    """
    if feature not in table.meta.columns or feature in ID_COLUMNS:
        avail = ", ".join(feature_columns(table)) or "none"
        raise InputError(f"--feature {feature}: no such column in the latent table "
                         f"(features: {avail})")
    if split not in SPLIT_CHOICES:
        raise OptionError(f"--split {split}: choose from {', '.join(SPLIT_CHOICES)}")
    if feature_type not in FEATURE_TYPES:
        raise OptionError(f"--feature-type {feature_type}: choose from {', '.join(FEATURE_TYPES)}")
    meta = table.meta
    keep = np.ones(len(meta), dtype=bool)
    where = "the latent table"
    if split != "all":
        if "split" not in meta.columns:
            raise InputError("latent table has no 'split' column; use --split all")
        keep = (meta["split"].astype(str) == split).to_numpy().copy()
        where = f"split '{split}'"
        if not keep.any():
            raise InputError(f"--split {split}: no rows of the latent table are in this split")
    col = meta[feature]
    missing = col.isna().to_numpy() | (col.astype(str).str.strip() == "").to_numpy()
    n_missing = int((keep & missing).sum())
    keep &= ~missing
    if not keep.any():
        raise InputError(f"--feature {feature}: every value in {where} is missing")
    rows = meta[keep].reset_index(drop=True)
    w = table.w[keep]
    values = rows[feature]

    numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    if feature_type == "auto":
        if from_level is not None or to_level is not None or not numeric:
            feature_type = "qualitative"
        else:
            # One distinct number is a constant regressor: let the quantitative check say so.
            feature_type = "qualitative" if values.nunique() == 2 else "quantitative"

    sel = Selection(feature, feature_type, split, w, rows, n_missing, np.flatnonzero(keep))
    if feature_type == "quantitative":
        if from_level is not None or to_level is not None:
            raise OptionError("--from/--to: only for qualitative features (drop them, or pass "
                              "--feature-type qualitative)")
        x = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64)
        if np.isnan(x).any():
            raise InputError(f"--feature {feature}: not numeric in {where}, so it cannot be "
                             "regressed on (give --from/--to for a qualitative sequence)")
        if np.ptp(x) == 0:
            raise InputError(f"--feature {feature}: constant ({_level_name(x[0])}) over the "
                             f"{len(x)} image{'' if len(x) == 1 else 's'} of {where}; nothing to regress on")
        if len(x) < 4:
            raise InputError(f"--feature {feature}: only {len(x)} images with a value in "
                             f"{where} (need at least 4 for a regression path)")
        sel.x = x
        sel.groups = {"all": len(x)}
        return sel

    levels = sorted(values.unique().tolist(), key=lambda v: (str(type(v)), v))
    if from_level is None and to_level is None:
        if len(levels) != 2:
            shown = ", ".join(_level_name(lv) for lv in levels[:20])
            raise OptionError(f"--feature {feature}: has {len(levels)} levels in {where} "
                              f"({shown}); choose two with --from and --to")
        src, dst = levels
    elif from_level is None or to_level is None:
        raise OptionError("--from/--to: give both levels, or neither for a two-level feature")
    else:
        src = _match_level(levels, str(from_level), "--from", feature, where)
        dst = _match_level(levels, str(to_level), "--to", feature, where)
        if src == dst:
            raise OptionError(f"--from/--to: both name level '{_level_name(src)}'")
    for option, lv in (("--from", src), ("--to", dst)):
        n = int((values == lv).sum())
        if n < 2:
            raise InputError(f"{option} {_level_name(lv)}: level of '{feature}' has {n} image"
                             f"{'' if n == 1 else 's'} in {where} (need at least 2)")
    in_pair = (values == src) | (values == dst)
    sel.meta = rows[in_pair.to_numpy()].reset_index(drop=True)
    sel.w = w[in_pair.to_numpy()]
    sel.rows = sel.rows[in_pair.to_numpy()]
    sel.is_to = (sel.meta[feature] == dst).to_numpy()
    sel.levels = (_level_name(src), _level_name(dst))
    sel.groups = {sel.levels[0]: int((~sel.is_to).sum()), sel.levels[1]: int(sel.is_to.sum())}
    return sel


def find_image(table: LatentTable, image_id: str) -> int:
    """Row of ``image_id`` in the whole table (any split)."""
    if "image_id" not in table.meta.columns:
        raise InputError("latent table has no 'image_id' column")
    hits = np.flatnonzero(table.meta["image_id"].astype(str).to_numpy() == str(image_id))
    if len(hits) == 0:
        raise InputError(f"--image {image_id}: no such image_id in the latent table")
    if len(hits) > 1:
        # Picking one silently could explain a different radiograph than the user meant.
        raise InputError(f"--image {image_id}: {len(hits)} rows of the latent table have this "
                         f"image_id (rows {', '.join(str(h) for h in hits[:5])}); image ids "
                         "must be unique")
    return int(hits[0])
