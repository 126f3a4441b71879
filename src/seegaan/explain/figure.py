"""The Fig. 6 layout: for each patient, the original, attribution maps, SEE-GAAN frames and subtractions.

One row per patient (TP, TN, FP, FN). Attribution maps are drawn as heat over the grey
original (each normalised to its own maximum, since their units differ); subtractions use
the diverging reversed-Spectral map with a symmetric range per row and a colour bar, so a
difference's sign reads the same everywhere in seegaan.

Everything drawn comes from an explanation run's ``manifest.json`` and its per-case folders
(:func:`fig6_from_manifest`), so any registered method appears without a change here.

Example::

    fig6_from_manifest("exp/cnn", "exp/cnn/fig6.png")
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from seegaan.explain.methods import (
    ATTRIBUTION,
    get_method,
    load_explanation,
    names,
    read_manifest,
)
from seegaan.units import unit_of, value_text


@dataclass
class PatientRow:
    category: str                                   # TP | TN | FP | FN
    title: str                                      # shown left of the row
    original: np.ndarray                            # (S, S) in [-1, 1]
    attributions: dict[str, np.ndarray] = field(default_factory=dict)  # method -> (S, S)
    frames: list[tuple[str, np.ndarray]] = field(default_factory=list)  # (label, (S, S) image)
    diffs: list[tuple[str, np.ndarray]] = field(default_factory=list)   # (label, (S, S) signed map)
    note: str = ""                                  # one short line, e.g. the lambda search's outcome


def save_fig6(rows: list[PatientRow], path: str | os.PathLike, methods: list[str] | None = None,
              dpi: int = 110) -> None:
    """Draw the patients' rows into one PNG (written atomically)."""
    # The Figure API, not pyplot: drawing never switches the backend of a user's notebook.
    from matplotlib.figure import Figure

    from seegaan.viz import DIFF_CMAP, save_figure, symmetric_limit

    order = names()
    methods = methods if methods is not None else sorted(
        {m for r in rows for m in r.attributions}, key=lambda m: order.index(m) if m in order else len(order))
    n_frames = max((len(r.frames) for r in rows), default=0)
    n_diffs = max((len(r.diffs) for r in rows), default=0)
    n_cols = 1 + len(methods) + n_frames + n_diffs
    fig = Figure(figsize=(1.9 * n_cols + 0.6, 2.15 * len(rows) + 0.5), layout="constrained")
    axes = fig.subplots(len(rows), n_cols, squeeze=False)
    for r, row in enumerate(rows):
        ax = axes[r]
        col = 0
        ax[col].imshow(row.original, cmap="gray", vmin=-1, vmax=1)
        ax[col].set_title("original", fontsize=8)
        ax[col].set_ylabel(row.title + (f"\n{row.note}" if row.note else ""), fontsize=7.5)
        col += 1
        for m in methods:
            ax[col].imshow(row.original, cmap="gray", vmin=-1, vmax=1)
            if m in row.attributions:
                a = np.abs(row.attributions[m]) if m == "ig" else row.attributions[m]
                peak = float(np.max(a)) or 1.0
                ax[col].imshow(a / peak, cmap="inferno", vmin=0, vmax=1, alpha=0.55)
            else:
                ax[col].text(0.5, 0.5, "n/a", ha="center", va="center", color="w",
                             transform=ax[col].transAxes, fontsize=9)
            ax[col].set_title(_title(m) + (" |IG|" if m == "ig" else ""), fontsize=8)
            col += 1
        for k in range(n_frames):
            if k < len(row.frames):
                label, img = row.frames[k]
                ax[col].imshow(img, cmap="gray", vmin=-1, vmax=1)
                ax[col].set_title(label, fontsize=8)
            col += 1
        vlim = symmetric_limit(np.stack([d for _, d in row.diffs])) if row.diffs else 1.0
        im = None
        for k in range(n_diffs):
            if k < len(row.diffs):
                label, d = row.diffs[k]
                im = ax[col].imshow(d, cmap=DIFF_CMAP, vmin=-vlim, vmax=vlim)
                ax[col].set_title(label, fontsize=8)
            col += 1
        if im is not None:
            fig.colorbar(im, ax=ax[-1], fraction=0.046, pad=0.04).ax.tick_params(labelsize=6)
        for a in ax:
            a.set_xticks([])
            a.set_yticks([])
    fig.suptitle("CNN explanation: attribution maps beside SEE-GAAN sequences "
                 "(subtractions: frame − reconstruction G(w_E))", fontsize=9)
    save_figure(fig, path, dpi=dpi)


def _title(name: str) -> str:
    try:
        return get_method(name).title
    except Exception:  # a method of a run whose module is no longer installed: its name will do
        return name


def _sequence_panels(exp) -> tuple[list, list, str]:
    """Three frames (first, middle, last) and the last two minus the first, with labels."""
    if exp.frames is None:
        return [], [], exp.message or exp.status
    t = len(exp.frames)
    picks = [0, t // 2, t - 1] if t >= 3 else list(range(t))
    steps = exp.steps if exp.steps is not None else np.arange(t)
    sym = "λ" if exp.step_name == "lambda" else exp.step_name
    frames = [(f"{sym}={steps[k]:.3g}", exp.frames[k]) for k in picks]
    diffs = [(f"{sym}={steps[k]:.3g} − frame 0", exp.frames[k] - exp.frames[0]) for k in picks[1:]]
    sc = exp.scalars
    note = ""
    if "calls" in sc:
        note = (f"{exp.status} λ={sc.get('lam'):.3g} ({sc['calls']} calls)" if sc.get("lam") is not None
                else f"{exp.status} ({sc['calls']} calls)")
    return frames, diffs, note


def fig6_from_manifest(root: str | os.PathLike, path: str | os.PathLike,
                       sequence_methods: list[str] | None = None) -> None:
    """Fig. 6 for an explanation run: one row per case of its manifest.

    Pixel methods come first (heat over the original); the first sequence method a case
    has (``sequence_methods`` in order, default all in registry order) gives its frames and
    subtractions.
    """
    from pathlib import Path

    root = Path(root)
    man = read_manifest(root)
    rows, pixel = [], []
    for c in man["cases"]:
        folder = root / c["folder"]
        original = np.load(root / c["image"]) if c.get("image") else None
        maps, frames, diffs, note = {}, [], [], ""
        for m in c.get("methods", {}):
            exp = load_explanation(folder / m)
            if exp.kind == ATTRIBUTION:
                if exp.map is not None:
                    maps[m] = exp.map
                if m not in pixel:
                    pixel.append(m)
            elif not frames and (sequence_methods is None or m in sequence_methods):
                frames, diffs, note = _sequence_panels(exp)
        if original is None:
            original = frames[0][1] if frames else np.zeros((8, 8), np.float32)
        title = f"{c.get('category') or ''} {c['image_id']}"
        if c.get("truth") is not None and c.get("prediction") is not None:
            target = str(man.get("target", "target"))
            unit = unit_of(target)
            title += (f"\n{target} {value_text(c['truth'], unit)}, "
                      f"pred {value_text(c['prediction'], unit)}")
        rows.append(PatientRow(c.get("category") or "", title.strip(), original, maps, frames, diffs, note))
    save_fig6(rows, path, methods=pixel)
