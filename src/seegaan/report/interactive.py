"""Sliders over every sequence of the report, written as static files (no server).

For each sequence the report shows, :func:`sequence_slider` writes one small PNG per frame,
per subtraction and per significant map under ``report_assets/slider/<sequence>/`` and
returns an HTML block: three images, a range input, the current t/λ (or feature value) and
the model's prediction at that frame when one was recorded. The block carries the
``hidden`` attribute, so a browser without JavaScript never shows it and the page reads as
before, with its strips; the script in ``templates/interactive.html.j2`` un-hides it and
moves the three images together. All paths are relative, so the report folder still works
when zipped or opened from disk.

Example::

    html = sequence_slider(seq_dir, run_root)      # "" when the sequence has no result.npz
"""

from __future__ import annotations

import html
import json
import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from seegaan.units import frame_value_labels, unit_of, value_text
from seegaan.utils.fsio import atomic_file
from seegaan.viz import web
from seegaan.viz.panels import symmetric_limit

ASSETS = "report_assets"
MAX_FRAMES = 64          # a longer sequence is subsampled (the strips still show every frame)


def _slug(path: Path, root: Path) -> str:
    rel = os.path.relpath(path, root).replace(os.sep, "/")
    return re.sub(r"[^A-Za-z0-9_-]+", "_", rel).strip("_") or "sequence"


def _write_png(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(path) as fh:
        fh.write(data)


def _labels(values: np.ndarray, name: str, unit: str | None = None) -> list[str]:
    if name in ("λ", "lambda"):
        return [f"λ = {v:.3g}" for v in values]
    if name in ("t", "alpha", "α"):
        return [f"{name} = {v:.2f}" for v in values]
    return frame_value_labels(values, name, unit, sep=" = ")   # log_bnpp -> pg/mL


def load_frames(seq_dir: Path) -> dict[str, Any] | None:
    """Frames, subtractions, significant maps, values and predictions of a sequence folder
    (``result.npz`` of ``seegaan sequence``, or ``frames.npz`` of an explanation method)."""
    summary: dict[str, Any] = {}
    for name in ("summary.json", "result.json"):
        try:
            summary = json.loads((seq_dir / name).read_text())
            break
        except (OSError, ValueError):
            continue
    for name in ("result.npz", "frames.npz"):
        path = seq_dir / name
        if not path.is_file():
            continue
        try:
            with np.load(path, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
        except (OSError, ValueError):
            return None
        frames = arrays.get("frames")
        if frames is None or frames.ndim != 3 or len(frames) < 2:
            return None
        values = arrays.get("values", arrays.get("steps"))
        if values is None or len(values) != len(frames):
            values = np.linspace(0.0, 1.0, len(frames))
        diffs = arrays.get("diffs", frames - frames[:1])
        preds = arrays.get("predictions")
        if preds is None and isinstance(summary.get("predictions"), list):
            preds = np.asarray(summary["predictions"], dtype=np.float64)
        if preds is not None and len(preds) != len(frames):
            preds = None
        return {"frames": frames, "diffs": diffs, "masked": arrays.get("masked_diffs"),
                "values": np.asarray(values, dtype=np.float64), "predictions": preds,
                "value_name": str(summary.get("value_name", summary.get("step_name", "t"))),
                "unit": summary.get("unit"), "vlim": summary.get("vlim"), "title": summary.get("title", seq_dir.name)}
    return None


def sequence_slider(seq_dir: Path, root: Path, unit: str | None = None) -> str:
    """The slider block for one sequence folder, with its images written under ``root``.

    ``unit`` is that of the model's predictions (e.g. pg/mL), when the caller knows it."""
    data = load_frames(Path(seq_dir))
    if data is None:
        return ""
    root = Path(root)
    keep = np.unique(np.linspace(0, len(data["frames"]) - 1, min(len(data["frames"]), MAX_FRAMES))
                     .round().astype(int))
    vlim = float(data["vlim"]) if isinstance(data["vlim"], (int, float)) and data["vlim"] > 0 \
        else symmetric_limit(data["diffs"])
    out_dir = root / ASSETS / "slider" / _slug(Path(seq_dir), root)
    rel = os.path.relpath(out_dir, root).replace(os.sep, "/")
    roles = {"frame": (data["frames"], web.grey_png),
             "diff": (data["diffs"], lambda a: web.diverging_png(a, vlim)),
             "sig": (data["masked"], lambda a: web.diverging_png(a, vlim))}
    srcs: dict[str, list[str]] = {}
    for role, (stack, encode) in roles.items():
        if stack is None:
            continue
        srcs[role] = []
        for k in keep:
            name = f"{role}_{int(k):03d}.png"
            _write_png(out_dir / name, encode(stack[k]))
            srcs[role].append(f"{rel}/{name}")
    labels = [_labels(data["values"], data["value_name"], data["unit"])[k] for k in keep]
    preds = None if data["predictions"] is None else [float(data["predictions"][k]) for k in keep]
    # Predictions are in the target's units (a log-output model's are exponentiated).
    pred_texts = None if preds is None else [f"model prediction: {value_text(p, unit)}" for p in preds]
    payload = {"labels": labels, "predictions": preds, "prediction_texts": pred_texts, **srcs}
    # </script> inside the JSON would end the element early; "<\/" is the same JSON string.
    blob = json.dumps(payload).replace("</", "<\\/")
    captions = {
        "frame": "The decoded frame at the slider's position (a synthetic radiograph).",
        "diff": "That frame minus frame 0, in the colours and range of the strips below "
                "(red brighter, blue darker).",
        "sig": "The same subtraction with the pixels the permutation test did not call "
               "significant set to zero.",
    }
    figs = "".join(
        f'<figure><img data-role="{role}" src="{html.escape(srcs[role][0])}" '
        f'alt="{html.escape(ALTS[role])}"><figcaption>{captions[role]}</figcaption>'
        f'</figure>' for role in ("frame", "diff", "sig") if role in srcs)
    title = html.escape(str(data["title"]))
    pred = '<span class="seq-pred" data-role="pred"></span>' if preds is not None else ""
    return (f'<div class="seq-slider" data-slider hidden>'
            f'<div class="seq-panels">{figs}</div>'
            f'<div class="seq-controls"><input type="range" min="0" max="{len(keep) - 1}" '
            f'value="0" step="1" aria-label="frame of {title}">'
            f'<output data-role="label">{html.escape(labels[0])}</output>{pred}</div>'
            f'<script type="application/json" data-role="data">{blob}</script></div>')


ALTS = {"frame": "synthetic radiograph at the slider's current position",
        "diff": "subtraction map: the frame at the slider minus frame 0",
        "sig": "significant pixels of the subtraction at the slider's position"}


def method_sliders(exp_dir: Path, root: Path) -> list[str]:
    """Sliders for the sequence-kind results of an explanation run
    (``cases/<image_id>/<method>/frames.npz``), each under a heading that names the case
    (TP, TN, FP, FN from the run's manifest when it has one)."""
    from seegaan.report.captions import CASE_WORDS

    cases: dict[str, tuple[str | None, str]] = {}
    unit = None
    try:
        from seegaan.explain.methods import read_manifest

        man = read_manifest(exp_dir)
        unit = unit_of(str(man.get("target", "")))
        for c in man.get("cases", []):
            cases[Path(c.get("folder", "")).name] = (c.get("category"), str(c.get("image_id")))
    except Exception:  # no manifest (e.g. GVR's own runs): plain headings
        pass
    parts = []
    for frames in sorted(Path(exp_dir).glob("cases/*/*/frames.npz")):
        block = sequence_slider(frames.parent, root, unit)
        if block:
            folder, method = frames.parent.parent.name, frames.parent.name
            cat, image = cases.get(folder, (None, folder))
            if cat in CASE_WORDS and method == "seegaan_local":
                head = f"{cat} ({CASE_WORDS[cat]}): local sequence of image {image}"
            elif cat in CASE_WORDS:
                head = f"{cat} ({CASE_WORDS[cat]}), image {image}: {method}"
            else:
                head = f"{method}: {image}"
            parts.append(f"<h4>{html.escape(head)}</h4>{block}")
    return parts
