"""What the SEE-GAAN sequence methods share: decoding a latent path into frames.

``frame_λ = G(w_E + λ d)`` by default. With ``residual=True`` the frames keep what the
autoencoder loses: ``frame_λ = x + (G(w_E + λ d) − G(w_E))``, so frame 0 is the original
film itself and the model sees the film's own detail plus only the sequence's change.
"""

from __future__ import annotations

import numpy as np
import torch

from seegaan.errors import OptionError
from seegaan.explain.methods.base import Case, Context


def latents(case: Case, ctx: Context, what: str) -> tuple[torch.Tensor, torch.Tensor]:
    """The case's ``w_E`` and direction as ``(1, w_dim)`` tensors on the autoencoder's device."""
    if case.w is None:
        raise OptionError(f"{what} {case.image_id}: the case has no latent code (encode it first)")
    d = case.direction if case.direction is not None else ctx.cache.get("direction")
    if d is None:
        raise OptionError(f"{what} {case.image_id}: no latent direction given")
    dev = ctx.autoencoder.device
    w = torch.tensor(np.asarray(case.w, dtype=np.float32)).reshape(1, -1).to(dev)
    d = torch.tensor(np.asarray(d, dtype=np.float32)).reshape(1, -1).to(dev)
    return w, d


@torch.no_grad()
def decode_path(ctx: Context, w: torch.Tensor, d: torch.Tensor, lams: np.ndarray,
                original: torch.Tensor | None = None) -> np.ndarray:
    """Frames ``(T, S, S)`` for ``lams`` (``lams[0]`` must be 0); residual when ``original``."""
    lam = torch.as_tensor(np.asarray(lams, dtype=np.float32), device=w.device).reshape(-1, 1)
    g = ctx.autoencoder.decode(w + lam * d).float().cpu()[:, 0]
    if original is None:
        return g.numpy()
    x = original.detach().float().cpu().reshape(g.shape[-2:])
    return (x + (g - g[0])).clamp(-1.0, 1.0).numpy()


def scores(ctx: Context, frames: np.ndarray) -> np.ndarray | None:
    """The model's score on each frame (None without a model)."""
    if ctx.model is None:
        return None
    return ctx.model.predict_scores(torch.from_numpy(frames[:, None].astype(np.float32)))
