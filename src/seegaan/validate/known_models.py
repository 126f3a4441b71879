"""Models whose reliance is known by construction: what the benchmark explains.

All are small CNNs (``cnn4`` of :mod:`seegaan.explain.reference_cnn`: four conv stages of
16-32-64-64 channels, ~60 k weights) trained in seconds on freshly rendered 64 px films, and
saved as ordinary CNN directories (``load_model`` reads them):

``reference``   log BNPP on the ordinary cohort (the task of the demo's reference CNN), except
                that the pacemaker is drawn independently of everything with probability
                ``device_p`` (0.5): in cohort version 2 it goes with heart failure (log odds
                ratio 1.7), which makes it a real predictor of BNPP that a good model uses,
                and in version 1 it is rare (6%), so a model has seen too few to learn to
                ignore it; here it is common and carries no information, so the reference's
                device Δŷ is near zero by construction (``heart_only`` and ``fat_only``
                share this cohort);
``shortcut``    log BNPP on a cohort where the pacemaker marks the heart failure that the
                film does not show: each patient's *hidden severity* is the part of their
                log BNPP that a least-squares fit on the visible factors (heart size, fat,
                breast, bone density, effusions, congestion) leaves unexplained, and
                P(device | severity above the median) = ``shortcut_p[0]`` (0.95),
                P(device | below) = ``shortcut_p[1]`` (0.05). Real CRT/ICD devices go with
                severity beyond heart size in the same way. Because no anatomy carries that
                information, a model that lowers its loss must read the device; tied to AHF
                status instead, the faint version-1 device was learnt only weakly (device
                Δŷ +0.09) since heart size already told AHF apart. It trains for
                ``shortcut_epochs`` (20): the device is a small shape, learnt later than
                anatomy;
``heart_only``  a label made of heart size alone, ``6.75 + 8 (heart_scale − 0.86)``;
``fat_only``    a label made of chest-wall fat alone, ``6.75 − 0.05 (fat_mm − 14)``;
``randomised``  the reference with every layer re-initialised from the top down (the end
                of Adebayo et al.'s cascading model-parameter randomisation): a method whose
                map does not change fails the sanity check.

Example::

    models = train_known_models(out / "models", KnownModelsConfig(n_train=800))
    models["shortcut"].score(images)
"""

from __future__ import annotations

import copy
import math
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from seegaan.cohort import Subject, sample_subjects
from seegaan.explain.adapter import InputAdapter
from seegaan.explain.reference_cnn import CNNArch, ReferenceCNN, save_reference_cnn
from seegaan.utils.renamed import renamed_keywords

MODELS = ("reference", "shortcut", "heart_only", "fat_only", "randomised")
TRAINED = MODELS[:4]


@dataclass
class KnownModelsConfig:
    size:        int = 64            # film side in pixels
    n_train:     int = 600           # films per training cohort (ordinary and shortcut)
    epochs:      int = 6             # passes over them
    batch_size:  int = 32            # small batches: more steps from few films
    lr:          float = 3e-3        # Adam, cosine-decayed
    arch:        str = "cnn4"        # seegaan.explain.reference_cnn architecture
    # P(device | hidden severity above the median), P(device | below): see the docstring.
    shortcut_p:  tuple[float, float] = (0.95, 0.05)
    shortcut_epochs: int = 20        # the shortcut model's passes (the device is learnt late)
    # The other models' cohort: the device independent of the label, and common enough
    # that the models learn to ignore it (see the module docstring).
    device_p:    tuple[float, float] = (0.5, 0.5)
    seed:        int = 0
    workers:     int = 0             # render processes (0: automatic)
    cohort_version: int = 1          # the virtual cohort the models are trained on


def _labels(subjects: list[Subject], name: str) -> np.ndarray:
    if name == "heart_only":
        return np.array([6.75 + 8.0 * (s.heart_scale - 0.86) for s in subjects])
    if name == "fat_only":
        return np.array([6.75 - 0.05 * (s.fat_mm - 14.0) for s in subjects])
    return np.log(np.array([s.bnpp for s in subjects]))


# Film-visible factors of a subject: what the hidden severity is the residual of (the
# benchmark intervenes on these; pose, vendor and the device itself are left out).
VISIBLE = ("heart_scale", "fat_mm", "breast_mm", "bmd", "effusion_r_mm", "effusion_l_mm",
           "congestion")


def hidden_severity(subjects: list[Subject]) -> np.ndarray:
    """Each subject's log BNPP minus its least-squares prediction from :data:`VISIBLE`.

    What remains is the heart-failure severity (and the renal, age and sex effects) that no
    visible factor of the film carries; averaged per patient, so a patient's films agree.
    """
    y = np.log(np.array([s.bnpp for s in subjects], dtype=float))
    x = np.array([[float(getattr(s, f)) for f in VISIBLE] for s in subjects])
    x = np.c_[np.ones(len(x)), (x - x.mean(0)) / np.maximum(x.std(0), 1e-9)]
    beta, *_ = np.linalg.lstsq(x, y, rcond=None)
    res = y - x @ beta
    ids = [s.patient_id for s in subjects]
    return pd.Series(res).groupby(ids).transform("mean").to_numpy()


def shortcut_subjects(n: int, seed: int, p: tuple[float, float], version: int = 1,
                      on: str = "ahf") -> list[Subject]:
    """Cohort subjects whose pacemaker is drawn with probability ``p[0]`` or ``p[1]``.

    ``on="ahf"``: ``p[0]`` with acute heart failure, ``p[1]`` without. ``on="hidden"``:
    ``p[0]`` when the patient's :func:`hidden_severity` is above the cohort median, ``p[1]``
    below. Equal values make the device independent of everything.
    """
    if on not in ("ahf", "hidden"):
        raise ValueError(f"on must be 'ahf' or 'hidden', not {on!r}")
    subs = sample_subjects(n, seed=seed, shortcut=True, version=version)
    if on == "hidden":
        sev = hidden_severity(subs)
        marked = sev > np.median(sev)
    else:
        marked = np.array([bool(s.ahf) for s in subs])
    rng = np.random.default_rng(np.random.SeedSequence([seed, 77]))
    # One draw per patient, so a patient's films agree.
    draw = {}
    for s, m in zip(subs, marked, strict=True):
        if s.patient_id not in draw:
            draw[s.patient_id] = rng.random() < (p[0] if m else p[1])
    return [s.replace(device=int(draw[s.patient_id])) for s in subs]


def render_films(subjects: list[Subject], size: int, workers: int = 0) -> torch.Tensor:
    """(N, 1, S, S) model inputs in [-1, 1], rendered in parallel."""
    from seegaan.cohort.cohort import render_arrays
    from seegaan.validate.interventional import to_input

    codes = render_arrays(subjects, size, workers=workers)
    return torch.from_numpy(np.stack([to_input(c / 65535.0) for c in codes])[:, None])


def fit(x: torch.Tensor, y: np.ndarray, cfg: KnownModelsConfig, seed: int,
        epochs: int | None = None) -> ReferenceCNN:
    """Train one small CNN on (x, y) with MSE on the standardised label."""
    epochs = cfg.epochs if epochs is None else epochs
    torch.manual_seed(seed)
    net = ReferenceCNN(CNNArch(arch=cfg.arch))
    yt = torch.tensor(y, dtype=torch.float32)
    mean, std = float(yt.mean()), float(yt.std().clamp_min(1e-6))
    net.y_mean.fill_(mean)
    net.y_std.fill_(std)
    z = (yt - mean) / std
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    steps = epochs * math.ceil(len(x) / cfg.batch_size)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(1, steps))
    g = torch.Generator().manual_seed(seed)
    net.train()
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=g)
        for i in range(0, len(x), cfg.batch_size):
            b = order[i:i + cfg.batch_size]
            loss = nn.functional.mse_loss(net.net(x[b])[:, 0], z[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    return net.eval()


def randomise(net: ReferenceCNN, seed: int) -> ReferenceCNN:
    """A copy with every layer re-initialised, from the output layer down to the input."""
    out = copy.deepcopy(net)
    torch.manual_seed(seed)
    for module in reversed(list(out.net.modules())):
        if hasattr(module, "reset_parameters") and module is not out.net:
            module.reset_parameters()
    return out.eval()


def _r2(y: np.ndarray, p: np.ndarray) -> float:
    from seegaan.explain.metrics import r2

    return r2(y, p)


@renamed_keywords(log="echo")
def train_known_models(out_dir: str | os.PathLike, cfg: KnownModelsConfig | None = None,
                       echo=None) -> dict[str, Any]:
    """Train the four models, derive the randomised one, save each as a CNN directory.

    Returns ``{name: ExplainableModel}``; ``out_dir/<name>/config.json`` records each one's
    construction and held-out R² (on the last 20% of its cohort, not trained on).
    """
    from seegaan.explain import load_model

    cfg = cfg or KnownModelsConfig()
    say = echo or (lambda _m: None)
    out = Path(out_dir)
    t0 = time.perf_counter()
    n_fit = int(0.8 * cfg.n_train)
    ordinary = shortcut_subjects(cfg.n_train, cfg.seed + 500, cfg.device_p, cfg.cohort_version)
    short = shortcut_subjects(cfg.n_train, cfg.seed + 600, cfg.shortcut_p, cfg.cohort_version,
                              on="hidden")
    say(f"rendering 2 x {cfg.n_train} training films")
    films = {"ordinary": render_films(ordinary, cfg.size, cfg.workers),
             "shortcut": render_films(short, cfg.size, cfg.workers)}
    adapter = InputAdapter(size=cfg.size, log_output=True)
    nets: dict[str, ReferenceCNN] = {}
    for k, name in enumerate(TRAINED):
        subs, x = (short, films["shortcut"]) if name == "shortcut" else (ordinary, films["ordinary"])
        y = _labels(subs, name)
        t1 = time.perf_counter()
        net = fit(x[:n_fit], y[:n_fit], cfg, cfg.seed + k,
                  epochs=cfg.shortcut_epochs if name == "shortcut" else cfg.epochs)
        with torch.no_grad():
            pred = net(x[n_fit:])[:, 0].numpy()
        r2 = _r2(y[n_fit:], pred)
        say(f"{name}: held-out R² {r2:.3f} ({time.perf_counter() - t1:.0f} s)")
        nets[name] = net
        _save(net, out / name, adapter, cfg, name, {"heldout_r2": r2, "n_fit": n_fit,
                                                    "train_seconds": time.perf_counter() - t1})
    nets["randomised"] = randomise(nets["reference"], cfg.seed + 99)
    _save(nets["randomised"], out / "randomised", adapter, cfg, "randomised", {})
    say(f"models ready in {time.perf_counter() - t0:.0f} s")
    return {name: load_model(out / name) for name in MODELS}


def _save(net: ReferenceCNN, path: Path, adapter: InputAdapter, cfg: KnownModelsConfig,
          name: str, metrics: dict[str, Any]) -> None:
    cfg_d = asdict(cfg)
    cfg_d["shortcut_p"] = list(cfg.shortcut_p)
    cfg_d["device_p"] = list(cfg.device_p)
    save_reference_cnn(net, path, {"artefact": "benchmark-model", "benchmark_model": name,
                                   "input_adapter": adapter.to_dict(), "known_models": cfg_d,
                                   "metrics": metrics})
    # seegaan reads the safetensors; the TorchScript copy is for other tools, not needed here
    # (and its presence would list these models as reference CNNs in a report).
    (path / "model.pt").unlink(missing_ok=True)


def load_known_models(models_dir: str | os.PathLike) -> dict[str, Any]:
    """The five models from a folder :func:`train_known_models` wrote."""
    from seegaan.errors import InputError
    from seegaan.explain import load_model

    root = Path(models_dir)
    missing = [m for m in MODELS if not (root / m / "config.json").is_file()]
    if missing:
        raise InputError(f"{root}: no benchmark model {missing[0]} (train them with "
                         "`seegaan benchmark` first)")
    return {name: load_model(root / name) for name in MODELS}
