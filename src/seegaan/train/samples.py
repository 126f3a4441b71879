"""Sample grids: random samples, then validation originals and their reconstructions."""

from __future__ import annotations

import os

import numpy as np
import torch
from PIL import Image

from seegaan.utils.fsio import atomic_file


def image_grid(images: torch.Tensor, cols: int) -> np.ndarray:
    """``(N, 1, S, S)`` in [-1, 1] -> one uint8 grid image with a 2-pixel gap."""
    x = ((images.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).cpu().numpy()
    n, _, s, _ = x.shape
    rows = -(-n // cols)
    gap = 2
    grid = np.zeros((rows * (s + gap) - gap, cols * (s + gap) - gap), np.uint8)
    for i in range(n):
        r, c = divmod(i, cols)
        grid[r * (s + gap):r * (s + gap) + s, c * (s + gap):c * (s + gap) + s] = x[i, 0]
    return grid


def save_grid(path: str | os.PathLike, images: torch.Tensor, cols: int) -> None:
    with atomic_file(path) as fh:
        Image.fromarray(image_grid(images, cols)).save(fh, format="PNG")
