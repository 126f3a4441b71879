"""The per-image benchmark metrics: each one can fail (random maps at chance, border maps low)."""

import numpy as np
import torch

from seegaan.validate.metrics import (
    bootstrap_ci,
    deletion_curve,
    mask_auroc,
    pointing_game,
    rank_of,
    region_mass,
    spearman,
)

S = 32


def _blob():
    yy, xx = np.mgrid[:S, :S]
    return (yy - 12) ** 2 + (xx - 18) ** 2 < 25


def _model_on(region):
    # A "model" that reads only the mean of the region: the truth every metric should find.
    m = torch.from_numpy(region.astype(np.float32))

    def f(x):
        return (x[:, 0] * m).sum(dim=(1, 2)) / m.sum()
    return f


def _border():
    b = np.zeros((S, S), bool)
    b[:2], b[-2:], b[:, :2], b[:, -2:] = True, True, True, True
    return b


def test_deletion_curve_oracle_beats_random_and_border():
    region = _blob()
    img = torch.zeros(1, 1, S, S)
    img[0, 0][torch.from_numpy(region)] = 0.8
    f = _model_on(region)
    rng = np.random.default_rng(0)
    oracle = deletion_curve(f, img, region.astype(float))
    border = deletion_curve(f, img, _border().astype(float))
    randoms = [deletion_curve(f, img, rng.random((S, S)))["area"] for _ in range(20)]
    assert oracle["area"] > 3 * np.mean(randoms)
    assert border["area"] < 1e-6                      # deleting the border changes nothing
    assert img.abs().sum() > 0 and img[0, 0, 0, 0] == 0  # the input is not modified
    assert oracle["change"].shape == (5,) and np.all(np.diff(oracle["change"]) >= -1e-9)


def test_localisation_random_at_chance_oracle_top_border_low():
    region = _blob()
    rng = np.random.default_rng(1)
    aurocs = [mask_auroc(rng.random((S, S)), region) for _ in range(50)]
    points = [pointing_game(rng.random((S, S)), region) for _ in range(400)]
    assert abs(np.mean(aurocs) - 0.5) < 0.05
    assert abs(np.mean(points) - region.mean()) < 0.05   # chance = the region's share of the image
    assert mask_auroc(region.astype(float), region) == 1.0
    assert pointing_game(region.astype(float), region) == 1.0
    assert mask_auroc(_border().astype(float), region) < 0.5
    assert pointing_game(_border().astype(float), region) == 0.0


def test_region_mass_rank_and_spearman():
    region = _blob()
    assert region_mass(region.astype(float), region) == 1.0
    assert region_mass(_border().astype(float), region) == 0.0
    assert np.isnan(region_mass(np.ones((S, S)), np.zeros((S, S), bool)))
    assert rank_of(np.array([0.1, 0.5, 0.3]), 1) == 1
    assert rank_of(np.array([0.2, 0.2, 0.2]), 0) == 3      # ties never rank first
    assert spearman([1, 2, 3], [3, 4, 9]) == 1.0
    assert np.isnan(spearman([1, 1, 1], [1, 2, 3]))


def test_bootstrap_ci_covers_mean_and_shrinks():
    rng = np.random.default_rng(2)
    small = bootstrap_ci(rng.normal(size=20))
    large = bootstrap_ci(rng.normal(size=2000))
    assert small[1] < small[0] < small[2]
    assert (large[2] - large[1]) < (small[2] - small[1])
    assert np.isnan(bootstrap_ci(np.array([np.nan]))[0])
