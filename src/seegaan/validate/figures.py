"""The benchmark's figures: one per model (subjects × maps) and a method × metric ranking.

Example::

    model_figures(results, models, truths, dy, out, n_subjects=5)
    ranking_figure(table, out / "ranking.png")
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd


def _subplots(nrows: int = 1, ncols: int = 1, *, figsize: tuple[float, float], squeeze: bool = True):
    """A figure and its axes without pyplot, so drawing never switches a notebook's backend."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout="constrained")
    return fig, fig.subplots(nrows, ncols, squeeze=squeeze)


def model_figures(results, models, truths, dy, out: Path, n_subjects: int = 5) -> dict[str, str]:
    """``fig_<model>.png``: rows = subjects; columns = the true (Δŷ-weighted) difference map,
    then each method's |map|, each scaled to its own maximum. Returns ``{model: file}``."""
    from seegaan.explain.methods import get_method
    from seegaan.validate.scoring import oracle_map
    from seegaan.viz import save_figure

    files = {}
    rows_by_model: dict[str, list[str]] = {}
    for (row, mname) in results:
        rows_by_model.setdefault(mname, []).append(row)
    for mname in models:
        methods = rows_by_model.get(mname, [])
        # The first subjects every method explained (sequence methods run on fewer).
        idx = [i for i in range(len(truths))
               if all(results[(r, mname)][i] is not None for r in methods
                      if any(e is not None for e in results[(r, mname)]))][:n_subjects]
        if not idx:
            continue
        cols = 2 + len(methods)
        fig, axes = _subplots(len(idx), cols, figsize=(1.35 * cols + 0.4, 1.45 * len(idx) + 0.7),
                              squeeze=False)
        for r, i in enumerate(idx):
            t = truths[i]
            panels = [("film", t.image, "gray"), ("truth", oracle_map(dy[mname][i], t), "inferno")]
            for row in methods:
                exp = results[(row, mname)][i]
                m = None if exp is None else exp.pixel_map()
                panels.append((row, None if m is None else np.abs(m), "inferno"))
            for c, (title, img, cmap) in enumerate(panels):
                ax = axes[r, c]
                if img is None:
                    ax.text(0.5, 0.5, "n/a", ha="center", va="center", transform=ax.transAxes, fontsize=7)
                elif cmap == "gray":
                    ax.imshow(img, cmap="gray", vmin=-1, vmax=1)
                else:
                    ax.imshow(img / (float(np.max(img)) or 1.0), cmap=cmap, vmin=0, vmax=1)
                ax.set_xticks([])
                ax.set_yticks([])
                if r == 0:
                    name = title.split("+")[0]
                    label = get_method(name).title if name in _registry_names() else title
                    if "+" in title:
                        label += " (" + title.split("+", 1)[1] + ")"
                    ax.set_title(label, fontsize=6.5)
        fig.suptitle(f"{mname}: true difference map (Δŷ-weighted) and each method's |map|",
                     fontsize=8)
        path = out / f"fig_{mname}.png"
        save_figure(fig, path, dpi=100)
        files[mname] = path.name
    return files


def _registry_names() -> list[str]:
    from seegaan.explain.methods import names

    return names()


def ranking_figure(table: pd.DataFrame, path: Path) -> None:
    """Heat map of each method's rank per metric (1 = best), averaged over the main models
    (device rank: on the shortcut model only); cells show the rank, dark = best."""
    from seegaan.validate.benchmark import MAIN_MODELS, METRICS, NOT_METHODS
    from seegaan.viz import save_figure

    t = table[~table["method"].isin(NOT_METHODS) & table["model"].isin(MAIN_MODELS)]
    metrics = [m for m in METRICS if m in set(t["metric"])]
    methods = list(dict.fromkeys(t["method"]))
    ranks = pd.DataFrame(np.nan, index=methods, columns=metrics)
    for metric in metrics:
        sub = t[t["metric"] == metric]
        if metric == "device_rank":  # a low device rank is right only where the model uses it
            sub = sub[sub["model"] == "shortcut"]
        sub = sub.pivot_table(index="method", columns="model", values="value")
        r = sub.rank(ascending=METRICS[metric] == "low", axis=0, na_option="keep")
        ranks[metric] = r.mean(axis=1).reindex(methods)
    fig, ax = _subplots(figsize=(1.0 * len(metrics) + 2.6, 0.34 * len(methods) + 1.2))
    im = ax.imshow(ranks.to_numpy(float), cmap="viridis", aspect="auto")
    ax.set_xticks(range(len(metrics)), metrics, rotation=30, ha="right", fontsize=8)
    ax.set_yticks(range(len(methods)), methods, fontsize=8)
    for i in range(len(methods)):
        for j in range(len(metrics)):
            v = ranks.iat[i, j]
            if np.isfinite(v):
                ax.text(j, i, f"{v:.1f}", ha="center", va="center", fontsize=6.5, color="w")
    fig.colorbar(im, ax=ax, label="mean rank (1 = best)", fraction=0.05)
    ax.set_title("Methods ranked per metric (mean over models)", fontsize=9)
    save_figure(fig, path, dpi=110)
