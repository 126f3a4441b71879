"""Streamed null, whole-block permutations, the memory budget and the power warnings."""

from __future__ import annotations

import numpy as np
import pytest

from seegaan.errors import InputError, OptionError
from seegaan.latent.budget import check_budget, estimate_sequence
from seegaan.stats import NullStream, Permuter, adjusted_pvalues, feature_level, power_notes


@pytest.mark.parametrize("correction", ["none", "fdr", "maxt"])
def test_streamed_null_equals_stacked(correction, tmp_path):
    rng = np.random.default_rng(0)
    obs = rng.normal(size=(3, 5, 5)).astype(np.float32)
    obs[0] = 0.0
    null = rng.normal(size=(40, 3, 5, 5)).astype(np.float32)
    null[:, 0] = 0.0
    tested = np.ones(obs.shape, dtype=bool)
    tested[0] = False
    acc = NullStream(obs, tested, correction, permutations=40, spool_dir=tmp_path)
    for start in range(0, 40, 7):                       # uneven batches
        acc.add(null[start:start + 7])
    raw, adj = acc.finish()
    np.testing.assert_allclose(adj, adjusted_pvalues(obs, null, correction, tested), atol=1e-9)
    np.testing.assert_allclose(raw[1:], adjusted_pvalues(obs, null, "none", tested)[1:])
    assert list(tmp_path.iterdir()) == []               # the maxt spool is removed


def test_maxt_refuses_a_wrong_count(tmp_path):
    acc = NullStream(np.ones(4), None, "maxt", permutations=3, spool_dir=tmp_path)
    acc.add(np.zeros((2, 4)))
    with pytest.raises(OptionError):
        acc.finish()
    acc.close()


def test_patient_permutations_move_whole_blocks():
    groups = np.array(["a", "a", "b", "c", "c", "d", "e", "e", "f"])
    perm = Permuter(len(groups), groups, "patients", seed=1)
    perms = perm.draw(200)
    for p in perms:
        assert sorted(p) == list(range(len(groups)))     # still a permutation of rows
        for g in np.unique(groups):
            rows = np.flatnonzero(groups == g)
            # A patient's films go together, to one patient with as many films.
            target = groups[p[rows]]
            assert len(set(target)) == 1 and (groups == target[0]).sum() == len(rows)
    # And they do move: not the identity every time.
    assert (perms != np.arange(len(groups))).any()
    # Image shuffling mixes patients (the null it draws ignores the clustering).
    img = Permuter(len(groups), None, "images", seed=1).draw(50)
    assert any(len(set(groups[p[groups == "a"]])) > 1 for p in img)


def test_draws_continue_one_stream():
    g = np.repeat(np.arange(10), 2)
    a = Permuter(20, g, "patients", seed=3).draw(6)
    p = Permuter(20, g, "patients", seed=3)
    np.testing.assert_array_equal(a, np.concatenate([p.draw(2), p.draw(4)]))


def test_patients_need_ids():
    with pytest.raises(InputError):
        Permuter(4, None, "patients")


def test_feature_level():
    g = np.array(["a", "a", "b"])
    assert feature_level(np.array([1, 1, 0]), g) == "patient"
    assert feature_level(np.array([1, 0, 0]), g) == "film"


def test_budget_refuses_huge_runs():
    est = estimate_sequence(frames=10**9, image_size=64, w_dim=512, rows=400, permutations=100,
                            batch_size=256, correction="none")
    with pytest.raises(OptionError, match="--frames"):
        check_budget(est, memory=24 * 10**9)
    ok = estimate_sequence(10, 64, 512, 400, 10**8, 256, "none")   # B does not grow memory
    assert ok.memory_bytes < 2e9
    check_budget(ok, memory=24 * 10**9)
    spool = estimate_sequence(10, 64, 512, 400, 10**8, 256, "maxt")
    with pytest.raises(OptionError, match="maxt"):
        check_budget(spool, memory=24 * 10**9, disk=10**11)


def test_power_notes():
    assert "no pixel can be significant" in power_notes(9, 0.05, "none", 100)[0]
    assert power_notes(99, 0.05, "none", 100) == []
    fdr = power_notes(99, 0.05, "fdr", 36864)
    assert fdr and "20%" in fdr[0]
    assert power_notes(99, 0.05, "maxt", 100) == []
    assert power_notes(49, 0.05, "maxt", 100)
