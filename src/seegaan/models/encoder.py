"""Encoder E: image -> one w (a single W vector, not W+), a residual CNN (docs/training.md)."""

from __future__ import annotations

import torch
from torch import nn

from seegaan.config import ModelConfig
from seegaan.models.layers import EqualConv2d, EqualLinear, ResBlock


def residual_trunk(channels: tuple[int, ...], image_channels: int) -> nn.Sequential:
    """fromRGB 1x1 conv, then one ResBlock per halving from image_size down to 4x4."""
    layers: list[nn.Module] = [EqualConv2d(image_channels, channels[0], 1, activate=True)]
    for a, b in zip(channels[:-1], channels[1:]):
        layers.append(ResBlock(a, b))
    return nn.Sequential(*layers)


class Encoder(nn.Module):
    """Residual trunk, then a 3x3 conv at 4x4, flatten, FC + leaky ReLU, FC to w_dim."""

    def __init__(self,
                 cfg:  ModelConfig,   # uses e_channels, head_dim, w_dim, image_channels
                 ) -> None:
        super().__init__()
        c = cfg.e_channels[-1]
        self.trunk = residual_trunk(cfg.e_channels, cfg.image_channels)
        self.head_conv = EqualConv2d(c, c, 3, activate=True)
        self.fc1 = EqualLinear(c * 16, cfg.head_dim, activate=True)
        self.fc2 = EqualLinear(cfg.head_dim, cfg.w_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.head_conv(self.trunk(x))
        return self.fc2(self.fc1(h.flatten(1)))
