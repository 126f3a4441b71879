"""The conditional DCGAN-like generator G(z1, z2) and its discriminator.

G follows DCGAN's shape (a linear seed at 4 x 4, then stride-2 transposed convolutions that
double the side, tanh output) with one change for small CPU batches: pixel-wise feature
normalisation instead of BatchNorm, so an image depends on its own latents only and G gives
the same picture in training and in evaluation. The class enters through z2 alone: a
negative film is G(z1, 0), a positive one G(z1, z2) with z2 ~ N(0, I), so interpolating
z2 from 0 moves one anatomy (z1) from the negative to the positive class.

z2 ~ N(0, I) is symmetric: z2 and -z2 must both give a positive film while 0 gives a negative
one, so the class is a property of the code's *length*, which a linear first layer cannot
read. With ``z2_norm_input`` (the default) G's first layer also receives |z2|; along the
explanation path G(z1, alpha z2) it grows linearly with alpha, like every other input.

Example::

    G = MedXGANGenerator(MedXGANModelConfig.preset(64))
    x = G(torch.randn(8, 100), torch.zeros(8, 10))     # (8, 1, 64, 64) negatives in [-1, 1]
"""

from __future__ import annotations

import torch
from torch import nn

from seegaan.medxgan.config import MedXGANModelConfig


class PixelNorm(nn.Module):
    """Normalise each pixel's feature vector to unit mean square (ProGAN); batch-independent."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(dim=1, keepdim=True) + 1e-8)


class UpBlock(nn.Module):
    """DCGAN's up-sampling step: 4 x 4 transposed convolution, stride 2, then norm + LeakyReLU."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv = nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1)
        self.act = nn.Sequential(PixelNorm(), nn.LeakyReLU(0.2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.conv(x))


class MedXGANGenerator(nn.Module):
    def __init__(self, cfg: MedXGANModelConfig) -> None:
        super().__init__()
        cfg.check()
        self.cfg = cfg
        c = cfg.g_channels
        self.seed = nn.Linear(cfg.z1_dim + cfg.z2_dim + int(cfg.z2_norm_input), c[0] * 16)
        self.seed_act = nn.Sequential(PixelNorm(), nn.LeakyReLU(0.2))
        self.blocks = nn.Sequential(*[UpBlock(a, b) for a, b in zip(c[:-1], c[1:])])
        self.to_image = nn.ConvTranspose2d(c[-1], cfg.image_channels, 4, stride=2, padding=1)

    def forward(self, z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
        parts = [z1, z2]
        if self.cfg.z2_norm_input:
            parts.append(z2.norm(dim=1, keepdim=True))
        h = self.seed(torch.cat(parts, dim=1)).view(len(z1), self.cfg.g_channels[0], 4, 4)
        return torch.tanh(self.to_image(self.blocks(self.seed_act(h))))


class MedXGANDiscriminator(nn.Module):
    """Real vs generated, class-blind: the class is enforced by the frozen classifier instead."""

    def __init__(self, cfg: MedXGANModelConfig) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c_in = cfg.image_channels
        for c in cfg.d_channels:  # each stride-2 convolution halves the side, down to 4 x 4
            layers += [nn.Conv2d(c_in, c, 4, stride=2, padding=1), nn.LeakyReLU(0.2)]
            c_in = c
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(c_in * 16, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).flatten(1))[:, 0]
