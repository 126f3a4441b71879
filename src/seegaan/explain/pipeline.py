"""``seegaan explain``: every CNN explanation of docs/explain.md in one run directory.

Steps, recorded in ``EXP_DIR/summary.json``; every explanation of a case is saved by the
method interface (:mod:`seegaan.explain.methods`) under ``cases/<image_id>/<method>/``
and listed in ``EXP_DIR/manifest.json``, which every consumer (Fig. 6, the report, the
demo, the benchmark) reads:

1. predictions for the split's images — from the model, a predictions CSV, or a column the
   latent table already has (SEE-GAAN's global view is model-agnostic);
2. global sequences for the ground truth and for the prediction, side by side, each
   permutation-tested (``global_truth/``, ``global_prediction/``, ``global_side_by_side.png``);
3. one TP, TN, FP and FN at the threshold (automatic, or ``images=``);
4. every pixel attribution method of the registry (vanilla gradient, Grad-CAM, IG,
   SmoothGrad, Occlusion) on the four originals;
5. SEE-GAAN local sequences for TP and TN, towards the other class (``seegaan_local``);
6. the λ search for FP and FN, towards the true value (``seegaan_lambda``);
7. ``fig6.png`` in the layout of the paper's Fig. 6, drawn from the manifest.

**[decision]** The local direction is ``w̄_desired - w̄_current`` between the split's
ground-truth classes (``direction="truth"``); ``direction="prediction"`` uses the model's
predicted classes instead, i.e. what the model itself separates.

Example::

    summary = explain("runs/ae/best", "latents.parquet", "exp/cnn",
                      model=load_model("runs/cnn"), config=ExplainConfig(permutations=100))
    read_manifest("exp/cnn")["cases"][0]["methods"]       # {"saliency": "ok", ...}
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from seegaan.errors import InputError, OptionError
from seegaan.explain.attribution import METHODS, AttributionSettings
from seegaan.explain.loading import ExplainableModel
from seegaan.explain.methods import (
    Case,
    Context,
    Explanation,
    case_folder,
    get_method,
    save_explanation,
    write_manifest,
)
from seegaan.explain.predict import TableImages, merge_predictions_csv, summarise
from seegaan.explain.selection import (
    CATEGORIES,
    DESCRIPTIONS,
    categorise,
    check_threshold,
    select_cases,
)
from seegaan.latent.store import LatentTable, load_latents
from seegaan.utils.fsio import atomic_dir, check_output, write_json
from seegaan.utils.renamed import renamed_fields, renamed_keywords


@renamed_fields(log="log_scale")
@dataclass
class ExplainConfig:
    target:        str = "bnpp"        # ground-truth column of the latent table
    threshold:     float = 400.0       # positive means target > threshold
    log_scale:     bool = True         # sequences and the tolerance on the log scale
    split:         str = "test"        # rows used for group means, sequences and selection
    frames:        int = 10            # frames per sequence
    permutations:  int = 100           # permutation-test size B (0: no test)
    alpha:         float | None = None # significance level (default 0.05)
    correction:    str = "none"        # none | fdr | maxt
    local_lambda_max: float = 1.0      # last lambda of the TP/TN local sequences
    lambda_max:    float = 4.0         # lambda search: largest lambda tried
    tol:           float = 0.01        # lambda search tolerance (log scale when log_scale)
    max_calls:     int = 60            # lambda search: model-call budget per patient
    attributions:  tuple[str, ...] | None = None  # None: all when the model has gradients
    images:        tuple[str, ...] | None = None  # TP, TN, FP, FN image ids (None: automatic)
    direction:     str = "truth"       # truth | prediction: classes defining the local direction
    prediction_column: str = "prediction"
    extra_methods: tuple[str, ...] = ()  # more registered methods to run on every case (gvr, ...)
    oracle:        bool = False        # measure global sequences with the virtual cohort's oracle
    seed:          int = 0
    batch_size:    int = 64


def _check(cfg: ExplainConfig) -> None:
    if cfg.direction not in ("truth", "prediction"):
        raise OptionError(f"--direction {cfg.direction}: choose truth or prediction")
    if cfg.log_scale and cfg.threshold <= 0:
        raise OptionError(f"--threshold {cfg.threshold:g}: must be positive on the log scale")
    if cfg.frames < 3:
        raise OptionError(f"--frames {cfg.frames}: need at least 3")
    if not (cfg.tol > 0 and cfg.lambda_max > 0 and cfg.local_lambda_max > 0):
        raise OptionError("--tol, --lambda-max and --local-lambda-max must be positive")


def _scale(values: np.ndarray, log_scale: bool, what: str) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64)
    if not log_scale:
        return v
    if (v[np.isfinite(v)] <= 0).any():
        raise InputError(f"{what}: has values <= 0, which have no log (pass --no-log)")
    return np.log(v)


# -- the seam to the latent stage: every call into seegaan.latent's sequences is here -----

def _global(ae, table: LatentTable, feature: str, cfg: ExplainConfig):
    from seegaan.latent import global_sequence
    from seegaan.units import unit_of

    res = global_sequence(ae, table, feature, frames=cfg.frames, split=cfg.split,
                          feature_type="quantitative", permutations=cfg.permutations, alpha=cfg.alpha,
                          correction=cfg.correction, seed=cfg.seed)
    # Both sequences (truth and prediction) are in the target's units: label them so.
    res.unit = unit_of(cfg.target)
    return res


def _write(result, out_dir: Path) -> None:
    from seegaan.latent import write_sequence

    write_sequence(result, out_dir, mp4=False)


def _load_oracle(table: LatentTable) -> Any:
    """The oracle of the table's cohort version (``cohort_version``; absent: 1), or the reason
    there is none. A missing oracle of that version fails now, in one line, before any work."""
    try:
        from seegaan.cohort.version import oracle_for, table_cohort_version
    except ImportError as err:
        return f"seegaan.cohort.oracle unavailable ({err})"
    return oracle_for(table_cohort_version(table))


def _oracle_measure(frames: np.ndarray, oracle: Any) -> dict[str, Any]:
    """Ground-truth factors of a sequence's frames by the virtual cohort's oracle."""
    if isinstance(oracle, str):
        return {"available": False, "reason": oracle}
    df = oracle.predict(torch.from_numpy(frames[:, None].astype(np.float32)))
    out: dict[str, Any] = {"available": True}
    for col in df.columns:
        v = df[col].to_numpy(dtype=np.float64)
        out[col] = {"first": float(v[0]), "last": float(v[-1]), "change": float(v[-1] - v[0])}
    # The virtual cohort's true causal drivers of BNPP: a larger heart, thinner chest-wall fat.
    if "gt_ctr" in out and "gt_fat" in out:
        out["heart_enlarges"] = out["gt_ctr"]["change"] > 0
        out["chest_wall_fat_thins"] = out["gt_fat"]["change"] < 0
    return out


# -----------------------------------------------------------------------------------------

@renamed_keywords(log="echo")
def explain(checkpoint: str | os.PathLike, latents: str | os.PathLike | LatentTable,
            out_dir: str | os.PathLike, *, model: ExplainableModel | None = None,
            predictions_csv: str | os.PathLike | None = None,
            data_dir: str | os.PathLike | None = None,
            config: ExplainConfig | None = None,
            attribution_settings: AttributionSettings | None = None,
            autoencoder=None, overwrite: bool = False, echo=None,
            on_step=None) -> dict[str, Any]:
    """Run the whole CNN explanation and write ``out_dir`` atomically; returns the summary.

    ``autoencoder`` may be passed pre-loaded (tests, notebooks); otherwise ``checkpoint`` is
    loaded with :func:`seegaan.load_autoencoder`. ``echo`` receives progress lines (for
    people); ``on_step`` receives the name of each step as it starts (``"global"``,
    ``"cases"``), for programs that track progress.
    """
    step = on_step or (lambda _name: None)
    cfg = config or ExplainConfig()
    _check(cfg)
    say = echo or (lambda _msg: None)
    t_start = time.perf_counter()
    timings: dict[str, float] = {}
    check_output(out_dir, overwrite)
    table = latents if isinstance(latents, LatentTable) else load_latents(latents)
    meta = table.meta
    oracle = _load_oracle(table) if cfg.oracle else None
    if cfg.target not in meta.columns:
        raise InputError(f"--target {cfg.target}: no such column in the latent table")
    if "split" not in meta.columns and cfg.split != "all":
        raise InputError("latent table has no 'split' column; use --split all")
    in_split = (np.ones(len(meta), bool) if cfg.split == "all"
                else (meta["split"].astype(str) == cfg.split).to_numpy())
    if not in_split.any():
        raise InputError(f"--split {cfg.split}: no rows of the latent table are in this split")
    truth = np.asarray(meta[cfg.target], dtype=np.float64)
    has_truth = in_split & np.isfinite(truth)
    check_threshold(truth[has_truth], cfg.threshold, cfg.target)
    attr_methods = _attribution_methods(model, cfg)

    # 1. Predictions ------------------------------------------------------------------------
    t0 = time.perf_counter()
    pcol = cfg.prediction_column
    source = None
    if predictions_csv is not None:
        table = merge_predictions_csv(table, predictions_csv, column=pcol, overwrite=True)
        pred_source = f"csv:{predictions_csv}"
    elif model is not None:
        source = TableImages(table, data_dir)
        rows = np.flatnonzero(in_split)
        preds = np.full(len(meta), np.nan)
        say(f"predicting {len(rows)} image{'s' * (len(rows) != 1)} ({'every split' if cfg.split == 'all' else cfg.split + ' split'}) with {model.name}")
        for i in range(0, len(rows), cfg.batch_size):
            r = rows[i:i + cfg.batch_size]
            preds[r] = model.predict(source.load(r), batch_size=cfg.batch_size)
        table = LatentTable(meta.copy(), table.w, dict(table.info))
        table.meta[pcol] = preds
        pred_source = f"model:{model.name}"
    elif pcol in meta.columns:
        pred_source = f"column:{pcol}"
    else:
        raise OptionError(f"no predictions: pass --model, --predictions CSV, or a latent table "
                          f"with a '{pcol}' column (from `seegaan predict`)")
    meta = table.meta
    pred = np.asarray(meta[pcol], dtype=np.float64)
    usable = has_truth & np.isfinite(pred)
    if not usable.any():
        raise InputError(f"column {pcol}: no finite prediction among the {cfg.split} images")
    timings["predict_s"] = time.perf_counter() - t0

    # Feature columns the latent stage regresses on / groups by.
    tname = f"log_{cfg.target}" if cfg.log_scale else cfg.target
    pname = f"log_{pcol}" if cfg.log_scale else f"{pcol}_value"
    cname = f"{cfg.target}>{cfg.threshold:g}"
    pcname = f"{pcol}>{cfg.threshold:g}"
    work = meta.copy()
    work[tname] = np.where(usable, _scale(np.where(usable, truth, 1.0), cfg.log_scale, cfg.target), np.nan)
    work[pname] = np.where(usable, _scale(np.where(usable, pred, 1.0), cfg.log_scale, pcol), np.nan)
    work[cname] = np.where(usable, (truth > cfg.threshold).astype(float), np.nan)
    work[pcname] = np.where(usable, (pred > cfg.threshold).astype(float), np.nan)
    wtable = LatentTable(work, table.w, dict(table.info))
    metrics = summarise(pred[usable], truth[usable], cfg.threshold, cfg.log_scale)

    # 3. Selection (before loading the autoencoder: a bad --images fails in a second) -------
    rows = np.flatnonzero(usable)
    ids = meta["image_id"].astype(str).to_numpy()
    picks_local = select_cases(truth[rows], pred[rows], cfg.threshold, ids[rows], cfg.images)
    picks = {c: (None if k is None else int(rows[k])) for c, k in picks_local.items()}
    cats = categorise(truth[rows], pred[rows], cfg.threshold)
    counts = {c: int((cats == c).sum()) for c in CATEGORIES}

    if autoencoder is None:
        import seegaan

        autoencoder = seegaan.load_autoencoder(checkpoint)
    ae = autoencoder
    from seegaan.latent import check_compatible

    check_compatible(ae, table, str(checkpoint))
    group_col = cname if cfg.direction == "truth" else pcname
    grp = work[group_col].to_numpy()
    w_pos = table.w[usable & (grp == 1.0)].mean(axis=0)
    w_neg = table.w[usable & (grp == 0.0)].mean(axis=0)
    if not (np.isfinite(w_pos).all() and np.isfinite(w_neg).all()):
        raise InputError(f"--direction {cfg.direction}: one class is empty in split {cfg.split}, "
                         "so there is no direction between class means")

    summary: dict[str, Any] = {
        "artefact": "explain", "checkpoint": str(checkpoint), "latents": str(latents) if not isinstance(latents, LatentTable) else None,
        "config": asdict(cfg), "predictions": {"source": pred_source, "column": pcol, **metrics},
        "model": model.describe() if model is not None else None,
        "categories": counts, "cases": {}, "files": {},
    }
    with atomic_dir(out_dir, overwrite=overwrite) as tmp:
        # 2. Global sequences -------------------------------------------------------------
        step("global")
        t0 = time.perf_counter()
        globals_ = {}
        for key, feature in (("truth", tname), ("prediction", pname)):
            say(f"global sequence for {feature} ({cfg.permutations} permutations)")
            res = _global(ae, wtable, feature, cfg)
            _write(res, tmp / f"global_{key}")
            globals_[key] = res
            summary["files"][f"global_{key}"] = f"global_{key}/"
        _side_by_side(globals_, tmp / "global_side_by_side.png")
        summary["files"]["global_side_by_side"] = "global_side_by_side.png"
        summary["global"] = {k: _global_summary(r) for k, r in globals_.items()}
        if cfg.oracle:
            summary["oracle"] = {k: _oracle_measure(r.frames, oracle) for k, r in globals_.items()}
        timings["global_s"] = time.perf_counter() - t0

        # 4-6. Every method on every case, each saved in its own folder ------------------
        step("cases")
        t0 = time.perf_counter()
        source = source or TableImages(table, data_dir)
        ctx = Context(model=model, autoencoder=ae, table=table, target=cfg.target,
                      threshold=cfg.threshold, log_scale=cfg.log_scale, seed=cfg.seed,
                      options={**(attribution_settings or AttributionSettings(seed=cfg.seed)).options(),
                               "seegaan_local": {"frames": cfg.frames,
                                                 "lambda_max": cfg.local_lambda_max},
                               "seegaan_lambda": {"tol": cfg.tol, "lambda_max": cfg.lambda_max,
                                                  "max_calls": cfg.max_calls}})
        manifest_cases = []
        for cat in CATEGORIES:
            row = picks[cat]
            if row is None:
                summary["cases"][cat] = {"image_id": None,
                                         "note": f"the model made no {DESCRIPTIONS[cat]} in split {cfg.split}"}
                continue
            # Current = the class the model assigns now; desired = the true class. For TP/TN
            # they agree and the local sequence heads for the other class; for FP/FN the
            # λ search moves the patient from the model's (wrong) class towards the truth.
            current, desired = (w_pos, w_neg) if pred[row] > cfg.threshold else (w_neg, w_pos)
            image = source.load(np.array([row]))
            case = Case(ids[row], image, w=table.w[row], category=cat, truth=float(truth[row]),
                        prediction=float(pred[row]), direction=desired - current)
            sequence = "seegaan_local" if cat in ("TP", "TN") else "seegaan_lambda"
            names = [*attr_methods, sequence, *cfg.extra_methods]
            say(f"{cat} {case.image_id}: {', '.join(names)}")
            record = {"image_id": case.image_id, "category": cat, "truth": case.truth,
                      "prediction": case.prediction, "methods": {}}
            folder = case_folder(tmp, case.image_id, "_").parent
            folder.mkdir(parents=True, exist_ok=True)
            np.save(folder / "image.npy", image[0, 0].numpy().astype(np.float32))
            record["folder"] = folder.relative_to(tmp).as_posix()
            record["image"] = f"{record['folder']}/image.npy"
            if model is not None:
                with torch.no_grad():
                    recon = ae.decode(torch.from_numpy(table.w[row:row + 1].astype(np.float32))
                                      .to(ae.device)).float().cpu()
                record["prediction_on_reconstruction"] = float(model.predict(recon)[0])
            for name in names:
                exp = _run_method(name, case, ctx)
                save_explanation(exp, case_folder(tmp, case.image_id, name))
                record["methods"][name] = exp.status
                if name == "seegaan_lambda" and exp.status not in ("skipped", "failed"):
                    lam = exp.scalars.get("lam")   # None when the search did not reach the target
                    at = "" if lam is None else f" at λ={lam:.3g}"
                    say(f"  {cat}: {exp.status}{at} after {exp.scalars.get('calls')} model calls")
            manifest_cases.append(record)
            summary["cases"][cat] = {k: v for k, v in record.items() if k != "methods"}
        timings["cases_s"] = time.perf_counter() - t0
        write_manifest(tmp, manifest_cases, [*attr_methods, "seegaan_local", "seegaan_lambda",
                                             *cfg.extra_methods], extra={
            "target": cfg.target, "threshold": cfg.threshold, "log_scale": cfg.log_scale,
            "gradcam_layer": getattr(model, "gradcam_layer_name", None) if "gradcam" in attr_methods else None,
            "global": {"truth": {"dir": "global_truth", "feature": tname, "column": cfg.target},
                       "prediction": {"dir": "global_prediction", "feature": pname, "column": pcol}}})
        if manifest_cases:
            from seegaan.explain.figure import fig6_from_manifest

            fig6_from_manifest(tmp, tmp / "fig6.png")
            summary["files"]["fig6"] = "fig6.png"
        summary["files"]["manifest"] = "manifest.json"
        summary["attributions"] = {"methods": list(attr_methods),
                                   "skipped_reason": _attr_skip_reason(model, attr_methods)}
        timings["total_s"] = time.perf_counter() - t_start
        summary["timings_s"] = {k: round(v, 3) for k, v in timings.items()}
        write_json(tmp / "summary.json", summary)
    return summary


def _run_method(name: str, case: Case, ctx: Context) -> Explanation:
    """One method on one case; a method that cannot run here is recorded as skipped, not raised."""
    method = get_method(name)
    why = method.unavailable(ctx)
    if why:
        return method.explanation(status="skipped", message=why)
    return method.run(case, ctx)


def _attribution_methods(model: ExplainableModel | None, cfg: ExplainConfig) -> tuple[str, ...]:
    if cfg.attributions is not None:  # asked for explicitly: refuse what cannot be done
        if cfg.attributions and model is None:
            raise OptionError("--attributions: need --model (a predictions CSV has no gradients)")
        needing = [m for m in cfg.attributions if get_method(m).needs_gradients]
        if needing:
            model.require_gradients(", ".join(needing))
        if cfg.attributions:
            if "gradcam" in cfg.attributions and model.gradcam_layer() is None:
                raise OptionError(f"--attributions gradcam: unavailable for {model.name} "
                                  f"({model.gradcam_unavailable})")
        return tuple(cfg.attributions)
    if model is None:
        return ()
    if not model.supports_gradients:  # forward-only models still get Occlusion
        return tuple(m for m in METHODS if not get_method(m).needs_gradients)
    return tuple(m for m in METHODS if m != "gradcam" or model.gradcam_layer() is not None)


def _attr_skip_reason(model: ExplainableModel | None, methods: tuple[str, ...]) -> str | None:
    if model is None:
        return "no model given"
    if not model.supports_gradients:
        return f"{model.model_format} models give predictions only"
    if "gradcam" not in methods and model.gradcam_layer() is None:
        return f"Grad-CAM: {model.gradcam_unavailable}"
    return None


def _global_summary(res) -> dict[str, Any]:
    s = res.summary()
    keep = ("title", "values", "n_images", "permutations", "significant_fraction_overall",
            "max_abs_diff", "min_pvalue")
    return {k: s[k] for k in keep if k in s}


def _side_by_side(results: dict[str, Any], path: Path) -> None:
    """Ground-truth and prediction sequences, frames over tested subtractions, one figure."""
    # The Figure API, not pyplot: drawing never switches the backend of a user's notebook.
    from matplotlib.figure import Figure

    from seegaan.units import original_scale, value_text
    from seegaan.viz import DIFF_CMAP, save_figure, symmetric_limit

    keys = list(results)
    n = max(len(r.values) for r in results.values())
    fig = Figure(figsize=(1.5 * n + 0.8, 3.2 * len(keys)), layout="constrained")
    axes = fig.subplots(2 * len(keys), n, squeeze=False)
    shown = {k: (r.masked_diffs if r.masked_diffs is not None else r.diffs) for k, r in results.items()}
    vlim = symmetric_limit(np.concatenate([s for s in shown.values()]))
    im = None
    for i, k in enumerate(keys):
        r = results[k]
        # log_bnpp 4.47 is shown as 87.4 pg/mL: nobody reads BNPP in log units.
        name, shown_values, unit = original_scale(r.feature, r.values, r.unit)
        for t in range(n):
            a, b = axes[2 * i, t], axes[2 * i + 1, t]
            if t < len(r.values):
                a.imshow(r.frames[t], cmap="gray", vmin=-1, vmax=1)
                a.set_title(value_text(shown_values[t], unit), fontsize=7)
                im = b.imshow(shown[k][t], cmap=DIFF_CMAP, vmin=-vlim, vmax=vlim)
            for ax in (a, b):
                ax.set_xticks([])
                ax.set_yticks([])
        axes[2 * i, 0].set_ylabel(f"{k}\n{name}" + (f" ({unit})" if unit else ""), fontsize=8)
        axes[2 * i + 1, 0].set_ylabel("tested\nsubtraction" if r.test is not None else "subtraction",
                                      fontsize=8)
    if im is not None:
        fig.colorbar(im, ax=axes.ravel().tolist(), fraction=0.02, pad=0.01)
    fig.suptitle("Global sequences: ground truth vs model prediction (frame − frame 0)", fontsize=9)
    save_figure(fig, path)   # a pyplot-free Figure is freed with its last reference
