"""Cohort version 2: every new factor is visible, switchable and recorded; the clinical model
has the documented confounders."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from seegaan.cohort import Subject, counterfactual, ground_truth, render_image, sample_subjects
from seegaan.cohort.anatomy import load_atlas
from seegaan.cohort.counterfactual import FACTORS
from seegaan.cohort.render_v2 import _effusion
from seegaan.errors import OptionError

V2 = Subject(version=2, sex="F", breast_mm=30.0, age=60.0)


def test_every_factor_changes_the_film_and_its_column():
    for f in FACTORS.values():
        cf = counterfactual(V2, 64, **{f.name: f.change})
        assert np.abs(cf.diff).max() > 0.02, f.name
        assert cf.gt_after[f.gt] != cf.gt_before[f.gt], f.name


def test_version_1_subjects_refuse_version_2_factors():
    with pytest.raises(OptionError, match="version-2"):
        counterfactual(Subject(), 32, ap=1)
    with pytest.raises(OptionError, match="toggle"):
        counterfactual(V2, 32, heart_scale="toggle")
    with pytest.raises(OptionError, match="version"):
        render_image(Subject(version=3), 32)


def test_device_is_metal_bright_and_ap_magnifies_the_heart():
    cf = counterfactual(V2, 128, device=1)
    assert (cf.after[cf.diff > 0.05] > 0.95).mean() > 0.3  # the can saturates
    ap = counterfactual(V2, 64, ap=1)
    assert ap.gt_after["gt_ctr"] > ap.gt_before["gt_ctr"] + 0.03


def test_lv_predominant_cardiomegaly_moves_the_left_border():
    cf = counterfactual(V2, 128, heart_scale="+25%")
    cols = np.nonzero(np.abs(cf.diff).max(0) > 0.03)[0]
    mid = 64
    # most of the change lies on the patient's left (image right)
    left = np.abs(cf.diff[:, mid:]).sum()
    right = np.abs(cf.diff[:, :mid]).sum()
    assert left > 2 * right and cols.max() > mid


def test_effusion_meniscus_rises_laterally():
    atlas = load_atlas(128)
    lm = atlas.landmarks["lung_r"]
    rows = np.linspace(-0.5, 0.5, 256)[:, None] * np.ones((1, 2))
    cols = np.array([[lm["right"] - 0.02, lm["left"] + 0.02]]) * np.ones((256, 1))  # medial, lateral
    fill = _effusion("lung_r", lm, 20.0, rows, cols, atlas.field_mm)
    top = [rows[np.argmax(fill[:, j] > 0.5), j] for j in range(2)]
    assert top[1] < top[0] - 0.03  # the lateral surface is higher (smaller row)


def test_congestion_diverts_to_the_upper_lobes_first():
    cf = counterfactual(V2, 128, congestion=0.3)
    upper, lower = np.abs(cf.diff[20:55]).sum(), np.abs(cf.diff[65:95]).sum()
    assert upper > lower


@pytest.fixture(scope="module")
def films() -> pd.DataFrame:
    subs = sample_subjects(20_000, seed=3)
    return pd.DataFrame([{**s.__dict__} for s in subs])


def test_confounders_as_in_real_collections(films):
    ahf = films["ahf"] == 1
    dev_gap = films.loc[ahf, "device"].mean() - films.loc[~ahf, "device"].mean()
    assert 0.06 < dev_gap < 0.25  # realistic: devices go with heart failure
    assert films.loc[ahf, "ap"].mean() > films.loc[~ahf, "ap"].mean() + 0.3
    # portable films come from the mobile units; PA vendors follow the site
    assert set(films.loc[films["ap"] == 1, "manufacturer"]) <= {"Carestream", "GE", "Siemens"}
    assert films.loc[(films["site"] == "B") & (films["ap"] == 0), "manufacturer"].isin(
        ["GE", "Swissray", "Thales"]).all()
    X = np.column_stack([films["ahf"], films["age"], films["heart_scale"], films["fat_mm"],
                         films["sex"].eq("F"), films["egfr"], np.ones(len(films))]).astype(float)
    coef = np.linalg.lstsq(X, np.log(films["bnpp"]), rcond=None)[0]
    assert coef[3] < 0  # obesity lowers BNPP
    assert coef[4] > 0.1  # women higher
    assert coef[5] < -0.005  # lower eGFR, higher BNPP
    assert np.corrcoef(films["fat_mm"], films["diaphragm_mm"])[0, 1] > 0.3


def test_shortcut_strength_is_an_option():
    strong = sample_subjects(6000, seed=1, shortcut=True, version=2)
    none = sample_subjects(6000, seed=1, device_log_odds=0.0, version=2)
    gap = lambda s: (np.mean([x.device for x in s if x.ahf]) - np.mean([x.device for x in s if not x.ahf]))  # noqa: E731
    assert gap(strong) > 0.3 and abs(gap(none)) < 0.03


def test_ground_truth_columns():
    gt = ground_truth(V2)
    assert {"gt_ap", "gt_lr_marker", "gt_thorax_width", "gt_thorax_height", "gt_diaphragm",
            "gt_heart_shift"} <= set(gt)
    assert "gt_ap" not in ground_truth(Subject())
