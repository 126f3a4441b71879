"""Modulated convolution with weight demodulation (StyleGAN2), and the toRGB layer.

For sample ``b`` StyleGAN2 convolves with its own weight
``w'[b,o,i,k] = w[o,i,k] * s[b,i]`` and then demodulates,
``w''[b,o,i,k] = w'[b,o,i,k] / sqrt(sum_{i,k} w'[b,o,i,k]^2 + eps)``.

Reference code builds all ``w''`` and runs one grouped convolution with ``groups = batch``:
each group is a batch-1 convolution over its own weight tensor. Because the style only
scales input channels and demodulation only scales output channels, the same result is
``d[b,o] * conv(x[b] * s[b], w)``: scale the activations, run one ordinary batched
convolution with the shared weight, then scale the output by
``d[b,o] = 1/sqrt(sum_i s[b,i]^2 * sum_k w[o,i,k]^2 + eps)``. That is the ``fast`` path.
The ``grouped`` path is kept to test that both agree.

How much the fast path saves depends on the convolution backend. On torch 2.14 CPU builds
(oneDNN) the grouped conv is several times slower on the 4x4 and 8x8 maps with many
channels, but as fast as the shared conv on the 32x32 and 64x64 maps where most of a
step's time goes (``benchmarks/train_speed.py`` prints the per-layer table).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from seegaan.models.layers import EqualLinear

MODCONV_IMPLS = ("fast", "grouped")


class ModulatedConv2d(nn.Module):
    """A style-modulated convolution, optionally demodulated and preceded by 2x upsampling."""

    def __init__(self,
                 in_ch:     int,             # input channels
                 out_ch:    int,             # output channels
                 kernel:    int,             # square kernel size (3 for synthesis, 1 for toRGB)
                 w_dim:     int,             # latent width feeding the style affine
                 demod:     bool = True,     # weight demodulation (off for toRGB)
                 upsample:  bool = False,    # bilinear 2x upsampling before the conv
                 impl:      str = "fast",    # "fast" (shared conv) or "grouped" (per-sample weights)
                 ) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_ch, in_ch, kernel, kernel))
        self.scale = 1.0 / math.sqrt(in_ch * kernel * kernel)
        # Bias 1 so that every style starts as the identity modulation.
        self.affine = EqualLinear(w_dim, in_ch, bias_init=1.0)
        self.in_ch, self.out_ch, self.kernel = in_ch, out_ch, kernel
        self.demod = demod
        self.upsample = upsample
        self.impl = impl

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        style = self.affine(w)                                   # (N, in)
        weight = self.weight * self.scale
        if self.impl == "grouped":
            if self.upsample:
                x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
            return self._grouped(x, style, weight)
        # Bilinear upsampling acts on each channel alone, so it commutes with the per-channel
        # style: scaling before it touches a quarter of the values.
        x = x * style[:, :, None, None]
        if self.upsample:
            x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
        return self._fast(x, style, weight)

    def _fast(self, x: torch.Tensor, style: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        """``x`` arrives already scaled by ``style``."""
        out = F.conv2d(x, weight, padding=self.kernel // 2)
        if self.demod:
            wsq = weight.pow(2).sum(dim=(2, 3))                  # (out, in)
            d = torch.rsqrt(style.pow(2) @ wsq.t() + 1e-8)        # (N, out)
            out = out * d[:, :, None, None]
        return out

    def _grouped(self, x: torch.Tensor, style: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        n, _, h, w_ = x.shape
        wb = weight[None] * style[:, None, :, None, None]        # (N, out, in, k, k)
        if self.demod:
            wb = wb * torch.rsqrt(wb.pow(2).sum(dim=(2, 3, 4), keepdim=True) + 1e-8)
        wb = wb.reshape(n * self.out_ch, self.in_ch, self.kernel, self.kernel)
        out = F.conv2d(x.reshape(1, n * self.in_ch, h, w_), wb, padding=self.kernel // 2, groups=n)
        return out.reshape(n, self.out_ch, h, w_)

    def extra_repr(self) -> str:
        return (f"{self.in_ch}, {self.out_ch}, kernel={self.kernel}, demod={self.demod}, "
                f"upsample={self.upsample}, impl={self.impl}")


class ToRGB(nn.Module):
    """1x1 modulated conv (no demodulation) to image channels, added to the upsampled skip image."""

    def __init__(self,
                 in_ch:     int,            # feature channels
                 w_dim:     int,            # latent width
                 out_ch:    int = 1,        # image channels (1 for radiographs)
                 impl:      str = "fast",   # modulated-conv implementation
                 ) -> None:
        super().__init__()
        self.conv = ModulatedConv2d(in_ch, out_ch, 1, w_dim, demod=False, impl=impl)
        self.bias = nn.Parameter(torch.zeros(1, out_ch, 1, 1))

    def forward(self, x: torch.Tensor, w: torch.Tensor, skip: torch.Tensor | None) -> torch.Tensor:
        out = self.conv(x, w) + self.bias
        if skip is not None:
            out = out + F.interpolate(skip, scale_factor=2, mode="bilinear", align_corners=False)
        return out
