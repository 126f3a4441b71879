"""Oracle readout: read the ground-truth factors back from any radiograph of the cohort.

A small CNN regressor, trained on freshly rendered images, ships in
``assets/oracle/`` (``model.safetensors`` + ``config.json``, ~0.9 MB). It works at every
resolution: inputs are resized to its own 64×64 and min–max normalised per image (the
prepared-dataset convention), so it reads real renders, reconstructions and generated images
alike. It is used to score explanations ("did the AHF sequence enlarge the heart?").

Example::

    oracle = load_oracle(64)
    df = oracle.predict(images)       # images (N, 1, S, S) in [-1, 1] -> DataFrame of gt_*

Retrain (about 4 minutes on 2 idle CPU cores; much longer when other jobs share them)::

    python -m seegaan.cohort.oracle --version 1     # -> src/seegaan/assets/oracle
    python -m seegaan.cohort.oracle --version 2     # -> src/seegaan/assets/oracle/v2
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from seegaan.cohort.clinical import sample_subjects
from seegaan.cohort.render import ground_truth
from seegaan.cohort.subject import Subject
from seegaan.errors import CheckpointError, OptionError
from seegaan.utils.renamed import renamed_keywords

ASSET_DIR = Path(__file__).resolve().parent.parent / "assets" / "oracle"
ASSET_DIRS = {1: ASSET_DIR, 2: ASSET_DIR / "v2"}  # one oracle per cohort version
TARGETS = ("gt_ctr", "gt_fat", "gt_breast", "gt_bmd", "gt_effusion", "gt_congestion",
           "gt_device", "gt_zoom", "gt_rotation", "gt_inspiration")
TARGETS_V2 = TARGETS + ("gt_ap", "gt_lr_marker", "gt_thorax_width", "gt_thorax_height",
                        "gt_diaphragm", "gt_heart_shift")
BINARY = ("gt_device", "gt_ap", "gt_lr_marker")  # scored by AUC, clipped to [0, 1]
# What one version-2 film shows of its four scale factors: a film zoomed by 5% and a thorax
# 5% wider look alike, and so do a deeper breath and a taller thorax. The film fixes only the
# thorax's size on the film, across and down; these products are what a reader can be held to.
SCALE_PRODUCTS = {"gt_frame_width": ("gt_zoom", "gt_thorax_width"),
                  "gt_frame_height": ("gt_zoom", "gt_thorax_height", "gt_inspiration")}


def with_scale_products(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` plus the :data:`SCALE_PRODUCTS` columns whose factors it holds (truth or readout)."""
    out = df.copy()
    for name, parts in SCALE_PRODUCTS.items():
        if all(c in out for c in parts):
            out[name] = np.prod([out[c].to_numpy(float) for c in parts], axis=0)
    return out


@dataclass
class OracleConfig:
    image_size: int = 64  # the oracle's own input resolution
    widths: tuple[int, ...] = (16, 32, 64, 96)  # channels per stage (each stage halves)
    targets: tuple[str, ...] = TARGETS
    mean: list[float] = field(default_factory=list)  # target standardisation
    std: list[float] = field(default_factory=list)
    n_train: int = 0
    seed: int = 0
    metrics: dict = field(default_factory=dict)  # held-out R² per target (AUC for BINARY, v2)
    cohort_version: int = 1  # the cohort version it reads
    train_seconds: float = 0.0  # wall time of train_oracle (render + fit + evaluate)


class OracleNet(nn.Module):
    """Conv-BN-ReLU stages with max-pooling, global average pool, linear head."""

    def __init__(self, cfg: OracleConfig):
        super().__init__()
        layers: list[nn.Module] = []
        c_in = 1
        for w in cfg.widths:
            layers += [nn.Conv2d(c_in, w, 3, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU(),
                       nn.Conv2d(w, w, 3, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU(),
                       nn.MaxPool2d(2)]
            c_in = w
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(c_in, len(cfg.targets))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).mean((2, 3)))


def _to_input(images, size: int) -> torch.Tensor:
    """(N, 1, S, S) or (N, S, S) array/tensor -> float32 (N, 1, size, size), min–max per image."""
    x = torch.as_tensor(np.asarray(images) if not torch.is_tensor(images) else images)
    x = x.detach().to("cpu", torch.float32)
    if x.ndim == 3:
        x = x[:, None]
    if x.ndim != 4 or x.shape[1] != 1:
        raise OptionError(f"images: expected shape (N, 1, S, S), got {tuple(x.shape)}")
    if x.shape[-1] != size or x.shape[-2] != size:
        x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    lo = x.amin((1, 2, 3), keepdim=True)
    hi = x.amax((1, 2, 3), keepdim=True)
    return (x - lo) / (hi - lo).clamp_min(1e-6) * 2.0 - 1.0


class Oracle:
    """The trained readout. ``predict(images)`` -> DataFrame with one ``gt_*`` column per factor."""

    def __init__(self, net: OracleNet, cfg: OracleConfig):
        self.net = net.eval()
        self.cfg = cfg
        self._mean = torch.tensor(cfg.mean)
        self._std = torch.tensor(cfg.std)

    @torch.no_grad()
    def predict(self, images, batch_size: int = 256) -> pd.DataFrame:
        x = _to_input(images, self.cfg.image_size)
        out = [self.net(x[i:i + batch_size]) for i in range(0, len(x), batch_size)]
        y = (torch.cat(out) * self._std + self._mean).numpy() if out else np.zeros((0, len(self.cfg.targets)))
        df = pd.DataFrame(y, columns=list(self.cfg.targets))
        # Physical bounds: none of these can be negative.
        for c in ("gt_fat", "gt_breast", "gt_effusion", "gt_congestion", *BINARY):
            if c in df:
                df[c] = df[c].clip(lower=0.0)
        for c in BINARY:
            if c in df:
                df[c] = df[c].clip(upper=1.0)
        return df


def load_oracle(size: int | None = None, path: str | os.PathLike | None = None,
                version: int = 1) -> Oracle:
    """The shipped oracle for cohort ``version`` (or one saved by :func:`train_oracle` at ``path``).

    ``size`` is the resolution of the images you will pass; any size works (images are
    resized to the oracle's own 64×64), it is checked only for sanity. Version-1 films need
    the version-1 oracle and version-2 films the version-2 one (``cohort.json`` says which:
    ``cohort_version``, absent for version 1).
    """
    from safetensors.torch import load_file

    if size is not None and size < 16:
        raise OptionError(f"size: the oracle needs images of at least 16 pixels (got {size})")
    if path is None and version not in ASSET_DIRS:
        raise OptionError(f"version {version!r}: choose 1 or 2")
    d = Path(path) if path is not None else ASSET_DIRS[version]
    try:
        meta = json.loads((d / "config.json").read_text())
        state = load_file(str(d / "model.safetensors"))
    except FileNotFoundError as err:
        raise CheckpointError(f"{d}: oracle files missing ({err.filename})") from None
    known = {f.name for f in dataclasses.fields(OracleConfig)}
    meta = {k: v for k, v in meta.items() if k in known}  # tolerate newer keys
    meta["widths"] = tuple(meta["widths"])
    meta["targets"] = tuple(meta["targets"])
    cfg = OracleConfig(**meta)
    net = OracleNet(cfg)
    try:
        net.load_state_dict(state)
    except RuntimeError as err:
        raise CheckpointError(f"{d}/model.safetensors: does not match config.json ({err})") from None
    return Oracle(net, cfg)


# --------------------------------------------------------------------------------------
# training
def training_subjects(n: int, seed: int, version: int = 1) -> list[Subject]:
    """Cohort subjects with each factor widened towards uniform half of the time.

    The cohort itself has few effusions, pacemakers and extreme hearts; a readout trained only
    on it would regress rare values to the mean.
    """
    base = sample_subjects(n, seed=seed, version=version)
    rng = np.random.default_rng(np.random.SeedSequence([seed, 99]))
    rng2 = np.random.default_rng(np.random.SeedSequence([seed, 98]))
    out = []
    for s in base:
        u = rng.random(8)
        ch = {}
        if u[0] < 0.5:
            ch["heart_scale"] = float(rng.uniform(0.70, 1.40))
        if u[1] < 0.5:
            ch["fat_mm"] = float(rng.uniform(0.0, 40.0))
        if u[2] < 0.4:
            ch["effusion_r_mm"] = float(rng.uniform(0.0, 90.0))
            ch["effusion_l_mm"] = float(ch["effusion_r_mm"] * rng.uniform(0.0, 1.1))
        if u[3] < 0.4:
            ch["congestion"] = float(rng.uniform(0.0, 1.0))
        if u[4] < 0.3:
            ch["device"] = int(rng.random() < 0.5)
        if u[5] < 0.5:
            ch["bmd"] = float(rng.uniform(0.45, 1.3))
        if u[6] < 0.4 and s.sex == "F":
            ch["breast_mm"] = float(rng.uniform(8.0, 65.0))
        if version == 2:  # separate stream: the version-1 draws stay as they were
            w = rng2.random(6)
            if w[0] < 0.3:
                ch["ap"] = int(rng2.random() < 0.5)
            if w[1] < 0.3:
                ch["lr_marker"] = int(rng2.random() < 0.5)
            if w[2] < 0.4:
                ch["thorax_width"] = float(rng2.uniform(0.85, 1.15))
            if w[3] < 0.4:
                ch["thorax_height"] = float(rng2.uniform(0.88, 1.12))
            if w[4] < 0.4:
                ch["diaphragm_mm"] = float(rng2.uniform(-25.0, 25.0))
            if w[5] < 0.4:
                ch["heart_shift_mm"] = float(rng2.uniform(-15.0, 15.0))
        out.append(s.replace(**ch))
    return out


def _r2(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    ss = ((y - y.mean(0)) ** 2).sum(0)
    return 1.0 - ((y - p) ** 2).sum(0) / np.maximum(ss, 1e-12)


def _auc(y: np.ndarray, p: np.ndarray) -> float:
    """Area under the ROC curve (Mann–Whitney), NaN when one class is missing."""
    pos, neg = p[y > 0.5], p[y <= 0.5]
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    ranks = pd.Series(np.concatenate([pos, neg])).rank().to_numpy()
    return float((ranks[:len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def evaluate(oracle: Oracle, n: int = 1500, seed: int = 777, size: int = 64,
             workers: int = 0) -> dict[str, float]:
    """Held-out R² per factor on a fresh cohort (the natural distribution) at ``size``.

    For a version-2 oracle the switches (``BINARY``) are scored by AUC instead, and their
    R² is kept as ``r2_<name>``.
    """
    from seegaan.cohort.cohort import render_arrays

    version = oracle.cfg.cohort_version
    subjects = sample_subjects(n, seed=seed, version=version)
    x = render_arrays(subjects, size, workers=workers).astype(np.float32) / 65535.0 * 2.0 - 1.0
    truth = pd.DataFrame([ground_truth(s) for s in subjects])[list(oracle.cfg.targets)]
    read = oracle.predict(x[:, None])
    y, p = truth.to_numpy(), read.to_numpy()
    out = {t: round(float(r), 4) for t, r in zip(oracle.cfg.targets, _r2(y, p))}
    if version == 2:
        for j, t in enumerate(oracle.cfg.targets):
            if t in BINARY:
                out[f"r2_{t}"] = out[t]
                out[t] = round(_auc(y[:, j], p[:, j]), 4)
    # The scale products, read as the product of the readouts of their factors.
    ty, tp = with_scale_products(truth), with_scale_products(read)
    for name in SCALE_PRODUCTS:
        if name in ty:
            out[name] = round(float(_r2(ty[[name]].to_numpy(), tp[[name]].to_numpy())[0]), 4)
    return out


@renamed_keywords(log="echo")
def train_oracle(out: str | os.PathLike, n: int = 8000, epochs: int = 14, seed: int = 0,
                 workers: int = 0, echo=print, version: int = 1, eval_n: int = 1500) -> Oracle:
    """Render ``n`` training films, fit the CNN, measure held-out R², save safetensors + JSON."""
    from safetensors.torch import save_file

    from seegaan.cohort.cohort import render_arrays
    from seegaan.utils.fsio import atomic_dir

    t0 = time.perf_counter()
    torch.manual_seed(seed)
    cfg = OracleConfig(seed=seed, n_train=n, cohort_version=version,
                       targets=TARGETS_V2 if version == 2 else TARGETS)
    subjects = training_subjects(n, seed=10_000 + seed, version=version)
    x = torch.from_numpy(render_arrays(subjects, cfg.image_size, workers=workers).astype(np.float32))
    x = _to_input(x[:, None] / 65535.0 * 2.0 - 1.0, cfg.image_size)
    y = torch.tensor(pd.DataFrame([ground_truth(s) for s in subjects])[list(cfg.targets)].to_numpy(),
                     dtype=torch.float32)
    cfg.mean = y.mean(0).tolist()
    cfg.std = y.std(0).clamp_min(1e-6).tolist()
    yz = (y - torch.tensor(cfg.mean)) / torch.tensor(cfg.std)
    echo(f"rendered {n} training images in {time.perf_counter() - t0:.0f} s")
    net = OracleNet(cfg)
    opt = torch.optim.AdamW(net.parameters(), lr=3e-3, weight_decay=1e-4)
    bs = 64
    steps = epochs * math.ceil(n / bs)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps, pct_start=0.15)
    g = torch.Generator().manual_seed(seed)
    for ep in range(epochs):
        net.train()
        perm = torch.randperm(n, generator=g)
        tot = 0.0
        for i in range(0, n, bs):
            idx = perm[i:i + bs]
            xb = x[idx]
            # Mild blur and noise: reconstructions and generated images are a little softer
            # and noisier than renders.
            if torch.rand((), generator=g) < 0.5:
                xb = F.avg_pool2d(F.pad(xb, (1, 1, 1, 1), mode="replicate"), 3, stride=1) * 0.5 + xb * 0.5
            xb = xb + 0.02 * torch.rand((), generator=g) * torch.randn(xb.shape, generator=g)
            loss = F.smooth_l1_loss(net(xb), yz[idx], beta=0.5)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            tot += float(loss.detach()) * len(idx)
        echo(f"epoch {ep + 1}/{epochs} loss {tot / n:.4f} ({time.perf_counter() - t0:.0f} s)")
    oracle = Oracle(net.eval(), cfg)
    cfg.metrics = evaluate(oracle, n=eval_n, workers=workers)
    echo("held-out R²: " + ", ".join(f"{k} {v:.3f}" for k, v in cfg.metrics.items()))
    with atomic_dir(out, overwrite=True) as tmp:
        state = {k: v.contiguous() for k, v in net.state_dict().items()}
        save_file(state, str(tmp / "model.safetensors"))
        cfg.train_seconds = round(time.perf_counter() - t0, 1)
        meta = dataclasses.asdict(cfg)
        (tmp / "config.json").write_text(json.dumps(meta, indent=2) + "\n")
        for f in tmp.iterdir():  # shipped files: readable by everyone, like the rest of the package
            f.chmod(0o644)
        tmp.chmod(0o755)
    return oracle


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Train the cohort oracle (a small CNN regressor).")
    ap.add_argument("--out", default=None, help="default: the shipped oracle of --version")
    ap.add_argument("--version", type=int, default=1, choices=(1, 2), help="cohort version")
    ap.add_argument("--n", type=int, default=8000)
    ap.add_argument("--epochs", type=int, default=14)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=0)
    ap.add_argument("--eval-n", type=int, default=1500, help="held-out films for the metrics")
    a = ap.parse_args(argv)
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    train_oracle(a.out or ASSET_DIRS[a.version], n=a.n, epochs=a.epochs, seed=a.seed,
                 workers=a.workers, version=a.version, eval_n=a.eval_n)
    return 0


if __name__ == "__main__":
    sys.exit(main())
