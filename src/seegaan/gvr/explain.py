"""``seegaan gvr explain``: rationales for chosen films, as figures and as standard explanations.

For each film: encode (or take its row of the latent table), search the rationale, decode
the path, and write

    overlay.png        every film: original | G(w₀) | G(w end) | overlay (orange removed, purple added)
    sequence.png       frames along each path, labelled with the prediction
    rationale.gif      the paths side by side (the paper's "movie")
    result.json        predictor, settings, and per film: steps, β, start/end prediction, status
    manifest.json + cases/<image_id>/gvr/   the standard per-case method output (map = end − start)

Without ``inverse`` a film crosses the cut-off: a film predicted positive is moved down to
it ("what would this film look like healthy?"), one predicted negative up to it. With
``inverse`` every film is pushed to each of ``targets`` (original units, e.g. 250, 1000,
4000 pg/mL) and the overlay shows the density added at each.

Example::

    summary = explain_cases(ae, table, load_predictor("runs/gvr/pred"), "runs/gvr/exp",
                            cases=("TP", "FP"))
    summary["cases"][0]["rationale"]["status"]        # "reached"
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np
import torch

from seegaan.errors import InputError, OptionError
from seegaan.gvr.predictor import LatentPredictor, check_latent_width, split_rows
from seegaan.gvr.rationale import Rationale, RationaleConfig, find_rationale
from seegaan.utils.renamed import renamed_keywords

CATEGORIES = ("TP", "TN", "FP", "FN")


@dataclass
class GVRConfig(RationaleConfig):
    """The rationale search's settings (β, step, ...) plus what `gvr explain` does with them."""

    margin:    float = 0.0        # go this far past the cut-off (predictor axis, e.g. log units)
    frames:    int = 8            # frames kept along each path (figures, GIF, frames.npz)
    inverse:   bool = False       # push each film to every value of `targets`
    targets:   tuple[float, ...] = (250.0, 1000.0, 4000.0)  # inverse GVR goals, original units
    fps:       float = 6.0        # GIF speed

    def check(self) -> None:
        super().check()
        if self.frames < 2:
            raise OptionError(f"--frames {self.frames}: need at least 2")
        if self.margin < 0:
            raise OptionError(f"--margin {self.margin:g}: must be zero or positive")
        if self.inverse and not self.targets:
            raise OptionError("--inverse: give at least one target with --targets")

    def rationale_config(self, keep_path: bool = True) -> RationaleConfig:
        names = [f.name for f in fields(RationaleConfig)]
        return RationaleConfig(**{**{n: getattr(self, n) for n in names}, "keep_path": keep_path})


def parse_targets(text: str) -> tuple[float, ...]:
    """``"250,1000,4000"`` -> (250.0, 1000.0, 4000.0), with a one-line error otherwise."""
    try:
        values = tuple(float(v) for v in str(text).split(",") if v.strip())
    except ValueError:
        raise OptionError(f"--targets {text}: give numbers separated by commas, e.g. 250,1000,4000") from None
    if not values:
        raise OptionError("--targets: give at least one value")
    return values


def crossing_goal(predictor: LatentPredictor, start: np.ndarray, margin: float = 0.0) -> np.ndarray:
    """The goal that makes each prediction change side: below the cut-off if it starts above."""
    cut = predictor.cutoff
    return np.where(np.asarray(start) > cut, cut - margin, cut + margin)


def target_goals(predictor: LatentPredictor, targets: Sequence[float]) -> np.ndarray:
    """Inverse-GVR targets (original units) on the predictor's axis; impossible ones fail here."""
    return np.array([predictor.scale(float(t)) for t in targets])


@dataclass
class PathResult:
    """One rationale, decoded: what a figure, the GIF and an Explanation need."""

    frames:      np.ndarray      # (T, S, S) decoded along the path, start first, end last
    steps:       np.ndarray      # (T,) step number of each frame
    predictions: np.ndarray      # (T,) prediction at each frame (original units)
    record:      dict[str, Any]  # status, steps, β, start/end prediction, goal ...


def decode_paths(ae, predictor: LatentPredictor, res: Rationale, n_frames: int) -> list[PathResult]:
    """Decode ``n_frames`` codes along every path of ``res`` (one decoder call for all)."""
    from seegaan.latent import decode_latents

    picks = [res.path_frames(i, n_frames) for i in range(len(res.w0))]
    codes = np.concatenate([c for c, _ in picks])
    frames = decode_latents(ae, codes)
    preds = predictor.original(predictor.predict(codes))
    out, k = [], 0
    for i, (c, idx) in enumerate(picks):
        t = len(c)
        out.append(PathResult(frames[k:k + t], idx.astype(np.float64), preds[k:k + t],
                              res.record(i, predictor)))
        k += t
    return out


def case_rows(table, predictor: LatentPredictor, images: Sequence[str] | None,
              cases: Sequence[str] | None) -> list[tuple[int, str | None]]:
    """Rows of the films to explain: (row, category or None)."""
    ids = table.meta["image_id"].astype(str).to_numpy() if "image_id" in table.meta.columns \
        else np.arange(len(table.meta)).astype(str)
    if images:
        where = {v: k for k, v in enumerate(ids)}
        missing = [i for i in images if i not in where]
        if missing:
            raise InputError(f"--images {missing[0]}: not in the latent table")
        return [(where[i], None) for i in images]
    wanted = [c.strip().upper() for c in (cases or CATEGORIES)]
    bad = [c for c in wanted if c not in CATEGORIES]
    if bad:
        raise OptionError(f"--cases {bad[0].lower()}: choose from tp, tn, fp, fn")
    if predictor.target not in table.meta.columns:
        raise InputError(f"predictor target {predictor.target}: no such column in the latent table")
    from seegaan.explain import select_cases

    truth = np.asarray(table.meta[predictor.target], dtype=np.float64)
    pred = predictor.original(predictor.predict(table.w))
    # Choose among the rows the predictor did not see (same split rule as `gvr fit`).
    cfg = predictor.meta.get("config", {})
    _, held, _ = split_rows(table.meta.reset_index(drop=True), cfg.get("holdout", 0.2), cfg.get("seed", 0))
    rows = np.flatnonzero(np.isfinite(truth) & (held if held.any() else True))
    picks = select_cases(truth[rows], pred[rows], predictor.threshold, ids[rows])
    out = [(int(rows[picks[c]]), c) for c in wanted if picks.get(c) is not None]
    if not out:
        raise InputError(f"--cases {','.join(wanted).lower()}: none of these categories has a film")
    return out


@renamed_keywords(log="echo")
def explain_cases(ae, table, predictor: LatentPredictor, out_dir: str | os.PathLike, *,
                  images: Sequence[str] | None = None, cases: Sequence[str] | None = None,
                  labels: Sequence[str | None] | None = None,
                  data_dir: str | os.PathLike | None = None, config: GVRConfig | None = None,
                  overwrite: bool = False, echo: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run GVR for the chosen films and write ``out_dir`` atomically; returns the summary.

    ``labels`` names the ``images`` (e.g. the categories another figure gave them).
    """
    from seegaan.explain.methods import Explanation, case_folder, save_explanation, write_manifest
    from seegaan.gvr.overlay import OverlayRow, save_overlay, save_path_gif, save_sequence
    from seegaan.utils.fsio import atomic_dir, check_output, write_json

    cfg = config or GVRConfig()
    cfg.check()
    say = echo or (lambda _line: None)
    check_output(out_dir, overwrite)
    check_latent_width(predictor, table.w_dim)
    if int(getattr(ae, "w_dim", table.w_dim)) != table.w_dim:
        raise InputError(f"autoencoder: {ae.w_dim}-d latents, but the latent table has {table.w_dim}-d")
    goals_inv = target_goals(predictor, cfg.targets) if cfg.inverse else None
    picked = case_rows(table, predictor, images, cases)
    if images and labels:
        picked = [(r, lab) for (r, _), lab in zip(picked, labels)]
    t0 = time.perf_counter()
    ids = table.meta["image_id"].astype(str).to_numpy()
    rows = np.array([r for r, _ in picked])
    originals, background = _originals(table, rows, data_dir, ae)
    w0 = table.w[rows]
    start = predictor.predict(w0)
    if cfg.inverse:
        w_rep = np.repeat(w0, len(goals_inv), axis=0)
        res = find_rationale(predictor, w_rep, np.tile(goals_inv, len(rows)), cfg.rationale_config())
    else:
        res = find_rationale(predictor, w0, crossing_goal(predictor, start, cfg.margin),
                             cfg.rationale_config())
    paths = decode_paths(ae, predictor, res, cfg.frames)
    truth_col = table.meta[predictor.target] if predictor.target in table.meta.columns else None
    summary: dict[str, Any] = {"artefact": "gvr", "predictor": predictor.describe(),
                               "predictor_report": _short_report(predictor), "config": asdict(cfg),
                               "background": background, "cases": []}
    overlay_rows, seq_rows, gif_paths, manifest_cases = [], [], [], []
    with atomic_dir(out_dir, overwrite=overwrite) as tmp:
        for k, (row, cat) in enumerate(picked):
            image_id = ids[row]
            mine = paths[k * len(goals_inv):(k + 1) * len(goals_inv)] if cfg.inverse else [paths[k]]
            truth = float(truth_col.iloc[row]) if truth_col is not None else None
            p0 = float(predictor.original(start[k]))
            label = f"{cat + ' ' if cat else ''}{image_id}"
            orig = originals[k]
            first = mine[0].frames[0]
            if cfg.inverse:
                row_ov = OverlayRow(f"{label}\npred {p0:.4g}", orig, first,
                                    [(f"target {t:g}", m.frames[-1]) for t, m in zip(cfg.targets, mine)])
                frames = np.stack([first] + [m.frames[-1] for m in mine])
                exp = Explanation(method="gvr", kind="sequence", frames=frames,
                                  steps=np.array([p0] + list(cfg.targets)), step_name="target",
                                  predictions=np.array([p0] + [m.predictions[-1] for m in mine]),
                                  map=frames[-1] - frames[0],
                                  scalars={"mode": "inverse", "targets": list(cfg.targets),
                                           "rationales": [m.record for m in mine]},
                                  status=_status([m.record for m in mine]))
                seq_rows.append((label, frames, [f"start {p0:.3g}"] +
                                 [f"{t:g}: {m.predictions[-1]:.3g}" for t, m in zip(cfg.targets, mine)]))
                gif_paths.append(np.concatenate([m.frames for m in mine]))
            else:
                m = mine[0]
                row_ov = OverlayRow(f"{label}\npred {p0:.4g} → {m.predictions[-1]:.4g}", orig,
                                    m.frames[0], [("G(w end)", m.frames[-1])])
                exp = Explanation(method="gvr", kind="sequence", frames=m.frames, steps=m.steps,
                                  step_name="step", predictions=m.predictions,
                                  map=m.frames[-1] - m.frames[0],
                                  scalars={"mode": "cross", **m.record}, status=m.record["status"],
                                  message=m.record.get("reason", ""))
                seq_rows.append((label, m.frames, [f"{int(s)}: {p:.3g}" for s, p in zip(m.steps, m.predictions)]))
                gif_paths.append(m.frames)
            folder = save_explanation(exp, case_folder(tmp, image_id, "gvr"))
            save_overlay([row_ov], folder / "overlay.png", title=f"GVR {label}")
            save_path_gif([gif_paths[-1]], folder / "rationale.gif", fps=cfg.fps)
            overlay_rows.append(row_ov)
            record = {"image_id": image_id, "category": cat, "truth": truth, "prediction": p0,
                      "folder": str(folder.relative_to(tmp)),
                      "rationale" if not cfg.inverse else "inverse":
                          mine[0].record if not cfg.inverse else
                          {f"{t:g}": m.record for t, m in zip(cfg.targets, mine)}}
            summary["cases"].append(record)
            manifest_cases.append({k2: record[k2] for k2 in ("image_id", "category", "truth",
                                                            "prediction", "folder")})
            say(f"{label}: " + (_line(mine[0].record) if not cfg.inverse else
                                "; ".join(f"{t:g} {_line(m.record)}" for t, m in zip(cfg.targets, mine))))
        what = "inverse GVR" if cfg.inverse else "GVR"
        save_overlay(overlay_rows, tmp / "overlay.png",
                     title=f"{what}: {predictor.describe()}, β = {cfg.beta:g}")
        save_sequence(seq_rows, tmp / "sequence.png", title=f"{what} paths (label: step: prediction)")
        save_path_gif(gif_paths, tmp / "rationale.gif", fps=cfg.fps)
        summary["timings_s"] = {"total": round(time.perf_counter() - t0, 3)}
        write_json(tmp / "result.json", summary)
        write_manifest(tmp, manifest_cases, ["gvr"], extra={"source": "seegaan gvr explain",
                                                           "predictor": predictor.describe()})
    return summary


def _status(records: list[dict[str, Any]]) -> str:
    return "reached" if all(r["status"] == "reached" for r in records) else "not reached"


def _line(rec: dict[str, Any]) -> str:
    text = (f"{rec['status']} after {rec['steps']} steps, prediction "
            f"{rec['start_original']:.4g} -> {rec['end_original']:.4g}")
    return text + (f" ({rec['reason']})" if rec.get("reason") else "")


def _short_report(predictor: LatentPredictor) -> dict[str, Any]:
    rep = predictor.meta or {}
    return {k: rep.get(k) for k in ("target", "architecture", "task", "log_scale", "threshold", "split", "n_fit",
                                    "heldout", "penalty")}


def _originals(table, rows: np.ndarray, data_dir, ae) -> tuple[list[np.ndarray], str]:
    """The films themselves when the prepared data can be found, else their reconstructions."""
    try:
        from seegaan.explain import TableImages

        x = TableImages(table, data_dir).load(rows).numpy()[:, 0]
        return list(x), "original films"
    except (InputError, OSError) as err:
        from seegaan.latent import decode_latents

        note = f"reconstructions (original films unavailable: {err})"
        with torch.no_grad():
            return list(decode_latents(ae, table.w[rows])), note
