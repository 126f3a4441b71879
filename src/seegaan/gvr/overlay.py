"""GVR's overlay: what the rationale changed, drawn in colour over the original film.

The difference is ``end − start`` of the rationale (e.g. "healthy" minus "diseased"
reconstruction) on the [-1, 1] image scale, where brighter means denser (more attenuation).
As in the GVR paper, **orange marks density removed** (the end is darker there) and **purple
density added** (brighter). Colour strength grows with |difference| up to ``vlim``; changes
below ``floor`` · vlim are left uncoloured so the film stays readable.

Example::

    rgb = overlay_rgb(original, start, end)            # (H, W, 3) floats in [0, 1]
    save_overlay([OverlayRow("FP p01", original, start, [("healthy", end)])], "overlay.png")
    save_path_gif([frames_a, frames_b], "rationale.gif")
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from matplotlib.colors import LinearSegmentedColormap

REMOVED = (1.0, 0.55, 0.0)    # orange: density removed
ADDED = (0.55, 0.15, 0.85)    # purple: density added
CMAP = LinearSegmentedColormap.from_list("gvr", [REMOVED, (1.0, 1.0, 1.0), ADDED])
MAX_ALPHA = 0.85


def _grey(img: np.ndarray) -> np.ndarray:
    g = (np.clip(np.asarray(img, dtype=np.float32), -1, 1) + 1) / 2
    return np.repeat(g[..., None], 3, axis=-1)


def difference_limit(diffs: np.ndarray, floor: float = 1e-3) -> float:
    """A robust ±limit for the colours: the 99.5th percentile of |difference|."""
    a = np.abs(np.asarray(diffs, dtype=np.float64))
    return max(float(np.percentile(a, 99.5)) if a.size else 0.0, floor)


def overlay_rgb(original: np.ndarray, start: np.ndarray, end: np.ndarray,
                vlim: float | None = None, floor: float = 0.1) -> np.ndarray:
    """The original film in grey with ``end − start`` blended in orange (−) and purple (+)."""
    diff = np.asarray(end, dtype=np.float32) - np.asarray(start, dtype=np.float32)
    if diff.shape != np.shape(original):
        raise ValueError(f"overlay: original {np.shape(original)} and difference {diff.shape} differ")
    vlim = vlim or difference_limit(diff)
    strength = np.clip(np.abs(diff) / vlim, 0, 1)
    strength = np.where(strength < floor, 0.0, strength) * MAX_ALPHA
    colour = np.where((diff < 0)[..., None], np.array(REMOVED), np.array(ADDED))
    a = strength[..., None]
    return (1 - a) * _grey(original) + a * colour


@dataclass
class OverlayRow:
    """One film's rationale as figure panels: original | start | last end | one overlay per end."""

    title:    str
    original: np.ndarray                        # the film itself (or its reconstruction)
    start:    np.ndarray                        # decoded start, G(w₀)
    ends:     list[tuple[str, np.ndarray]]      # (label, decoded end), e.g. one per target
    original_label: str = "original"


def save_overlay(rows: Sequence[OverlayRow], path: str | os.PathLike, title: str | None = None) -> None:
    """Every film in a row of panels, one shared colour range and colour bar."""
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize
    from matplotlib.figure import Figure

    from seegaan.viz import save_figure

    diffs = [e - r.start for r in rows for _, e in r.ends]
    vlim = difference_limit(np.stack(diffs)) if diffs else 1.0
    cols = 3 + max(len(r.ends) for r in rows)
    fig = Figure(figsize=(1.75 * cols + 0.9, 1.95 * len(rows) + (0.5 if title else 0.2)),
                 layout="constrained")
    axes = fig.subplots(len(rows), cols, squeeze=False)
    for i, r in enumerate(rows):
        panels = [(r.original_label, _grey(r.original)), ("G(w₀)", _grey(r.start)),
                  (r.ends[-1][0], _grey(r.ends[-1][1]))]
        panels += [(f"overlay {lab}", overlay_rgb(r.original, r.start, e, vlim)) for lab, e in r.ends]
        for j, ax in enumerate(axes[i]):
            ax.set_xticks([])
            ax.set_yticks([])
            if j < len(panels):
                ax.imshow(np.clip(panels[j][1], 0, 1), interpolation="nearest")
                ax.set_title(panels[j][0], fontsize=7)
            else:
                ax.axis("off")
        axes[i, 0].set_ylabel(r.title, fontsize=7)
    bar = fig.colorbar(ScalarMappable(Normalize(-vlim, vlim), CMAP), ax=axes.ravel().tolist(),
                       fraction=0.03, pad=0.01)
    bar.set_label("end − start: orange removed, purple added", fontsize=7)
    bar.ax.tick_params(labelsize=6)
    if title:
        fig.suptitle(title, fontsize=9)
    save_figure(fig, path)


def save_sequence(rows: Sequence[tuple[str, np.ndarray, Sequence[str]]], path: str | os.PathLike,
                  title: str | None = None) -> None:
    """Rows of frames along each rationale path: (row title, frames (T, S, S), frame labels)."""
    from matplotlib.figure import Figure

    from seegaan.viz import save_figure

    cols = max(len(f) for _, f, _ in rows)
    fig = Figure(figsize=(1.45 * cols + 0.5, 1.6 * len(rows) + (0.5 if title else 0.2)),
                 layout="constrained")
    axes = fig.subplots(len(rows), cols, squeeze=False)
    for i, (name, frames, labels) in enumerate(rows):
        for j, ax in enumerate(axes[i]):
            ax.set_xticks([])
            ax.set_yticks([])
            if j < len(frames):
                ax.imshow(frames[j], cmap="gray", vmin=-1, vmax=1, interpolation="nearest")
                ax.set_title(labels[j], fontsize=7)
            else:
                ax.axis("off")
        axes[i, 0].set_ylabel(name, fontsize=7)
    if title:
        fig.suptitle(title, fontsize=9)
    save_figure(fig, path)


def save_path_gif(paths: Sequence[np.ndarray], path: str | os.PathLike, fps: float = 6.0,
                  upscale: int = 3) -> None:
    """Each film's frames (T_i, S, S) side by side in one looping GIF (the paper's "movie").

    Films with fewer frames hold their last frame, so all end together.
    """
    from seegaan.viz import save_gif

    t = max(len(p) for p in paths)
    pad = [np.concatenate([p, np.repeat(p[-1:], t - len(p), axis=0)]) for p in paths]
    gap = np.ones((t, pad[0].shape[1], 2), dtype=np.float32)  # a thin white gap between films
    tiles: list[np.ndarray] = []
    for k, p in enumerate(pad):
        tiles += ([gap] if k else []) + [p]
    save_gif(np.concatenate(tiles, axis=2), path, fps=fps, upscale=upscale)
