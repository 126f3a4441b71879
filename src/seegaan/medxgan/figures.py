"""medXGAN's figures: the class sequence (sequence.png, sequence.gif) and LIG beside the baselines (lig.png).

Colour conventions follow the rest of seegaan: grey films in [-1, 1]; signed maps (difference,
LIG, IG) in the reversed Spectral map with a symmetric range, red where the positive class
adds brightness / where brightness raises the positive score; Grad-CAM (non-negative) as heat.

Example::

    save_sequence_png(res, "out/sequence.png", title="TP p0012")
    save_lig_png(res, {"gradcam": cam, "ig": ig}, "out/lig.png")
"""

from __future__ import annotations

import os

import numpy as np

from seegaan.medxgan.explainer import FilmExplanation
from seegaan.viz.panels import save_figure, symmetric_limit


def _signed(ax, m: np.ndarray, title: str, fig) -> None:
    lim = symmetric_limit(m, floor=1e-12)  # IG of a saturated probability is tiny but not empty
    im = ax.imshow(m, cmap="Spectral_r", vmin=-lim, vmax=lim)
    ax.set_title(title, fontsize=8)
    ax.axis("off")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.02).ax.tick_params(labelsize=6)


def _grey(ax, img: np.ndarray, title: str) -> None:
    ax.imshow(img, cmap="gray", vmin=-1, vmax=1)
    ax.set_title(title, fontsize=8)
    ax.axis("off")


def save_sequence_png(res: FilmExplanation, path: str | os.PathLike, title: str = "") -> None:
    """The film, then G(z1, alpha z2) for each alpha with C's positive score, then the difference."""
    from matplotlib.figure import Figure  # no pyplot, no backend switch

    seq = res.sequence
    n = len(seq.frames) + 2
    fig = Figure(figsize=(1.35 * n, 1.9))
    axes = fig.subplots(1, n)
    _grey(axes[0], res.image, f"film\nC(x)={res.inversion.target_prob:.2f}")
    for ax, a, f, p in zip(axes[1:], seq.alphas, seq.frames, seq.scores):
        _grey(ax, f, f"α={a:.2f}\np={p:.2f}")
    _signed(axes[-1], seq.difference, "G(z1,z2)−G(z1,0)", fig)
    fig.suptitle(f"{title}  Spearman(α, p) = {seq.spearman:.2f}", fontsize=9)
    save_figure(fig, path)


def save_lig_png(res: FilmExplanation, baselines: dict[str, np.ndarray], path: str | os.PathLike,
                 title: str = "") -> None:
    """Film, negative realisation, reconstruction, LIG, then each baseline map."""
    from matplotlib.figure import Figure  # no pyplot, no backend switch

    names = {"gradcam": "Grad-CAM", "ig": "Integrated Gradients", "saliency": "Vanilla gradient",
             "smoothgrad": "SmoothGrad"}
    n = 4 + len(baselines)
    fig = Figure(figsize=(1.7 * n, 2.0))
    axes = fig.subplots(1, n)
    _grey(axes[0], res.image, "film")
    _grey(axes[1], res.negative, "negative G(z1,0)")
    _grey(axes[2], res.inversion.image[0, 0].numpy(), "inverted G(z1,z2)")
    _signed(axes[3], res.lig, "LIG", fig)
    for ax, (k, m) in zip(axes[4:], baselines.items()):
        if k == "gradcam" or np.min(m) >= 0:
            ax.imshow(res.image, cmap="gray", vmin=-1, vmax=1)
            ax.imshow(m, cmap="inferno", alpha=0.6)
            ax.set_title(names.get(k, k), fontsize=8)
            ax.axis("off")
        else:
            _signed(ax, m, names.get(k, k), fig)
    if title:
        fig.suptitle(title, fontsize=9)
    save_figure(fig, path)


def save_sequence_gif(res: FilmExplanation, path: str | os.PathLike, fps: float = 4.0) -> None:
    from seegaan.viz.animate import save_gif

    save_gif(res.sequence.frames, path, fps=fps, upscale=4)
