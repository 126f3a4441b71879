"""Calibration of the pixel test under a null feature (labels unrelated to the images).

Many small null experiments, each a full path + decode + permutation test with a nonlinear
fake decoder: the per-pixel rejection rate of the uncorrected test should average α, and the
max-statistic correction should keep the chance of any false pixel at about α (exactly
5/100 in expectation with B = 99). Everything is seeded, so the numbers are fixed; with
hundreds of repetitions the accepted ranges are several standard errors wide.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from seegaan.latent import (
    LocalPath,
    RegressionPath,
    decode_latents,
    global_sequence,
    permutation_test,
)
from seegaan.latent.store import LatentTable
from seegaan.stats import bh_adjust

ALPHA = 0.05
N, D, PERMS = 24, 6, 99


def _experiment(ae, mode: str, rng: np.random.Generator, seed: int):
    w = rng.normal(size=(N, D)).astype(np.float32)
    labels = rng.permutation(np.arange(N) % 2)          # balanced, unrelated to w
    if mode == "qualitative":
        # The whole public path: table -> row selection -> group means -> test.
        meta = pd.DataFrame({"image_id": [f"i{i}" for i in range(N)], "split": "test",
                             "label": labels})
        table = LatentTable(meta, w, {"w_dim": D, "image_size": ae.image_size})
        return global_sequence(ae, table, "label", frames=3, permutations=PERMS,
                               correction="maxt", seed=seed, alpha=ALPHA).test
    if mode == "quantitative":
        x = rng.normal(size=N)
        builder = RegressionPath(x, w, np.linspace(*np.percentile(x, [5, 95]), 3))
    else:
        builder = LocalPath(w, labels == 1, w[0], frames=3, lambda_max=1.0)
    frames = decode_latents(ae, builder.path())
    return permutation_test(ae, builder, frames - frames[0], N, PERMS, ALPHA, "maxt", seed)


@pytest.mark.parametrize("mode,reps", [("qualitative", 400), ("quantitative", 400), ("local", 200)])
def test_null_rejection_rates(fake_ae, mode, reps):
    ae = fake_ae(w_dim=D, image_size=10, seed=5, scale=0.3, squash=True)
    rng = np.random.default_rng(2024)
    rates, any_maxt, any_fdr = [], [], []
    for r in range(reps):
        test = _experiment(ae, mode, rng, seed=r)
        raw = test.pvalues[1:]
        rates.append(float((raw <= ALPHA).mean()))
        any_maxt.append(bool(test.significant[1:].any()))
        any_fdr.append(bool((bh_adjust(raw) <= ALPHA).any()))
    rate, fwer_maxt, fwer_fdr = np.mean(rates), np.mean(any_maxt), np.mean(any_fdr)
    print(f"{mode}: per-pixel rate {rate:.4f}, maxt FWER {fwer_maxt:.4f}, fdr FWER {fwer_fdr:.4f}")
    assert 0.03 <= rate <= 0.07
    assert fwer_maxt <= 0.08
    # Under the complete null every discovery is false, so BH's FDR is its family-wise rate.
    assert fwer_fdr <= 0.08
