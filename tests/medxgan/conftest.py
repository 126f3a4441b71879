"""Tiny medXGAN fixtures: a 16 x 16 generator, a two-layer classifier, a 40-film dataset."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from seegaan.data.prepared import write_prepared
from seegaan.explain import ExplainableModel, InputAdapter
from seegaan.medxgan.classifier import PositiveClass
from seegaan.medxgan.config import ClassifierSpec, MedXGANModelConfig, MedXGANTrainConfig
from seegaan.utils.progress import set_quiet

set_quiet(True)
SIZE = 16


class TinyModel(ExplainableModel):
    """A user's model as seegaan sees it: a module behind an input adapter."""

    def __init__(self, module: nn.Module, size: int | None = SIZE) -> None:
        super().__init__("tiny", InputAdapter(size=size))
        self.module = module.eval()
        self.module.requires_grad_(False)

    def _raw(self, x: torch.Tensor) -> torch.Tensor:
        return self.module(x)

    def gradcam_layer(self) -> nn.Module:
        return self.module[0]


def tiny_net(seed: int = 0) -> nn.Sequential:
    torch.manual_seed(seed)
    # Brightness decides the class: a film with a bright blob is "positive".
    net = nn.Sequential(nn.Conv2d(1, 4, 3, stride=2, padding=1), nn.ReLU(),
                        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 1))
    with torch.no_grad():
        net[0].weight.copy_(1 / 9 + 0.01 * torch.randn_like(net[0].weight))
        net[0].bias.zero_()
        net[4].weight.fill_(10.0)
        net[4].bias.fill_(-1.0)
    return net


@pytest.fixture
def tiny_classifier() -> PositiveClass:
    return PositiveClass(TinyModel(tiny_net()), ClassifierSpec(output="logit"), image_size=SIZE)


@pytest.fixture
def tiny_cfg() -> MedXGANModelConfig:
    return MedXGANModelConfig(image_size=SIZE, z1_dim=8, z2_dim=3, g_channels=(8, 4),
                              d_channels=(4, 8))


@pytest.fixture
def tiny_train_cfg() -> MedXGANTrainConfig:
    return MedXGANTrainConfig(steps=4, batch=4, val_every=2, ckpt_every=2, log_every=1,
                              val_samples=8, threads=1)


def blob_data(root, size: int = SIZE, n: int = 40, n_val: int = 8, n_test: int = 8) -> str:
    """``n`` films of ``size`` px: smooth blobs, half bright, half dark, in train/val/test."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:size, :size] / size
    imgs = []
    for i in range(n):
        cx, cy = rng.uniform(0.3, 0.7, 2)
        blob = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / 0.05)
        level = 0.6 if i % 2 else -0.6
        imgs.append(np.clip(level * blob + rng.normal(0, 0.05, (size, size)), -1, 1))
    split = np.array(["train"] * (n - n_val - n_test) + ["val"] * n_val + ["test"] * n_test)
    idx = pd.DataFrame({"image_id": [f"f{i:02d}" for i in range(n)],
                        "patient_id": [f"p{i:02d}" for i in range(n)], "split": split,
                        "source_path": [f"f{i:02d}.png" for i in range(n)]})
    return str(write_prepared(root, np.stack(imgs).astype(np.float32), idx, {}))


@pytest.fixture
def tiny_data(tmp_path):
    """40 films of 16 px: smooth blobs, half bright, half dark, with train/val/test splits."""
    return blob_data(tmp_path / "data")


def scripted_classifier(path) -> str:
    """:func:`tiny_net` saved as TorchScript: a classifier file the CLI loads like a user's."""
    import warnings

    with warnings.catch_warnings():  # TorchScript's deprecation is not what the tests are about
        warnings.simplefilter("ignore", FutureWarning)
        torch.jit.script(tiny_net()).save(str(path))
    return str(path)


@pytest.fixture(autouse=True)
def _one_thread():
    # Tiny tensors: thread start-up costs more than it saves on a shared CPU.
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
