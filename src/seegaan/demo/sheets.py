"""Small figures only the demo needs: the cohort contact sheet and the reconstruction grid."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from seegaan.viz import frame_strip, save_figure


def _label(row: pd.Series) -> str:
    ahf = "AHF+" if int(row["ahf"]) == 1 else "AHF−"
    # One line: frame_strip leaves room for one line of title above each panel.
    return f"{row['sex']} {row['age']:.0f}y {ahf} {row['manufacturer']}"


def contact_sheet(images: np.ndarray, table: pd.DataFrame, path: str | os.PathLike,
                  n: int = 24, seed: int = 0) -> None:
    """A grid of ``n`` cohort radiographs, half of them AHF+, titled sex/age/AHF/vendor.

    AHF+ films are a minority (about 16 %), so they are over-sampled: a random sheet would
    rarely show an enlarged heart next to a normal one.
    """
    rng = np.random.default_rng(seed)
    pos = np.flatnonzero(table["ahf"].to_numpy() == 1)
    neg = np.flatnonzero(table["ahf"].to_numpy() != 1)
    k = min(len(pos), n // 2)
    pick = np.concatenate([rng.choice(pos, k, replace=False),
                           rng.choice(neg, min(len(neg), n - k), replace=False)])
    pick = np.sort(pick)
    labels = [_label(table.iloc[i]) for i in pick]
    fig = frame_strip(images[pick], labels, title="Virtual cohort: random radiographs "
                      "(AHF+ over-sampled)", max_cols=8)
    save_figure(fig, path)


def reconstruction_grid(originals: np.ndarray, recons: np.ndarray, ids: list[str],
                        path: str | os.PathLike) -> None:
    """Test radiographs (top) over their reconstructions G(E(x)) (bottom)."""
    n = len(originals)
    labels = [f"{i}" for i in ids] + ["reconstruction"] * n
    fig = frame_strip(np.concatenate([originals, recons]), labels,
                      title="Test radiographs (top) and their autoencoder reconstructions (bottom)",
                      max_cols=n)
    save_figure(fig, path)
