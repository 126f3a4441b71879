"""Fakes for the latent-stage tests: a linear autoencoder and small latent tables.

The fake decoder is a fixed random linear map (plus an offset) and the encoder its
pseudo-inverse, so decode(encode(x)) = x on the decoder's range and every path property
(group means, linear trends) can be checked exactly in pixel space.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from seegaan.latent.store import LatentTable
from seegaan.utils.progress import set_quiet


class LinearAE:
    """decode(w) = A w + b reshaped to (1, S, S); encode = pseudo-inverse. Deterministic."""

    def __init__(self, w_dim: int = 8, image_size: int = 16, seed: int = 0, scale: float = 0.08,
                 squash: bool = False):
        g = torch.Generator().manual_seed(seed)
        self.squash = squash  # tanh on the output: a nonlinear decoder (encode is then approximate)
        self.w_dim, self.image_size, self.device = w_dim, image_size, "cpu"
        self.A = torch.randn(image_size * image_size, w_dim, generator=g) * scale
        self.b = torch.randn(image_size * image_size, generator=g) * 0.05
        self.pinv = torch.linalg.pinv(self.A.double())
        self.calls = 0

    def encode(self, x):
        x = torch.as_tensor(x, dtype=torch.float32).reshape(len(x), -1)
        return ((x.double() - self.b.double()) @ self.pinv.T).float()

    def decode(self, w):
        self.calls += 1
        w = torch.as_tensor(w, dtype=torch.float32)
        x = w @ self.A.T + self.b
        if self.squash:
            # NumPy's tanh: torch's threads cost milliseconds per call on a busy 2-core box.
            x = torch.from_numpy(np.tanh(x.numpy()))
        return x.reshape(len(w), 1, self.image_size, self.image_size)

    def reconstruct(self, x):
        return self.decode(self.encode(x))


def make_table(n: int = 40, w_dim: int = 8, seed: int = 0, split_test: float = 1.0) -> LatentTable:
    """A latent table with a binary, a string and a numeric feature, all unrelated to w."""
    rng = np.random.default_rng(seed)
    meta = pd.DataFrame({
        "image_id": [f"img{i:03d}" for i in range(n)],
        "patient_id": [f"p{i:03d}" for i in range(n)],
        "split": np.where(rng.random(n) < split_test, "test", "train"),
        "ahf": rng.integers(0, 2, n),
        "manufacturer": rng.choice(["Carestream", "GE"], n),
        "age": rng.uniform(20, 90, n),
    })
    w = rng.normal(size=(n, w_dim)).astype(np.float32)
    return LatentTable(meta, w, {"w_dim": w_dim, "image_size": 16})


@pytest.fixture(autouse=True)
def _quiet():
    import seegaan.utils.progress as prog

    before = prog._QUIET
    set_quiet(True)
    yield
    set_quiet(before)


@pytest.fixture
def fake_ae():
    return LinearAE


@pytest.fixture
def table_factory():
    return make_table
