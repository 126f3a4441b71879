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
from seegaan.report.captions import (
    CASE_WORDS,
    figure_caption,
    first_sentence,
    sequence_captions,
    truth_summary,
)
from seegaan.report.discover import Artefacts, Sequence, discover, incomplete_reason
from seegaan.report.interactive import method_sliders, sequence_slider
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
    # Every figure says what it shows: a caption from seegaan.report.captions when none is
    # given, and its first sentence as the alt text (never just the file name).
    caption = caption or figure_caption(path)
    cls = ' class="light"' if light else ""
    cap = f"<figcaption>{html.escape(caption)}</figcaption>"
    return (f'<figure{cls}><img src="{_rel(path, root)}" '
            f'alt="{html.escape(first_sentence(caption))}">{cap}</figure>')


def _table(df: pd.DataFrame, pass_col: str | None = None, table_class: str = "") -> str:
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
    attr = f' class="{table_class}"' if table_class else ""
    # The wrapper scrolls a table wider than its card instead of letting it overflow.
    return (f'<div class="tablewrap"><table{attr}><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table></div>")


def _json_block(title: str, data: Any) -> str:
    text = html.escape(json.dumps(data, indent=2, default=str))
    return f"<details><summary>{html.escape(title)}</summary><pre>{text}</pre></details>"


def _loss_plot(run, out_dir: Path) -> Path | None:
    """Plot every numeric series of metrics.jsonl against step (one small panel each)."""
    # A Figure with its own Agg canvas: no pyplot, so the backend of a user's notebook or
    # script that calls build_report is left alone.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

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
    fig = Figure(figsize=(3.2 * cols, 2.3 * rows))
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax, name in zip(axes.flat, series):
        sub = df[["step", name]].dropna()
        ax.plot(sub["step"], sub[name], lw=1)
        ax.set_title(name, fontsize=9)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    fig.tight_layout()
    out_dir.mkdir(parents=True, exist_ok=True)
    # A stable name from the run's place in the report folder, so a rebuilt report replaces
    # its plot instead of leaving one more behind (hash() of a str changes every run).
    rel = os.path.relpath(run.path, out_dir.parent).replace(os.sep, "/").strip("./")
    slug = "".join(c if c.isalnum() else "_" for c in rel) or "run"
    path = out_dir / f"curves_{slug}.png"
    with atomic_file(path) as fh:
        fig.savefig(fh, format="png", dpi=90)
    return path


def shared_vlim(seqs: list[Sequence]) -> float | None:
    """The colour range every sequence of a section shares, or None when they differ."""
    lims = {round(float(q.summary["vlim"]), 6) for q in seqs
            if isinstance(q.summary.get("vlim"), (int, float))}
    return lims.pop() if len(lims) == 1 and len(seqs) > 1 else None


def _sequence_block(seq: Sequence, root: Path, shared: float | None = None,
                    heading: str | None = None) -> str:
    s = seq.summary
    feature = s.get("feature", seq.path.name)
    groups = s.get("groups") or {}
    parts = [f"<h3>{html.escape(heading or str(s.get('title', feature)))}</h3>"]
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
    parts.append(sequence_slider(seq.path, root))
    labels = sequence_captions(s, shared)
    for role in ("sequence", "subtraction", "significant"):
        if role in seq.images:
            parts.append(_img(seq.images[role], root, labels[role], light=role != "sequence"))
    return "\n".join(parts)


def _gif_row(seqs: list[Sequence], root: Path) -> str:
    items = [(q, q.images["gif"]) for q in seqs if "gif" in q.images]
    if not items:
        return ""
    figs = "".join(_img(g, root, sequence_captions(q.summary, None)["gif"]) for q, g in items)
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
            body += [_img(g, root) for g in grids[:3]]
        out.append(Section("cohort", "Virtual cohort", "\n".join(body),
                           intro="Synthetic PA chest radiographs rendered from a real chest CT, "
                                 "each with the anatomical factors that produced it (ground truth)."))
    if art.datasets:
        body = []
        for ds in art.datasets:
            body.append(f"<h3>{html.escape(_rel(ds.path, root))}</h3>")
            n = ds.info.get("n_images", "?")
            body.append(f"<p class='caption'>{n} image{'' if n == 1 else 's'} at "
                        f"{ds.info.get('size', '?')} px.</p>")
            if ds.table1 is not None:
                body.append(_table1_html(ds.table1))
        out.append(Section("data", "Data (Table 1)", "\n".join(body),
                           intro="Cohort characteristics overall and per patient-level split. "
                                 "Numeric: mean ± SD, t-test/ANOVA; skewed numeric: median "
                                 "[IQR], Mann–Whitney/Kruskal–Wallis; categorical: n (%), "
                                 "chi-squared. * p < 0.05."))
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
                body.append(_img(curve, root, light=True))
            last_val = [m for m in run.metrics if any(k.startswith("val") for k in m)]
            if last_val:
                body.append(_table(pd.DataFrame([last_val[-1]])))
            for p in run.images[-4:]:
                body.append(_img(p, root))
        out.append(Section("training", "Autoencoder training", "\n".join(body),
                           intro="Loss curves, validation metrics (reconstruction MSE/SSIM, sliced "
                                 "Wasserstein distance) and sample/reconstruction grids."))
    glob_seqs = [q for q in art.sequences if q.mode == "global"]
    local_seqs = [q for q in art.sequences if q.mode != "global"]
    if glob_seqs:
        shared = shared_vlim(glob_seqs)
        out.append(Section("global", "Global sequences",
                           "\n".join(_sequence_block(q, root, shared) for q in glob_seqs)
                           + _gif_row(glob_seqs, root),
                           intro="Each sequence decodes a path through latent space from one "
                                 "clinical state to another (group means for categories, a "
                                 "smooth regression for numbers), averaged over "
                                 f"{_split_words(glob_seqs)}.",
                           how=COLOUR_HOW))
    if local_seqs:
        shared = shared_vlim(local_seqs)
        out.append(Section("local", "Local sequences",
                           "\n".join(_sequence_block(q, root, shared) for q in local_seqs)
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
            body += _explanation_blocks(exp, root)
            body += method_sliders(exp.path, root)
        out.append(Section("explain", "CNN explanations", "\n".join(body),
                           intro="Global sequences for the ground truth and for the CNN's "
                                 "prediction, then four patients (TP, TN, FP, FN) with attribution "
                                 "maps and SEE-GAAN frames. For FP/FN, λ is the smallest shift that "
                                 "brings the prediction to the true value; the map is that image "
                                 "minus the reconstruction.",
                           how=COLOUR_HOW))
    from seegaan.report.section_gvr import gvr_sections
    out += gvr_sections(root)
    from seegaan.report.section_medxgan import medxgan_sections
    out += medxgan_sections(root)
    from seegaan.report.section_benchmark import benchmark_sections
    out += benchmark_sections(root)
    if art.truth is not None:
        pass_col = "pass" if "pass" in art.truth.columns else None
        out.append(Section("truth", "Ground-truth check",
                           _truth_totals(art.truth) + _table(art.truth, pass_col, table_class="truth"),
                           intro="Oracle readouts of the anatomical factors along each sequence, "
                                 "against the cohort's true effects and the project's targets."))
    if art.config:
        out.append(Section("config", "Configuration", _json_block("Run configuration", art.config),
                           intro="Every option of this run, as saved beside its outputs."))
    return out


def _split_words(seqs: list[Sequence]) -> str:
    """Which rows the sequences were built from, in words (from their summary.json)."""
    splits = sorted({str(q.summary.get("split", "test")) for q in seqs})
    if splits == ["all"]:
        return "every image of the latent table (all splits)"
    return " and ".join(f"the {s} split" if s != "all" else "all splits" for s in splits)


def _table1_html(t1: pd.DataFrame) -> str:
    """Table 1 with the same p-value format as table1.md, and a sentence on imbalance."""
    from seegaan.data.table1 import format_p, imbalance_sentence

    shown = t1.copy()
    if "p_value" in shown.columns:
        shown["p_value"] = [format_p(p) for p in t1["p_value"]]
        shown = shown.rename(columns={"p_value": "p"})
    sentence = imbalance_sentence(t1)
    note = f"<p class='caption'>{html.escape(sentence)}</p>" if sentence else ""
    return _table(shown) + note


def _truth_totals(truth: pd.DataFrame) -> str:
    total, reasons = truth_summary(truth)
    if not total:
        return ""
    parts = [f"<p><strong>{html.escape(total)}</strong></p>"]
    if reasons:
        items = "".join(f"<li><em>{html.escape(c)}</em>: {html.escape(w)}.</li>" for c, w in reasons)
        parts.append(f"<p class='caption'>Why each failed check fails:</p><ul class='caption'>{items}</ul>")
    return "".join(parts)


def _explanation_blocks(exp, root: Path) -> list[str]:
    """One explanation folder in the paper's order: Fig. 5 (global truth vs prediction)
    first, then Fig. 6 (the four patients, their λ searches and local sequences)."""
    body = []
    by_name = {f.stem: f for f in exp.figures}
    globals_ = [q for q in exp.sequences if q.mode == "global"]
    locals_ = [q for q in exp.sequences if q.mode != "global"]
    if globals_ or "global_side_by_side" in by_name:
        body.append("<h3>Fig. 5: true value and the CNN's prediction</h3>")
        shared = shared_vlim(globals_)
        body += [_sequence_block(q, root, shared) for q in globals_]
        if "global_side_by_side" in by_name:
            body.append(_img(by_name.pop("global_side_by_side"), root, light=True))
    body.append("<h3>Fig. 6: four patients</h3>")
    cases = exp.manifest.get("cases") or []
    case_of = {str(c["image_id"]): c.get("category") for c in cases if c.get("image_id") is not None}
    if cases:
        body.append(_table(pd.DataFrame([_case_row(c, exp.path) for c in cases])))
    for stem in ["fig6"] + sorted(k for k in by_name if k != "fig6"):
        if stem in by_name:
            body.append(_img(by_name[stem], root, light=True))
    shared = shared_vlim(locals_)
    for q in locals_:
        image = str(q.summary.get("image_id", ""))
        cat = case_of.get(image) or next((c for c in CASE_WORDS if c in q.path.name), None)
        heading = (f"{cat} ({CASE_WORDS[cat]}): local sequence of image {image}"
                   if cat in CASE_WORDS else None)
        body.append(_sequence_block(q, root, shared, heading))
    return body


def _num(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, (int, float)) and not isinstance(v, bool) else str(v)


def _case_row(case: dict[str, Any], run: Path) -> dict[str, str]:
    """One explained patient of a manifest as plain words: its methods, and the λ search's
    outcome read from that method's own result."""
    from seegaan.explain.methods import load_explanation

    row = {k.replace("_", " "): _num(v) for k, v in case.items()
           if v is not None and not isinstance(v, (dict, list)) and k not in ("folder", "image")}
    methods = case.get("methods") or {}
    row["methods"] = ", ".join(m if st == "ok" else f"{m} ({st})" for m, st in methods.items())
    if methods.get("seegaan_lambda") not in (None, "skipped"):
        exp = load_explanation(run / case["folder"] / "seegaan_lambda")
        lam = exp.scalars
        text = (f"reached at λ = {_num(lam.get('lam'))}" if exp.status == "reached"
                else str(exp.message or exp.status))
        if lam.get("calls") is not None:
            text += f" ({lam['calls']} model calls)"
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
    from seegaan.report.section_gvr import gvr_sections

    if art.empty and not gvr_sections(root):
        raise InputError(f"{root}: no seegaan artefacts found (prepared data, training run, "
                         "sequences or explanations)")
    sections = build_sections(art, root / "report_assets")
    env = jinja2.Environment(loader=jinja2.PackageLoader("seegaan.report", "templates"),
                             autoescape=jinja2.select_autoescape(["html", "j2"]))
    page = env.get_template("report.html.j2").render(
        title=title or root.resolve().name, sections=sections, root=str(root),
        generated=_dt.datetime.now().strftime("%Y-%m-%d %H:%M"), version=__version__,
        incomplete=incomplete_reason(root))
    with atomic_file(target, mode="w") as fh:
        fh.write(page)
    return target
