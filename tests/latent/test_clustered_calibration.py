"""Calibration with patient structure: the test must hold its level when films cluster.

Patients have 1 + Poisson(0.7) films (the virtual cohort's rule) whose latents share a
patient component (within-patient correlation 0.9), and the null feature is a patient-level
coin flip. Shuffling whole patients keeps the per-pixel rate at α; shuffling single images
ignores the clustering and must come out anti-conservative here, which is the defect the
patient-level default guards against. A cheap linear decoder keeps the whole public path
(table -> selection -> group means -> decode -> test) under a few seconds.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from seegaan.latent import global_sequence
from seegaan.latent.store import LatentTable

ALPHA, PERMS, D, RHO = 0.05, 99, 6, 0.9


class _NumpyLinearAE:
    """decode(w) = A w, in NumPy: torch's thread start-up would dominate such tiny products."""

    def __init__(self, seed: int = 3, size: int = 8):
        self.w_dim, self.image_size, self.device = D, size, "cpu"
        self.A = np.random.default_rng(seed).normal(size=(D, size * size)).astype(np.float32) * 0.3

    def decode(self, w):
        x = np.asarray(w, dtype=np.float32) @ self.A
        return torch.from_numpy(x.reshape(len(x), 1, self.image_size, self.image_size))

    def encode(self, x):  # not used by sequences
        raise NotImplementedError


def _clustered_table(rng: np.random.Generator, patients: int = 50) -> LatentTable:
    films = 1 + rng.poisson(0.7, patients)
    pid = np.repeat(np.arange(patients), films)
    shared = rng.normal(size=(patients, D))[pid]
    w = np.sqrt(RHO) * shared + np.sqrt(1 - RHO) * rng.normal(size=(len(pid), D))
    label = rng.permutation(np.arange(patients) % 2)[pid]        # patient level, unrelated
    meta = pd.DataFrame({"image_id": [f"i{k}" for k in range(len(pid))],
                         "patient_id": [f"p{k}" for k in pid], "split": "test", "label": label})
    return LatentTable(meta, w.astype(np.float32), {"w_dim": D, "image_size": 8})


def _rates(ae, permute: str, reps: int) -> tuple[float, float]:
    rng = np.random.default_rng(7)
    rates, fwer = [], []
    for r in range(reps):
        table = _clustered_table(rng)
        test = global_sequence(ae, table, "label", frames=2, permutations=PERMS, alpha=ALPHA,
                               correction="maxt", seed=r, permute=permute).test
        assert test.permute == permute
        rates.append(float((test.pvalues[1:] <= ALPHA).mean()))
        fwer.append(bool(test.significant[1:].any()))
    return float(np.mean(rates)), float(np.mean(fwer))


def test_patient_shuffle_holds_level_and_image_shuffle_does_not():
    ae = _NumpyLinearAE()
    rate_p, fwer_p = _rates(ae, "patients", 150)
    rate_i, fwer_i = _rates(ae, "images", 150)
    # 150 experiments: the standard error of a rate of 0.05 is ~0.018 (pixels of one map
    # move together through the 6-d decoder), so the bands are about two of them wide.
    assert 0.02 <= rate_p <= 0.085, rate_p
    assert fwer_p <= 0.1, fwer_p
    # The defect: with strongly clustered films, image shuffling rejects far too often.
    assert rate_i >= 0.1, rate_i
    assert rate_i > 1.6 * rate_p


def test_auto_uses_patients_when_ids_exist():
    ae = _NumpyLinearAE()
    table = _clustered_table(np.random.default_rng(0))
    res = global_sequence(ae, table, "label", frames=2, permutations=19)
    s = res.summary()
    assert s["permute"] == "patients"
    assert s["exchangeability"]["feature_level"] == "patient"
    no_ids = LatentTable(table.meta.drop(columns="patient_id"), table.w, table.info)
    assert global_sequence(ae, no_ids, "label", frames=2, permutations=19).summary()["permute"] == "images"
