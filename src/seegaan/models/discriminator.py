"""Discriminator D: the encoder's residual trunk, then minibatch std, 3x3 conv, FC, FC 1."""

from __future__ import annotations

import torch
from torch import nn

from seegaan.config import ModelConfig
from seegaan.models.encoder import residual_trunk
from seegaan.models.layers import EqualConv2d, EqualLinear, MinibatchStd


class Discriminator(nn.Module):
    """Real/fake logit per image (softplus losses are applied by the trainer)."""

    def __init__(self,
                 cfg:  ModelConfig,   # uses d_channels, head_dim, mbstd_group, image_channels
                 ) -> None:
        super().__init__()
        c = cfg.d_channels[-1]
        self.trunk = residual_trunk(cfg.d_channels, cfg.image_channels)
        self.mbstd = MinibatchStd(cfg.mbstd_group)
        self.head_conv = EqualConv2d(c + 1, c, 3, activate=True)
        self.fc1 = EqualLinear(c * 16, cfg.head_dim, activate=True)
        self.fc2 = EqualLinear(cfg.head_dim, 1)

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Activations after each trunk block (for the feature-matching loss)."""
        out = []
        for layer in self.trunk:
            x = layer(x)
            out.append(x)
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.head_conv(self.mbstd(self.trunk(x)))
        return self.fc2(self.fc1(h.flatten(1))).squeeze(1)
