"""Picking the four patients of the paper's Fig. 6: a TP, a TN, a FP and a FN at a threshold.

**[decision]** Within each category the patient whose prediction is the *median* distance
from the threshold is chosen: a typical case, neither a borderline call nor the wildest
error (whose lambda search would more often fail and teach less). Ties break by row order,
so the choice is deterministic.

Example::

    picks = select_cases(truth=df.bnpp, pred=df.pred_bnpp, threshold=400)
    picks["FP"]                 # row position in df, or None when the model made no FP
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from seegaan.errors import InputError, OptionError

CATEGORIES = ("TP", "TN", "FP", "FN")
DESCRIPTIONS = {"TP": "true positive", "TN": "true negative", "FP": "false positive",
                "FN": "false negative"}


def check_threshold(truth: np.ndarray, threshold: float, name: str = "target") -> None:
    """Refuse a threshold that leaves no positive or no negative ground-truth case."""
    truth = np.asarray(truth, dtype=np.float64)
    n_pos = int((truth > threshold).sum())
    n_neg = int((truth <= threshold).sum())
    if n_pos == 0:
        raise OptionError(f"--threshold {threshold:g}: leaves no positive cases (no {name} above "
                          f"it among {len(truth)} images; max {np.nanmax(truth):.4g})")
    if n_neg == 0:
        raise OptionError(f"--threshold {threshold:g}: leaves no negative cases (every {name} is "
                          f"above it among {len(truth)} images; min {np.nanmin(truth):.4g})")


def categorise(truth: np.ndarray, pred: np.ndarray, threshold: float) -> np.ndarray:
    """``"TP"``/``"TN"``/``"FP"``/``"FN"`` per row (positive means ``> threshold``)."""
    t = np.asarray(truth, dtype=np.float64) > threshold
    p = np.asarray(pred, dtype=np.float64) > threshold
    out = np.empty(len(t), dtype=object)
    out[t & p], out[~t & ~p], out[~t & p], out[t & ~p] = "TP", "TN", "FP", "FN"
    return out


def select_cases(truth: np.ndarray, pred: np.ndarray, threshold: float,
                 image_ids: Sequence[str] | None = None,
                 chosen: Sequence[str] | None = None) -> dict[str, int | None]:
    """Row positions of one TP, TN, FP and FN (``None`` where a category is empty).

    ``chosen`` (``--images``) gives four image ids in the order TP, TN, FP, FN; each must be
    in ``image_ids`` and belong to its category, so a mislabelled pick fails loudly instead of
    producing a figure that says the wrong thing.
    """
    truth = np.asarray(truth, dtype=np.float64)
    pred = np.asarray(pred, dtype=np.float64)
    check_threshold(truth, threshold)
    cats = categorise(truth, pred, threshold)
    if chosen is not None:
        if image_ids is None:
            raise OptionError("--images: image ids are needed to look the patients up")
        chosen = list(chosen)
        if len(chosen) != 4:
            raise OptionError(f"--images: give four image ids (TP,TN,FP,FN), got {len(chosen)}")
        where = {str(i): k for k, i in enumerate(image_ids)}
        picks: dict[str, int | None] = {}
        for cat, image_id in zip(CATEGORIES, chosen):
            if image_id in ("", "-", "none"):
                picks[cat] = None
                continue
            if image_id not in where:
                raise InputError(f"--images {image_id}: not in the latent table")
            k = where[image_id]
            if cats[k] != cat:
                raise OptionError(f"--images {image_id}: is a {DESCRIPTIONS[cats[k]]} at threshold "
                                  f"{threshold:g}, not a {DESCRIPTIONS[cat]}")
            picks[cat] = k
        return picks
    margin = np.abs(pred - threshold)
    picks = {}
    for cat in CATEGORIES:
        rows = np.flatnonzero(cats == cat)
        if len(rows) == 0:
            picks[cat] = None
            continue
        order = rows[np.argsort(margin[rows], kind="stable")]
        picks[cat] = int(order[(len(order) - 1) // 2])
    return picks
