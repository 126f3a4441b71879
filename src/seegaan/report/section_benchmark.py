"""Report section "Methods compared on the truth": a ``seegaan benchmark`` run found in the run
directory (its ``summary.json`` with ``artefact: benchmark``; ``kind`` before the rename), shown as its table and figures."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

CAPTION = (
    "Every registered explanation method was run on models whose reliance is known by "
    "construction, and scored against the same subjects re-rendered with one factor changed. "
    "How to read it: in the table, each cell is the mean over subjects with its 95% bootstrap "
    "CI; reliance (Spearman between the method's per-factor attribution and the model's true "
    "Δŷ), pointing, AUROC and deletion are better when high; sanity (similarity of the map on "
    "the trained and on the randomised model) and device rank (1 = the method puts the device "
    "first) are better when low, except on the shortcut model, where a low device rank is the "
    "correct answer. The (random map) and (oracle map) rows give chance and the attainable top. "
    "In the ranking heat map, darker is better; each model's figure shows, per subject (row), "
    "the true Δŷ-weighted difference map and then each method's |map|."
)


def benchmark_sections(root: Path) -> list:
    """One Section per benchmark run under ``root`` (usually one)."""
    from seegaan.report.build import Section, _img, _rel, _table
    from seegaan.report.discover import _read_json
    from seegaan.utils.renamed import artefact_type

    out = []
    for summary in sorted(root.rglob("summary.json")):
        if any(p.startswith(".") for p in summary.relative_to(root).parts):
            continue
        data = _read_json(summary)
        if artefact_type(data) != "benchmark":
            continue
        run = summary.parent
        body = [f"<h3>{_rel(run, root)}</h3>"]
        short = data.get("shortcut_test", {})
        dev = data.get("true_device_dy", {})
        body.append("<p class='caption'>True device Δŷ (pacemaker absent → present): "
                    + ", ".join(f"{m} {v:+.3f}" for m, v in dev.items())
                    + ". Methods ranking the device first or second on the shortcut model: "
                    + (", ".join(short.get("ranks_device_on_shortcut", short.get("passing", [])))
                       or "none")
                    + "; ranking it first on the reference model, whose device Δŷ is near zero "
                      "(drawn to the device itself): "
                    + (", ".join(short.get("device_first_on_reference", [])) or "none")
                    + "; so the shortcut test is passed by: "
                    + (", ".join(short.get("passing", [])) or "none") + ".</p>")
        fid = data.get("fidelity", {})
        if fid:
            body.append("<p class='caption'>Autoencoder path f(x) vs f(G(E(x))): "
                        + "; ".join(f"{m} r = {d['fidelity_r']:.2f}, median |Δ| "
                                    f"{d['fidelity_median_abs_diff']:.2f}" for m, d in fid.items())
                        + ".</p>")
        scores = run / "scores.csv"
        if scores.is_file():
            t = pd.read_csv(scores)
            main = t[t["model"].isin(["reference", "shortcut"])
                     & ~t["method"].isin(["(truth)", "(autoencoder)"])]
            wide = main.assign(cell=[f"{v:.2f} [{lo:.2f}, {hi:.2f}]" if pd.notna(lo) else
                                     (f"{v:.2f}" if pd.notna(v) else "–")
                                     for v, lo, hi in zip(main["value"], main["ci_low"], main["ci_high"])])
            wide = wide.pivot_table(index=["model", "method"], columns="metric", values="cell",
                                    aggfunc="first", sort=False).reset_index()
            body.append(_table(wide))
        if (run / "ranking.png").is_file():
            body.append(_img(run / "ranking.png", root, "Each method's rank per metric, averaged over the "
                             "four trained models (1 = best; darker cells are better)."))
        for name, f in (data.get("files", {}).get("figures") or {}).items():
            body.append(_img(run / f, root, f"The {name} model, one test subject per row: first the "
                             "film, then the true Δŷ-weighted difference map, then each method's |map|, each "
                             "scaled to its own maximum."))
        out.append(Section("benchmark", "Methods compared on the truth", "\n".join(body),
                           intro=CAPTION))
    return out
