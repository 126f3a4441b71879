"""Inference-only synthesis: the generator's forward pass with its element-wise work fused.

Why. Decoding thousands of frames (a permutation test decodes B × T of them) is bounded on
a CPU less by the convolutions than by the element-wise passes around them: in the training
forward (:class:`seegaan.models.generator.Generator`) every modulated conv is followed by
``out * d``, ``+ bias``, ``leaky_relu`` and ``* sqrt 2``, and preceded by ``x * style``, each
a fresh tensor as large as the activation. At 64² with 32 channels these passes, and the
page faults of their fresh allocations, took about as long as the convolutions themselves.

What changes (values equal the training forward up to float rounding; the tests check it):

- leaky ReLU is positively homogeneous, ``lrelu(z) · g = lrelu(z · g)`` for ``g > 0``, so the
  gain √2 is folded into the demodulation and the bias: ``lrelu(out · (d·g) + b·g)``, done
  in place on the convolution's output (two passes instead of four fresh tensors);
- the next layer's style scaling ``x · s`` is applied in place to that output once nothing
  else reads the unscaled values (toRGB reads them first);
- toRGB is a 1×1 convolution with one output channel and per-sample weights ``W · s``, so it
  is a batched matrix-vector product over the channels: it reads the activation once and
  does not build ``x · s`` at all.

The convolutions, the bilinear upsampling and the demodulation formula are the training
forward's own. Noise injection is off (inference decodes deterministically), as
``Autoencoder.decode`` does. Training never calls this module.

Example::

    from seegaan.models.fastdecode import fused_synthesis
    img = fused_synthesis(ae.generator, w)     # (N, 512) -> (N, 1, 64, 64), like G(w, noise=None)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from seegaan.models.generator import Generator, StyledConv
from seegaan.models.layers import LRELU_GAIN, LRELU_SLOPE
from seegaan.models.modconv import ToRGB


def supports(gen: object) -> bool:
    """True when ``gen`` is this project's synthesis network (the layout this module fuses)."""
    return isinstance(gen, Generator)


def _scale_(x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
    """``x · style`` per sample and channel, in place (``x`` is a tensor this module owns)."""
    return x.mul_(style[:, :, None, None])


def _styled(layer: StyledConv, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
    """One StyledConv on ``x`` that is already multiplied by ``style``; returns the activation."""
    m = layer.conv
    weight = m.weight * m.scale
    if m.upsample:
        # Bilinear upsampling acts per channel, so it commutes with the style scaling.
        x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
    out = F.conv2d(x, weight, padding=m.kernel // 2)
    gain = torch.full((), LRELU_GAIN, dtype=out.dtype)
    if m.demod:
        wsq = weight.pow(2).sum(dim=(2, 3))                           # (out, in)
        d = torch.rsqrt(style.pow(2) @ wsq.t() + 1e-8) * gain          # (N, out)
        out.mul_(d[:, :, None, None])
    else:
        out.mul_(gain)
    out.add_(layer.bias * gain)
    return F.leaky_relu_(out, LRELU_SLOPE)


def _torgb(layer: ToRGB, x: torch.Tensor, style: torch.Tensor,
           skip: torch.Tensor | None) -> torch.Tensor:
    """toRGB of the unscaled activation ``x``: Σ_c x[c] · W[o, c] · s[c], + bias, + upsampled skip."""
    m = layer.conv
    per = style[:, None, :] * (m.weight * m.scale)[None, :, :, 0, 0]    # (N, out, C)
    n, c, h, w = x.shape
    if x.is_contiguous(memory_format=torch.channels_last):
        flat = x.permute(0, 2, 3, 1).reshape(n, h * w, c)               # a view, no copy
        out = torch.bmm(flat, per.transpose(1, 2)).reshape(n, h, w, -1).permute(0, 3, 1, 2)
    else:
        out = torch.bmm(per, x.reshape(n, c, h * w)).reshape(n, -1, h, w)
    out = out + layer.bias
    if skip is not None:
        out = out + F.interpolate(skip, scale_factor=2, mode="bilinear", align_corners=False)
    return out


def fused_synthesis(gen: Generator, w: torch.Tensor) -> torch.Tensor:
    """``gen(w, noise=None)`` for ``w`` of shape (N, w_dim), inference only (no gradients)."""
    if w.ndim != 2:
        raise ValueError(f"fused_synthesis: w must be (N, w_dim), got {tuple(w.shape)}")
    with torch.inference_mode():
        n = w.shape[0]
        convs, torgbs = gen.convs, gen.torgbs
        # Every layer reads the same w (no style mixing at inference).
        s_conv = [layer.conv.affine(w) for layer in convs]
        s_rgb = [layer.conv.affine(w) for layer in torgbs]
        x = gen.const.expand(n, -1, -1, -1) * s_conv[0][:, :, None, None]
        x = _styled(convs[0], x, s_conv[0])
        img = _torgb(torgbs[0], x, s_rgb[0], None)
        for i in range(1, len(torgbs)):
            up, same = convs[2 * i - 1], convs[2 * i]
            x = _styled(up, _scale_(x, s_conv[2 * i - 1]), s_conv[2 * i - 1])
            x = _styled(same, _scale_(x, s_conv[2 * i]), s_conv[2 * i])
            img = _torgb(torgbs[i], x, s_rgb[i], img)
        return torch.tanh(img) if gen.cfg.out_tanh else img
