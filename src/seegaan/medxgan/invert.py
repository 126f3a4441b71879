"""Inverting medXGAN: the latents (z1, z2) whose generated film matches a given film.

The objective is the paper's, ``MSE(G(z1, z2), x) + BCE(C(G(z1, z2)), C(x))``: look like the
film and get the classifier's verdict on it. R random restarts are optimised together (one
batch of R latent pairs), the restart with the lowest final loss is kept, and the agreement
between restarts measures how well-posed the inversion is: the mean pairwise cosine of the
latent vectors [z1, z2] and the mean pairwise SSIM of their generated films.

Example::

    inv = invert(G, C, x, restarts=8, steps=300)
    inv.z1, inv.z2, inv.loss, inv.convergence    # {"cosine": ..., "ssim": ...}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from seegaan.errors import OptionError
from seegaan.medxgan.classifier import PositiveClass
from seegaan.medxgan.networks import MedXGANGenerator
from seegaan.train.metrics import ssim


@dataclass
class InversionSettings:
    restarts:  int = 8        # R random initialisations, optimised as one batch
    steps:     int = 300      # Adam steps
    lr:        float = 0.05   # Adam learning rate on the latents
    cls_weight: float = 1.0   # weight of the BCE term (1 = the paper's objective)
    seed:      int = 0        # the restarts' initial latents


@dataclass
class Inversion:
    z1:          torch.Tensor            # (z1_dim,) of the best restart
    z2:          torch.Tensor            # (z2_dim,)
    image:       torch.Tensor            # (1, 1, S, S) G(z1, z2)
    loss:        float                   # final objective of the best restart
    target_prob: float                   # C(x): the verdict the inversion matched
    prob:        float                   # C(G(z1, z2))
    mse:         float
    history:     np.ndarray              # (steps + 1,) mean objective over restarts per step
    restart_losses: np.ndarray           # (R,) final objective of each restart
    convergence: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"loss": self.loss, "initial_loss": float(self.history[0]), "mse": self.mse,
                "target_prob": self.target_prob, "prob": self.prob,
                "restart_losses": self.restart_losses.tolist(), **self.convergence,
                "z2_norm": float(self.z2.norm())}


def _mean_offdiag(m: torch.Tensor) -> float:
    r = m.shape[0]
    if r < 2:
        return float("nan")
    return float((m.sum() - m.diagonal().sum()) / (r * (r - 1)))


def convergence(z: torch.Tensor, images: torch.Tensor) -> dict[str, float]:
    """Mean pairwise cosine of latent rows ``z`` (R, d) and mean pairwise SSIM of ``images``."""
    zn = F.normalize(z.detach().float(), dim=1)
    cos = zn @ zn.T
    r = len(images)
    ii, jj = torch.triu_indices(r, r, offset=1)
    s = ssim(images[ii].detach(), images[jj].detach()) if len(ii) else torch.zeros(0)
    return {"cosine": _mean_offdiag(cos), "ssim": float(s.mean()) if len(s) else float("nan")}


def invert(G: MedXGANGenerator, C: PositiveClass, x: torch.Tensor,
           settings: InversionSettings | None = None) -> Inversion:
    """Fit (z1, z2) to one film ``x`` (1, 1, S, S) in [-1, 1]; see the module docstring."""
    s = settings or InversionSettings()
    if s.restarts < 1 or s.steps < 1:
        raise OptionError("inversion needs at least one restart and one step")
    cfg = G.cfg
    x = x.detach().float().reshape(1, 1, cfg.image_size, cfg.image_size)
    with torch.no_grad():
        target = C.prob(x).detach()                                  # C(x), kept fixed
    gen = torch.Generator().manual_seed(s.seed)
    z1 = torch.randn(s.restarts, cfg.z1_dim, generator=gen).requires_grad_(True)
    z2 = torch.randn(s.restarts, cfg.z2_dim, generator=gen).requires_grad_(True)
    G.requires_grad_(False)
    opt = torch.optim.Adam([z1, z2], lr=s.lr)
    history = []

    def objective() -> tuple[torch.Tensor, torch.Tensor]:
        img = G(z1, z2)
        mse = (img - x).pow(2).mean(dim=(1, 2, 3))
        bce = C.bce(img, target.expand(s.restarts), reduction="none")
        return mse + s.cls_weight * bce, img

    for _ in range(s.steps):
        per, _img = objective()
        history.append(float(per.detach().mean()))
        opt.zero_grad(set_to_none=True)
        # Summing keeps the restarts independent: each gets the gradient of its own loss.
        per.sum().backward()
        opt.step()
    with torch.no_grad():
        per, img = objective()
        history.append(float(per.mean()))
        best = int(torch.argmin(per))
        prob = float(C.prob(img[best:best + 1]))
        mse = float((img[best] - x[0]).pow(2).mean())
    conv = convergence(torch.cat([z1, z2], dim=1), img)
    return Inversion(z1=z1[best].detach().clone(), z2=z2[best].detach().clone(),
                     image=img[best:best + 1].detach().clone(), loss=float(per[best]),
                     target_prob=float(target), prob=prob, mse=mse, history=np.asarray(history),
                     restart_losses=per.detach().numpy().astype(np.float64), convergence=conv)
