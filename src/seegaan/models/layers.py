"""Building blocks, one class per concept of StyleGAN2 / AE-StyleGAN.

Equalised learning rate: weights are stored with unit variance and scaled by
``1/sqrt(fan_in)`` at run time, so Adam's per-parameter step size means the same thing for
every layer whatever its fan-in (Karras et al., ProGAN).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

LRELU_SLOPE = 0.2
# Gain that keeps activation variance roughly constant through leaky ReLU layers.
LRELU_GAIN = math.sqrt(2.0)


def lrelu(x: torch.Tensor) -> torch.Tensor:
    """Leaky ReLU 0.2 with the variance-preserving gain sqrt(2)."""
    return F.leaky_relu(x, LRELU_SLOPE) * LRELU_GAIN


class PixelNorm(nn.Module):
    """Normalise each latent vector to unit root-mean-square (applied to z before mapping)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(dim=1, keepdim=True) + 1e-8)


class EqualLinear(nn.Module):
    """Fully connected layer with equalised learning rate."""

    def __init__(self,
                 in_dim:     int,              # input features
                 out_dim:    int,              # output features
                 bias:       bool = True,      # add a learned bias
                 bias_init:  float = 0.0,      # initial bias value (1 for style affines)
                 lr_mul:     float = 1.0,      # learning-rate multiplier (0.01 in the mapping network)
                 activate:   bool = False,     # apply leaky ReLU 0.2 (with gain sqrt 2)
                 ) -> None:
        super().__init__()
        # Storing weight / lr_mul and scaling by lr_mul at run time shrinks the effective step.
        self.weight = nn.Parameter(torch.randn(out_dim, in_dim) / lr_mul)
        self.bias = nn.Parameter(torch.full((out_dim,), float(bias_init))) if bias else None
        self.scale = lr_mul / math.sqrt(in_dim)
        self.lr_mul = lr_mul
        self.activate = activate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b = None if self.bias is None else self.bias * self.lr_mul
        out = F.linear(x, self.weight * self.scale, b)
        return lrelu(out) if self.activate else out


class EqualConv2d(nn.Module):
    """Plain convolution with equalised learning rate ('same' padding)."""

    def __init__(self,
                 in_ch:     int,            # input channels
                 out_ch:    int,            # output channels
                 kernel:    int,            # square kernel size (odd)
                 bias:      bool = True,    # add a learned bias
                 activate:  bool = False,   # apply leaky ReLU 0.2 (with gain sqrt 2)
                 ) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_ch, in_ch, kernel, kernel))
        self.bias = nn.Parameter(torch.zeros(out_ch)) if bias else None
        self.scale = 1.0 / math.sqrt(in_ch * kernel * kernel)
        self.padding = kernel // 2
        self.activate = activate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.conv2d(x, self.weight * self.scale, self.bias, padding=self.padding)
        return lrelu(out) if self.activate else out


class NoiseInjection(nn.Module):
    """Add per-pixel Gaussian noise with a learned strength (initialised to 0).

    ``noise`` is given by the caller so that training can draw it from a seeded generator
    and inference can switch it off, which makes decoding deterministic.
    """

    def __init__(self) -> None:
        super().__init__()
        self.strength = nn.Parameter(torch.zeros(()))

    def forward(self, x: torch.Tensor, noise: torch.Tensor | None) -> torch.Tensor:
        if noise is None:
            return x
        return x + self.strength * noise


class ResBlock(nn.Module):
    """Residual downsampling block of E and D (see docs/training.md, "Presets").

    Main path: two 3x3 convs with leaky ReLU, then 2x2 average pooling. Skip path: 1x1 conv,
    then pooling. The sum is divided by sqrt(2) to keep its variance.
    """

    def __init__(self,
                 in_ch:   int,   # input channels (the width at this resolution)
                 out_ch:  int,   # output channels (the width at half this resolution)
                 ) -> None:
        super().__init__()
        self.conv1 = EqualConv2d(in_ch, in_ch, 3, activate=True)
        self.conv2 = EqualConv2d(in_ch, out_ch, 3, activate=True)
        self.skip = EqualConv2d(in_ch, out_ch, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        main = F.avg_pool2d(self.conv2(self.conv1(x)), 2)
        skip = self.skip(F.avg_pool2d(x, 2))  # 1x1 conv and pooling commute; pool first is cheaper
        return (main + skip) / math.sqrt(2.0)


class MinibatchStd(nn.Module):
    """Append the mean standard deviation over groups of consecutive samples as one channel.

    Groups are consecutive samples, so a batch split across processes (in multiples of the
    group size) gives exactly the statistics of the undivided batch.
    """

    def __init__(self,
                 group:  int = 4,   # samples per group (smaller batches use the whole batch)
                 ) -> None:
        super().__init__()
        self.group = group

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        g = min(self.group, n)
        if n % g:
            g = 1 if n < 2 else math.gcd(n, g)
        y = x.reshape(n // g, g, c, h, w)
        std = torch.sqrt(y.var(dim=1, unbiased=False) + 1e-8)     # (n/g, c, h, w)
        stat = std.mean(dim=(1, 2, 3)).reshape(n // g, 1, 1, 1, 1)
        stat = stat.expand(n // g, g, 1, h, w).reshape(n, 1, h, w)
        return torch.cat([x, stat], dim=1)
