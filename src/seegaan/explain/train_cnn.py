"""Training the reference CNN (``seegaan cnn train``): a ResNet regressing log BNPP.

The recipe is deliberately plain — Adam, cosine learning-rate decay, small random shifts,
MSE on the standardised log target, the epoch with the best validation R² kept — because
the CNN is the *subject* of the explanations, not their contribution. Metrics are reported
on the test split: R² (log scale) and the AUC of the prediction for target > threshold.

``shortcut_check`` adds a bias report for cohorts rendered with ``seegaan cohort
--shortcut`` (a pacemaker-like device correlated with AHF): AUC and mean log-scale residual
within each device stratum, and how much of the predicted log BNPP rides on the device.

Example::

    cfg = CNNTrainConfig(epochs=12, arch="resnet18")
    metrics = train_cnn("data/cohort64", "runs/cnn", cfg)
    metrics["test"]["auc"]        # e.g. 0.87
"""

from __future__ import annotations

import copy
import json
import math
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from seegaan.data.prepared import PreparedDataset
from seegaan.errors import InputError, OptionError
from seegaan.explain.adapter import InputAdapter
from seegaan.explain.metrics import auc, r2
from seegaan.explain.reference_cnn import ARCHS, CNNArch, ReferenceCNN, save_reference_cnn
from seegaan.utils.fsio import atomic_dir, check_output
from seegaan.utils.progress import progress
from seegaan.utils.renamed import renamed_fields, renamed_keywords

SHORTCUT_NO_DEVICE = ("--shortcut-check: the dataset has no 'device' column (render the cohort "
                      "with `seegaan cohort --shortcut`, then prepare it)")


@renamed_fields(log="log_scale")
@dataclass
class CNNTrainConfig:
    target:        str = "bnpp"      # numeric column of the prepared dataset
    log_scale:     bool = True       # regress log(target); needs target > 0
    threshold:     float = 400.0     # AUC reported for target > threshold (pg/mL for BNPP)
    arch:          str = "resnet10"  # resnet10 | resnet18 | resnet34 (torchvision BasicBlock ResNets)
    epochs:        int = 6           # passes over the training split
    batch_size:    int = 64
    lr:            float = 1e-3      # Adam, cosine-decayed to 1% over the run
    weight_decay:  float = 1e-4
    shift:         int = 3           # random translation of up to +-shift pixels (0 = none)
    seed:          int = 0
    max_train:     int | None = None # cap on training images (quick runs)
    shortcut_check: bool = False     # report device-stratified metrics (see module docstring)
    threads:       int | None = None # torch CPU threads (None: torch's default)


def _targets(ds: PreparedDataset, cfg: CNNTrainConfig) -> np.ndarray:
    if cfg.target not in ds.index.columns:
        cols = ", ".join(c for c in ds.index.columns if not c.startswith("_"))
        raise InputError(f"--target {cfg.target}: no such column in {ds.root} (columns: {cols})")
    y = np.asarray(ds.index[cfg.target], dtype=np.float64)
    bad = ~np.isfinite(y) | ((y <= 0) if cfg.log_scale else False)
    if bad.any():
        why = "not positive (log needs > 0)" if cfg.log_scale else "missing or not finite"
        row = ds.index.iloc[int(np.flatnonzero(bad)[0])]
        raise InputError(f"{ds.root}: image {row['image_id']}, column {cfg.target}: {why} "
                         f"({int(bad.sum())} such rows)")
    return np.log(y) if cfg.log_scale else y


def _random_shift(x: torch.Tensor, shift: int, gen: torch.Generator) -> torch.Tensor:
    """Translate each image by up to +-shift pixels (replicate padding keeps edges natural)."""
    if shift <= 0:
        return x
    n, _, s, _ = x.shape
    padded = F.pad(x, (shift, shift, shift, shift), mode="replicate")
    offs = torch.randint(0, 2 * shift + 1, (n, 2), generator=gen)
    return torch.stack([padded[i, :, dy:dy + s, dx:dx + s] for i, (dy, dx) in enumerate(offs.tolist())])


@torch.no_grad()
def _predict(model: ReferenceCNN, x: torch.Tensor, batch: int = 256) -> np.ndarray:
    model.eval()
    return torch.cat([model(x[i:i + batch])[:, 0] for i in range(0, len(x), batch)]).numpy()


def evaluate(pred_log: np.ndarray, y_log: np.ndarray, cfg: CNNTrainConfig) -> dict[str, float]:
    """R² on the regression scale and AUC for target > threshold (in the target's units)."""
    thr = math.log(cfg.threshold) if cfg.log_scale else cfg.threshold
    labels = y_log > thr
    return {"n": int(len(y_log)), "r2": r2(y_log, pred_log), "auc": auc(labels, pred_log),
            "rmse": float(np.sqrt(np.mean((pred_log - y_log) ** 2))),
            "positives": int(labels.sum()),
            "accuracy_at_threshold": float(np.mean((pred_log > thr) == labels))}


def small_split_warnings(metrics: dict[str, Any], n_val: int) -> list[str]:
    """Plain-language warnings when the validation or test scores cannot mean much."""
    out = []
    for split in ("val", "test"):
        m = metrics[split]
        if not math.isfinite(m["r2"]) or not math.isfinite(m["auc"]):
            out.append(f"{split} R² or AUC is undefined with {m['n']} image(s) "
                       f"({m['positives']} above the threshold); the scores need at least two "
                       "images and both classes. Prepare with a larger split, or more films")
        elif m["n"] < 20:
            out.append(f"{split} scores rest on only {m['n']} images; read them as rough")
    if n_val < 2:
        out.append(f"the validation split has {n_val} image(s), so no epoch could be chosen by "
                   "validation R²; the last epoch was kept")
    return out


def shortcut_report(model, pred_log: np.ndarray, y_log: np.ndarray, meta, cfg: CNNTrainConfig,
                    size: int, version: int = 1) -> dict[str, Any]:
    """Per-device-stratum metrics, and the model's device on/off Δŷ on fresh cohort subjects.

    The device's effect is measured by switching the pacemaker on and off in the same
    rendered film (:func:`seegaan.validate.interventional.device_reliance`): a residual gap
    between strata cannot show it, since a model that uses the device *properly* has none.
    The fresh films are of cohort ``version``, the one the model was trained on.
    """
    from seegaan.validate.interventional import device_reliance

    if "device" not in meta.columns:
        raise InputError(SHORTCUT_NO_DEVICE)
    dev = np.asarray(meta["device"], dtype=float) > 0.5
    out: dict[str, Any] = {"n_device": int(dev.sum()), "n_no_device": int((~dev).sum())}
    for name, mask in (("device", dev), ("no_device", ~dev)):
        if mask.sum() >= 2:
            out[name] = evaluate(pred_log[mask], y_log[mask], cfg)
    with torch.no_grad():
        out["device_on_off"] = device_reliance(lambda x: model(x)[:, 0], size, version=version)
    return out


@renamed_keywords(log="echo")
def train_cnn(data_dir: str | os.PathLike, out_dir: str | os.PathLike,
              cfg: CNNTrainConfig | None = None, overwrite: bool = False,
              echo=None) -> dict[str, Any]:
    """Train, evaluate on the test split, and write the CNN directory atomically.

    ``echo`` is an optional callable receiving one line per epoch (the CLI prints them).
    Returns the metrics written to ``metrics.json``.
    """
    cfg = cfg or CNNTrainConfig()
    if cfg.arch not in ARCHS:
        raise OptionError(f"--arch {cfg.arch}: unknown (choose from {', '.join(ARCHS)})")
    if cfg.epochs < 1 or cfg.batch_size < 2:
        raise OptionError("--epochs must be >= 1 and --batch-size >= 2")
    if cfg.threshold <= 0 and cfg.log_scale:
        raise OptionError(f"--threshold {cfg.threshold}: must be positive with --log")
    check_output(out_dir, overwrite)
    if cfg.threads:
        torch.set_num_threads(int(cfg.threads))
    t_start = time.perf_counter()
    splits = {}
    for split in ("train", "val", "test"):
        try:
            splits[split] = PreparedDataset(data_dir, split=split)
        except InputError as err:
            raise InputError(f"{err} (the CNN needs train, val and test splits)") from None
    y = {k: _targets(ds, cfg) for k, ds in splits.items()}
    if cfg.shortcut_check and "device" not in splits["test"].index.columns:
        raise InputError(SHORTCUT_NO_DEVICE)
    gen = torch.Generator().manual_seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    n_train = len(splits["train"])
    if cfg.max_train and cfg.max_train < n_train:
        keep = np.sort(torch.randperm(n_train, generator=gen)[:cfg.max_train].numpy())
    else:
        keep = np.arange(n_train)
    x = {k: ds.load_images() for k, ds in splits.items()}
    x["train"], y["train"] = x["train"][keep], y["train"][keep]
    size = int(x["train"].shape[-1])

    model = ReferenceCNN(CNNArch(arch=cfg.arch))
    mu, sd = float(y["train"].mean()), float(y["train"].std() or 1.0)
    model.y_mean.fill_(mu)
    model.y_std.fill_(sd)
    ytr = torch.from_numpy(((y["train"] - mu) / sd).astype(np.float32))
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps_per_epoch = math.ceil(len(ytr) / cfg.batch_size)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.epochs * steps_per_epoch,
                                                       eta_min=cfg.lr * 0.01)
    best = (-math.inf, None, 0)
    history = []
    for epoch in range(1, cfg.epochs + 1):
        model.train()
        t0 = time.perf_counter()
        order = torch.randperm(len(ytr), generator=gen)
        total = 0.0
        for i in progress(range(0, len(order), cfg.batch_size), desc=f"epoch {epoch}", unit="batch"):
            idx = order[i:i + cfg.batch_size]
            if len(idx) < 2:  # BatchNorm needs two images
                continue
            xb = _random_shift(x["train"][idx], cfg.shift, gen)
            # The model's head de-standardises; train on the standardised scale for a
            # well-conditioned loss, so undo the head here.
            out = (model(xb)[:, 0] - model.y_mean[0]) / model.y_std[0]
            loss = F.mse_loss(out, ytr[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(idx)
        val = evaluate(_predict(model, x["val"]), y["val"], cfg)
        row = {"epoch": epoch, "train_mse_std": total / len(ytr), "val_r2": val["r2"],
               "val_auc": val["auc"], "seconds": round(time.perf_counter() - t0, 2)}
        history.append(row)
        if echo:
            echo(f"epoch {epoch}/{cfg.epochs}: train MSE {row['train_mse_std']:.3f} (standardised), "
                 f"val R² {val['r2']:.3f}, val AUC {val['auc']:.3f}, {row['seconds']:.0f}s")
        # R² is NaN on a validation split of fewer than two images (or a constant target);
        # then keep the last epoch rather than none at all.
        score = val["r2"] if math.isfinite(val["r2"]) else -math.inf
        if best[1] is None or score > best[0]:
            best = (score, copy.deepcopy(model.state_dict()), epoch)
    model.load_state_dict(best[1])
    model.eval()
    metrics: dict[str, Any] = {"best_epoch": best[2]}
    for split in ("val", "test"):
        metrics[split] = evaluate(_predict(model, x[split]), y[split], cfg)
    metrics["warnings"] = small_split_warnings(metrics, len(y["val"]))
    for line in metrics["warnings"]:
        if echo:
            echo(f"warning: {line}")
    if cfg.shortcut_check:
        from seegaan.cohort.version import dataset_cohort_version

        metrics["shortcut"] = shortcut_report(model, _predict(model, x["test"]), y["test"],
                                              splits["test"].index, cfg, size,
                                              dataset_cohort_version(data_dir))
    metrics["train_seconds"] = round(time.perf_counter() - t_start, 1)
    adapter = InputAdapter(size=size, value_range=(-1.0, 1.0), channels=1, output_index=0,
                           log_output=cfg.log_scale, label=f"log {cfg.target}" if cfg.log_scale else cfg.target)
    config = {"input_adapter": adapter.to_dict(), "training": asdict(cfg),
              "data_dir": str(Path(data_dir).resolve()), "n_train": int(len(ytr)),
              "target_scale": {"mean": mu, "std": sd, "log_scale": cfg.log_scale}, "metrics": metrics}
    with atomic_dir(out_dir, overwrite=overwrite) as tmp:
        save_reference_cnn(model, tmp, config)
        (tmp / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
        (tmp / "history.jsonl").write_text("".join(json.dumps(h) + "\n" for h in history))
    return metrics
