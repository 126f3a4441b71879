"""The clinical model lands on SEE-GAAN's Table 1 and has the documented causal structure."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from seegaan.cohort import sample_patients, sample_subjects, subjects_frame
from seegaan.cohort.vendors import NAMES, PROPORTIONS


@pytest.fixture(scope="module")
def films() -> pd.DataFrame:
    subjects = sample_subjects(20_000, seed=3, version=1)
    df = subjects_frame(subjects)
    for f in ("heart_scale", "fat_mm", "breast_mm", "bmd", "effusion_r_mm", "congestion"):
        df[f] = [getattr(s, f) for s in subjects]
    return df


def test_marginals_match_table1(films):
    assert films["sex"].eq("F").mean() == pytest.approx(0.44, abs=0.02)
    assert films["age"].mean() == pytest.approx(63, abs=1.5)
    assert films["age"].std() == pytest.approx(16, abs=1.5)
    assert films["ahf"].mean() == pytest.approx(0.16, abs=0.025)
    bnpp = films["bnpp"]
    assert 2500 < bnpp.mean() < 9000  # Table 1: 4904 ± 11,297
    assert bnpp.std() > 1.5 * bnpp.mean()  # heavily right-skewed
    assert bnpp.median() < 0.5 * bnpp.mean()
    assert len(films) / films["patient_id"].nunique() == pytest.approx(1.7, abs=0.08)
    share = films["manufacturer"].value_counts(normalize=True)
    for name, p in zip(NAMES, PROPORTIONS):
        assert share.get(name, 0.0) == pytest.approx(p, abs=0.015), name


def test_causal_directions(films):
    ahf = films["ahf"] == 1
    assert films.loc[ahf, "heart_scale"].mean() > films.loc[~ahf, "heart_scale"].mean() + 0.1
    assert films.loc[ahf, "effusion_r_mm"].gt(0).mean() > 0.4
    assert films.loc[films["sex"] == "M", "breast_mm"].eq(0).all()
    assert films.loc[films["sex"] == "F", "breast_mm"].gt(0).all()
    assert np.corrcoef(films["age"], films["bmd"])[0, 1] < -0.4
    # BNPP rises with heart size and falls with body fat, holding the rest fixed
    X = np.column_stack([films["ahf"], films["age"], films["heart_scale"], films["fat_mm"],
                         np.ones(len(films))])
    coef = np.linalg.lstsq(X, np.log(films["bnpp"]), rcond=None)[0]
    assert coef[0] > 0.8 and coef[1] > 0 and coef[2] > 4 and coef[3] < 0


def test_shortcut_ties_pacemakers_to_ahf():
    plain = sample_patients(20_000, seed=1)
    short = sample_patients(20_000, seed=1, shortcut=True)
    gap = lambda d: d.loc[d.ahf == 1, "device"].mean() - d.loc[d.ahf == 0, "device"].mean()  # noqa: E731
    assert abs(gap(plain)) < 0.02
    assert gap(short) > 0.3


def test_same_seed_same_subjects():
    assert sample_subjects(50, seed=5, version=1) == sample_subjects(50, seed=5, version=1)
    assert sample_subjects(50, seed=5) != sample_subjects(50, seed=6)
