"""Patient-level split and Table 1, checked against hand computations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from seegaan.data.split import parse_fractions, patient_split
from seegaan.data.table1 import table1, to_markdown
from seegaan.errors import OptionError


def _images(n_patients=300, seed=0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    counts = rng.integers(1, 6, n_patients)  # 1-5 radiographs per patient
    pid = np.repeat([f"p{i:04d}" for i in range(n_patients)], counts)
    sex = np.repeat(rng.choice(["F", "M"], n_patients, p=[0.3, 0.7]), counts)
    age = np.repeat(rng.normal(60, 15, n_patients), counts)
    return pd.DataFrame({"patient_id": pid, "sex": sex, "age": age})


def test_split_is_patient_disjoint_and_near_target():
    df = _images()
    split = patient_split(df["patient_id"], (0.8, 0.1, 0.1), seed=0)
    per_patient = df.assign(split=split).groupby("patient_id")["split"].nunique()
    assert per_patient.max() == 1
    share = split.value_counts(normalize=True)
    assert abs(share["train"] - 0.8) < 0.03 and abs(share["val"] - 0.1) < 0.03
    assert abs(share["test"] - 0.1) < 0.03


def test_split_is_reproducible_by_seed_and_independent_of_row_order():
    df = _images()
    a = patient_split(df["patient_id"], seed=3)
    b = patient_split(df["patient_id"], seed=3)
    c = patient_split(df["patient_id"], seed=4)
    assert a.equals(b) and not a.equals(c)
    shuffled = df.sample(frac=1.0, random_state=1)
    d = patient_split(shuffled["patient_id"], seed=3)
    by_patient = dict(zip(df["patient_id"], a))
    assert all(by_patient[p] == s for p, s in zip(shuffled["patient_id"], d))


def test_stratified_split_balances_the_feature():
    df = _images(600, seed=1)
    for kind, col in (("categorical", "sex"), ("numeric", "age")):
        split = patient_split(df["patient_id"], seed=0, stratify=df[col], stratify_type=kind)
        assert df.assign(s=split).groupby("patient_id")["s"].nunique().max() == 1
        if kind == "categorical":
            female = (df["sex"] == "F").groupby(split).mean()
            assert female.max() - female.min() < 0.05
        else:
            mean_age = df["age"].groupby(split).mean()
            assert mean_age.max() - mean_age.min() < 2.5


def test_tiny_cohort_still_fills_every_split():
    pid = pd.Series([f"p{i}" for i in range(10)])
    assert patient_split(pid, seed=0).value_counts().to_dict() == {"train": 8, "val": 1, "test": 1}


@pytest.mark.parametrize("text", ["0.8,0.1", "a,b,c", "0.5,0.3,0.3", "-0.1,0.6,0.5"])
def test_bad_split_fractions(text):
    with pytest.raises(OptionError, match="--split"):
        parse_fractions(text)


def test_percent_split_accepted():
    assert parse_fractions("80,10,10") == pytest.approx((0.8, 0.1, 0.1))


def test_table1_matches_hand_computation():
    index = pd.DataFrame({
        "patient_id": ["a", "a", "b", "c", "d", "e", "f", "g", "h", "i"],
        "split": ["train"] * 6 + ["val"] * 2 + ["test"] * 2,
        "age": [50, 52, 60, 70, np.nan, 65, 40, 45, 80, 75],
        "sex": ["F", "F", "M", "M", "F", "M", "F", "M", "M", None],
    })
    t = table1(index, {"age": "numeric", "sex": "categorical"})
    cell = t.set_index(["variable", "level"])

    assert cell.loc[("radiographs", ""), ["overall", "train", "val", "test"]].tolist() == \
        ["10", "6", "2", "2"]
    assert cell.loc[("patients", ""), ["overall", "train", "val", "test"]].tolist() == \
        ["9", "5", "2", "2"]

    # age: train = 50, 52, 60, 70, 65 (one missing); SD with n - 1.
    train = np.array([50, 52, 60, 70, 65.0])
    assert cell.loc[("age", ""), "train"] == f"{train.mean():.1f} ± {train.std(ddof=1):.1f}"
    assert cell.loc[("age", ""), "train"] == "59.4 ± 8.5"
    assert cell.loc[("age", "missing"), "overall"] == "1 (10.0%)"
    # One-way ANOVA by hand: F = (SSB / (k - 1)) / (SSW / (N - k)).
    groups = [train, np.array([40, 45.0]), np.array([80, 75.0])]
    allv = np.concatenate(groups)
    ssb = sum(len(g) * (g.mean() - allv.mean()) ** 2 for g in groups)
    ssw = sum(((g - g.mean()) ** 2).sum() for g in groups)
    f = (ssb / 2) / (ssw / (len(allv) - 3))
    assert cell.loc[("age", ""), "method"] == "ANOVA"
    assert cell.loc[("age", ""), "p_value"] == pytest.approx(stats.f.sf(f, 2, len(allv) - 3))

    # sex: counts (%) over each split's radiographs; chi-squared on non-missing levels.
    assert cell.loc[("sex", "F"), "train"] == "3 (50.0%)"
    assert cell.loc[("sex", "M"), "test"] == "1 (50.0%)"
    assert cell.loc[("sex", "missing"), "test"] == "1 (50.0%)"
    observed = np.array([[3, 3], [1, 1], [0, 1]], dtype=float)
    expected = observed.sum(1, keepdims=True) * observed.sum(0, keepdims=True) / observed.sum()
    chi2 = ((observed - expected) ** 2 / expected).sum()
    assert cell.loc[("sex", "F"), "method"] == "chi-squared"
    assert cell.loc[("sex", "F"), "p_value"] == pytest.approx(stats.chi2.sf(chi2, 2))

    md = to_markdown(t)
    assert "| **age**, mean ± SD | 59.7 ± 13.9 | 59.4 ± 8.5 | 42.5 ± 3.5 | 77.5 ± 3.5 | ANOVA |" in md


def test_table1_two_splits_uses_t_test():
    index = pd.DataFrame({"patient_id": list("abcdef"), "split": ["train"] * 3 + ["test"] * 3,
                          "x": [1.0, 2, 3, 5, 6, 8]})
    row = table1(index, {"x": "numeric"}).set_index("variable").loc["x"]
    assert row["method"] == "t-test"
    assert row["p_value"] == pytest.approx(stats.ttest_ind([1, 2, 3], [5, 6, 8]).pvalue)


def test_skewed_variable_gets_median_iqr_and_a_rank_test():
    from seegaan.data.table1 import format_p, imbalance_sentence, table1

    rng = np.random.default_rng(0)
    n = 300
    split = np.array(["train"] * 200 + ["val"] * 40 + ["test"] * 60)
    index = pd.DataFrame({"patient_id": [f"p{i}" for i in range(n)], "split": split,
                          "bnpp": np.exp(rng.normal(6, 1.5, n)),      # right-skewed lab value
                          "age": rng.normal(60, 10, n)})
    t = table1(index, {"bnpp": "numeric", "age": "numeric"})
    bnpp = t[t.variable == "bnpp"].iloc[0]
    age = t[t.variable == "age"].iloc[0]
    assert bnpp.statistic == "median [IQR]" and bnpp.method == "Kruskal–Wallis"
    assert "[" in bnpp.overall and "±" not in bnpp.overall
    assert age.statistic == "mean ± SD" and age.method == "ANOVA"
    # The option overrides the detection.
    forced = table1(index, {"bnpp": "numeric", "age": "numeric"}, skewed=["age"])
    assert forced[forced.variable == "bnpp"].iloc[0].statistic == "mean ± SD"
    assert forced[forced.variable == "age"].iloc[0].statistic == "median [IQR]"
    # Random splits: no imbalance claimed; a shifted split is named.
    assert imbalance_sentence(t).startswith("No variable differs")
    index.loc[index.split == "test", "age"] += 15
    shifted = table1(index, {"bnpp": "numeric", "age": "numeric"})
    sentence = imbalance_sentence(shifted)
    assert "Imbalance across splits: age (p <0.001)" in sentence and "bnpp" not in sentence
    assert format_p(0.0006255) == "<0.001 *" and format_p(0.2) == "0.200" and format_p(None) == ""
