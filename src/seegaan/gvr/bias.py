"""The bias and overfitting test: do a correct and an overfitted predictor's rationales differ?

The GVR paper had two radiologists read 100 rationales from a correctly trained predictor and
100 from a deliberately overfitted one, and count the heart-failure features each showed
(cardiomegaly 76.5% vs 32%). Here the readers are replaced by the virtual cohort's oracle,
which reads the anatomical factors off any image, so every count is measured:

1. fit the **correct** predictor (regularised linear, penalty chosen on validation) on the
   fitting patients, and the **overfitted** one (an MLP, no weight decay, no early stopping,
   trained to memorise ``n_small`` fitting films);
2. take ``n_films`` held-out films with a true target above the cut-off (diseased);
3. for each film and predictor, the rationale to "healthy": **[decision]** down to the cut-off,
   and at least ``min_drop`` (predictor axis) below the start, so that a predictor that
   already calls the film healthy still shows what it would remove;
4. decode start and end, read heart size (CTR), pleural effusion, congestion, chest-wall fat
   and device with the oracle, and take end − start;
5. **[decision]** a change is *clear* when it exceeds the 95th percentile of the same
   factor's change under random latent moves of the same length (one per film): the change
   a rationale would show by chance. Heart, effusion and congestion must fall and fat must
   rise (the healthy direction of the cohort's causal model); device counts either way.

Shares come with 95% bootstrap intervals over films, and the paired difference (same films)
with its own interval. The paper's pooled readers' shares stand beside them.

Example::

    result = bias_test(ae, table, out="runs/gvr/bias")
    result["table"]                    # DataFrame: factor, correct %, overfitted %, CIs, paper
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from seegaan.errors import InputError, OptionError
from seegaan.gvr.predictor import PredictorConfig, fit_predictor, split_rows
from seegaan.gvr.rationale import RationaleConfig, find_rationale
from seegaan.utils.renamed import renamed_keywords

# factor -> (oracle column, healthy direction: -1 falls, +1 rises, 0 either, label, paper row)
FACTORS = {
    "heart size":       ("gt_ctr", -1, "cardiomegaly", (76.5, 32.0)),
    "effusion":         ("gt_effusion", -1, "effusion", (23.5, 8.0)),
    "congestion":       ("gt_congestion", -1, "airspace opacity", (17.5, 6.0)),
    "chest-wall fat":   ("gt_fat", +1, "reduced body mass", (72.5, 16.0)),
    "device":           ("gt_device", 0, "—", (None, None)),
}
CHF = ("heart size", "effusion", "congestion")
PAPER_NO_CHF = (20.0, 63.5)


@dataclass
class BiasConfig:
    n_films:     int = 60          # held-out diseased films rated (the test needs >= 50)
    n_small:     int = 40          # films the overfitted MLP memorises
    hidden:      int = 128         # overfitted MLP's hidden units
    epochs:      int = 200         # overfitted MLP's full-batch epochs (enough to memorise)
    min_drop:    float = 0.5       # each rationale lowers the prediction at least this much
    beta:        float = 0.5       # rationale proximity weight
    step:        float = 0.002     # rationale step, share of the latent spread
    max_steps:   int = 3000
    null_quantile: float = 0.95    # "clear change" = beyond this quantile of random moves
    bootstrap:   int = 2000        # bootstrap resamples for the intervals
    seed:        int = 0
    pairs:       int = 6           # films shown in bias_pairs.png

    def check(self) -> None:
        if self.n_films < 2 or self.n_small < 2:
            raise OptionError("--n-films and --n-small must be at least 2")
        if not 0.5 <= self.null_quantile < 1:
            raise OptionError(f"null_quantile {self.null_quantile:g}: must lie in [0.5, 1)")
        if self.min_drop < 0 or self.bootstrap < 1:
            raise OptionError("--min-drop must be >= 0 and --bootstrap at least 1")


def fit_pair(table, target: str, log_scale: bool, threshold: float, cfg: BiasConfig):
    """The correct and the overfitted predictor, the fitting and held-out masks."""
    meta = table.meta.reset_index(drop=True)
    fit, held, how = split_rows(meta, 0.2, cfg.seed)
    base = PredictorConfig(target=target, log_scale=log_scale, threshold=threshold, seed=cfg.seed)
    correct, rep_c = fit_predictor(table, PredictorConfig(**{**asdict(base), "architecture": "linear"}), rows=fit)
    rng = np.random.default_rng(cfg.seed + 7)
    fit_rows = np.flatnonzero(fit & np.isfinite(pd.to_numeric(meta[target], errors="coerce")))
    small = np.zeros(len(meta), bool)
    small[rng.choice(fit_rows, size=min(cfg.n_small, len(fit_rows)), replace=False)] = True
    over_cfg = PredictorConfig(**{**asdict(base), "architecture": "mlp", "hidden": cfg.hidden,
                                  "weight_decay": 0.0, "early_stopping": False,
                                  "epochs": cfg.epochs, "lr": 1e-2})
    overfit, rep_o = fit_predictor(table, over_cfg, rows=small)
    # Score both on the same held-out films (fit_predictor scored the overfitted one on all
    # the films it did not see, which includes the correct one's fitting rows).
    from seegaan.gvr.predictor import score, target_values

    y, _ = target_values(table, base)
    ok = held & np.isfinite(y)
    rep_o["heldout"] = score(overfit, table.w[ok], y[ok])
    return correct, overfit, fit, held, how, rep_c, rep_o


def prepare_test(ae, out, overwrite: bool, oracle=None, version: int | None = None):
    """Refuse an existing ``out`` before any work; the oracle to read images with.

    ``version``: the cohort version of the films it will read (default: the one the
    autoencoder was trained on); a given oracle must read that version.
    """
    from seegaan.cohort.version import ae_cohort_version, check_oracle, oracle_for

    if out is not None:
        from seegaan.utils.fsio import check_output

        check_output(out, overwrite)
    version = version or ae_cohort_version(ae)
    if oracle is None:
        oracle = oracle_for(version, int(ae.image_size))
    check_oracle(oracle, version)
    return oracle


@renamed_keywords(log="log_scale", say="echo")
def bias_test(ae, table, out: str | os.PathLike | None = None, target: str = "bnpp",
              log_scale: bool = True, threshold: float = 400.0, config: BiasConfig | None = None,
              oracle=None, overwrite: bool = False,
              echo: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run the test; write ``out`` (table CSV/MD, films.csv, bias.json, bias_pairs.png) when given."""
    from seegaan.latent import decode_latents

    cfg = config or BiasConfig()
    cfg.check()
    say = echo or (lambda _line: None)
    from seegaan.cohort.version import ae_cohort_version, table_cohort_version

    # The decoded films are read as films of the table's cohort (default: the autoencoder's).
    oracle = prepare_test(ae, out, overwrite, oracle,
                          table_cohort_version(table, default=ae_cohort_version(ae)))
    t0 = time.perf_counter()
    correct, overfit, fit, held, how, rep_c, rep_o = fit_pair(table, target, log_scale, threshold, cfg)
    say(f"correct: {correct.describe()}, held-out AUC {rep_c['heldout'].get('auc', float('nan')):.3f}; "
        f"overfitted: MLP on {rep_o['n_fit']} films, fit AUC {rep_o['fit'].get('auc', float('nan')):.3f}, "
        f"held-out AUC {rep_o['heldout'].get('auc', float('nan')):.3f}")
    truth = pd.to_numeric(table.meta[target], errors="coerce").to_numpy(dtype=np.float64)
    rows = np.flatnonzero(held & (truth > threshold))
    if len(rows) < 2:
        raise InputError(f"bias test: only {len(rows)} held-out films with {target} > {threshold:g}")
    rng = np.random.default_rng(cfg.seed)
    rows = np.sort(rng.choice(rows, size=min(cfg.n_films, len(rows)), replace=False))
    w0 = table.w[rows]
    rcfg = RationaleConfig(beta=cfg.beta, step=cfg.step, max_steps=cfg.max_steps, keep_path=False)
    results = {}
    for name, pred in (("correct", correct), ("overfitted", overfit)):
        start = pred.predict(w0)
        goal = np.minimum(pred.cutoff, start - cfg.min_drop)
        results[name] = find_rationale(pred, w0, goal, rcfg)
    # Random moves of the same length: what a rationale shows by chance.
    dist = np.mean([results[k].distance for k in results], axis=0)
    u = rng.standard_normal(w0.shape).astype(np.float32)
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    w_null = w0 + dist[:, None].astype(np.float32) * u
    codes = np.concatenate([w0, results["correct"].w, results["overfitted"].w, w_null])
    images = decode_latents(ae, codes)
    read = oracle.predict(images[:, None])
    n = len(rows)
    parts = {k: read.iloc[i * n:(i + 1) * n].reset_index(drop=True)
             for i, k in enumerate(("start", "correct", "overfitted", "null"))}
    films, table_rows, thresholds = _score(parts, rows, table, results, cfg)
    say(f"{n} films rated; clear heart-size change: correct {table_rows[0]['correct %']:.1f}%, "
        f"overfitted {table_rows[0]['overfitted %']:.1f}%")
    df = pd.DataFrame(table_rows)
    summary = {"artefact": "gvr-bias-test", "target": target, "log_scale": log_scale, "threshold": threshold,
               "config": asdict(cfg), "split": how, "n_films": n,
               "correct": _brief(rep_c), "overfitted": _brief(rep_o),
               "rationales": {k: {"reached": int(sum(s == "reached" for s in r.status)),
                                  "median_steps": float(np.median(r.steps)),
                                  "median_distance_per_spread": float(np.median(r.distance) / float(correct.spread))}
                              for k, r in results.items()},
               "clear_change_thresholds": thresholds, "table": df.to_dict("records"),
               "seconds": round(time.perf_counter() - t0, 2)}
    if out is not None:
        _write(out, summary, df, films, images, n, rows, table, results, cfg, overwrite)
    summary["table_frame"] = df
    return summary


def _brief(rep: dict[str, Any]) -> dict[str, Any]:
    return {k: rep.get(k) for k in ("architecture", "n_fit", "fit", "heldout", "penalty", "best_epoch",
                                    "final_train_loss")}


def _score(parts: dict[str, pd.DataFrame], rows: np.ndarray, table, results, cfg: BiasConfig):
    """Per-film changes, the clear-change thresholds, and the table with bootstrap intervals."""
    rng = np.random.default_rng(cfg.seed + 11)
    n = len(rows)
    boot = rng.integers(0, n, size=(cfg.bootstrap, n))
    films = pd.DataFrame({"image_id": table.meta["image_id"].astype(str).to_numpy()[rows]})
    clear: dict[str, dict[str, np.ndarray]] = {"correct": {}, "overfitted": {}}
    thresholds = {}
    for factor, (col, sign, _, _) in FACTORS.items():
        null = np.abs(parts["null"][col] - parts["start"][col]).to_numpy()
        thr = float(np.quantile(null, cfg.null_quantile))
        thresholds[factor] = thr
        for k in clear:
            d = (parts[k][col] - parts["start"][col]).to_numpy()
            films[f"{k} d_{col}"] = d
            clear[k][factor] = (np.abs(d) > thr) if sign == 0 else (sign * d > thr)
    for k in clear:
        clear[k]["no CHF feature"] = ~np.any([clear[k][f] for f in CHF], axis=0)
        films[f"{k} status"] = results[k].status
        films[f"{k} steps"] = results[k].steps
    out = []
    for factor in list(FACTORS) + ["no CHF feature"]:
        c, o = clear["correct"][factor].astype(float), clear["overfitted"][factor].astype(float)
        paper = FACTORS[factor][3] if factor in FACTORS else PAPER_NO_CHF
        row = {"factor": factor, "paper finding": FACTORS[factor][2] if factor in FACTORS else "no CHF feature",
               "correct %": 100 * c.mean(), "correct 95% CI": _ci(c[boot].mean(1)),
               "overfitted %": 100 * o.mean(), "overfitted 95% CI": _ci(o[boot].mean(1)),
               "difference 95% CI": _ci((c - o)[boot].mean(1)),
               "paper correct %": paper[0], "paper overfitted %": paper[1],
               "clear change >": thresholds.get(factor)}
        out.append(row)
    return films, out, thresholds


def _ci(values: np.ndarray) -> str:
    lo, hi = np.percentile(100 * values, [2.5, 97.5])
    return f"{lo:.1f} to {hi:.1f}"


def _markdown(df: pd.DataFrame) -> str:
    cols = [c for c in df.columns if c != "clear change >"]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for _, r in df.iterrows():
        cells = []
        for c in cols:
            v = r[c]
            cells.append("—" if v is None or (isinstance(v, float) and np.isnan(v))
                         else f"{v:.1f}" if isinstance(v, float) else str(v))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _write(out, summary, df, films, images, n, rows, table, results, cfg, overwrite) -> None:
    from seegaan.gvr.overlay import OverlayRow, save_overlay
    from seegaan.utils.fsio import atomic_dir, write_json

    with atomic_dir(out, overwrite=overwrite) as tmp:
        df.to_csv(tmp / "bias_table.csv", index=False)
        (tmp / "bias_table.md").write_text(_markdown(df))
        films.to_csv(tmp / "films.csv", index=False)
        write_json(tmp / "bias.json", summary)
        k = min(cfg.pairs, n)
        ids = table.meta["image_id"].astype(str).to_numpy()[rows]
        pick = np.linspace(0, n - 1, k).round().astype(int) if k else []
        rows_fig = [OverlayRow(f"{ids[i]}", images[i], images[i],
                               [("correct", images[n + i]), ("overfitted", images[2 * n + i])],
                               original_label="G(w₀) (background)")
                    for i in pick]
        if rows_fig:
            save_overlay(rows_fig, tmp / "bias_pairs.png",
                         title="Rationales to healthy: correct (left overlay) vs overfitted (right)")
