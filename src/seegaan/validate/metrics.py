"""Scores of one explanation map against a known truth: the metrics of ``seegaan benchmark``.

Each function scores ONE image; the benchmark averages over subjects and bootstraps a CI
(:func:`bootstrap_ci`). They are a few lines each on purpose: Quantus offers the same ideas
(pointing game, relevance mass, pixel flipping, MPRT) but pulls in a heavy dependency stack
for what is here a handful of NumPy lines (see ``docs/benchmark.md``).

- :func:`deletion_curve` (faithfulness): delete the top-k% pixels of the map (set them to the
  image mean) and record how far the model's score moves, for the same fractions k for every
  method; its area summarises the curve.
- :func:`region_mass` (reliance recovery): the map's |mass| inside a region per pixel of it.
- :func:`pointing_game` and :func:`mask_auroc` (localisation).
- :func:`spearman` (reliance profile vs truth; trained vs randomised map for sanity).

Example::

    from seegaan.validate.metrics import deletion_curve
    curve = deletion_curve(model.score, image, saliency_map)
    curve["area"]          # mean |score change| over the deletion fractions
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from scipy.stats import rankdata

from seegaan.explain.metrics import auc

# Fractions of the image deleted, shared by every method so their curves line up.
DELETION_FRACTIONS = (0.01, 0.02, 0.05, 0.1, 0.2)


def _flat_order(saliency: np.ndarray) -> np.ndarray:
    """Pixel indices from most to least |salient|; ties keep pixel order (stable sort)."""
    return np.argsort(-np.abs(np.asarray(saliency, dtype=np.float64)).ravel(), kind="stable")


def deletion_curve(model_fn: Callable[[torch.Tensor], torch.Tensor], image: torch.Tensor | np.ndarray,
                   saliency: np.ndarray, fractions: tuple[float, ...] = DELETION_FRACTIONS,
                   ) -> dict[str, np.ndarray | float]:
    """Faithfulness by deletion: the model's score as the top-k% |saliency| pixels are removed.

    ``model_fn`` maps ``(N, 1, S, S)`` images in [-1, 1] to ``(N,)`` scores (e.g.
    ``ExplainableModel.score``); ``image`` is ``(S, S)``, ``(1, S, S)`` or ``(1, 1, S, S)``;
    ``saliency`` is ``(S, S)`` (its absolute value ranks the pixels). Deleted pixels are set
    to the image's own mean, so nothing outside the image's range is introduced.

    Returns ``fractions``, ``scores`` (model score after each deletion), ``base`` (score of the
    intact image), ``change`` (|score - base| per fraction) and ``area`` (the mean of
    ``change`` over the fractions: the larger, the more the map found what the model uses).
    The change is taken in absolute value because for a regression both directions of the
    output count as "the model used these pixels".
    """
    x = torch.as_tensor(np.asarray(image, dtype=np.float32) if not torch.is_tensor(image) else image)
    x = x.detach().float().reshape(1, 1, *x.shape[-2:])
    sal = np.asarray(saliency, dtype=np.float64)
    if sal.shape != tuple(x.shape[-2:]):
        raise ValueError(f"saliency shape {sal.shape} differs from the image's {tuple(x.shape[-2:])}")
    fr = np.asarray(fractions, dtype=np.float64)
    n_pix = sal.size
    order = torch.from_numpy(_flat_order(sal))
    mean = float(x.mean())
    batch = x.repeat(len(fr) + 1, 1, 1, 1).reshape(len(fr) + 1, -1).clone()
    for i, f in enumerate(fr):
        k = int(round(f * n_pix))
        batch[i + 1, order[:k]] = mean
    with torch.no_grad():
        scores = model_fn(batch.reshape(len(fr) + 1, 1, *x.shape[-2:])).detach().cpu().double().numpy()
    base, after = float(scores[0]), scores[1:]
    change = np.abs(after - base)
    return {"fractions": fr, "scores": after, "base": base, "change": change,
            "area": float(change.mean())}


def region_mass(saliency: np.ndarray, region: np.ndarray) -> float:
    """Mean |saliency| inside ``region`` (a boolean mask): mass normalised by region size.

    Dividing by the region's size keeps a large region (the chest-wall fat band) from winning
    over a small one (a device) just by covering more pixels. NaN for an empty region.
    """
    region = np.asarray(region, dtype=bool)
    if not region.any():
        return float("nan")
    return float(np.abs(np.asarray(saliency, dtype=np.float64))[region].mean())


def pointing_game(saliency: np.ndarray, region: np.ndarray) -> float:
    """1.0 when the map's largest |value| lies inside ``region``, else 0.0 (first max on ties)."""
    region = np.asarray(region, dtype=bool)
    return float(region.ravel()[_flat_order(saliency)[0]])


def mask_auroc(saliency: np.ndarray, region: np.ndarray) -> float:
    """AUROC of |saliency| as a detector of the pixels in ``region`` (0.5: chance)."""
    return auc(np.asarray(region, dtype=bool).ravel(), np.abs(np.asarray(saliency)).ravel())


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation of two equal-sized arrays (NaN when either is constant)."""
    a = np.asarray(a, dtype=np.float64).ravel()
    b = np.asarray(b, dtype=np.float64).ravel()
    ok = np.isfinite(a) & np.isfinite(b)
    a, b = a[ok], b[ok]
    if len(a) < 2 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(np.corrcoef(rankdata(a), rankdata(b))[0, 1])


def rank_of(values: np.ndarray, index: int) -> int:
    """1-based rank of ``values[index]`` from the largest down (1 = the largest; ties count
    against it, so a constant profile never ranks a factor first by accident)."""
    v = np.asarray(values, dtype=np.float64)
    if not np.isfinite(v[index]):
        return len(v)
    return int(np.sum(v[np.isfinite(v)] >= v[index]))


def bootstrap_ci(values: np.ndarray, n_boot: int = 1000, level: float = 0.95,
                 seed: int = 0) -> tuple[float, float, float]:
    """Mean of ``values`` (NaN dropped) and its percentile bootstrap CI over them (subjects)."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if len(v) == 0:
        return float("nan"), float("nan"), float("nan")
    if len(v) == 1:
        return float(v[0]), float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = v[rng.integers(0, len(v), size=(n_boot, len(v)))].mean(axis=1)
    lo, hi = np.quantile(means, [(1 - level) / 2, 1 - (1 - level) / 2])
    return float(v.mean()), float(lo), float(hi)
