"""``seegaan benchmark``: every registered explanation method, on models of known reliance,
scored against interventional truth.

Steps (all written atomically into ``OUT``):

1. train (or load) the models of :mod:`seegaan.validate.known_models`;
2. render the benchmark subjects and their counterfactuals (:mod:`...interventional`), and
   measure each model's true reliance profile Δŷ;
3. encode the subjects with the autoencoder (SEE-GAAN methods) and measure how faithful the
   autoencoder path is: Pearson r and median |Δ| between f(x) and f(G(E(x)));
4. run every method of the registry (and its variants) on every subject and model: pixel
   methods on all subjects, sequence methods on the first ``sequence_subjects``;
5. score them (:mod:`...scoring`) and write ``scores.csv``/``.md``/``.json``, a figure per
   model and a ranking heat map (:mod:`...figures`).

The table is built from the registry, so a method registered later (GVR, medXGAN, a user's
own) appears without a change here.

Example::

    summary = run_benchmark("bench", BenchmarkConfig.make(quick=True))
    summary["shortcut_test"]["passing"]        # methods that rank the device 1st/2nd on the
                                               # shortcut model and not 1st on the reference
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from seegaan.errors import OptionError, SeegaanError
from seegaan.explain.methods import SEQUENCE, Case, Context, get_method, names
from seegaan.medxgan.finetune import FinetuneConfig
from seegaan.utils.renamed import renamed_keywords
from seegaan.validate.interventional import (
    FACTOR_NAMES,
    INTERVENTIONS,
    benchmark_subjects,
    factor_values,
    reliance_profile,
    subject_truths,
)
from seegaan.validate.known_medxgan import MedXGANFinetune
from seegaan.validate.known_models import MODELS, KnownModelsConfig
from seegaan.validate.metrics import bootstrap_ci, spearman
from seegaan.validate.scoring import (
    DEVICE,
    oracle_map,
    score_pixel_map,
    sequence_attribution,
)

TRUTH = "(truth)"
AUTOENCODER = "(autoencoder)"
NOT_METHODS = (TRUTH, AUTOENCODER)    # rows that describe a model, not a method's map
RANDOM = "(random map)"
ORACLE = "(oracle map)"
# Metrics, in table order, with what "good" means (for the ranking figure).
METRICS = {"reliance": "high", "pointing": "high", "auroc": "high", "deletion": "high",
           "sanity": "low", "device_rank": "low", "frame0_gap": "low"}
MAIN_MODELS = MODELS[:4]     # the randomised control is scored too, but ranks on the others


@dataclass
class BenchmarkConfig:
    quick:        bool = False
    subjects:     int = 50          # benchmark subjects (pixel methods run on all of them)
    sequence_subjects: int = 16     # the first n also get the (decoder-bound) sequence methods
    size:         int = 64          # film side, pixels
    seed:         int = 1000        # subjects (the models use models.seed)
    n_boot:       int = 1000        # bootstrap resamples of subjects for each CI
    methods:      tuple[str, ...] | None = None  # None: every registered method
    local_frames: int = 4           # frames of the SEE-GAAN local sequence
    lambda_tol:   float = 0.05      # λ search tolerance (model score units)
    lambda_max_calls: int = 8       # λ search budget per subject
    figure_subjects: int = 5        # rows of each model's figure
    checkpoint:   str | None = None # autoencoder (None: the bundled demo64)
    cohort_version: int = 0         # films rendered; 0: the autoencoder's own cohort version
    models:       KnownModelsConfig = field(default_factory=KnownModelsConfig)
    medxgan:      MedXGANFinetune = field(default_factory=MedXGANFinetune)  # its generators
    # medXGAN inversion (restarts, Adam steps): a quarter of the method's default (4 x 150)
    # because it runs on every sequence subject of five models.
    medxgan_inversion: tuple[int, int] = (2, 75)

    @classmethod
    def make(cls, quick: bool = False, **options: Any) -> BenchmarkConfig:
        """The full or ``--quick`` configuration, with any field overridden by ``options``."""
        sizes: dict[str, Any] = {}
        if quick:
            sizes = dict(subjects=10, sequence_subjects=2, n_boot=300, figure_subjects=2,
                         lambda_max_calls=6, models=KnownModelsConfig(n_train=300, epochs=5, batch_size=16),
                         medxgan=MedXGANFinetune(FinetuneConfig(steps=15)))
        given = {k: v for k, v in options.items() if v is not None}
        cfg = cls(quick=quick, **{**sizes, **given})
        cfg.check()
        return cfg

    def check(self) -> None:
        if self.subjects < 2:
            raise OptionError(f"--subjects {self.subjects}: need at least 2")
        if not 0 <= self.sequence_subjects <= self.subjects:
            raise OptionError(f"--sequence-subjects {self.sequence_subjects}: between 0 and "
                              f"--subjects ({self.subjects})")
        if self.local_frames < 2:
            raise OptionError(f"local frames {self.local_frames}: need at least 2")
        for m in self.methods or ():
            get_method(m)  # unknown names fail here, in one line

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["models"]["shortcut_p"] = list(self.models.shortcut_p)
        d["models"]["device_p"] = list(self.models.device_p)
        d["medxgan_inversion"] = list(self.medxgan_inversion)
        return d


def method_rows(methods: tuple[str, ...] | None = None) -> list[tuple[str, str, dict[str, Any]]]:
    """``(row name, method name, options)`` for every method and variant, in registry order."""
    out = []
    for name in methods or names():
        m = get_method(name)
        out.append((name, name, {}))
        for vname, opts in getattr(m, "variants", {}).items():
            out.append((f"{name}+{vname}", name, opts))
    return out


# -- running ---------------------------------------------------------------------------------

def _encode(ae, images: np.ndarray, batch: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """Latent codes and reconstructions of (N, S, S) images."""
    ws, recs = [], []
    with torch.no_grad():
        for i in range(0, len(images), batch):
            x = torch.from_numpy(images[i:i + batch, None]).to(ae.device)
            w = ae.encode(x)
            ws.append(w.float().cpu().numpy())
            recs.append(ae.decode(w).float().cpu().numpy()[:, 0])
    return np.concatenate(ws), np.concatenate(recs)


def _fidelity(model, x: np.ndarray, recon: np.ndarray) -> dict[str, float]:
    fx = model.predict_scores(torch.from_numpy(x[:, None]))
    fr = model.predict_scores(torch.from_numpy(recon[:, None]))
    r = float(np.corrcoef(fx, fr)[0, 1]) if np.ptp(fx) > 0 and np.ptp(fr) > 0 else float("nan")
    return {"fidelity_r": r, "fidelity_median_abs_diff": float(np.median(np.abs(fx - fr)))}


def _cases(model, truths, w: np.ndarray | None) -> list[Case]:
    """One case per subject; sequence methods move towards the other half of the model's scores."""
    x = torch.from_numpy(np.stack([t.image for t in truths])[:, None])
    s = model.predict_scores(x)
    med = float(np.median(s))
    spread = float(np.quantile(s, 0.9) - np.quantile(s, 0.1)) or 1.0
    d = None
    if w is not None:
        hi, lo = s > med, s <= med
        if hi.any() and lo.any():
            d = w[hi].mean(0) - w[lo].mean(0)
    cases = []
    for i, t in enumerate(truths):
        up = s[i] <= med
        target = s[i] + (0.5 if up else -0.5) * spread
        cases.append(Case(t.subject.image_id, x[i:i + 1], w=None if w is None else w[i],
                          prediction=float(s[i]),
                          meta={"lambda_target": float(np.exp(target))},  # the λ search compares logs
                          direction=None if d is None else (d if up else -d)))
    return cases


def _run(rows, models, truths, w, ae, cfg: BenchmarkConfig, say,
         generators: dict[str, str] | None = None) -> dict:
    """``{(row, model): [Explanation | None per subject]}``. ``generators``: each model's
    medXGAN checkpoint (:mod:`seegaan.validate.known_medxgan`)."""
    from seegaan.utils.progress import progress

    results: dict[tuple[str, str], list] = {}
    for mname, model in models.items():
        cases = _cases(model, truths, w)
        for row, method_name, opts in rows:
            method = get_method(method_name)
            options = _options(cfg)
            options[method_name] = {**options.get(method_name, {}), **opts}
            ctx = Context(model=model, autoencoder=ae, log_scale=True, seed=cfg.seed,
                          options=options)
            if method_name == "gvr" and w is not None:
                ctx = _gvr_context(ctx, cases, w)
            if method_name == "medxgan" and generators and mname in generators:
                options["medxgan"].setdefault("checkpoint", generators[mname])
            why = method.unavailable(ctx)
            n = cfg.sequence_subjects if method.kind == SEQUENCE else len(cases)
            # Latent sequences move along the cases' direction; medXGAN has its own latents.
            if why or (method.kind == SEQUENCE and method.needs_autoencoder
                       and cases[0].direction is None):
                say(f"{row} on {mname}: skipped ({why or 'no latent direction'})")
                results[(row, mname)] = [None] * len(cases)
                continue
            out = []
            for c in progress(cases[:n], desc=f"{row} · {mname}", unit="subject", leave=False):
                try:
                    out.append(method.run(c, ctx))
                except SeegaanError as err:  # one case a method cannot do is a finding, not a crash
                    out.append(method.explanation(status="failed", message=str(err)))
            results[(row, mname)] = out + [None] * (len(cases) - n)
    return results


def _gvr_context(ctx: Context, cases: list[Case], w: np.ndarray) -> Context:
    """GVR explains a predictor of the latent code; here that predictor is fitted to *this
    model's* scores on the subjects' latents, so its rationale explains the model (the
    paper fits it to the labels, which would explain the labels instead). The cut-off is the
    median score, the same split the sequence methods move across."""

    from seegaan.latent.store import LatentTable

    scores = np.array([c.prediction for c in cases], dtype=np.float64)
    meta = pd.DataFrame({"image_id": [c.image_id for c in cases], "model_score": scores})
    return Context(model=ctx.model, autoencoder=ctx.autoencoder,
                   table=LatentTable(meta, np.asarray(w, dtype=np.float32), {}),
                   target="model_score", threshold=float(np.median(scores)), log_scale=False,
                   seed=ctx.seed, options=ctx.options)


def _options(cfg: BenchmarkConfig) -> dict[str, dict[str, Any]]:
    # 16 IG steps: the benchmark's small CNNs are smooth enough, and IG runs 50 x 5 times.
    # Occlusion in non-overlapping 8-pixel patches: 64 forward passes per film instead of 225.
    return {"seegaan_local": {"frames": cfg.local_frames},
            "seegaan_lambda": {"tol": cfg.lambda_tol, "max_calls": cfg.lambda_max_calls},
            "medxgan": {"restarts": cfg.medxgan_inversion[0], "steps": cfg.medxgan_inversion[1]},
            "ig": {"steps": 16}, "occlusion": {"window": cfg.size // 8, "stride": cfg.size // 8}}


# -- scoring ----------------------------------------------------------------------------------

def _sequence_change(oracle, exp) -> np.ndarray:
    """(F,) oracle-read change of each factor from the first frame to the last (NaN: no readout)."""
    df = oracle.predict(np.stack([exp.frames[0], exp.frames[-1]])[:, None])
    return np.array([float(df[iv.oracle].iloc[1] - df[iv.oracle].iloc[0])
                     if iv.oracle in df.columns else np.nan for iv in INTERVENTIONS])


def _intervention_change(oracle, truths) -> np.ndarray:
    """(n, F) oracle-read change of each factor's own intervention, high − low."""
    out = np.full((len(truths), len(INTERVENTIONS)), np.nan)
    for i, t in enumerate(truths):
        df_lo = oracle.predict(t.low[:, None])
        df_hi = oracle.predict(t.high[:, None])
        for f, iv in enumerate(INTERVENTIONS):
            if iv.oracle in df_lo.columns:
                out[i, f] = df_hi[iv.oracle].iloc[f] - df_lo[iv.oracle].iloc[f]
    return out


def score_all(results, models, truths, dy: dict[str, np.ndarray], cfg: BenchmarkConfig,
              oracle=None) -> pd.DataFrame:
    """Long table: one row per (method, model, subject, metric)."""
    recs = []
    iv_change = _intervention_change(oracle, truths) if oracle is not None else None
    rng = np.random.default_rng(cfg.seed)
    for mname, model in models.items():
        for i, t in enumerate(truths):
            base = {RANDOM: rng.random(t.image.shape), ORACLE: oracle_map(dy[mname][i], t)}
            for row, sal in base.items():
                for k, v in score_pixel_map(sal, dy[mname][i], t, model.score).items():
                    recs.append((row, mname, i, k, v))
    for (row, mname), exps in results.items():
        model = models[mname]
        for i, exp in enumerate(exps):
            if exp is None:
                continue
            t = truths[i]
            sal = exp.pixel_map()
            attr = None
            if exp.kind == SEQUENCE and oracle is not None and exp.frames is not None:
                attr = sequence_attribution(_sequence_change(oracle, exp), iv_change[i])
            if sal is not None:
                for k, v in score_pixel_map(sal, dy[mname][i], t, model.score,
                                            attribution=attr).items():
                    recs.append((row, mname, i, k, v))
            if exp.kind == SEQUENCE and exp.frames is not None:
                # Does the sequence start where the film is, in the model's eyes? Frame 0 is
                # scored here, on the model's own scale, whatever units a method's
                # ``predictions`` are in (medXGAN keeps the target's units).
                f0 = float(model.predict_scores(torch.from_numpy(exp.frames[:1, None].astype(np.float32)))[0])
                recs.append((row, mname, i, "frame0_gap", abs(f0 - exp_case_score(model, t))))
            if mname == "reference" and ("randomised" in models):
                other = results.get((row, "randomised"), [None] * len(exps))[i]
                if other is not None and sal is not None and other.pixel_map() is not None:
                    recs.append((row, mname, i, "sanity",
                                 spearman(np.abs(sal), np.abs(other.pixel_map()))))
    return pd.DataFrame(recs, columns=["method", "model", "subject", "metric", "value"])


def exp_case_score(model, truth) -> float:
    return float(model.predict_scores(torch.from_numpy(truth.image[None, None]))[0])


def summarise(long: pd.DataFrame, extra: list[tuple[str, str, str, np.ndarray]],
              n_boot: int, seed: int) -> pd.DataFrame:
    """(method, model, metric, value, ci_low, ci_high, n): mean over subjects, bootstrap CI."""
    rows = []
    for (method, model, metric), g in long.groupby(["method", "model", "metric"], sort=False):
        v = g["value"].to_numpy(dtype=float)
        mean, lo, hi = bootstrap_ci(v, n_boot=n_boot, seed=seed)
        rows.append((method, model, metric, mean, lo, hi, int(np.isfinite(v).sum())))
    for method, model, metric, v in extra:
        mean, lo, hi = bootstrap_ci(v, n_boot=n_boot, seed=seed)
        rows.append((method, model, metric, mean, lo, hi, int(np.isfinite(v).sum())))
    return pd.DataFrame(rows, columns=["method", "model", "metric", "value", "ci_low", "ci_high", "n"])


def shortcut_test(long: pd.DataFrame) -> dict[str, Any]:
    """Which methods find the device shortcut, and which only find the device.

    ``ranks_device_on_shortcut``: mean device rank over subjects ≤ 2 on the shortcut model;
    ``device_first_on_reference``: mean rank < 1.5 on the reference model, whose device Δŷ is
    near zero (the device first on most subjects; a cut at exactly 1.0 would excuse a method
    that puts it first on 9 of 10); ``passing``: the first and not the second. A method that
    ranks the device first on both models is drawn to the device itself (e.g. to bright
    metal), not to what the model uses, so it does not pass."""
    d = long[long["metric"] == "device_rank"]
    mean = d.groupby(["method", "model"])["value"].mean()
    out: dict[str, Any] = {"shortcut_device_rank": {}, "reference_device_rank": {}}
    for (method, model), v in mean.items():
        if model == "shortcut":
            out["shortcut_device_rank"][method] = float(v)
        elif model == "reference":
            out["reference_device_rank"][method] = float(v)
    real = [m for m in out["shortcut_device_rank"] if not m.startswith("(")]
    out["ranks_device_on_shortcut"] = [m for m in real if out["shortcut_device_rank"][m] <= 2.0]
    out["device_first_on_reference"] = [m for m in real
                                        if out["reference_device_rank"].get(m, 99) < 1.5]
    out["passing"] = [m for m in out["ranks_device_on_shortcut"]
                      if m not in out["device_first_on_reference"]]
    return out


# -- the whole run ----------------------------------------------------------------------------

@renamed_keywords(log="echo")
def run_benchmark(out_dir: str | os.PathLike, cfg: BenchmarkConfig | None = None, *,
                  models_dir: str | os.PathLike | None = None, autoencoder=None,
                  overwrite: bool = False, echo=None) -> dict[str, Any]:
    """Run the benchmark into ``out_dir`` (atomically); returns the summary (``summary.json``)."""
    from seegaan.utils.fsio import atomic_dir, check_output, write_json
    from seegaan.validate import figures
    from seegaan.validate.known_models import load_known_models, train_known_models

    cfg = cfg or BenchmarkConfig()
    cfg.check()
    say = echo or (lambda _m: None)
    check_output(out_dir, overwrite)
    timings: dict[str, float] = {}
    t_all = time.perf_counter()
    rows = method_rows(cfg.methods)
    if not cfg.cohort_version:
        # Every film (training, explained, interventions) is drawn from the cohort the
        # autoencoder knows, and the oracle that reads the sequences follows them.
        from seegaan.cohort.version import ae_cohort_version, checkpoint_cohort_version

        cfg.cohort_version = (ae_cohort_version(autoencoder) if autoencoder is not None
                              else checkpoint_cohort_version(cfg.checkpoint))
    cfg.models.cohort_version = cfg.cohort_version
    with atomic_dir(out_dir, overwrite=overwrite) as tmp:
        t0 = time.perf_counter()
        if models_dir is not None:
            models = load_known_models(models_dir)
        else:
            models = train_known_models(tmp / "models", cfg.models, echo=say)
        timings["models_s"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        generators, gen_records = _medxgan_generators(
            rows, models, cfg, Path(models_dir) if models_dir is not None else tmp / "models",
            tmp / "medxgan", say)
        timings["medxgan_finetune_s"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        say(f"rendering {cfg.subjects} subjects x {len(INTERVENTIONS)} interventions")
        truths = subject_truths(benchmark_subjects(cfg.subjects, cfg.seed, cfg.cohort_version),
                                cfg.size)
        dy = {m: reliance_profile(models[m].score, truths) for m in models}
        timings["truth_s"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        ae, w, fidelity = autoencoder, None, {}
        needs_ae = any(get_method(m).needs_autoencoder for _, m, _ in rows)
        if needs_ae and ae is None:
            ae = _load_autoencoder(cfg, say)
        if ae is not None:
            images = np.stack([t.image for t in truths])
            w, recon = _encode(ae, images)
            fidelity = {m: _fidelity(models[m], images, recon) for m in models}
        timings["encode_s"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        results = _run(rows, models, truths, w, ae, cfg, say, generators)
        timings["methods_s"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        oracle = None
        try:
            from seegaan.cohort.version import oracle_for

            oracle = oracle_for(cfg.cohort_version, cfg.size)
        except Exception as err:  # the oracle asset is optional; sequences then score on pixels
            say(f"oracle unavailable ({err}); sequence reliance scored on their pixel maps")
        long = score_all(results, models, truths, dy, cfg, oracle)
        extra = [(TRUTH, m, f"dy_{f}", dy[m][:, k]) for m in models for k, f in enumerate(FACTOR_NAMES)]
        table = summarise(long, extra, cfg.n_boot, cfg.seed)
        fid_rows = [{"method": AUTOENCODER, "model": m, "metric": k, "value": v, "ci_low": np.nan,
                     "ci_high": np.nan, "n": len(truths)} for m, d in fidelity.items() for k, v in d.items()]
        if fid_rows:
            table = pd.concat([table, pd.DataFrame(fid_rows)], ignore_index=True)
        short = shortcut_test(long)
        timings["score_s"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        write_tables(table, tmp, gen_records)
        figs = figures.model_figures(results, models, truths, dy, tmp, cfg.figure_subjects)
        figures.ranking_figure(table, tmp / "ranking.png")
        timings["figures_s"] = time.perf_counter() - t0
        timings["total_s"] = time.perf_counter() - t_all
        summary = {"artefact": "benchmark", "config": cfg.to_dict(),
                   "methods": [r for r, _, _ in rows], "models": list(models),
                   "factors": {iv.name: {"text": iv.text, "low": factor_values()[iv.name][0],
                                         "high": factor_values()[iv.name][1]} for iv in INTERVENTIONS},
                   "true_device_dy": {m: float(np.mean(dy[m][:, DEVICE])) for m in models},
                   "shortcut_test": short, "fidelity": fidelity, "medxgan_generators": gen_records,
                   "files": {"scores": "scores.csv", "ranking": "ranking.png", "figures": figs},
                   "timings_s": {k: round(v, 2) for k, v in timings.items()}}
        write_json(tmp / "summary.json", summary)
    return summary


def _medxgan_generators(rows, models, cfg: BenchmarkConfig, cache_root: Path, fallback: Path,
                        say) -> tuple[dict[str, str], dict[str, dict[str, Any]]]:
    """Each model's medXGAN generator (the bundled one fine-tuned against it, cached beside
    the model), when medXGAN is benchmarked at the bundled generator's size; else none."""
    from seegaan.medxgan.checkpoint import load_medxgan
    from seegaan.validate.known_medxgan import medxgan_generators

    if "medxgan" not in {m for _, m, _ in rows}:
        return {}, {}
    _, info = load_medxgan(None)
    if int(info["model"]["image_size"]) != cfg.size:
        say(f"medxgan: the bundled generator makes {info['model']['image_size']} px films, the "
            f"benchmark is at {cfg.size} px; no generator to fine-tune")
        return {}, {}
    return medxgan_generators(models, cache_root, cfg.medxgan, fallback_root=fallback, echo=say,
                              cohort_version=cfg.models.cohort_version or 1)


def _load_autoencoder(cfg: BenchmarkConfig, say):
    import seegaan

    if cfg.checkpoint:
        return seegaan.load_autoencoder(cfg.checkpoint)
    from seegaan.demo.stages import _bundled_dir

    say("loading the bundled demo64 autoencoder")
    return seegaan.load_autoencoder(_bundled_dir())


def write_tables(table: pd.DataFrame, out: Path, generators: dict[str, dict] | None = None) -> None:
    """``scores.csv``, ``scores.json`` (long) and ``scores.md`` (methods × metrics per model)."""
    from seegaan.utils.fsio import write_json

    table.to_csv(out / "scores.csv", index=False, float_format="%.5g")
    write_json(out / "scores.json", {"columns": list(table.columns),
                                     "rows": table.astype(object).where(table.notna(), None).values.tolist()})
    (out / "scores.md").write_text(markdown(table, generators))


def _cell(r) -> str:
    if not np.isfinite(r.value):
        return "–"
    if np.isfinite(r.ci_low):
        return f"{r.value:.2f} [{r.ci_low:.2f}, {r.ci_high:.2f}]"
    return f"{r.value:.3g}"


def markdown(table: pd.DataFrame, generators: dict[str, dict] | None = None) -> str:
    """One methods × metrics table per model, values with their 95% CIs (and the generated-class
    accuracy of the model's medXGAN generator, when there is one)."""
    parts = []
    for model, g in table.groupby("model", sort=False):
        g = g.assign(text=[_cell(r) for r in g.itertuples()])
        truth = g[g["method"] == TRUTH]
        body = g[~g["method"].isin(NOT_METHODS)]
        wide = body.pivot(index="method", columns="metric", values="text")
        cols = [m for m in METRICS if m in wide.columns]
        wide = wide.reindex(index=list(dict.fromkeys(body["method"])), columns=cols).fillna("–")
        parts.append(f"### {model}\n")
        if len(truth):
            parts.append("True Δŷ per factor: " + ", ".join(
                f"{r.metric[3:]} {r.value:+.3f}" for r in truth.itertuples()) + "\n")
        fid = g[g["method"] == AUTOENCODER]
        if len(fid):
            parts.append("Autoencoder path: " + ", ".join(f"{r.metric} {r.value:.3f}" for r in fid.itertuples()) + "\n")
        gen = (generators or {}).get(model)
        if gen and "class_acc" in gen:
            parts.append(f"medXGAN generator fine-tuned against this model: generated-class accuracy "
                         f"{gen.get('class_acc_before', np.nan):.2f} (bundled) → {gen['class_acc']:.2f}\n")
        parts.append(_md_table(wide))
        parts.append("")
    return "\n".join(parts) + "\n"


def _md_table(df: pd.DataFrame) -> str:
    """A GitHub markdown table of a frame with an index (no optional tabulate dependency)."""
    head = [df.index.name or "", *map(str, df.columns)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join([str(i), *map(str, r)]) + " |" for i, r in zip(df.index, df.to_numpy())]
    return "\n".join(lines)
