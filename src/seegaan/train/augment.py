"""Augmentation of the real batch (step 1 in docs/training.md), drawn per image with probability p.

Translation +-5 %, rotation +-7 degrees, zoom +-15 %, brightness +-25 %. Parameters are drawn
for the whole (global) batch from the step's generator and then sliced per process, so a run
on N processes augments exactly as a single-process run does.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def draw_augment(n: int, p: float, gen: torch.Generator) -> torch.Tensor:
    """``(n, 5)`` parameters: applied flag, tx, ty (fraction of the width), angle (rad) and zoom,
    then brightness in a sixth column. Unapplied rows are the identity."""
    u = torch.rand(n, 6, generator=gen)
    on = (u[:, 0] < p).float()
    tx = (u[:, 1] * 2 - 1) * 0.05 * on
    ty = (u[:, 2] * 2 - 1) * 0.05 * on
    angle = (u[:, 3] * 2 - 1) * math.radians(7) * on
    zoom = 1 + (u[:, 4] * 2 - 1) * 0.15 * on
    bright = 1 + (u[:, 5] * 2 - 1) * 0.25 * on
    return torch.stack([on, tx, ty, angle, zoom, bright], dim=1)


def apply_augment(x: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
    """Apply :func:`draw_augment` parameters to images in [-1, 1] (border padding)."""
    params = params.to(x.device, x.dtype)
    on = params[:, 0] > 0
    if not bool(on.any()):
        return x
    _, tx, ty, angle, zoom, bright = params.unbind(1)
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    theta = torch.stack([torch.stack([cos, -sin, tx * 2], 1), torch.stack([sin, cos, ty * 2], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    warped = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    # Brightness scales intensity in [0, 1] terms, then back to [-1, 1].
    warped = ((warped + 1) * bright[:, None, None, None] - 1).clamp(-1, 1)
    return torch.where(on[:, None, None, None], warped, x)
