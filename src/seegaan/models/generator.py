"""Generator G: the StyleGAN2 synthesis network driven by a single w (or per-layer ws for mixing).

Structure (docs/training.md): a learned 4x4 constant; at 4x4 one modulated 3x3 conv; at every
higher resolution a 2x upsampling modulated conv and a second modulated conv, each followed
by noise, bias and leaky ReLU; a 1x1 toRGB per resolution summed into an upsampled skip
image; tanh on the output.
"""

from __future__ import annotations

import torch
from torch import nn

from seegaan.config import ModelConfig
from seegaan.models.layers import NoiseInjection, lrelu
from seegaan.models.modconv import ModulatedConv2d, ToRGB


class StyledConv(nn.Module):
    """Modulated 3x3 conv, then noise injection, bias and leaky ReLU."""

    def __init__(self,
                 in_ch:     int,            # input channels
                 out_ch:    int,            # output channels
                 w_dim:     int,            # latent width
                 upsample:  bool = False,   # double the resolution first
                 impl:      str = "fast",   # modulated-conv implementation
                 ) -> None:
        super().__init__()
        self.conv = ModulatedConv2d(in_ch, out_ch, 3, w_dim, demod=True, upsample=upsample, impl=impl)
        self.noise = NoiseInjection()
        self.bias = nn.Parameter(torch.zeros(1, out_ch, 1, 1))

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise: torch.Tensor | None) -> torch.Tensor:
        return lrelu(self.noise(self.conv(x, w), noise) + self.bias)


class Generator(nn.Module):
    """Synthesis network. ``forward(w)`` with ``w`` of shape (N, w_dim) or (N, num_ws, w_dim)."""

    def __init__(self,
                 cfg:   ModelConfig,      # uses image_size, w_dim, g_channels, image_channels, out_tanh
                 impl:  str = "fast",     # modulated-conv implementation ("fast" or "grouped")
                 ) -> None:
        super().__init__()
        ch = cfg.g_channels
        self.cfg = cfg
        self.const = nn.Parameter(torch.randn(1, ch[0], 4, 4))
        self.convs = nn.ModuleList([StyledConv(ch[0], ch[0], cfg.w_dim, impl=impl)])
        self.torgbs = nn.ModuleList([ToRGB(ch[0], cfg.w_dim, cfg.image_channels, impl=impl)])
        for prev, cur in zip(ch[:-1], ch[1:]):
            self.convs.append(StyledConv(prev, cur, cfg.w_dim, upsample=True, impl=impl))
            self.convs.append(StyledConv(cur, cur, cfg.w_dim, impl=impl))
            self.torgbs.append(ToRGB(cur, cfg.w_dim, cfg.image_channels, impl=impl))
        self.num_ws = cfg.num_ws

    def set_modconv(self, impl: str) -> None:
        """Switch every modulated conv between the "fast" and "grouped" implementations."""
        for m in self.modules():
            if isinstance(m, ModulatedConv2d):
                m.impl = impl

    def noise_shapes(self, batch: int) -> list[tuple[int, ...]]:
        """Shapes of the per-layer noise maps for a batch (one entry per StyledConv)."""
        shapes = []
        for i in range(len(self.convs)):
            res = 4 * 2 ** ((i + 1) // 2)
            shapes.append((batch, 1, res, res))
        return shapes

    def make_noise(self, batch: int, generator: torch.Generator | None = None,
                   device: torch.device | str = "cpu") -> list[torch.Tensor]:
        """Draw per-pixel noise maps from ``generator`` (on the CPU, for reproducibility)."""
        return [torch.randn(s, generator=generator).to(device) for s in self.noise_shapes(batch)]

    def forward(self, w: torch.Tensor, noise: list[torch.Tensor] | None = None) -> torch.Tensor:
        """Synthesise images in [-1, 1]. ``noise=None`` switches noise off (deterministic)."""
        if w.ndim == 2:
            w = w[:, None, :].expand(-1, self.num_ws, -1)
        if noise is None or not self.cfg.g_noise:
            noise = [None] * len(self.convs)
        x = self.const.expand(w.shape[0], -1, -1, -1)
        x = self.convs[0](x, w[:, 0], noise[0])
        img = self.torgbs[0](x, w[:, 1], None)
        k = 1
        for i in range(1, len(self.torgbs)):
            x = self.convs[2 * i - 1](x, w[:, k], noise[2 * i - 1])
            x = self.convs[2 * i](x, w[:, k + 1], noise[2 * i])
            img = self.torgbs[i](x, w[:, k + 2], img)
            k += 2
        return torch.tanh(img) if self.cfg.out_tanh else img
