"""The truth evaluation, with a fake linear oracle whose factors are known exactly."""

from __future__ import annotations

import numpy as np
import pandas as pd

from seegaan.latent.store import LatentTable
from seegaan.latent.truth import evaluate_truth, write_truth


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
    df = evaluate_truth(ae, table, oracle, frames=6)
    assert list(df["feature"]) == ["ahf", "sex", "age", "manufacturer"]
    assert df["passed"].all(), df.to_string()
    ahf = df.iloc[0]
    # Linear decoder and oracle: the sequence's change equals the true group difference.
    assert ahf["spearman"] > 0.99 and abs(ahf["ratio"] - 1) < 1e-4
    out = write_truth(df, tmp_path / "truth")
    assert {"truth.csv", "truth.md", "truth.json"} <= {p.name for p in out.iterdir()}
    assert "AHF" in (out / "truth.md").read_text()


def test_truth_checks_fail_when_the_sequence_understates_the_truth(fake_ae):
    ae = fake_ae(w_dim=6, image_size=16, scale=0.1)
    table, oracle = _cohort(ae, seed=1)
    # The cohort's true heart sizes differ three times more than anything the decoder shows.
    meta = table.meta.copy()
    meta["gt_ctr"] = meta["gt_ctr"] + 2 * (meta["gt_ctr"] - meta["gt_ctr"].mean())
    meta = meta.drop(columns=["sex"])
    df = evaluate_truth(ae, LatentTable(meta, table.w, table.info), oracle, frames=6)
    df = df.set_index("feature")
    assert abs(df.loc["ahf", "ratio"] - 1 / 3) < 1e-3 and not df.loc["ahf", "passed"]
    assert pd.isna(df.loc["sex", "passed"]) and "not in the latent table" in df.loc["sex", "note"]
