"""Mapping network M: z ~ N(0, I) -> w, used for random samples and the fake branch."""

from __future__ import annotations

import torch
from torch import nn

from seegaan.config import ModelConfig
from seegaan.models.layers import EqualLinear, PixelNorm


class MappingNetwork(nn.Module):
    """Pixel norm, then ``mapping_layers`` fully connected layers with leaky ReLU 0.2.

    The learning-rate multiplier (0.01 in the paper) slows M down relative to G, which keeps
    the sampled w distribution from drifting faster than the synthesis can follow.
    """

    def __init__(self,
                 cfg:  ModelConfig,   # uses z_dim, w_dim, mapping_layers, mapping_lr_mul
                 ) -> None:
        super().__init__()
        layers: list[nn.Module] = [PixelNorm()]
        dims = [cfg.z_dim] + [cfg.w_dim] * cfg.mapping_layers
        last = len(dims) - 2
        for i, (a, b) in enumerate(zip(dims[:-1], dims[1:])):
            # A linear last layer lets w take any sign and scale, like the encoder's output
            # (whose last layer is linear too); a leaky ReLU skews w positive.
            act = not (cfg.mapping_linear_last and i == last)
            layers.append(EqualLinear(a, b, lr_mul=cfg.mapping_lr_mul, activate=act))
        self.net = nn.Sequential(*layers)
        self.z_dim = cfg.z_dim

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)
