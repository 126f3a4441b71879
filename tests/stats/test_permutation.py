"""Permutation p-values and corrections, on synthetic statistics with a known null."""

from __future__ import annotations

import numpy as np
import pytest

from seegaan.errors import OptionError
from seegaan.stats import (
    adjusted_pvalues,
    bh_adjust,
    maxt_pvalues,
    permutation_pvalues,
    significant,
)


def test_pvalue_formula_counts_the_observed_map():
    observed = np.array([3.0, -0.5, 0.0])
    null = np.array([[1.0, 0.5, 0.0], [-4.0, 0.1, 0.0], [2.0, -0.6, 0.0], [0.0, 0.2, 0.0]])
    # |null| >= |obs|: first 1 of 4, second 2 of 4, third (all zero) 4 of 4.
    np.testing.assert_allclose(permutation_pvalues(observed, null), [2 / 5, 3 / 5, 1.0])


def test_smallest_pvalue_is_one_over_b_plus_one():
    p = permutation_pvalues(np.array([100.0]), np.zeros((100, 1)))
    assert p[0] == pytest.approx(1 / 101)


def test_pvalues_are_uniform_under_exchangeability():
    # Observed and permuted statistics drawn alike: P(p <= k/(B+1)) must be k/(B+1).
    rng = np.random.default_rng(0)
    b, m = 99, 20000
    stats = rng.standard_normal((b + 1, m))
    p = permutation_pvalues(stats[0], stats[1:])
    for k in (1, 5, 10, 50):
        assert abs((p <= k / (b + 1)).mean() - k / (b + 1)) < 4 * np.sqrt(k / (b + 1) / m) + 1e-3


def test_bh_matches_statsmodels():
    multitest = pytest.importorskip("statsmodels.stats.multitest")
    rng = np.random.default_rng(1)
    p = np.concatenate([rng.uniform(size=200), rng.uniform(0, 0.002, size=20)])
    expected = multitest.multipletests(p, alpha=0.05, method="fdr_bh")[1]
    np.testing.assert_allclose(bh_adjust(p), expected, atol=1e-12)
    np.testing.assert_allclose(bh_adjust(p.reshape(20, 11)).ravel(), expected, atol=1e-12)


def test_maxt_controls_familywise_error_and_is_never_below_raw():
    rng = np.random.default_rng(2)
    b, reps, hits = 99, 400, 0
    scales = np.linspace(0.2, 5.0, 60)           # very unequal pixel variances
    for _ in range(reps):
        stats = rng.standard_normal((b + 1, 60)) * scales
        adj = maxt_pvalues(stats[0], stats[1:])
        raw = permutation_pvalues(stats[0], stats[1:])
        assert np.all(adj >= raw - 1e-12)
        hits += bool((adj <= 0.05).any())
    assert hits / reps <= 0.08


def test_maxt_finds_a_strong_signal_and_ignores_constant_pixels():
    rng = np.random.default_rng(3)
    null = rng.standard_normal((99, 50))
    null[:, 0] = 0.0                               # a pixel that never changes (frame 0)
    observed = rng.standard_normal(50)
    observed[0] = 0.0
    observed[7] = 25.0
    adj = maxt_pvalues(observed, null)
    assert adj[0] == 1.0 and adj[7] == pytest.approx(1 / 100)


def test_adjusted_respects_the_tested_mask_and_rejects_unknown_corrections():
    rng = np.random.default_rng(4)
    obs, null = rng.standard_normal((2, 5)), rng.standard_normal((19, 2, 5))
    tested = np.zeros((2, 5), dtype=bool)
    tested[1] = True
    for corr in ("none", "fdr", "maxt"):
        adj = adjusted_pvalues(obs, null, corr, tested)
        assert np.all(adj[0] == 1.0) and np.all(adj[1] <= 1.0)
        assert significant(obs, null, 0.05, corr, tested).shape == (2, 5)
    with pytest.raises(OptionError, match="--correction bonferroni"):
        adjusted_pvalues(obs, null, "bonferroni")
