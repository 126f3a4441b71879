"""The medXGAN explanation of one inverted film: the class sequence and Latent Integrated Gradients.

With (z1, z2) from the inversion:

- the *negative realisation* G(z1, 0) keeps the anatomy and removes the class code;
- the *sequence* G(z1, alpha z2), alpha in [0, 1], moves from it to the film's own class, and
  C's positive score along it should rise (its Spearman correlation with alpha is reported);
- the *difference map* is G(z1, z2) - G(z1, 0);
- *LIG* is ``(G(z1, z2) - G(z1, 0)) * mean over alpha of df/dx at x = G(z1, alpha z2)``, with f
  always the positive-class score (never the argmax class of each step, whose gradient sign
  flips along the path) and the gradients taken in batches of alpha (midpoint rule).

Example::

    seq = class_sequence(G, C.prob, z1, z2, frames=9)
    lig = latent_integrated_gradients(G, C.prob, z1, z2, steps=32)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from seegaan.errors import OptionError

Generator = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
Score = Callable[[torch.Tensor], torch.Tensor]


@dataclass
class ClassSequence:
    alphas:     np.ndarray      # (T,) from 0 to 1
    frames:     np.ndarray      # (T, S, S) G(z1, alpha z2)
    scores:     np.ndarray      # (T,) positive score of each frame
    spearman:   float           # Spearman of scores vs alpha (1 = monotone rise)
    difference: np.ndarray      # (S, S) G(z1, z2) - G(z1, 0)


def _rows(z: torch.Tensor, n: int) -> torch.Tensor:
    return z.detach().reshape(1, -1).expand(n, -1)


@torch.no_grad()
def class_sequence(G: Generator, f: Score, z1: torch.Tensor, z2: torch.Tensor,
                   frames: int = 9) -> ClassSequence:
    """G(z1, alpha z2) for ``frames`` evenly spaced alpha in [0, 1], with f on each frame."""
    from scipy.stats import spearmanr

    if frames < 2:
        raise OptionError(f"frames {frames}: need at least 2")
    alphas = torch.linspace(0.0, 1.0, frames)
    x = G(_rows(z1, frames), alphas[:, None] * _rows(z2, frames))
    scores = f(x).detach().double().numpy()
    rho = spearmanr(alphas.numpy(), scores).statistic if np.ptp(scores) > 0 else float("nan")
    imgs = x[:, 0].numpy().astype(np.float32)
    return ClassSequence(alphas=alphas.numpy().astype(np.float64), frames=imgs, scores=scores,
                         spearman=float(rho), difference=imgs[-1] - imgs[0])


def latent_integrated_gradients(G: Generator, f: Score, z1: torch.Tensor, z2: torch.Tensor,
                                steps: int = 32, batch: int = 16) -> np.ndarray:
    """LIG map (S, S) for the latents (z1, z2); see the module docstring.

    The mean over alpha uses the midpoint rule on ``steps`` intervals, exact for integrands
    linear in alpha; ``batch`` alphas share one backward pass.
    """
    if steps < 1 or batch < 1:
        raise OptionError("LIG needs steps >= 1 and batch >= 1")
    alphas = (torch.arange(steps, dtype=torch.float32) + 0.5) / steps
    total = None
    for i in range(0, steps, batch):
        a = alphas[i:i + batch]
        with torch.no_grad():
            x = G(_rows(z1, len(a)), a[:, None] * _rows(z2, len(a)))
        x = x.detach().requires_grad_(True)
        # The images of one batch are independent, so d(sum f)/dx is each image's own gradient.
        (grad,) = torch.autograd.grad(f(x).sum(), x)
        g = grad.sum(dim=0)
        total = g if total is None else total + g
    mean_grad = total / steps
    with torch.no_grad():
        ends = G(_rows(z1, 2), torch.stack([torch.zeros_like(z2.reshape(-1)), z2.reshape(-1)]))
    diff = ends[1] - ends[0]
    return (diff * mean_grad)[0].detach().numpy().astype(np.float32)
