"""Image-quality measures that need no downloaded weights: SSIM, multi-scale SSIM loss, SWD.

FID is optional (:func:`fid_or_none`): it runs only with a local Inception weights file and
torchmetrics installed, because Inception weights cannot be downloaded on every machine.

Example::

    from seegaan.train.metrics import ssim
    ssim(x, y)            # (N,) per-image SSIM of images in [-1, 1]
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from seegaan.errors import OptionError


def _gaussian_window(size: int = 11, sigma: float = 1.5, device=None, dtype=None) -> torch.Tensor:
    t = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(t ** 2) / (2 * sigma ** 2))
    g = (g / g.sum()).to(device=device, dtype=dtype or torch.float32)
    return g


def ssim(x: torch.Tensor, y: torch.Tensor, window: int = 11, sigma: float = 1.5) -> torch.Tensor:
    """Per-image SSIM (Wang et al. 2004: Gaussian 11x11 window, sigma 1.5, K1 0.01, K2 0.03).

    ``x`` and ``y`` are ``(N, C, H, W)`` in [-1, 1] (data range 2); the mean is over the
    valid region (no padding) and channels. Returns ``(N,)``.
    """
    x = (x.float() + 1) / 2
    y = (y.float() + 1) / 2
    c = x.shape[1]
    win = min(window, x.shape[-1], x.shape[-2])
    g = _gaussian_window(win, sigma, x.device)
    kx = g.reshape(1, 1, 1, -1).expand(c, 1, 1, win)
    ky = g.reshape(1, 1, -1, 1).expand(c, 1, win, 1)

    def blur(t: torch.Tensor) -> torch.Tensor:
        return F.conv2d(F.conv2d(t, kx, groups=c), ky, groups=c)

    mx, my = blur(x), blur(y)
    sxx = blur(x * x) - mx * mx
    syy = blur(y * y) - my * my
    sxy = blur(x * y) - mx * my
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    s = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2))
    return s.mean(dim=(1, 2, 3))


def multiscale_ssim_loss(x: torch.Tensor, y: torch.Tensor, scales: int = 3) -> torch.Tensor:
    """Mean of (1 - SSIM) over up to ``scales`` dyadic scales down to 16 pixels.

    The weight-free stand-in for the VGG perceptual loss: SSIM compares local structure and
    contrast rather than raw intensities, which is what MSE alone undervalues (blurry output).
    """
    losses = []
    for _ in range(scales):
        losses.append(1 - ssim(x, y).mean())
        if x.shape[-1] // 2 < 16:
            break
        x, y = F.avg_pool2d(x, 2), F.avg_pool2d(y, 2)
    return torch.stack(losses).mean()


# -- sliced Wasserstein distance (Karras et al., ProGAN) -----------------------------------

def _laplacian_pyramid(x: torch.Tensor, min_size: int = 16) -> list[torch.Tensor]:
    levels = []
    while True:
        if x.shape[-1] // 2 < min_size:
            levels.append(x)
            return levels
        small = F.avg_pool2d(x, 2)
        levels.append(x - F.interpolate(small, scale_factor=2, mode="bilinear", align_corners=False))
        x = small


def _patches(level: torch.Tensor, per_image: int, size: int, gen: torch.Generator) -> torch.Tensor:
    n, c, h, w = level.shape
    ys = torch.randint(0, h - size + 1, (n, per_image), generator=gen)
    xs = torch.randint(0, w - size + 1, (n, per_image), generator=gen)
    unf = F.unfold(level, size)                                  # (n, c*size*size, L)
    idx = (ys * (w - size + 1) + xs).to(level.device)
    desc = torch.gather(unf, 2, idx[:, None, :].expand(-1, unf.shape[1], -1))
    desc = desc.permute(0, 2, 1).reshape(-1, unf.shape[1])
    # Each set is standardised on its own, as in ProGAN, so SWD compares shapes of patches.
    return (desc - desc.mean(0)) / (desc.std(0) + 1e-8)


def _sliced_wasserstein(a: torch.Tensor, b: torch.Tensor, n_dirs: int, gen: torch.Generator) -> float:
    dirs = torch.randn(a.shape[1], n_dirs, generator=gen).to(a.device)
    dirs = dirs / dirs.norm(dim=0, keepdim=True)
    pa, _ = torch.sort(a @ dirs, dim=0)
    pb, _ = torch.sort(b @ dirs, dim=0)
    return float((pa - pb).abs().mean())


@torch.no_grad()
def sliced_wasserstein(real: torch.Tensor, fake: torch.Tensor, seed: int = 0,
                       patches_per_image: int = 64, patch: int = 7, n_dirs: int = 512) -> dict[str, float]:
    """SWD between two image sets over a Laplacian pyramid (x1e3, as ProGAN reports it).

    Returns ``{"swd": mean over levels, "swd_<res>": per level}``; lower is better. Both sets
    must have the same number of images.
    """
    if len(real) != len(fake):
        raise OptionError("sliced_wasserstein: both sets need the same number of images")
    gen = torch.Generator().manual_seed(seed)
    out: dict[str, float] = {}
    for lr, lf in zip(_laplacian_pyramid(real.float()), _laplacian_pyramid(fake.float())):
        da = _patches(lr, patches_per_image, patch, gen)
        db = _patches(lf, patches_per_image, patch, gen)
        out[f"swd_{lr.shape[-1]}"] = 1e3 * _sliced_wasserstein(da, db, n_dirs, gen)
    out["swd"] = float(np.mean(list(out.values())))
    return out


FID_PACKAGES = "pip install torchmetrics torch-fidelity"


def check_fid(weights_path: str | None) -> None:
    """Fail before training, in one line, when ``--inception-weights`` cannot give an FID."""
    if not weights_path:
        return
    from pathlib import Path

    if not Path(weights_path).is_file():
        raise OptionError(f"--inception-weights {weights_path}: file not found")
    try:
        import torch_fidelity  # noqa: F401  (torchmetrics' FID needs it)
        from torchmetrics.image.fid import FrechetInceptionDistance  # noqa: F401
    except ImportError as err:
        raise OptionError(f"--inception-weights {weights_path}: FID needs torchmetrics and "
                          f"torch-fidelity ({err.name} is missing; {FID_PACKAGES})") from None


def fid_or_none(real: torch.Tensor, fake: torch.Tensor, weights_path: str | None) -> float | None:
    """FID with a local Inception weights file via torchmetrics; None without a weights file.

    Given a weights file, a missing package is an error, not a silent None: a run asked to
    select ``best/`` by FID must not quietly never select.
    """
    if not weights_path:
        return None
    check_fid(weights_path)
    from torchmetrics.image.fid import FrechetInceptionDistance
    try:
        fid = FrechetInceptionDistance(feature=2048, normalize=True,
                                       feature_extractor_weights_path=str(weights_path))
    except Exception as err:  # wrong file or torch-fidelity missing: tell the user once, clearly
        raise OptionError(f"--inception-weights {weights_path}: cannot build FID ({err})") from None

    def rgb(t: torch.Tensor) -> torch.Tensor:
        return ((t.float().clamp(-1, 1) + 1) / 2).expand(-1, 3, -1, -1).cpu()

    fid.update(rgb(real), real=True)
    fid.update(rgb(fake), real=False)
    return float(fid.compute())
