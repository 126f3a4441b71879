"""Fakes for the explain tests: a linear autoencoder, a tiny monotone CNN, tiny datasets.

Nothing here touches the network: an autouse fixture makes every socket connection and
urllib request fail, so a test that tried to download weights would fail loudly.
"""

from __future__ import annotations

import socket
import sys
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from seegaan.data.prepared import write_prepared
from seegaan.latent.store import save_latents
from seegaan.utils.progress import set_quiet

HERE = Path(__file__).parent
SIZE = 16
W_DIM = 6


class NetworkUsed(AssertionError):
    pass


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Any attempt to reach the network (sockets, urllib) raises; nothing can be downloaded."""
    def refuse(*_a, **_k):
        raise NetworkUsed("a test tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    set_quiet(True)
    yield


@pytest.fixture
def tiny_models_on_path(monkeypatch):
    """Make ``explain_tiny_models`` importable as an entry point (package.module:factory)."""
    monkeypatch.syspath_prepend(str(HERE))
    yield "explain_tiny_models"
    sys.modules.pop("explain_tiny_models", None)


class LinearAE:
    """decode(w) = tanh(A w + b) as (N, 1, S, S); encode = least squares. Deterministic."""

    def __init__(self, w_dim: int = W_DIM, image_size: int = SIZE, seed: int = 0):
        g = torch.Generator().manual_seed(seed)
        self.w_dim, self.image_size, self.device = w_dim, image_size, "cpu"
        self.A = torch.randn(image_size * image_size, w_dim, generator=g) * 0.15
        # Latent 0 brightens the whole image, so class means differ in brightness.
        self.A[:, 0] = 0.25
        self.b = torch.zeros(image_size * image_size)
        self.pinv = torch.linalg.pinv(self.A.double())
        self.decodes = 0

    def encode(self, x):
        x = torch.as_tensor(x, dtype=torch.float32).reshape(len(x), -1)
        y = torch.atanh(x.clamp(-0.999, 0.999)).double()
        return ((y - self.b.double()) @ self.pinv.T).float()

    def decode(self, w):
        self.decodes += 1
        w = torch.as_tensor(w, dtype=torch.float32)
        return torch.tanh(w @ self.A.T + self.b).reshape(len(w), 1, self.image_size, self.image_size)

    def reconstruct(self, x):
        return self.decode(self.encode(x))


@pytest.fixture
def fake_ae():
    return LinearAE()


@pytest.fixture
def cohort(tmp_path, fake_ae):
    """A prepared dataset + latent table whose BNPP rises with image brightness (plus noise)."""
    rng = np.random.default_rng(0)
    n = 60
    w = rng.normal(size=(n, W_DIM)).astype(np.float32)
    images = fake_ae.decode(torch.from_numpy(w))[:, 0].numpy()
    brightness = images.mean(axis=(1, 2))
    log_bnpp = 6.0 + 3.0 * (brightness - brightness.mean()) / brightness.std() * 0.6 \
        + rng.normal(0, 0.7, n)
    split = np.array(["train"] * 20 + ["val"] * 10 + ["test"] * 30)
    index = pd.DataFrame({"image_id": [f"im{i:03d}" for i in range(n)],
                          "patient_id": [f"p{i:03d}" for i in range(n)], "split": split,
                          "source_path": [f"im{i:03d}.png" for i in range(n)],
                          "bnpp": np.exp(log_bnpp), "device": (rng.random(n) < 0.2).astype(int)})
    data_dir = write_prepared(tmp_path / "data", images, index, {"bnpp": "numeric", "device": "categorical"})
    # Encode the stored (quantised) images, as `seegaan encode` would.
    from seegaan.data.prepared import PreparedDataset

    stored = PreparedDataset(data_dir).load_images()
    w_enc = fake_ae.encode(stored).numpy()
    meta = index.drop(columns=["source_path"])
    lat = save_latents(meta, w_enc, tmp_path / "latents.parquet",
                       {"data_dir": str(data_dir), "image_size": SIZE, "checkpoint": "fake"})
    return {"data_dir": data_dir, "latents": lat, "images": stored, "index": index}


@pytest.fixture(scope="session")
def ref_cnn_dir(tmp_path_factory):
    """One saved reference-CNN directory (ResNet10, 32 px input) shared by the tests that read it."""
    from seegaan.explain.adapter import InputAdapter
    from seegaan.explain.reference_cnn import CNNArch, ReferenceCNN, save_reference_cnn

    torch.manual_seed(0)
    net = ReferenceCNN(CNNArch(arch="resnet10")).eval()
    net.y_mean.fill_(6.0)
    path = tmp_path_factory.mktemp("refcnn") / "cnn"
    save_reference_cnn(net, path, {"input_adapter": InputAdapter(size=32, log_output=True).to_dict()})
    return path
