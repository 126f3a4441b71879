"""Build ``report.html`` from the artefacts of a run directory.

The report is a single HTML file that links to images beside it (all paths relative, so the
folder can be zipped and mailed) and loads nothing from the network. Sections appear for the
artefacts that exist, in pipeline order: cohort, data (Table 1), training, global sequences,
local sequences, CNN, explanations, ground-truth check, configuration.

Example::

    from seegaan.report import build_report
    build_report("runs/demo")          # -> runs/demo/report.html
"""

from __future__ import annotations

import datetime as _dt
import html
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd

from seegaan import __version__
from seegaan.errors import InputError, OutputExistsError
from seegaan.report.discover import Artefacts, Sequence, discover
from seegaan.utils.fsio import atomic_file

COLOUR_HOW = ("How to read the subtraction maps: each panel is that frame minus the first frame, "
              "on the [-1, 1] image scale, with a symmetric colour range. With the reversed "
              "Spectral map, red means the synthetic radiograph becomes brighter there (more "
              "attenuation: denser or thicker tissue), blue that it becomes darker (less "
              "attenuation); pale yellow is no change.")


@dataclass
class Section:
    id: str
    title: str
    body: str
    intro: str = ""
    how: str = ""


def _rel(path: Path, root: Path) -> str:
    return html.escape(os.path.relpath(path, root).replace(os.sep, "/"))


def _img(path: Path, root: Path, caption: str = "", light: bool = False) -> str:
    cls = ' class="light"' if light else ""
    cap = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
    return (f'<figure{cls}><img src="{_rel(path, root)}" alt="{html.escape(path.name)}">'
            f'{cap}</figure>')


def _table(df: pd.DataFrame, pass_col: str | None = None) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    rows = []
    for _, row in df.iterrows():
        cells = []
        for col in df.columns:
            val = row[col]
            text = "" if pd.isna(val) else (f"{val:.4g}" if isinstance(val, float) else str(val))
            cls = ""
            if col == pass_col:
                word = "" if pd.isna(val) else str(val).strip().lower()
                if word in ("", "n/a", "na", "skipped", "none"):  # not evaluated: neither pass nor fail
                    cls, text = "", "n/a"
                else:
                    ok = word in ("true", "pass", "yes", "1")
                    cls, text = (' class="pass"', "pass") if ok else (' class="fail"', "fail")
            cells.append(f"<td{cls}>{html.escape(text)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _json_block(title: str, data: Any) -> str:
    text = html.escape(json.dumps(data, indent=2, default=str))
    return f"<details><summary>{html.escape(title)}</summary><pre>{text}</pre></details>"


def _loss_plot(run, out_dir: Path) -> Path | None:
    """Plot every numeric series of metrics.jsonl against step (one small panel each)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    df = pd.DataFrame(run.metrics)
    if df.empty or "step" not in df.columns:
        return None
    series = [c for c in df.columns if c != "step" and pd.api.types.is_numeric_dtype(df[c])
              and df[c].notna().sum() >= 2]
    if not series:
        return None
    n = len(series)
    cols = min(4, n)
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.3 * rows), squeeze=False)
    for ax, name in zip(axes.flat, series):
        sub = df[["step", name]].dropna()
        ax.plot(sub["step"], sub[name], lw=1)
        ax.set_title(name, fontsize=9)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    fig.tight_layout()
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"curves_{abs(hash(str(run.path))) % 10**8}.png"
    with atomic_file(path) as fh:
        fig.savefig(fh, format="png", dpi=90)
    plt.close(fig)
    return path


def _sequence_block(seq: Sequence, root: Path) -> str:
    s = seq.summary
    feature = s.get("feature", seq.path.name)
    groups = s.get("groups") or {}
    parts = [f"<h3>{html.escape(str(s.get('title', feature)))}</h3>"]
    facts = []
    if isinstance(groups, dict) and groups:
        facts.append("groups " + ", ".join(f"{k} (n={v})" for k, v in groups.items()))
    if "image_id" in s:
        facts.append(f"image {s['image_id']}")
    alpha, corr, perms = s.get("alpha"), s.get("correction"), s.get("permutations")
    if perms:
        facts.append(f"{perms} permutations, α = {alpha}, correction: {corr}")
    if facts:
        parts.append(f'<p class="caption">{html.escape("; ".join(facts))}.</p>')
    labels = {"sequence": "Frames (synthetic radiographs), labelled with the feature value or λ.",
              "subtraction": "Each frame minus frame 0.",
              "significant": "Subtractions with non-significant pixels set to zero."}
    for role in ("sequence", "subtraction", "significant"):
        if role in seq.images:
            parts.append(_img(seq.images[role], root, labels[role], light=role != "sequence"))
    return "\n".join(parts)


def _gif_row(seqs: list[Sequence], root: Path) -> str:
    items = [(q, q.images["gif"]) for q in seqs if "gif" in q.images]
    if not items:
        return ""
    figs = "".join(_img(g, root, str(q.summary.get("title", q.summary.get("feature", q.path.name))))
                   for q, g in items)
    return f'<h3>Animations</h3><div class="gifrow">{figs}</div>'


def build_sections(art: Artefacts, assets: Path) -> list[Section]:
    root = art.root
    out: list[Section] = []
    if art.cohort:
        body = []
        for path, info, grids in art.cohort:
            opts = {**info, **info.get("options", {})}  # cohort.json keeps them under "options"
            body.append(f"<p class='caption'>{html.escape(_rel(path, root))}: "
                        f"{opts.get('n', '?')} radiographs at {opts.get('size', '?')} px, "
                        f"seed {opts.get('seed', '?')}.</p>")
            body += [_img(g, root, g.stem.replace("_", " ")) for g in grids[:3]]
        out.append(Section("cohort", "Virtual cohort", "\n".join(body),
                           intro="Synthetic PA chest radiographs rendered from a real chest CT, "
                                 "each with the anatomical factors that produced it (ground truth)."))
    if art.datasets:
        body = []
        for ds in art.datasets:
            body.append(f"<h3>{html.escape(_rel(ds.path, root))}</h3>")
            body.append(f"<p class='caption'>{ds.info.get('n_images', '?')} images at "
                        f"{ds.info.get('size', '?')} px.</p>")
            if ds.table1 is not None:
                body.append(_table(ds.table1))
        out.append(Section("data", "Data (Table 1)", "\n".join(body),
                           intro="Cohort characteristics overall and per patient-level split. "
                                 "Numeric: mean ± SD, t-test/ANOVA; categorical: n (%), chi-squared."))
    if art.training:
        body = []
        for run in art.training:
            body.append(f"<h3>{html.escape(_rel(run.path, root) or run.path.name)}</h3>")
            tcfg = run.config.get("train") if isinstance(run.config.get("train"), dict) else {}
            if tcfg:
                model = run.config.get("model", {}) if isinstance(run.config.get("model"), dict) else {}
                last = max((int(m.get("step", 0)) for m in run.metrics), default=0)
                body.append("<p>" + html.escape(
                    f"preset {model.get('preset', '?')}, {last} of {tcfg.get('steps', '?')} steps "
                    f"at batch {tcfg.get('batch', '?')}, seed {tcfg.get('seed', '?')}; perceptual "
                    f"term {run.config.get('perceptual', tcfg.get('perceptual', '?'))}; best checkpoint "
                    f"by {run.config.get('best_by', tcfg.get('best_by', '?'))}; "
                    f"{run.config.get('n_train', '?')} training images.") + "</p>")
            curve = _loss_plot(run, assets)
            if curve:
                body.append(_img(curve, root, "Losses and validation metrics against step.", True))
            last_val = [m for m in run.metrics if any(k.startswith("val") for k in m)]
            if last_val:
                body.append(_table(pd.DataFrame([last_val[-1]])))
            for p in run.images[-4:]:
                body.append(_img(p, root, p.stem.replace("_", " ")))
        out.append(Section("training", "Autoencoder training", "\n".join(body),
                           intro="Loss curves, validation metrics (reconstruction MSE/SSIM, sliced "
                                 "Wasserstein distance) and sample/reconstruction grids."))
    glob_seqs = [q for q in art.sequences if q.mode == "global"]
    local_seqs = [q for q in art.sequences if q.mode != "global"]
    if glob_seqs:
        out.append(Section("global", "Global sequences",
                           "\n".join(_sequence_block(q, root) for q in glob_seqs)
                           + _gif_row(glob_seqs, root),
                           intro="Each sequence decodes a path through latent space from one "
                                 "clinical state to another (group means for categories, a "
                                 "smooth regression for numbers), averaged over the test split.",
                           how=COLOUR_HOW))
    if local_seqs:
        out.append(Section("local", "Local sequences",
                           "\n".join(_sequence_block(q, root) for q in local_seqs)
                           + _gif_row(local_seqs, root),
                           intro="One patient's latent is moved along a feature direction "
                                 "w + λ·(w̄_to − w̄_from); frame 0 is the patient's reconstruction.",
                           how=COLOUR_HOW))
    if art.cnns:
        rows = []
        for path, cfg in art.cnns:
            m = cfg.get("metrics", {})
            # `seegaan cnn train` nests its options under "training" and its scores per split.
            train = cfg.get("training", {}) if isinstance(cfg.get("training"), dict) else {}
            scores = {f"{split} {k}": v for split in ("val", "test")
                      if isinstance(m.get(split), dict)
                      for k, v in m[split].items() if k in ("r2", "auc", "n")}
            rows.append({"model": _rel(path, root),
                         "architecture": cfg.get("arch", train.get("arch", "")),
                         "target": cfg.get("target", train.get("target", "")),
                         **{k: v for k, v in m.items() if isinstance(v, (int, float))},
                         **scores})
        out.append(Section("cnn", "Reference CNN", _table(pd.DataFrame(rows)),
                           intro="The CNN whose predictions are explained below, with its "
                                 "test-split performance."))
    if art.explanations:
        body = []
        for exp in art.explanations:
            body.append(f"<h3>{html.escape(_rel(exp.path, root))}</h3>")
            cases = exp.summary.get("cases")
            if isinstance(cases, dict):
                cases = [{"case": k, **v} for k, v in cases.items() if isinstance(v, dict)]
            if isinstance(cases, list) and cases:
                body.append(_table(pd.DataFrame([_case_row(c) for c in cases])))
            body += [_img(f, root, f.stem.replace("_", " "), light=True) for f in exp.figures]
            body += [_sequence_block(q, root) for q in exp.sequences]
        out.append(Section("explain", "CNN explanations", "\n".join(body),
                           intro="Global sequences for the ground truth and for the CNN's "
                                 "prediction, then four patients (TP, TN, FP, FN) with attribution "
                                 "maps and SEE-GAAN frames. For FP/FN, λ is the smallest shift that "
                                 "brings the prediction to the true value; the map is that image "
                                 "minus the reconstruction.",
                           how=COLOUR_HOW))
    if art.truth is not None:
        pass_col = "pass" if "pass" in art.truth.columns else None
        out.append(Section("truth", "Ground-truth check", _table(art.truth, pass_col),
                           intro="Oracle readouts of the anatomical factors along each sequence, "
                                 "against the cohort's true effects and the project's targets."))
    from seegaan.report.section_medxgan import medxgan_sections
    out += medxgan_sections(root)
    if art.config:
        out.append(Section("config", "Configuration", _json_block("Run configuration", art.config),
                           intro="Every option of this run, as saved beside its outputs."))
    return out


def _num(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, (int, float)) and not isinstance(v, bool) else str(v)


def _case_row(case: dict[str, Any]) -> dict[str, str]:
    """One explained patient as plain words: nested records (λ search, local sequence) read
    as a sentence rather than as a Python dict."""
    row = {k.replace("_", " "): _num(v) for k, v in case.items()
           if v is not None and not isinstance(v, (dict, list)) and k not in ("dir",)}
    seq = case.get("local_sequence")
    if isinstance(seq, dict):
        row["local sequence"] = (f"{seq.get('from')} → {seq.get('to')}, "
                                 f"λ up to {_num(seq.get('lambda_max'))}")
    lam = case.get("lambda")
    if isinstance(lam, dict):
        status, calls = lam.get("status", "?"), lam.get("calls")
        if status == "reached":
            text = f"reached at λ = {_num(lam.get('lam'))}"
        else:
            text = str(lam.get("message") or status)
        if calls is not None:
            text += f" ({calls} model calls)"
        row["λ search"] = text
    return row


def build_report(run_dir: str | os.PathLike, overwrite: bool = True, title: str | None = None) -> Path:
    """Write ``run_dir/report.html`` (and its plots under ``run_dir/report_assets``)."""
    root = Path(run_dir)
    if not root.is_dir():
        raise InputError(f"{root}: run directory not found")
    target = root / "report.html"
    if target.exists() and not overwrite:
        raise OutputExistsError(f"{target}: already exists (pass --overwrite to replace it)")
    art = discover(root)
    if art.empty:
        raise InputError(f"{root}: no seegaan artefacts found (prepared data, training run, "
                         "sequences or explanations)")
    sections = build_sections(art, root / "report_assets")
    env = jinja2.Environment(loader=jinja2.PackageLoader("seegaan.report", "templates"),
                             autoescape=jinja2.select_autoescape(["html", "j2"]))
    page = env.get_template("report.html.j2").render(
        title=title or root.resolve().name, sections=sections, root=str(root),
        generated=_dt.datetime.now().strftime("%Y-%m-%d %H:%M"), version=__version__)
    with atomic_file(target, mode="w") as fh:
        fh.write(page)
    return target
