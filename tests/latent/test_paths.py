"""Exactness properties of the latent paths, checked with a linear fake decoder."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from seegaan.data.prepared import PreparedDataset, write_prepared
from seegaan.latent import (
    GroupMeanPath,
    LocalPath,
    RegressionPath,
    decode_latents,
    encode_dataset,
    global_sequence,
    local_sequence,
)
from seegaan.latent.regression import PSplinePath
from seegaan.latent.store import LatentTable


def test_global_path_hits_group_means_exactly(fake_ae, table_factory):
    ae, table = fake_ae(), table_factory(n=30)
    res = global_sequence(ae, table, "manufacturer", from_level="Carestream", to_level="GE",
                          frames=5, permutations=0)
    is_ge = (table.meta["manufacturer"] == "GE").to_numpy()
    mean_from = table.w[~is_ge].astype(np.float64).mean(axis=0).astype(np.float32)
    mean_to = table.w[is_ge].astype(np.float64).mean(axis=0).astype(np.float32)
    np.testing.assert_array_equal(res.path[0], mean_from)
    np.testing.assert_array_equal(res.path[-1], mean_to)
    # The decoded end frames are those of the means (up to BLAS batch-size rounding).
    np.testing.assert_allclose(res.frames[0], decode_latents(ae, mean_from[None])[0], atol=1e-6)
    np.testing.assert_allclose(res.frames[-1], decode_latents(ae, mean_to[None])[0], atol=1e-6)
    np.testing.assert_allclose(res.values, [0, 0.25, 0.5, 0.75, 1.0])
    # In between, the path is the straight line between the means.
    np.testing.assert_allclose(res.path[2], (mean_from + mean_to) / 2, atol=1e-6)
    assert res.selection.groups == {"Carestream": int((~is_ge).sum()), "GE": int(is_ge.sum())}


def test_local_frame0_is_the_reconstruction(fake_ae, tmp_path):
    ae = fake_ae(w_dim=6, image_size=16, squash=True)
    rng = np.random.default_rng(1)
    n = 12
    images = ae.decode(rng.normal(size=(n, 6)).astype(np.float32)).numpy()[:, 0]
    index = pd.DataFrame({"image_id": [f"x{i}" for i in range(n)], "patient_id": [f"p{i}" for i in range(n)],
                          "split": ["test"] * (n - 2) + ["train"] * 2, "source_path": [""] * n,
                          "ahf": [0, 1] * (n // 2)})
    write_prepared(tmp_path / "data", images, index, {"ahf": "categorical"})
    table = encode_dataset(ae, tmp_path / "data", split="all", batch_size=5)
    assert table.w.shape == (n, 6) and list(table.meta["image_id"]) == list(index["image_id"])
    target = "x10"  # a train image: the image may be outside the split that defines the groups
    res = local_sequence(ae, table, "ahf", target, from_level="0", to_level="1", frames=4,
                         lambda_max=2.0, permutations=9)
    ds = PreparedDataset(tmp_path / "data")
    x = ds.load_images(np.array([10]))
    recon = ae.reconstruct(x).numpy()[0, 0]
    np.testing.assert_array_equal(res.path[0], table.w[10])
    np.testing.assert_allclose(res.frames[0], recon, atol=1e-6)
    assert np.all(res.diffs[0] == 0) and np.all(res.test.pvalues[0] == 1)
    assert not res.test.significant[0].any()
    np.testing.assert_allclose(res.values, [0, 2 / 3, 4 / 3, 2])
    assert res.selection.groups == {"0": 5, "1": 5}   # test split only


def test_regression_path_recovers_a_linear_trend():
    rng = np.random.default_rng(0)
    x = rng.uniform(20, 90, 400)
    a, b = rng.normal(size=16), rng.normal(size=16) / 50
    w = a + x[:, None] * b + rng.normal(scale=0.05, size=(400, 16))
    grid = np.linspace(*np.percentile(x, [5, 95]), 10)
    path = RegressionPath(x, w, grid).path()
    truth = a + grid[:, None] * b
    assert np.abs(path - truth).max() < 0.03          # noise sd 0.05; trend range ~1
    # Noise-free: the spline space contains straight lines and the penalty leaves them alone.
    exact = RegressionPath(x, a + x[:, None] * b, grid).path()
    np.testing.assert_allclose(exact, truth, atol=1e-4)


def test_regression_refits_equal_fits_on_permuted_data():
    rng = np.random.default_rng(3)
    x = rng.normal(size=60)
    w = np.sin(x)[:, None] * rng.normal(size=5) + rng.normal(scale=0.3, size=(60, 5))
    grid = np.linspace(-1, 1, 7)
    fit = PSplinePath(x, w, grid)
    perms = np.stack([rng.permutation(60) for _ in range(3)])
    batched = fit.paths(perms)
    for b, p in enumerate(perms):
        np.testing.assert_allclose(batched[b], PSplinePath(x, w[p], grid).path(), atol=1e-5)


@pytest.mark.parametrize("kind", ["group", "local", "regression"])
def test_identity_permutation_rebuilds_the_observed_path(kind):
    rng = np.random.default_rng(0)
    w = rng.normal(size=(20, 4))
    is_to = np.arange(20) % 3 == 0
    builder = {"group": lambda: GroupMeanPath(w, is_to, 6),
               "local": lambda: LocalPath(w, is_to, w[0], 6, 1.5),
               "regression": lambda: RegressionPath(rng.normal(size=20), w, np.linspace(-1, 1, 6))}[kind]()
    np.testing.assert_allclose(builder.paths(np.arange(20)[None])[0], builder.path(), atol=1e-6)


def test_pygam_backend_agrees_with_vectorised():
    pytest.importorskip("pygam")
    rng = np.random.default_rng(0)
    n, d = 250, 6
    x = rng.uniform(20, 90, n)
    u = (x - 20) / 70
    trend = np.stack([np.sin(2 * u * (k + 1)) + 0.5 * u for k in range(d)], axis=1)
    w = trend + rng.normal(scale=0.2, size=(n, d))
    grid = np.linspace(*np.percentile(x, [5, 95]), 10)
    fast = RegressionPath(x, w, grid, backend="pspline").path()
    slow = RegressionPath(x, w, grid, backend="pygam").path()
    span = np.ptp(slow, axis=0)
    # Same basis and penalty family, each choosing its own smoothness by GCV: the two paths
    # differ by a small fraction of how far each dimension moves along the sequence.
    assert np.all(np.abs(fast - slow).max(axis=0) <= 0.1 * span + 0.02)
    assert np.mean(np.abs(fast - slow)) < 0.03


def test_latent_table_roundtrips_through_encode_file(fake_ae, tmp_path):
    from seegaan.latent import encode_to_file, load_latents

    ae = fake_ae(w_dim=4, image_size=8)
    n = 6
    images = ae.decode(np.random.default_rng(0).normal(size=(n, 4)).astype(np.float32)).numpy()[:, 0]
    index = pd.DataFrame({"image_id": [f"x{i}" for i in range(n)], "patient_id": ["p"] * n,
                          "split": ["test"] * 3 + ["train"] * 3, "source_path": [""] * n,
                          "age": np.arange(n, dtype=float)})
    write_prepared(tmp_path / "d", images, index, {"age": "numeric"})
    written = encode_to_file(ae, tmp_path / "d", tmp_path / "lat.parquet", split="test")
    back = load_latents(tmp_path / "lat.parquet")
    assert isinstance(back, LatentTable)
    np.testing.assert_array_equal(back.w, written.w)
    assert list(back.meta["image_id"]) == ["x0", "x1", "x2"]
    assert back.info["w_dim"] == 4 and back.info["image_size"] == 8 and back.info["split"] == "test"
    assert list(back.to_frame().columns[-4:]) == ["w_0", "w_1", "w_2", "w_3"]


def test_local_test_decodes_frame0_once_and_matches_full_decoding(fake_ae, table_factory):
    ae, table = fake_ae(squash=True), table_factory(n=20)
    res = local_sequence(ae, table, "ahf", "img001", frames=4, permutations=10, seed=3)
    ae.calls = 0
    from seegaan.latent import LocalPath, permutation_test
    from seegaan.latent.select import select_rows

    sel = select_rows(table, "ahf", "test", "qualitative")
    builder = LocalPath(sel.w, sel.is_to, table.w[1], 4, 1.0)
    again = permutation_test(ae, builder, res.diffs, len(sel.w), 10, seed=3, batch_size=9)
    assert ae.calls == 1 + 4                          # frame 0 once, then 30 frames in batches of 9

    class Full(LocalPath):
        fixed_start = False

    full = permutation_test(ae, Full(sel.w, sel.is_to, table.w[1], 4, 1.0), res.diffs,
                            len(sel.w), 10, seed=3)
    np.testing.assert_array_equal(again.pvalues, res.test.pvalues)
    assert np.mean(full.pvalues == res.test.pvalues) > 0.99   # up to BLAS rounding at ties
