"""Figure panels for image sequences and difference maps, shared by every stage.

- :func:`frame_strip`: a row (or rows) of grey images, each titled with its value;
- :func:`difference_strip`: signed maps in a diverging colour map with a symmetric range and
  one colour bar, so zero is always the neutral centre colour and panels are comparable;
- :func:`mask_insignificant`: zero the pixels a test did not call significant.

Images are on the [-1, 1] scale of the prepared data. Differences keep that scale: the
reference SEE-GAAN figures used reversed Spectral over ±0.5, which ``vlim=0.5`` reproduces.
Figures are built on :class:`matplotlib.figure.Figure` directly (no pyplot state), so they
can be made from threads and never pop up a window.

Example::

    fig = difference_strip(frames - frames[0], labels=["t=0.00", ...])
    save_figure(fig, "out/subtraction.png")
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure

from seegaan.errors import OptionError
from seegaan.utils.fsio import atomic_file

DIFF_CMAP = "Spectral_r"   # reversed Spectral, as in the reference figures: red = brighter
PANEL_INCHES = 1.35


def to_uint8(images: np.ndarray) -> np.ndarray:
    """Map [-1, 1] floats to 0..255 grey levels (values outside are clipped)."""
    x = (np.clip(np.asarray(images, dtype=np.float32), -1.0, 1.0) + 1.0) * 127.5
    return np.rint(x).astype(np.uint8)


def symmetric_limit(maps: np.ndarray, floor: float = 1e-3) -> float:
    """The largest absolute value in ``maps`` (at least ``floor``), for a ±limit colour range."""
    m = float(np.nanmax(np.abs(maps))) if np.size(maps) else 0.0
    return max(m, floor)


def format_labels(values: Sequence[float], name: str = "", digits: int = 3) -> list[str]:
    """Short panel titles such as ``"age=42.5"`` or ``"λ=0.25"``."""
    prefix = f"{name}=" if name else ""
    return [f"{prefix}{float(v):.{digits}g}" for v in values]


def _top(fig: Figure, title: str | None) -> float:
    # Keep a fixed band (in inches) for the figure title and the panel titles, whatever
    # the number of rows, so they never overlap.
    return 1.0 - (0.5 if title else 0.22) / fig.get_figheight()


def _grid(n: int, max_cols: int) -> tuple[int, int]:
    cols = min(n, max_cols)
    return math.ceil(n / cols), cols


def _axes(fig: Figure, n: int, max_cols: int) -> list:
    rows, cols = _grid(n, max_cols)
    axes = fig.subplots(rows, cols, squeeze=False).ravel().tolist()
    for ax in axes:
        ax.set_axis_off()
    return axes[:n]


def frame_strip(frames: np.ndarray,
                labels:   Sequence[str] | None = None,   # one title per frame
                title:    str | None = None,             # figure title
                max_cols: int = 10,                      # frames per row before wrapping
                ) -> Figure:
    """Grey images ``(T, S, S)`` in [-1, 1] side by side, titled with ``labels``."""
    frames = np.asarray(frames)
    rows, cols = _grid(len(frames), max_cols)
    fig = Figure(figsize=(PANEL_INCHES * cols, PANEL_INCHES * rows + (0.5 if title else 0.22)))
    for i, ax in enumerate(_axes(fig, len(frames), max_cols)):
        ax.imshow(frames[i], cmap="gray", vmin=-1.0, vmax=1.0, interpolation="nearest")
        if labels is not None:
            ax.set_title(labels[i], fontsize=7)
    if title:
        fig.suptitle(title, fontsize=9, y=1.0 - 0.06 / fig.get_figheight(), va="top")
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.01, top=_top(fig, title),
                        wspace=0.04, hspace=0.2)
    return fig


def difference_strip(diffs: np.ndarray,
                     labels:   Sequence[str] | None = None,  # one title per map
                     vlim:     float | None = None,          # colour range ±vlim; None: max |diff|
                     title:    str | None = None,            # figure title
                     cmap:     str = DIFF_CMAP,              # a diverging colour map
                     cbar_label: str = "difference",         # colour bar caption
                     max_cols: int = 10,                     # maps per row before wrapping
                     background: np.ndarray | None = None,   # optional grey image under each map
                     ) -> Figure:
    """Signed maps ``(T, S, S)`` with a symmetric colour range and one colour bar.

    With ``background``, zero-valued pixels are transparent so the anatomy shows through
    (useful for masked maps).
    """
    diffs = np.asarray(diffs, dtype=np.float32)
    vlim = symmetric_limit(diffs) if vlim is None else float(vlim)
    if not (math.isfinite(vlim) and vlim > 0):
        raise OptionError(f"vlim {vlim}: the colour range must be a positive finite number")
    rows, cols = _grid(len(diffs), max_cols)
    fig = Figure(figsize=(PANEL_INCHES * cols + 0.9, PANEL_INCHES * rows + (0.5 if title else 0.22)))
    image = None
    for i, ax in enumerate(_axes(fig, len(diffs), max_cols)):
        shown = diffs[i]
        if background is not None:
            bg = background[i] if np.ndim(background) == 3 else background
            ax.imshow(bg, cmap="gray", vmin=-1.0, vmax=1.0, interpolation="nearest")
            shown = np.ma.masked_where(diffs[i] == 0, diffs[i])
        image = ax.imshow(shown, cmap=cmap, vmin=-vlim, vmax=vlim, interpolation="nearest")
        if labels is not None:
            ax.set_title(labels[i], fontsize=7)
    if title:
        fig.suptitle(title, fontsize=9, y=1.0 - 0.06 / fig.get_figheight(), va="top")
    right = 1.0 - 0.9 / fig.get_figwidth()
    fig.subplots_adjust(left=0.01, right=right - 0.01, bottom=0.01,
                        top=_top(fig, title), wspace=0.04, hspace=0.2)
    if image is not None:
        cax = fig.add_axes((right + 0.1 / fig.get_figwidth(), 0.1, 0.15 / fig.get_figwidth(), 0.75))
        bar = fig.colorbar(image, cax=cax)
        bar.ax.tick_params(labelsize=6)
        bar.set_label(cbar_label, fontsize=7)
    return fig


def mask_insignificant(diffs: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """``diffs`` with every pixel where ``keep`` is False set to zero."""
    return np.where(np.asarray(keep, dtype=bool), diffs, 0.0).astype(np.float32)


def save_figure(fig: Figure, path: str | os.PathLike, dpi: int = 110) -> None:
    """Render ``fig`` to PNG at ``path`` (written atomically)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    with atomic_file(path) as fh:
        fh.write(buf.getvalue())
