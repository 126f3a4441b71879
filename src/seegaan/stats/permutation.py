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

What a p-value means here, and what it assumes: ``docs/sequences.md``. "About α of null
pixels" holds on average over many null maps; a single null map can light up far more (the
pixels of one map are strongly correlated), so a claim about one map needs ``maxt``.

:class:`NullStream` takes the null maps batch by batch and keeps only running counts and
sums, so memory is O(elements), whatever B. ``maxt`` needs every null map twice (once for
the per-element scale, once for the maxima); it spools them to a temporary file on disk.

Example::

    p = permutation_pvalues(observed, null)              # observed (…), null (B, …)
    keep = significant(observed, null, alpha=0.05, correction="maxt")

    acc = NullStream(observed, tested, correction="maxt", permutations=B)
    for batch in batches: acc.add(batch)                 # (b, …) each
    raw, adjusted = acc.finish()
"""

from __future__ import annotations

import math
import os
import tempfile

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


class NullStream:
    """Permutation p-values from null maps that arrive in batches (memory O(elements)).

    ``raw`` p-values count ``|null_b| ≥ |observed|`` per element; ``fdr`` adjusts them;
    ``maxt`` needs each element's standard deviation over all B + 1 maps before any
    maximum can be taken, so it writes the maps to a float32 file under ``spool_dir``
    (default: the system temporary folder) and reads them back in batches. The results equal
    :func:`adjusted_pvalues` on the stacked maps.
    """

    def __init__(self,
                 observed:     np.ndarray,               # (…) observed statistic
                 tested:       np.ndarray | None = None, # bool mask of the family (all)
                 correction:   str = "none",             # none | fdr | maxt
                 permutations: int = 0,                  # B, needed up front by maxt
                 spool_dir:    str | os.PathLike | None = None,
                 eps:          float = 1e-12) -> None:
        if correction not in CORRECTIONS:
            raise OptionError(f"--correction {correction}: choose from {', '.join(CORRECTIONS)}")
        self.obs = np.asarray(observed, dtype=np.float32)
        self.tested = (np.ones(self.obs.shape, dtype=bool) if tested is None
                       else np.asarray(tested, dtype=bool))
        self.obs_t = self.obs[self.tested]
        self.abs_obs = np.abs(self.obs_t)
        self.count = np.zeros(self.obs_t.shape, dtype=np.int64)
        self.correction, self.eps = correction, eps
        self.n = 0
        self._spool = None
        if correction == "maxt":
            if permutations < 1:
                raise OptionError("maxt: the number of permutations must be given up front")
            # Sums of (x − observed) keep the variance exact for elements that never vary.
            self.s1 = np.zeros(self.obs_t.shape, dtype=np.float64)
            self.s2 = np.zeros(self.obs_t.shape, dtype=np.float64)
            self._dir = tempfile.TemporaryDirectory(prefix="seegaan-null-", dir=spool_dir)
            self._spool = np.lib.format.open_memmap(
                os.path.join(self._dir.name, "null.npy"), mode="w+", dtype=np.float32,
                shape=(permutations, self.obs_t.size))

    def add(self, null: np.ndarray) -> None:
        """Take ``(b, …)`` more null maps (same shape as the observed map)."""
        null = np.asarray(null, dtype=np.float32)
        flat = null[:, self.tested]                                   # (b, m)
        self.count += (np.abs(flat) >= self.abs_obs).sum(axis=0)
        if self._spool is not None:
            if self.n + len(flat) > len(self._spool):
                raise OptionError(f"maxt: more than the {len(self._spool)} null maps announced")
            d = flat.astype(np.float64) - self.obs_t
            self.s1 += d.sum(axis=0)
            self.s2 += (d * d).sum(axis=0)
            self._spool[self.n:self.n + len(flat)] = flat
        self.n += len(flat)

    def finish(self, batch: int = 256) -> tuple[np.ndarray, np.ndarray]:
        """``(raw, adjusted)`` p-value maps; untested elements get 1."""
        raw = np.ones(self.obs.shape, dtype=np.float64)
        raw[self.tested] = (1.0 + self.count) / (self.n + 1.0)
        if self.correction == "none":
            return raw, raw.copy()
        adj = np.ones(self.obs.shape, dtype=np.float64)
        if self.correction == "fdr":
            adj[self.tested] = bh_adjust(raw[self.tested])
            return raw, adj
        if self.n != len(self._spool):
            raise OptionError(f"maxt: {self.n} null maps arrived, {len(self._spool)} announced")
        total = self.n + 1                     # the observed map is one of the B + 1
        mean_d = self.s1 / total
        var = np.maximum(self.s2 - total * mean_d * mean_d, 0.0) / max(total - 1, 1)
        sd = np.sqrt(var)
        live = sd > self.eps
        scale = np.where(live, sd, 1.0)
        z_obs = np.where(live, self.abs_obs / scale, 0.0)
        max_null = np.empty(self.n)
        for start in range(0, self.n, batch):
            z = np.abs(self._spool[start:start + batch]) / scale
            max_null[start:start + batch] = np.where(live, z, 0.0).max(axis=1, initial=0.0)
        count = self.n - np.searchsorted(np.sort(max_null), z_obs, side="left")
        adj[self.tested] = np.where(live, (1.0 + count) / total, 1.0)
        self.close()
        return raw, adj

    def close(self) -> None:
        if self._spool is not None:
            del self._spool
            self._spool = None
            self._dir.cleanup()


def power_notes(permutations: int, alpha: float, correction: str, n_tested: int) -> list[str]:
    """Warnings when B is too small for the test to reject anything (or reliably) at ``alpha``.

    The smallest p-value a permutation test can give is 1 / (B + 1), so B + 1 < 1/α makes
    every correction powerless. Benjamini–Hochberg rejects the k smallest p only when
    p_(k) ≤ kα/m: with every p at least 1/(B + 1), that needs kα/m ≥ 1/(B + 1), so it can
    only reject sets of at least m / (α(B + 1)) of the m tested pixels (all of them at B = 19,
    20% at B = 99, 1% from B = 1999); ``benchmarks/power.py`` checks this on real maps. The max-statistic threshold is
    the (1 − α) quantile of B null maxima, so it rests on about α(B + 1) of them.

    Example::

        power_notes(9, 0.05, "none", 4096)   # ["B = 9: ... no pixel can reach p ≤ 0.05 ..."]
    """
    b1 = permutations + 1
    if permutations <= 0:
        return []
    floor = 1.0 / b1
    need = math.ceil(1.0 / alpha) - 1
    if floor > alpha:
        return [f"--permutations {permutations}: the smallest possible p-value is 1/(B+1) = "
                f"{floor:.3g} > alpha {alpha:g}, so no pixel can be significant; use at least "
                f"B = {need} (B ≥ {max(need, 99)} for a usable test)"]
    notes = []
    if correction == "fdr" and n_tested > 0:
        share = min(1.0, 1.0 / (alpha * b1))
        if share > 0.01:
            k = math.ceil(share * n_tested)
            b_need = math.ceil(100.0 / alpha) - 1
            notes.append(f"--correction fdr with B = {permutations}: Benjamini-Hochberg can "
                         f"only reject sets of at least {k} of the {n_tested} tested pixels "
                         f"({share:.0%}): rejecting j pixels needs p ≤ j·alpha/m for all of "
                         f"them, and no p is below 1/(B+1) = {floor:.3g}; a small, localised "
                         f"effect needs B ≥ {b_need} (1% of pixels)")
    if correction == "maxt" and alpha * b1 < 5:
        b_need = math.ceil(5.0 / alpha) - 1
        notes.append(f"--correction maxt with B = {permutations}: the family-wise threshold "
                     f"rests on the {max(1, int(alpha * b1))} largest of {permutations} null "
                     f"maxima, so it is unstable; use B ≥ {b_need}")
    return notes
