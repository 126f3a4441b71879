"""Latent predictors: small models from a latent code w to a target (GVR's "simple models").

GVR explains a prediction made *on the latent code*, so the model it explains is a cheap
function of w whose gradient is exact and costs no decoding. Two kinds, as in the paper:

- ``linear``: ridge regression (continuous target, on the log scale with ``log``) or
  L2-regularised logistic regression (0/1 target); the penalty is chosen on a validation
  part of the fitting rows;
- ``mlp``: one hidden layer, weight decay and early stopping on the same validation part.
  ``early_stopping=False, weight_decay=0`` trains it to memorise (the bias test's
  deliberately overfitted predictor).

Inputs are standardised per latent dimension with the fitting rows' mean and SD, stored in
the model, so the predictor takes raw w. A predictor directory holds ``model.safetensors``
and ``predictor.json`` (config, latent width, held-out scores); it is never pickled.

Example::

    table = load_latents("latents.parquet")
    pred, report = fit_predictor(table, PredictorConfig(target="bnpp", architecture="linear"))
    report["heldout"]["auc"], report["heldout"]["r2"]
    save_predictor(pred, "runs/gvr/pred")
    pred = load_predictor("runs/gvr/pred")
    pred.original(pred(torch.from_numpy(table.w)))      # BNPP in pg/mL
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from seegaan.errors import CheckpointError, InputError, OptionError
from seegaan.utils.fsio import atomic_dir, write_json
from seegaan.utils.renamed import renamed_fields, upgrade_keys

ARCHITECTURES = ("linear", "mlp")
TASKS = ("auto", "regression", "classification")
FORMAT = "seegaan-gvr-predictor"
WEIGHTS, CONFIG = "model.safetensors", "predictor.json"


@renamed_fields(kind="architecture", log="log_scale")
@dataclass
class PredictorConfig:
    target:         str = "bnpp"     # column of the latent table to predict
    architecture:   str = "linear"   # linear | mlp
    log_scale:      bool = True      # regress log(target) (positive targets only)
    threshold:      float = 400.0    # cut-off on the original scale (probability for 0/1 targets)
    task:           str = "auto"     # auto (0/1 column: classification) | regression | classification
    hidden:         int = 64         # mlp: hidden units
    penalty:        float | None = None  # linear: L2 strength per row; None = chosen on validation
    weight_decay:   float = 1e-2     # mlp: AdamW weight decay (0 = none)
    epochs:         int = 400        # mlp: full-batch epochs at most
    lr:             float = 3e-3     # mlp: Adam learning rate
    early_stopping: bool = True      # mlp: keep the epoch with the best validation loss
    holdout:        float = 0.2      # share of patients held out for the score (no 'train' split)
    val:            float = 0.2      # share of the fitting patients used to choose penalty / epoch
    seed:           int = 0

    def check(self) -> None:
        if self.architecture not in ARCHITECTURES:
            raise OptionError(f"--architecture {self.architecture}: choose from {', '.join(ARCHITECTURES)}")
        if self.task not in TASKS:
            raise OptionError(f"--task {self.task}: choose from {', '.join(TASKS)}")
        if not 0.0 <= self.holdout < 0.9 or not 0.0 < self.val < 0.9:
            raise OptionError(f"--holdout {self.holdout:g} / val {self.val:g}: must lie in [0, 0.9)")
        if self.hidden < 1 or self.epochs < 1:
            raise OptionError("--hidden and --epochs must be at least 1")


class LatentPredictor(nn.Module):
    """w (raw latent) -> one number on the *scaled* axis: log target, target, or logit.

    ``cutoff`` is the threshold on that axis; :meth:`original` maps back to the target's
    units (exp, identity, or a probability).
    """

    def __init__(self, w_dim: int, architecture: str = "linear", hidden: int = 64) -> None:
        super().__init__()
        self.w_dim, self.architecture, self.hidden = int(w_dim), architecture, int(hidden)
        self.register_buffer("w_mean", torch.zeros(w_dim))
        self.register_buffer("w_std", torch.ones(w_dim))
        self.register_buffer("y_mean", torch.zeros(()))
        self.register_buffer("y_std", torch.ones(()))
        # Mean distance of the latents from their centre: the unit of GVR's step and penalty.
        self.register_buffer("spread", torch.ones(()))
        if architecture == "linear":
            self.net = nn.Linear(w_dim, 1)
        else:
            # SiLU, not ReLU: a smooth predictor gives a smooth rationale path.
            self.net = nn.Sequential(nn.Linear(w_dim, hidden), nn.SiLU(), nn.Linear(hidden, 1))
        self.task, self.log_scale, self.target, self.threshold = "regression", True, "target", 0.0
        self.meta: dict[str, Any] = {}

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        x = (w.to(self.w_mean.dtype) - self.w_mean) / self.w_std
        return self.net(x)[..., 0] * self.y_std + self.y_mean

    @property
    def cutoff(self) -> float:
        """The threshold on the scaled axis."""
        return self.scale(self.threshold)

    def scale(self, value: float) -> float:
        """A value in the target's units -> the predictor's axis (log, identity or logit)."""
        if self.task == "classification":
            if not 0.0 < value < 1.0:
                raise OptionError(f"target {value:g}: a probability must lie strictly between 0 and 1")
            return math.log(value / (1.0 - value))
        if self.log_scale:
            if value <= 0:
                raise OptionError(f"target {value:g}: must be positive on the log scale")
            return math.log(value)
        return float(value)

    def original(self, v: torch.Tensor | np.ndarray | float) -> np.ndarray:
        """The predictor's axis -> the target's units."""
        v = np.asarray(v.detach().cpu() if torch.is_tensor(v) else v, dtype=np.float64)
        if self.task == "classification":
            return 1.0 / (1.0 + np.exp(-v))
        return np.exp(v) if self.log_scale else v

    @torch.no_grad()
    def predict(self, w: np.ndarray | torch.Tensor) -> np.ndarray:
        """Scaled predictions for ``(N, w_dim)`` latents, as float64 numpy."""
        return self(torch.from_numpy(np.array(w, dtype=np.float32))).double().numpy()

    def describe(self) -> str:
        units = "logit" if self.task == "classification" else ("log " if self.log_scale else "") + self.target
        return f"{self.architecture} {self.task} predictor of {units} (cut-off {self.threshold:g})"


# -- rows ---------------------------------------------------------------------------------

def target_values(table, cfg: PredictorConfig) -> tuple[np.ndarray, str]:
    """The target on the predictor's axis (NaN where missing) and the resolved task."""
    meta = table.meta
    if cfg.target not in meta.columns:
        numeric = [c for c in meta.columns if pd.api.types.is_numeric_dtype(meta[c])]
        raise InputError(f"--target {cfg.target}: no such column in the latent table "
                         f"(numeric columns: {', '.join(map(str, numeric)) or 'none'})")
    y = pd.to_numeric(meta[cfg.target], errors="coerce").to_numpy(dtype=np.float64)
    finite = y[np.isfinite(y)]
    if len(finite) < 10:
        raise InputError(f"--target {cfg.target}: only {len(finite)} numeric values, need at least 10")
    binary = set(np.unique(finite)) <= {0.0, 1.0}
    task = cfg.task if cfg.task != "auto" else ("classification" if binary else "regression")
    if task == "classification":
        if not binary:
            raise InputError(f"--target {cfg.target}: classification needs a 0/1 column")
        return y, task
    if cfg.log_scale:
        if (finite <= 0).any():
            raise InputError(f"--target {cfg.target}: has values <= 0, which have no log (pass --no-log)")
        y = np.log(np.where(np.isfinite(y), y, np.nan))
    return y, task


def split_rows(meta: pd.DataFrame, holdout: float, seed: int) -> tuple[np.ndarray, np.ndarray, str]:
    """Boolean masks (fit, held-out) and how they were made.

    A table with ``train`` and ``test`` rows is used as split (val rows join the fit). Else
    patients (``patient_id``, or images) are drawn at random, so that no patient is in both.
    """
    n = len(meta)
    if "split" in meta.columns:
        s = meta["split"].astype(str).to_numpy()
        if (s == "train").any() and (s == "test").any():
            return np.isin(s, ["train", "val"]), s == "test", "table split: train+val / test"
    groups = (meta["patient_id"] if "patient_id" in meta.columns else meta["image_id"]
              if "image_id" in meta.columns else pd.Series(np.arange(n))).astype(str).to_numpy()
    held = _draw_groups(groups, holdout, seed)
    return ~held, held, f"random {holdout:.0%} of patients held out (seed {seed})"


def _draw_groups(groups: np.ndarray, share: float, seed: int) -> np.ndarray:
    uniq = np.unique(groups)
    rng = np.random.default_rng(seed)
    k = int(round(share * len(uniq)))
    chosen = set(rng.permutation(uniq)[:k].tolist()) if k else set()
    return np.array([g in chosen for g in groups])


# -- fitting ------------------------------------------------------------------------------

def fit_predictor(table, cfg: PredictorConfig | None = None,
                  rows: np.ndarray | None = None) -> tuple[LatentPredictor, dict[str, Any]]:
    """Fit on the table's fitting rows and score on its held-out rows.

    ``rows`` (a boolean mask) overrides the split: fit on exactly those rows and score on the
    rest (the bias test fits its overfitted predictor on a small subset this way).
    Returns the predictor and a report (``n_fit``, ``heldout`` scores, chosen penalty ...).
    """
    cfg = cfg or PredictorConfig()
    cfg.check()
    y, task = target_values(table, cfg)
    if task == "classification" and not 0.0 < cfg.threshold < 1.0:
        cfg = dataclasses.replace(cfg, threshold=0.5)
    meta = table.meta.reset_index(drop=True)
    if rows is not None:
        fit, held, how = np.asarray(rows, bool), ~np.asarray(rows, bool), "given rows"
    else:
        fit, held, how = split_rows(meta, cfg.holdout, cfg.seed)
    ok = np.isfinite(y)
    fit, held = fit & ok, held & ok
    if fit.sum() < 5:
        raise InputError(f"--target {cfg.target}: only {int(fit.sum())} rows to fit on")
    w = np.asarray(table.w, dtype=np.float32)
    model = LatentPredictor(w.shape[1], cfg.architecture, cfg.hidden)
    model.task, model.log_scale, model.target = task, cfg.log_scale and task == "regression", cfg.target
    model.threshold = float(cfg.threshold)
    _standardise(model, w[fit], y[fit], task)
    torch.manual_seed(cfg.seed)
    groups = (meta["patient_id"] if "patient_id" in meta.columns else pd.Series(np.arange(len(meta))))
    val_in_fit = _draw_groups(groups.astype(str).to_numpy()[fit], cfg.val, cfg.seed + 1)
    if len(np.unique(val_in_fit)) < 2:  # too few patients for a validation part
        val_in_fit = np.arange(fit.sum()) % 5 == 0
    x = torch.from_numpy(w[fit])
    t = torch.from_numpy(y[fit].astype(np.float32))
    if cfg.architecture == "linear":
        info = _fit_linear(model, x, t, torch.from_numpy(val_in_fit), cfg)
    else:
        info = _fit_mlp(model, x, t, torch.from_numpy(val_in_fit), cfg)
    model.eval().requires_grad_(False)
    report = {"target": cfg.target, "architecture": cfg.architecture, "task": task, "log_scale": model.log_scale,
              "threshold": model.threshold, "split": how, "n_fit": int(fit.sum()),
              "fit": score(model, w[fit], y[fit]), "heldout": score(model, w[held], y[held]),
              "config": dataclasses.asdict(cfg), **info}
    model.meta = report
    return model, report


def _standardise(model: LatentPredictor, w: np.ndarray, y: np.ndarray, task: str) -> None:
    mean = w.mean(0)
    std = w.std(0)
    model.w_mean.copy_(torch.from_numpy(mean))
    model.w_std.copy_(torch.from_numpy(np.where(std > 1e-8, std, 1.0)))
    model.spread.fill_(float(np.sqrt(((w - mean) ** 2).sum(1)).mean()) or 1.0)
    if task == "regression":
        model.y_mean.fill_(float(y.mean()))
        model.y_std.fill_(float(y.std()) or 1.0)


def _loss(model: LatentPredictor, out: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    if model.task == "classification":
        return nn.functional.binary_cross_entropy_with_logits(out, t)
    return ((out - t) / model.y_std).pow(2).mean()


def _fit_linear(model: LatentPredictor, x: torch.Tensor, t: torch.Tensor, val: torch.Tensor,
                cfg: PredictorConfig) -> dict[str, Any]:
    """Ridge in closed form (regression) or L-BFGS (logistic); penalty chosen on ``val``."""
    xs = (x - model.w_mean) / model.w_std
    grid = [cfg.penalty] if cfg.penalty is not None else [10.0 ** k for k in range(-3, 4)]
    if len(grid) > 1 and val.any() and (~val).any():
        losses = []
        for lam in grid:
            coef, bias = _solve_linear(model, xs[~val], t[~val], lam)
            out = xs[val] @ coef + bias
            if model.task == "regression":  # the solver works on the standardised target
                out = out * model.y_std + model.y_mean
            losses.append(float(_loss(model, out, t[val])))
        best = grid[int(np.argmin(losses))]
    else:
        best, losses = grid[0], []
    coef, bias = _solve_linear(model, xs, t, best)
    with torch.no_grad():
        model.net.weight.copy_(coef[None])
        model.net.bias.fill_(float(bias))
    return {"penalty": best, "penalty_grid": grid, "validation_losses": losses}


def _solve_linear(model: LatentPredictor, xs: torch.Tensor, t: torch.Tensor,
                  lam: float) -> tuple[torch.Tensor, torch.Tensor]:
    n, d = xs.shape
    if model.task == "regression":
        ys = ((t - model.y_mean) / model.y_std).double()
        xd = xs.double()
        xm = xd.mean(0)
        xc = xd - xm
        a = xc.T @ xc + lam * n * torch.eye(d, dtype=torch.float64)
        coef = torch.linalg.solve(a, xc.T @ (ys - ys.mean()))
        bias = ys.mean() - xm @ coef
        return coef.float(), bias.float()
    coef = torch.zeros(d, requires_grad=True)
    bias = torch.zeros((), requires_grad=True)
    opt = torch.optim.LBFGS([coef, bias], max_iter=200, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = nn.functional.binary_cross_entropy_with_logits(xs @ coef + bias, t) + lam * coef.pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return coef.detach(), bias.detach()


def _fit_mlp(model: LatentPredictor, x: torch.Tensor, t: torch.Tensor, val: torch.Tensor,
             cfg: PredictorConfig) -> dict[str, Any]:
    """Full-batch AdamW; with early stopping, the weights of the best validation epoch."""
    use_val = cfg.early_stopping and bool(val.any()) and bool((~val).any())
    tr = ~val if use_val else torch.ones_like(val)
    opt = torch.optim.AdamW(model.net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    best, best_state, best_epoch = math.inf, None, cfg.epochs
    for epoch in range(cfg.epochs):
        model.train()
        opt.zero_grad()
        loss = _loss(model, model(x[tr]), t[tr])
        loss.backward()
        opt.step()
        if use_val:
            model.eval()
            with torch.no_grad():
                v = float(_loss(model, model(x[val]), t[val]))
            if v < best:
                best, best_epoch = v, epoch + 1
                best_state = {k: p.detach().clone() for k, p in model.net.state_dict().items()}
    if best_state is not None:
        model.net.load_state_dict(best_state)
    return {"epochs_run": cfg.epochs, "best_epoch": best_epoch, "early_stopping": use_val,
            "final_train_loss": float(loss.detach())}


def score(model: LatentPredictor, w: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    """R² on the predictor's axis and AUC at the cut-off (NaN when a class is missing)."""
    from seegaan.explain.metrics import auc, r2

    if len(y) == 0:
        return {"n": 0}
    p = model.predict(w)
    labels = y > 0.5 if model.task == "classification" else y > model.cutoff
    out: dict[str, Any] = {"n": int(len(y)), "auc": auc(labels, p)}
    if model.task == "regression":
        out["r2"] = r2(y, p)
        out["r2_scale"] = "log" if model.log_scale else "linear"
    else:
        out["accuracy"] = float(((p > 0) == labels).mean())
    return out


# -- files --------------------------------------------------------------------------------

def save_predictor(model: LatentPredictor, path: str | os.PathLike, overwrite: bool = False) -> Path:
    """Write ``path/model.safetensors`` and ``path/predictor.json`` (atomically)."""
    from safetensors.torch import save_file

    record = {"format": FORMAT, "version": 1, "w_dim": model.w_dim, "architecture": model.architecture,
              "hidden": model.hidden, "task": model.task, "log_scale": model.log_scale,
              "target": model.target, "threshold": model.threshold, "report": model.meta}
    with atomic_dir(path, overwrite=overwrite) as tmp:
        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(tmp / WEIGHTS))
        write_json(tmp / CONFIG, record)
    return Path(path)


def load_predictor(path: str | os.PathLike) -> LatentPredictor:
    """Read a predictor directory written by :func:`save_predictor` (never unpickles)."""
    from safetensors.torch import load_file

    d = Path(path)
    try:
        record = json.loads((d / CONFIG).read_text())
        state = load_file(str(d / WEIGHTS))
    except FileNotFoundError as err:
        raise CheckpointError(f"{d}: not a GVR predictor ({Path(err.filename).name} missing; "
                              "make one with `seegaan gvr fit`)") from None
    except (ValueError, OSError) as err:
        raise CheckpointError(f"{d}: unreadable GVR predictor ({err})") from None
    # Files written before the rename say "kind" and "log".
    record = upgrade_keys(record, kind="architecture", log="log_scale")
    if record.get("format") != FORMAT or record.get("architecture") not in ARCHITECTURES:
        raise CheckpointError(f"{d}/{CONFIG}: not a seegaan GVR predictor")
    model = LatentPredictor(int(record["w_dim"]), record["architecture"], int(record.get("hidden", 64)))
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise CheckpointError(f"{d}/{WEIGHTS}: does not match {CONFIG} ({str(err).splitlines()[0]})") from None
    model.task, model.log_scale = record["task"], bool(record["log_scale"])
    model.target, model.threshold = record["target"], float(record["threshold"])
    model.meta = record.get("report", {})
    return model.eval().requires_grad_(False)


def check_latent_width(model: LatentPredictor, w_dim: int, where: str = "latent table") -> None:
    """One-line error when the predictor was fitted on latents of another width."""
    if int(w_dim) != model.w_dim:
        raise InputError(f"predictor: fitted on {model.w_dim}-d latents but the {where} has "
                         f"{int(w_dim)}-d latents (fit a predictor on this table with `seegaan gvr fit`)")
