"""Permutation p-values for maps, and the three ways to call a pixel significant.

The inputs are an observed statistic map and B maps of the same statistic computed after
shuffling (the null). Everything is two-sided on absolute values and counts the observed
map as one of the permutations, ``p = (1 + #{b : |T_b| ≥ |T|}) / (B + 1)``, which keeps the
test valid (P(p ≤ α) ≤ α under the null) for any B; the smallest p is 1 / (B + 1).

Corrections, over the pixels being tested (the *family*):

- ``none``: per-pixel p ≤ α, the paper's choice: about α of null pixels light up;
- ``fdr``: Benjamini–Hochberg on the per-pixel p-values, controls the expected fraction of
  false discoveries among the lit pixels;
- ``maxt``: Westfall–Young single-step max statistic, controls the chance of *any* false
  pixel. Each pixel is first divided by its permutation standard deviation, so that pixels
  with large natural variation (e.g. the body edge) do not set the threshold for all others.

Example::

    p = permutation_pvalues(observed, null)              # observed (…), null (B, …)
    keep = significant(observed, null, alpha=0.05, correction="maxt")
"""

from __future__ import annotations

import numpy as np

from seegaan.errors import OptionError

CORRECTIONS = ("none", "fdr", "maxt")


def permutation_pvalues(observed: np.ndarray, null: np.ndarray) -> np.ndarray:
    """Two-sided per-element p-values ``(1 + #{|null_b| ≥ |observed|}) / (B + 1)``."""
    obs = np.abs(np.asarray(observed))
    null = np.asarray(null)
    count = np.zeros(obs.shape, dtype=np.int32)
    for b in range(len(null)):          # a loop keeps memory at one map, not B booleans
        count += np.abs(null[b]) >= obs
    return (1.0 + count) / (len(null) + 1.0)


def bh_adjust(p: np.ndarray) -> np.ndarray:
    """Benjamini–Hochberg adjusted p-values (q-values), same shape as ``p``."""
    flat = np.asarray(p, dtype=np.float64).ravel()
    m = flat.size
    if m == 0:
        return np.asarray(p, dtype=np.float64)
    order = np.argsort(flat)
    scaled = flat[order] * m / np.arange(1, m + 1)
    # The running minimum from the largest p down makes the adjustment monotone.
    q_sorted = np.minimum(np.minimum.accumulate(scaled[::-1])[::-1], 1.0)
    q = np.empty(m)
    q[order] = q_sorted
    return q.reshape(np.shape(p))


def maxt_pvalues(observed: np.ndarray, null: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    """Family-wise adjusted p-values by the studentised max statistic over all elements.

    The scale of each element is its standard deviation over the B + 1 maps (the observed one
    included, so that all B + 1 remain exchangeable under the null). Elements that never vary
    (e.g. frame 0 minus itself) get p = 1 and do not enter the maximum.
    """
    obs = np.asarray(observed, dtype=np.float64)
    null = np.asarray(null)
    n_total = len(null) + 1
    mean = (obs + null.sum(axis=0, dtype=np.float64)) / n_total
    var = (obs - mean) ** 2
    for b in range(len(null)):
        var += (null[b] - mean) ** 2
    sd = np.sqrt(var / max(n_total - 1, 1))
    live = sd > eps
    scale = np.where(live, sd, 1.0)
    z_obs = np.where(live, np.abs(obs) / scale, 0.0)
    max_null = np.array([np.max(np.where(live, np.abs(null[b]) / scale, 0.0), initial=0.0)
                         for b in range(len(null))])
    # #{b : max_b ≥ z} by binary search, instead of a (B, elements) comparison table.
    count = len(max_null) - np.searchsorted(np.sort(max_null), z_obs, side="left")
    p = (1.0 + count) / n_total
    return np.where(live, p, 1.0)


def adjusted_pvalues(observed: np.ndarray, null: np.ndarray, correction: str = "none",
                     tested: np.ndarray | None = None) -> np.ndarray:
    """p-values after ``correction`` (``none`` | ``fdr`` | ``maxt``); untested elements get 1.

    ``tested``: optional boolean mask of the family (default: every element).
    """
    if correction not in CORRECTIONS:
        raise OptionError(f"--correction {correction}: choose from {', '.join(CORRECTIONS)}")
    obs = np.asarray(observed)
    null = np.asarray(null)
    tested = np.ones(obs.shape, dtype=bool) if tested is None else np.asarray(tested, dtype=bool)
    out = np.ones(obs.shape, dtype=np.float64)
    if not tested.any():
        return out
    obs_t, null_t = obs[tested], null[:, tested]
    if correction == "maxt":
        out[tested] = maxt_pvalues(obs_t, null_t)
    else:
        p = permutation_pvalues(obs_t, null_t)
        out[tested] = bh_adjust(p) if correction == "fdr" else p
    return out


def significant(observed: np.ndarray, null: np.ndarray, alpha: float = 0.05,
                correction: str = "none", tested: np.ndarray | None = None) -> np.ndarray:
    """Boolean map: adjusted p ≤ ``alpha``."""
    return adjusted_pvalues(observed, null, correction, tested) <= alpha
