"""Inverting medXGAN: the latents (z1, z2) whose generated film matches a given film.

The objective is the paper's, ``MSE(G(z1, z2), x) + BCE(C(G(z1, z2)), C(x))`` (look like the
film and get the classifier's verdict on it), plus by default a Gaussian prior
``prior_weight * mean([z1, z2]^2)``. G's film depends only weakly on most latent directions
(and hardly on the latent's length, which its pixel normalisation removes), so without the
prior each restart stays near its random start. The prior makes the estimate a MAP one under
z ~ N(0, I) and lets the restarts agree (docs/medxgan.md has the measurements).
``prior_weight=0`` is the paper's objective.

R random restarts are optimised together (one batch of R latent pairs), each from the best
of ``candidates`` random draws, with a cosine-decayed learning rate; the restart with the
lowest final loss is kept, and the agreement between restarts measures how well-posed the
inversion is: the mean pairwise cosine of the latent vectors [z1, z2] and the mean pairwise
SSIM of their generated films.

Example::

    inv = invert(G, C, x, restarts=8, steps=300)
    inv.z1, inv.z2, inv.loss, inv.convergence    # {"cosine": ..., "ssim": ...}
"""

from __future__ import annotations

import math
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
    lr:        float = 0.3    # Adam learning rate on the latents (the peak, see schedule)
    cls_weight: float = 1.0   # weight of the BCE term (1 = the paper's objective)
    prior_weight: float = 0.1  # weight of the Gaussian prior mean(z^2) (0 = the paper's objective)
    schedule:  str = "cosine"  # "cosine" (lr decays to 0 over the steps) or "constant"
    candidates: int = 32      # random draws per restart; each restart starts from its best one
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


def _mean_cosine(z: torch.Tensor) -> float:
    zn = F.normalize(z.detach().float(), dim=1)
    return _mean_offdiag(zn @ zn.T)


def convergence(z: torch.Tensor, images: torch.Tensor, z1_dim: int | None = None) -> dict[str, float]:
    """Mean pairwise cosine of latent rows ``z`` (R, d) and mean pairwise SSIM of ``images``.

    With ``z1_dim``, also the cosines of the anatomy part z[:, :z1_dim] and of the class
    code z[:, z1_dim:] on their own (``cosine_z1``, ``cosine_z2``).
    """
    r = len(images)
    ii, jj = torch.triu_indices(r, r, offset=1)
    s = ssim(images[ii].detach(), images[jj].detach()) if len(ii) else torch.zeros(0)
    out = {"cosine": _mean_cosine(z), "ssim": float(s.mean()) if len(s) else float("nan")}
    if z1_dim is not None:
        out.update(cosine_z1=_mean_cosine(z[:, :z1_dim]), cosine_z2=_mean_cosine(z[:, z1_dim:]))
    return out


def _fit(C: PositiveClass, img: torch.Tensor, x: torch.Tensor, target: torch.Tensor,
         s: InversionSettings) -> torch.Tensor:
    """The paper's data term per restart: MSE to the film + cls_weight x BCE to C's verdict."""
    mse = (img - x).pow(2).mean(dim=(1, 2, 3))
    bce = C.bce(img, target.expand(len(img)), reduction="none")
    return mse + s.cls_weight * bce


@torch.no_grad()
def _initial_latents(G: MedXGANGenerator, C: PositiveClass, x: torch.Tensor, target: torch.Tensor,
                     s: InversionSettings) -> tuple[torch.Tensor, torch.Tensor]:
    """R starting points, each the best of ``candidates`` independent N(0, I) draws.

    The restarts stay independent (no restart sees another's draws), so their agreement
    still measures how well-posed the inversion is; they merely start in better basins.
    """
    gen = torch.Generator().manual_seed(s.seed)
    cfg, r, k = G.cfg, s.restarts, s.candidates
    z1 = torch.randn(r * k, cfg.z1_dim, generator=gen)
    z2 = torch.randn(r * k, cfg.z2_dim, generator=gen)
    if k == 1:
        return z1, z2
    per = torch.cat([_fit(C, G(z1[i:i + 256], z2[i:i + 256]), x, target, s)
                     for i in range(0, r * k, 256)])
    pick = per.view(r, k).argmin(dim=1) + torch.arange(r) * k
    return z1[pick].clone(), z2[pick].clone()


def invert(G: MedXGANGenerator, C: PositiveClass, x: torch.Tensor,
           settings: InversionSettings | None = None) -> Inversion:
    """Fit (z1, z2) to one film ``x`` (1, 1, S, S) in [-1, 1]; see the module docstring."""
    s = settings or InversionSettings()
    if s.restarts < 1 or s.steps < 1 or s.candidates < 1:
        raise OptionError("inversion needs at least one restart, one step and one candidate")
    if s.schedule not in ("constant", "cosine"):
        raise OptionError(f"inversion schedule {s.schedule!r}: choose constant or cosine")
    cfg = G.cfg
    x = x.detach().float().reshape(1, 1, cfg.image_size, cfg.image_size)
    with torch.no_grad():
        target = C.prob(x).detach()                                  # C(x), kept fixed
    G.requires_grad_(False)
    z1, z2 = _initial_latents(G, C, x, target, s)
    z1.requires_grad_(True)
    z2.requires_grad_(True)
    opt = torch.optim.Adam([z1, z2], lr=s.lr)
    history = []

    def objective(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        img = G(a, b)
        per = _fit(C, img, x, target, s)
        if s.prior_weight:
            per = per + s.prior_weight * torch.cat([a, b], dim=1).pow(2).mean(dim=1)
        return per, img

    for i in range(s.steps):
        if s.schedule == "cosine":
            # Decaying to 0 lets Adam settle: at a constant rate it keeps jittering by about
            # lr in the directions where the film barely depends on z.
            for group in opt.param_groups:
                group["lr"] = s.lr * 0.5 * (1 + math.cos(math.pi * i / s.steps))
        per, _img = objective(z1, z2)
        history.append(float(per.detach().mean()))
        opt.zero_grad(set_to_none=True)
        # Summing keeps the restarts independent: each gets the gradient of its own loss.
        per.sum().backward()
        opt.step()
    with torch.no_grad():
        per, img = objective(z1, z2)
        history.append(float(per.mean()))
        best = int(torch.argmin(per))
        prob = float(C.prob(img[best:best + 1]))
        mse = float((img[best] - x[0]).pow(2).mean())
    conv = convergence(torch.cat([z1, z2], dim=1), img, z1_dim=cfg.z1_dim)
    return Inversion(z1=z1[best].detach().clone(), z2=z2[best].detach().clone(),
                     image=img[best:best + 1].detach().clone(), loss=float(per[best]),
                     target_prob=float(target), prob=prob, mse=mse, history=np.asarray(history),
                     restart_losses=per.detach().numpy().astype(np.float64), convergence=conv)
