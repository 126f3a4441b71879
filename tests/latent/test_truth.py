"""The truth scoring, with a fake linear oracle whose factors are known exactly."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from seegaan.data.prepared import write_prepared
from seegaan.errors import InputError
from seegaan.latent.select import Selection
from seegaan.latent.store import LatentTable
from seegaan.latent.truth import (
    COLUMNS,
    TruthCheck,
    pattern_row,
    score_sequence,
    true_effect,
    write_truth,
)
from seegaan.validate.checks import evaluate_truth as _evaluate_truth


def _vendor_map(ae):
    """The fake cohort's true vendor effect: every latent shifted by 0.8 (linear decoder)."""
    w0 = np.zeros((1, ae.w_dim), dtype=np.float32)
    return (ae.decode(w0 + np.float32(0.8)) - ae.decode(w0)).numpy()[0, 0]


def evaluate_truth(ae, table, oracle, **kw):
    kw.setdefault("n_boot", 10)
    kw.setdefault("controls", False)
    return _evaluate_truth(ae, table, oracle, vendor_map=_vendor_map(ae), **kw)


class LinearOracle:
    """gt_k = mean of the image over a fixed region (heart, breast, bone)."""

    def __init__(self, size: int):
        self.masks = {}
        m = np.zeros((size, size))
        m[4:12, 4:12] = 1
        self.masks["gt_ctr"] = m / m.sum()
        m = np.zeros((size, size))
        m[12:, :] = 1
        self.masks["gt_breast"] = m / m.sum()
        m = np.zeros((size, size))
        m[:, :3] = 1
        self.masks["gt_bmd"] = m / m.sum()

    def predict(self, images) -> pd.DataFrame:
        x = np.asarray(images, dtype=np.float64)[:, 0]
        return pd.DataFrame({k: (x * m).sum(axis=(1, 2)) for k, m in self.masks.items()})


def _cohort(ae, n=120, seed=0, effects=True):
    rng = np.random.default_rng(seed)
    w = rng.normal(size=(n, ae.w_dim)).astype(np.float32)
    oracle = LinearOracle(ae.image_size)
    gt = oracle.predict(ae.decode(w).numpy())
    vendor = rng.choice(["Carestream", "GE"], n)
    w[vendor == "GE"] += np.float32(0.8)   # the vendor shifts every latent: a visible change
    gt_after = oracle.predict(ae.decode(w).numpy())
    meta = pd.DataFrame({
        "image_id": [f"i{k}" for k in range(n)], "split": "test",
        "ahf": (gt_after["gt_ctr"] > gt_after["gt_ctr"].median()).astype(int),
        "sex": np.where(gt_after["gt_breast"] > gt_after["gt_breast"].median(), "F", "M"),
        "age": 60 - 400 * gt_after["gt_bmd"] + rng.normal(scale=1, size=n),
        "manufacturer": vendor,
        **{k: gt_after[k] for k in gt},
    })
    if not effects:
        for c in ("ahf", "sex", "age"):
            meta[c] = rng.permutation(meta[c].to_numpy())
    return LatentTable(meta, w, {"w_dim": ae.w_dim, "image_size": ae.image_size}), oracle


def test_truth_checks_pass_when_the_groups_really_differ(fake_ae, tmp_path):
    ae = fake_ae(w_dim=6, image_size=16, scale=0.1)
    table, oracle = _cohort(ae)
    df = evaluate_truth(ae, table, oracle, frames=6, controls=True)
    assert list(df.columns) == [c for c in COLUMNS if c in df.columns]
    causal = df[df["sequence"].isin(["ahf", "sex", "age"]) & df["blur_pass"].notna()]
    assert list(causal["sequence"]) == ["ahf", "sex", "age"]
    assert (causal["pass"] == "pass").all(), df.to_string()
    ahf = causal.iloc[0]
    # Linear decoder and oracle: the sequence's change is the true group difference (up to
    # the sharpness matching's slight blur of the sharper frames).
    assert ahf["spearman"] > 0.99 and abs(ahf["ratio"] - 1) < 0.1
    assert ahf["change_lo"] <= ahf["change"] <= ahf["change_hi"]
    assert ahf["true_lo"] <= ahf["true_effect"] <= ahf["true_hi"]
    assert ahf["target"] == "rises; ratio 0.7–1.3; ρ ≥ 0.9" and "ratio 1.0" in ahf["measured"]
    vendor = df[df["sequence"] == "manufacturer"].iloc[0]
    assert vendor["pattern_correlation"] > 0.5 and vendor["pass"] == "pass"
    # Off-target rows and the controls are in the table.
    assert df["check"].str.contains("moves no other factor").sum() == 3
    assert "control/blur" in set(df["sequence"]) and "control/random_label" in set(df["sequence"])
    out = write_truth(df, tmp_path / "truth", {"frames": 6}, header=["Oracle: fake"])
    assert {"truth.csv", "truth.md", "truth.json"} <= {p.name for p in out.iterdir()}
    csv = pd.read_csv(out / "truth.csv", keep_default_na=False)
    assert list(csv.columns) == list(df.columns)
    md = (out / "truth.md").read_text().splitlines()
    assert md[0] == "Oracle: fake" and md[2] == "| check | measured | target | pass |"
    assert len(md) == 4 + len(df) and "AHF" in md[4]

    # Strict JSON: missing numbers (the pattern check's ratio) are null, not NaN.
    def no_nan(word):
        raise AssertionError(f"truth.json holds {word}")

    payload = json.loads((out / "truth.json").read_text(), parse_constant=no_nan)
    assert payload["frames"] == 6 and payload["header"] == ["Oracle: fake"]
    assert payload["checks"][0]["ratio"] == pytest.approx(ahf["ratio"])


def test_truth_checks_fail_when_the_sequence_understates_the_truth(fake_ae):
    ae = fake_ae(w_dim=6, image_size=16, scale=0.1)
    table, oracle = _cohort(ae, seed=1)
    # The cohort's true heart sizes differ three times more than anything the decoder shows.
    meta = table.meta.copy()
    meta["gt_ctr"] = meta["gt_ctr"] + 2 * (meta["gt_ctr"] - meta["gt_ctr"].mean())
    meta = meta.drop(columns=["sex"])
    df = evaluate_truth(ae, LatentTable(meta, table.w, table.info), oracle, frames=6)
    df = df.drop_duplicates("sequence").set_index("sequence")
    assert abs(df.loc["ahf", "ratio"] - 1 / 3) < 0.05 and df.loc["ahf", "pass"] == "fail"
    assert df.loc["sex", "pass"] == "n/a" and "not in the latent table" in df.loc["sex", "measured"]
    assert pd.isna(df.loc["sex", "change"])


def test_true_factors_fall_back_to_the_oracle_on_the_real_images(fake_ae, tmp_path):
    # A weaker decoder, so that no image leaves the [-1, 1] a prepared dataset stores.
    ae = fake_ae(w_dim=6, image_size=16, scale=0.04)
    table, oracle = _cohort(ae, seed=3)
    with_gt = evaluate_truth(ae, table, oracle, frames=6)
    no_gt = LatentTable(table.meta.drop(columns=["gt_ctr", "gt_breast", "gt_bmd"]), table.w,
                        table.info)
    with pytest.raises(InputError, match="data-dir"):
        evaluate_truth(ae, no_gt, oracle, frames=6)
    # The real images are the decoded latents (what gt_* was read from), stored in another
    # order: the fallback must align them with the table by image_id.
    images = ae.decode(table.w).numpy()[:, 0]
    order = np.random.default_rng(0).permutation(len(images))
    index = table.meta[["image_id", "split"]].iloc[order].assign(
        patient_id=lambda d: d["image_id"], source_path="")
    write_prepared(tmp_path / "data", images[order], index, {})
    from_images = evaluate_truth(ae, no_gt, oracle, frames=6, data_dir=tmp_path / "data")
    assert list(from_images["pass"]) == list(with_gt["pass"])
    # Only the stored images' 16-bit quantisation separates the two.
    np.testing.assert_allclose(from_images["true_effect"], with_gt["true_effect"], rtol=1e-3)


# -- the shared scorers, on hand-made sequences ------------------------------------------------
class _Seq:
    """Just what the scorers read of a SequenceResult."""

    def __init__(self, values, meta, feature, is_to=None, diffs=None):
        kind = "qualitative" if is_to is not None else "quantitative"
        x = None if is_to is not None else meta[feature].to_numpy(dtype=float)
        self.values = np.asarray(values, dtype=float)
        self.selection = Selection(feature, kind, "test", np.zeros((len(meta), 1)), meta, 0,
                                   np.arange(len(meta)), x=x, is_to=is_to)
        self.diffs = diffs


AHF = TruthCheck("AHF enlarges the heart", "ahf", "gt_ctr", +1, (0.7, 1.3), min_spearman=0.9)


def test_score_sequence_checks_direction_ratio_and_monotonicity():
    meta = pd.DataFrame({"ahf": [0, 0, 1, 1], "gt_ctr": [0.45, 0.47, 0.55, 0.57]})
    seq = _Seq(np.linspace(0, 1, 5), meta, "ahf", is_to=meta["ahf"].to_numpy() == 1)
    y = meta["gt_ctr"].to_numpy()
    good = score_sequence(AHF, seq, np.array([0.46, 0.48, 0.50, 0.52, 0.54]), y)
    assert good["pass"] == "pass" and good["ratio"] == pytest.approx(0.8)
    assert good["true_effect"] == pytest.approx(0.1)
    small = score_sequence(AHF, seq, np.array([0.46, 0.47, 0.47, 0.48, 0.48]), y)  # ratio 0.2
    assert small["pass"] == "fail" and small["spearman"] > 0.9
    wrong = score_sequence(AHF, seq, np.array([0.54, 0.52, 0.50, 0.48, 0.46]), y)
    assert wrong["pass"] == "fail" and wrong["spearman"] == pytest.approx(-1.0)
    # The band is two-sided: an exaggerated effect fails as well as a missing one.
    big = score_sequence(AHF, seq, np.array([0.40, 0.45, 0.50, 0.55, 0.60]), y)   # ratio 2
    assert big["pass"] == "fail" and big["spearman"] == pytest.approx(1.0)
    # Two frames rank perfectly by construction: that is no evidence of a monotone change.
    assert score_sequence(AHF, seq, np.array([0.46, 0.54]), y)["spearman"] == 0.0


def test_true_effect_of_a_quantitative_feature_is_slope_times_range():
    meta = pd.DataFrame({"age": [30.0, 50.0, 70.0, 90.0], "gt_bmd": [1.0, 0.9, 0.8, np.nan]})
    # An unknown factor value (NaN) is left out of the fit, not propagated.
    assert true_effect(_Seq([40.0, 60.0], meta, "age"), meta["gt_bmd"].to_numpy()) \
        == pytest.approx(-0.1)


def test_pattern_row_passes_on_the_true_map_only():
    rng = np.random.default_rng(0)
    true_map = rng.normal(size=(8, 8))
    chk = TruthCheck("vendor", "manufacturer", "image processing", min_pattern=0.5)
    meta = pd.DataFrame({"manufacturer": ["a", "b"]})
    seq = _Seq([0, 1], meta, "manufacturer", is_to=np.array([False, True]),
               diffs=np.stack([np.zeros((8, 8)), 0.3 * true_map + 0.01 * rng.normal(size=(8, 8))]))
    row = pattern_row(chk, seq, true_map)
    assert row["pass"] == "pass" and row["pattern_correlation"] > 0.99
    assert row["target"] == "correlation ≥ 0.5"
    assert pattern_row(chk, seq, rng.normal(size=(8, 8)))["pass"] == "fail"
