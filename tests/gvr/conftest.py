"""Small fixtures for the GVR tests: a known linear predictor and a synthetic latent table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from seegaan.gvr.predictor import LatentPredictor
from seegaan.latent import LatentTable


def linear_predictor(a: np.ndarray, bias: float = 0.0, threshold: float = 1.0,
                     spread: float = 1.0) -> LatentPredictor:
    """f(w) = a·w + bias on the log axis (threshold on the original scale)."""
    p = LatentPredictor(len(a), "linear")
    with torch.no_grad():
        p.net.weight.copy_(torch.as_tensor(a, dtype=torch.float32)[None])
        p.net.bias.fill_(bias)
        p.spread.fill_(spread)
    p.task, p.log_scale, p.target, p.threshold = "regression", True, "y", float(threshold)
    return p.eval().requires_grad_(False)


def synthetic_table(n: int = 240, w_dim: int = 16, seed: int = 0, signal: bool = True) -> LatentTable:
    """log y = w·a + noise (or pure noise), one film per patient."""
    rng = np.random.default_rng(seed)
    w = rng.normal(size=(n, w_dim)).astype(np.float32)
    a = np.zeros(w_dim)
    a[:3] = (0.8, -0.5, 0.3)
    log_y = 6.0 + (w @ a if signal else 0.0) + rng.normal(0, 0.3, n)
    meta = pd.DataFrame({"image_id": [f"im{i:03d}" for i in range(n)],
                         "patient_id": [f"p{i:03d}" for i in range(n)],
                         "y": np.exp(log_y), "label": (log_y > 6.0).astype(int),
                         "name": ["x"] * n})
    return LatentTable(meta, w, {"w_dim": w_dim})
