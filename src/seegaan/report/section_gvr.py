"""The report's "GVR" section: overlays of `seegaan gvr explain` runs and the bias-test table.

Found anywhere up to three folders deep in the run directory: a GVR explanation is a folder
whose ``result.json`` says ``"artefact": "gvr"`` (``"kind"`` before the rename); a bias test is a folder with ``bias.json``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from seegaan.utils.renamed import artefact_type

HOW = ("How to read the overlays: the film is shown in grey and the rationale's change "
       "(end minus start of the latent path, decoded) is drawn over it. Orange marks density the "
       "rationale removes (the image gets darker there), purple density it adds (brighter); the "
       "stronger the colour, the larger the change, on the scale of the colour bar. A rationale "
       "to 'healthy' answers: what would this film have to lose for the predictor to call it normal?")


def _find(root: Path, name: str) -> list[Path]:
    # Per-case results (cases/<id>/gvr/result.json) say "kind": "sequence" (the method family)
    # and no "artefact", so they are skipped.
    return sorted(p for depth in ("", "*/", "*/*/", "*/*/*/") for p in root.glob(f"{depth}{name}"))


def gvr_sections(root: Path) -> list:
    """Zero or one :class:`~seegaan.report.build.Section` for the GVR artefacts under ``root``."""
    from seegaan.report.build import Section, _img, _rel, _table

    body: list[str] = []
    for res in _find(root, "result.json"):
        try:
            summary = json.loads(res.read_text())
        except (OSError, ValueError):
            continue
        if artefact_type(summary) != "gvr" or not (res.parent / "overlay.png").is_file():
            continue
        cfg = summary.get("config", {})
        inverse = cfg.get("inverse")
        what = (f"inverse GVR to {', '.join(f'{t:g}' for t in cfg.get('targets', []))}" if inverse
                else "GVR: each film moved across the cut-off")
        body.append(f"<h3>{_rel(res.parent, root)}</h3>")
        rep = summary.get("predictor_report") or {}
        held = rep.get("heldout") or {}
        facts = f"{summary.get('predictor', '')}; held-out AUC {held.get('auc', float('nan')):.3f}"
        if held.get("r2") is not None:
            facts += f", R² {held['r2']:.3f}"
        caption = (f"{what[0].upper() + what[1:]} ({facts}; β = {cfg.get('beta')}). Each row is one film: the "
                   "film, the decoded start G(w₀), the decoded end, and the overlay of end minus start "
                   "on the film (orange: density removed, purple: density added).")
        body.append(_img(res.parent / "overlay.png", root, caption, light=True))
        rows = []
        for case in summary.get("cases", []):
            recs = case.get("inverse") or {"cut-off": case.get("rationale", {})}
            for goal, r in recs.items():
                rows.append({"film": f"{case.get('category') or ''} {case['image_id']}".strip(),
                             "goal": goal, "status": r.get("status"), "steps": r.get("steps"),
                             "β": r.get("beta"), "start prediction": r.get("start_original"),
                             "end prediction": r.get("end_original"),
                             "‖w − w₀‖ / spread": r.get("distance_per_spread")})
        if rows:
            body.append(_table(pd.DataFrame(rows)))
        if (res.parent / "rationale.gif").is_file():
            body.append(_img(res.parent / "rationale.gif", root, "The rationale paths as a movie, "
                             "films side by side, from the start code to the end code."))
    for bias in _find(root, "bias.json"):
        try:
            s = json.loads(bias.read_text())
        except (OSError, ValueError):
            continue
        d = bias.parent
        body.append(f"<h3>Bias and overfitting test ({_rel(d, root)})</h3>")
        c, o = s.get("correct", {}), s.get("overfitted", {})
        body.append("<p class='caption'>" + (
            f"{s.get('n_films')} held-out films with {s.get('target')} above {s.get('threshold')}. "
            f"Correct predictor: {c.get('architecture', c.get('kind'))}, fitted on {c.get('n_fit')} films, held-out AUC "
            f"{(c.get('heldout') or {}).get('auc', float('nan')):.3f}. Overfitted predictor: MLP "
            f"memorising {o.get('n_fit')} films, fit AUC {(o.get('fit') or {}).get('auc', float('nan')):.3f}, "
            f"held-out AUC {(o.get('heldout') or {}).get('auc', float('nan')):.3f}. A change is clear when "
            "it exceeds the 95th percentile of random latent moves of the same length; shares come "
            "with 95% bootstrap intervals over films; the paper's blinded readers' shares stand beside "
            "them.") + "</p>")
        if (d / "bias_table.csv").is_file():
            df = pd.read_csv(d / "bias_table.csv").drop(columns=["clear change >"], errors="ignore")
            body.append(_table(df))
        if (d / "bias_pairs.png").is_file():
            body.append(_img(d / "bias_pairs.png", root, "The same films' rationales to healthy from "
                             "the correct (first overlay) and the overfitted predictor (second overlay); "
                             "orange is density removed, purple density added.", light=True))
    if not body:
        return []
    return [Section("gvr", "GVR", "\n".join(body),
                    intro="Generative Visual Rationales: a predictor on the latent code, and the "
                          "decoded path that changes its prediction, drawn over the film.", how=HOW)]
