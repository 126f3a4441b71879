"""What the Captum-based attribution methods share: a private input copy and the output check.

Every method differentiates ``ctx.model.score`` (images in [-1, 1] -> input adapter -> model ->
chosen output) with respect to the SEE-GAAN image itself, at its own size, so its map lines
up pixel for pixel with the sequences and subtraction maps shown beside it.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from seegaan.errors import ModelError
from seegaan.explain.methods.base import Case, Context


def input_copy(case: Case) -> torch.Tensor:
    """A private float copy of the case's image that requires grad (the caller's is never touched)."""
    x = case.image
    if x.ndim != 4 or x.shape[:2] != (1, 1):
        raise ModelError(f"{case.image_id}: expected an image of shape (1, 1, S, S), "
                         f"got {tuple(x.shape)}")
    return x.detach().clone().float().requires_grad_(True)


def to_map(a: torch.Tensor, size: tuple[int, int], ctx: Context, title: str) -> np.ndarray:
    """Captum's ``(1, C, h, w)`` output -> float32 ``(S, S)``, checked for NaN."""
    a = a.detach().float()
    if a.ndim == 4 and a.shape[1] != 1:
        a = a.sum(dim=1, keepdim=True)
    if a.shape[-2:] != size:  # keep the promise "same shape as the input"
        a = F.interpolate(a, size=size, mode="bilinear", align_corners=False)
    out = a.reshape(size).cpu().numpy().astype(np.float32)
    if not np.isfinite(out).all():
        # Hiding NaN would show a clean map for a broken model; say so instead.
        raise ModelError(f"{ctx.model.name}: {title} produced NaN or infinite values "
                         "(the model's gradient is not finite on this image)")
    return out
