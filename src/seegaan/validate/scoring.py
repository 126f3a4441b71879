"""Score one explanation of one subject against its interventional truth.

Everything here is per subject; :mod:`seegaan.validate.benchmark` runs it over subjects,
methods and models and bootstraps the CIs. The scores (all from
:mod:`seegaan.validate.metrics`):

``reliance``   Spearman between the method's per-factor attribution and the model's true
               |Δŷ| per factor. Pixel map: the map's mean |value| inside each factor's true
               difference region. Sequence: the oracle-read change of each factor from the
               first frame to the last, as a share of the change the factor's own
               intervention makes (so factors in different units compare).
``pointing``   1 when the map's peak lies in the region of the factor the model relies on
               most (among factors whose region is local, i.e. under half the image).
``auroc``      AUROC of |map| against that region.
``deletion``   area of the deletion curve (mean |score change| when the top 1-20% pixels are
               set to the image mean).
``device_rank`` the device's rank among the factors by the method's attribution (1 = first).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from seegaan.validate.interventional import FACTOR_NAMES, SubjectTruth
from seegaan.validate.metrics import (
    DELETION_FRACTIONS,
    deletion_curve,
    mask_auroc,
    pointing_game,
    rank_of,
    region_mass,
    spearman,
)

DEVICE = FACTOR_NAMES.index("device")
LOCAL_SHARE = 0.5   # a region covering more of the image than this says nothing about "where"


def pixel_attribution(saliency: np.ndarray, truth: SubjectTruth) -> np.ndarray:
    """(F,) the map's mean |value| inside each factor's true difference region."""
    return np.array([region_mass(saliency, r) for r in truth.regions])


def top_local_factor(dy: np.ndarray, truth: SubjectTruth) -> int | None:
    """The factor with the largest |Δŷ| among those with a local region (None: none)."""
    local = truth.regions.reshape(len(dy), -1).mean(axis=1) < LOCAL_SHARE
    cand = np.flatnonzero(local & np.isfinite(dy))
    if len(cand) == 0:
        return None
    return int(cand[np.argmax(np.abs(dy[cand]))])


def oracle_map(dy: np.ndarray, truth: SubjectTruth) -> np.ndarray:
    """The map that knows the truth: each factor's |difference|, scaled to unit mean in its
    region and weighted by the model's |Δŷ| for it. It should score near the top."""
    out = np.zeros(truth.image.shape)
    for d, r, w in zip(np.abs(truth.diffs), truth.regions, np.abs(dy)):
        if r.any():
            out += w * d / d[r].mean()
    return out


def score_pixel_map(saliency: np.ndarray, dy: np.ndarray, truth: SubjectTruth,
                    model_fn: Callable[[torch.Tensor], torch.Tensor] | None,
                    fractions: tuple[float, ...] = DELETION_FRACTIONS,
                    attribution: np.ndarray | None = None) -> dict[str, float]:
    """Every per-subject score of a pixel map (``attribution`` overrides the per-factor
    attribution, e.g. a sequence's oracle readout; the pixel scores still use the map)."""
    attr = pixel_attribution(saliency, truth) if attribution is None else attribution
    out = {"reliance": spearman(attr, np.abs(dy)), "device_rank": float(rank_of(attr, DEVICE))}
    top = top_local_factor(dy, truth)
    if top is not None:
        out["pointing"] = pointing_game(saliency, truth.regions[top])
        out["auroc"] = mask_auroc(saliency, truth.regions[top])
    if model_fn is not None:
        out["deletion"] = deletion_curve(model_fn, truth.image, saliency, fractions)["area"]
    return out


def sequence_attribution(change: np.ndarray, intervention_change: np.ndarray) -> np.ndarray:
    """(F,) |oracle change along the frames| / |oracle change of the factor's intervention|."""
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.abs(np.asarray(change, float)) / np.abs(np.asarray(intervention_change, float))
    return np.where(np.isfinite(a), a, np.nan)


def border_map(size: int, width: int = 3) -> np.ndarray:
    """A map that lights only the image's edge: a method that reads the film's border."""
    b = np.zeros((size, size))
    b[:width], b[-width:], b[:, :width], b[:, -width:] = 1.0, 1.0, 1.0, 1.0
    return b
