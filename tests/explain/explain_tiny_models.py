"""Tiny models for the adapter tests, importable as ``explain_tiny_models:factory``."""

from __future__ import annotations

import torch
from torch import nn


class BrightnessRegressor(nn.Module):
    """log BNPP = 6 + 3 * mean(image) + 2 * (left half - right half) mean: monotone in brightness.

    ``features`` is a small conv block so Grad-CAM has a 4-D layer to attribute to.
    """

    def __init__(self, n_outputs: int = 1):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 2, kernel_size=1, bias=False), nn.Identity())
        with torch.no_grad():
            self.features[0].weight.fill_(1.0)
        self.n_outputs = n_outputs

    def forward(self, x):
        f = self.features(x)
        half = f.shape[-1] // 2
        asym = f[:, 1, :, :half].mean(dim=(1, 2)) - f[:, 1, :, half:].mean(dim=(1, 2))
        y = 6.0 + 3.0 * f[:, 0].mean(dim=(1, 2)) + 2.0 * asym
        return torch.stack([y] + [y * (k + 2) for k in range(self.n_outputs - 1)], dim=1)


class SmallCNN(nn.Module):
    """A real (randomly initialised) CNN with two outputs, for adapter round trips."""

    def __init__(self, channels: int = 1):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(channels, 4, 3, padding=1), nn.ReLU(),
                                      nn.Conv2d(4, 4, 3, padding=1), nn.ReLU())
        self.head = nn.Linear(4, 2)

    def forward(self, x):
        return self.head(self.features(x).mean(dim=(2, 3)))


class NaNModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 1, 1)

    def forward(self, x):
        return self.conv(x).mean(dim=(1, 2, 3)) * float("nan")


def brightness(n_outputs: int = 1) -> nn.Module:
    return BrightnessRegressor(n_outputs)


def small_cnn(channels: int = 1, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return SmallCNN(channels)


def nan_model() -> nn.Module:
    return NaNModel()
