"""The report's "medXGAN" section: the films explained by ``seegaan medxgan explain`` (or the demo
stage) and, when present, the evaluation table of ``seegaan medxgan evaluate``.

A folder is recognised by its ``result.json`` holding ``"films"`` and ``"checkpoint"`` beside a
``manifest.json`` (explain), or by ``evaluation.json`` holding ``"table"`` (evaluate).
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import pandas as pd

HOW = ("How to read the medXGAN figures: the generator is fitted to the film (inversion), "
       "then its class code z2 is scaled by α from 0 (the negative realisation G(z1, 0): the same "
       "anatomy as the classifier's negative class) to 1 (the fitted film). p is the classifier's "
       "probability of the positive class on each frame; it should rise with α. The difference "
       "map is G(z1, z2) − G(z1, 0) with the reversed Spectral map (red: brighter in the positive "
       "film). LIG multiplies that difference by the classifier's gradient averaged along the "
       "sequence, so it marks pixels that both change and matter to the classifier; Grad-CAM and "
       "Integrated Gradients of the same positive-class probability are shown beside it.")


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _fmt(v: Any) -> str:
    return f"{v:.3f}" if isinstance(v, float) else ("" if v is None else str(v))


def medxgan_sections(root: Path) -> list:
    """Zero or one Section (imported lazily by report.build to avoid an import cycle)."""
    from seegaan.report.build import Section, _img, _rel, _table

    runs = [p.parent for p in sorted(root.rglob("result.json"))
            if (p.parent / "manifest.json").is_file() and "films" in _read(p) and "checkpoint" in _read(p)]
    evals = [p.parent for p in sorted(root.rglob("evaluation.json")) if "table" in _read(p)]
    if not runs and not evals:
        return []
    body = []
    for run in runs:
        rec = _read(run / "result.json")
        body.append(f"<h3>{html.escape(_rel(run, root))}</h3>")
        if rec.get("note"):
            body.append(f"<p class='caption'>{html.escape(str(rec['note']))}</p>")
        rows = []
        for f in rec.get("films", []):
            inv = f.get("inversion", {})
            rows.append({"case": f.get("category") or "", "image": f.get("image_id"),
                         "C(x)": _fmt(inv.get("target_prob")), "C(G(z))": _fmt(inv.get("prob")),
                         "inversion MSE": _fmt(inv.get("mse")),
                         "restart cosine": _fmt(inv.get("cosine")), "restart SSIM": _fmt(inv.get("ssim")),
                         "Spearman(α, p)": _fmt(f.get("spearman"))})
        if rows:
            body.append(_table(pd.DataFrame(rows)))
        for f in rec.get("films", []):
            fig = run / str(f.get("figures", ""))
            label = " ".join(str(t) for t in (f.get("category"), f.get("image_id")) if t)
            if (fig / "sequence.png").is_file():
                body.append(_img(fig / "sequence.png", root,
                                 f"{label}: the film, then the generated sequence from its negative "
                                 "realisation (α = 0) to its fitted positive film (α = 1) with the "
                                 "classifier's positive probability p on each frame, then the "
                                 "difference map.", light=True))
            if (fig / "lig.png").is_file():
                body.append(_img(fig / "lig.png", root,
                                 f"{label}: the film, its negative realisation and fitted film, "
                                 "then Latent Integrated Gradients beside Grad-CAM and Integrated "
                                 "Gradients of the same positive-class probability.", light=True))
    for ev in evals:
        table_md = ev / "table.md"
        rec = _read(ev / "evaluation.json")
        body.append(f"<h3>{html.escape(_rel(ev, root))}: evaluation</h3>")
        rows = [{"evaluation": r.get("label"), "ours": _fmt(r.get("ours")),
                 "95% CI": (f"{r['ci_low']:.3f}–{r['ci_high']:.3f}"
                            if isinstance(r.get("ci_low"), float) and isinstance(r.get("ci_high"), float)
                            else ""),
                 "n": r.get("n"), "paper (X-ray)": _fmt(r.get("paper"))} for r in rec.get("table", [])]
        body.append(_table(pd.DataFrame(rows)))
        if table_md.is_file():
            body.append(f"<p class='caption'>Also as Markdown: {html.escape(_rel(table_md, root))}.</p>")
    return [Section("medxgan", "medXGAN", "\n".join(body),
                    intro="medXGAN (a class-conditional GAN trained against the frozen classifier) "
                          "explains the classifier's positive verdict by turning each film into "
                          "its negative version; the table reproduces the paper's evaluations on "
                          "the virtual cohort.", how=HOW)]
