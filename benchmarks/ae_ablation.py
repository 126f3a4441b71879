"""Ablation of the demo autoencoder at a fixed step budget on cohort-v2 films (64x64).

Every arm continues the bundled (cohort-v1) ``demo64`` checkpoint on cohort-v2 films for the
same number of steps with the same seed, data order and batch, changing one thing. Weights
whose shape the arm keeps are copied from the checkpoint (every arm but ``wide``, whose
widened 32² and 64² layers start fresh); ``--scratch`` starts every arm from random weights
instead. A warm start is what a CPU-bound v2 model would do anyway.

- ``base``: the bundled checkpoint's recipe;
- ``wide``: wider generator layers at 32² and 64² (128/64 instead of 64/32 channels);
- ``hf``: a Laplacian-pyramid L1 detail term in the reconstruction loss;
- ``fm``: discriminator feature matching between x and G(E(x));
- ``nonoise``: no per-pixel noise inputs in G;
- ``r1low``: R1 weight 1 instead of 10;
- ``linmap``: a linear last mapping layer (as in the SEE-GAAN reference);
- ``combo``: ``wide`` + ``hf`` + ``linmap``.

Each arm is scored on held-out films (the prepared ``test`` split) by SSIM of the
reconstructions and by the Pearson r between the cohort-v2 oracle's bone density (and heart
size) read on originals and on reconstructions. The chosen arm (:func:`choose`) has the
largest bone-density r gain over ``base`` whose paired bootstrap CI excludes zero, at an
SSIM within 0.01 of ``base``'s. The table goes to ``OUT/ablation.md`` and ``OUT/ablation.json``.

Usage (run niced, in the background; every arm is resumable)::

    seegaan cohort ~/.cache/seegaan-runs/cohort64_v2 --n 2400 --size 64 --seed 1
    seegaan prepare --images .../cohort64_v2/images --csv .../cohort64_v2/cohort.csv \\
        --out ~/.cache/seegaan-runs/data64_v2 --size 64
    nice -n 15 python benchmarks/ae_ablation.py ~/.cache/seegaan-runs/data64_v2 \\
        --out ~/.cache/seegaan-runs/ablation --steps 300
    python benchmarks/ae_ablation.py DATA --out OUT --score-only      # re-score finished arms

``--train ARM --steps N --run DIR`` trains one arm for long (``--resume`` continues it).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import time
from pathlib import Path

import numpy as np
import torch

from seegaan.config import TrainConfig, get_preset

ARMS: dict[str, tuple[dict, dict]] = {  # name: (model overrides, train overrides)
    "base": ({}, {}),
    "wide": ({"g_channels": (128, 128, 128, 128, 64)}, {}),
    "hf": ({}, {"hf_weight": 1.0}),
    "fm": ({}, {"fm_weight": 0.1}),
    "nonoise": ({"g_noise": False}, {}),
    "r1low": ({}, {"r1_gamma": 1.0}),
    "linmap": ({"mapping_linear_last": True}, {}),
    "combo": ({"g_channels": (128, 128, 128, 128, 64), "mapping_linear_last": True},
              {"hf_weight": 1.0}),
}


def arm_configs(arm: str, steps: int, batch: int, seed: int):
    model_over, train_over = ARMS[arm]
    model_cfg = dataclasses.replace(get_preset("demo64"), preset=f"demo64-{arm}", **model_over)
    cfg = TrainConfig(steps=steps, batch=batch, seed=seed, perceptual="ssim", best_by="ssim",
                      log_every=10, sample_every=max(steps, 100), ckpt_every=20,
                      val_every=max(steps, 100), val_images=64, **train_over)
    cfg.extra = {"ablation_arm": arm, "cohort_version": 2}
    return model_cfg, cfg


def warm_start(trainer, source: str | None = None) -> list[str]:
    """Copy every E, M, G tensor whose name and shape match from an inference checkpoint
    (``None``: the bundled one) into the live and EMA networks; return the names left fresh."""
    from seegaan.models.autoencoder import load_autoencoder

    src = load_autoencoder(source).state_dict()
    fresh = []
    for target in (trainer.ema, trainer.nets):
        own = target.state_dict()
        keep = {k: v for k, v in src.items() if k in own and own[k].shape == v.shape}
        target.load_state_dict(keep, strict=False)
        if target is trainer.ema:
            fresh = sorted(k for k in own if k not in keep)
    trainer.ema_offset = 10**6  # average at full decay at once, as --init-from does
    return fresh


def train_arm(data: Path, run: Path, arm: str, steps: int, batch: int, seed: int,
              resume: bool, scratch: bool = False, long_run: bool = False) -> dict:
    from seegaan.train import distributed as ddist
    from seegaan.train.loop import Trainer

    model_cfg, cfg = arm_configs(arm, steps, batch, seed)
    if long_run:  # fewer, larger outputs
        cfg.ckpt_every, cfg.val_every, cfg.sample_every, cfg.val_images = 250, 500, 1000, 128
    else:
        # A short arm must not be scored on weights that are still mostly the starting
        # checkpoint: 0.9^60 leaves 0.2% of the start in the EMA after 60 steps.
        cfg.ema_beta = 0.9
    cfg.extra["init"] = "scratch" if scratch else "bundled demo64 (cohort v1), shape-matched tensors"
    resume = resume and (run / "state" / "state.json").is_file()
    t0 = time.perf_counter()
    tr = Trainer(data, run, model_cfg, cfg, resume=resume, overwrite=not resume, device="cpu")
    if not resume and not scratch:
        fresh = warm_start(tr)
        logging.info("%s: %d tensors start fresh", arm, len(fresh))
    elif resume and tr.cfg.extra.get("init", "").startswith("bundled"):
        tr.ema_offset = 10**6  # keep the warm start's full-decay EMA
    try:
        out = tr.run()
    finally:
        ddist.cleanup()
    out["seconds"] = round(time.perf_counter() - t0, 1)
    return out


def score(data: Path, ckpt: Path, n: int = 256, oracle_path: str | None = None) -> dict:
    """SSIM and oracle r (original vs reconstruction) on the first ``n`` test films, by
    :func:`seegaan.train.quality.reconstruction_quality` (the checkpoint report's own code)."""
    from seegaan.cohort.version import oracle_for
    from seegaan.data.prepared import PreparedDataset
    from seegaan.models.autoencoder import load_autoencoder
    from seegaan.train.quality import reconstruction_quality

    ds = PreparedDataset(data, "test")
    x = ds.load_images(slice(0, min(n, len(ds))))
    ae = load_autoencoder(str(ckpt)).eval()
    keep: list = []  # [reconstructions, oracle on originals, oracle on reconstructions]
    q = reconstruction_quality(ae, x, oracle_for(2, 64, path=oracle_path), batch_size=64,
                               reconstructions=keep)
    out = {"ssim": round(q["ssim_mean"], 4), "n": q["n"]}
    for col, key in (("gt_bmd", "r_bmd"), ("gt_ctr", "r_ctr"), ("gt_fat", "r_fat"),
                     ("gt_breast", "r_breast")):
        out[key] = round(q["oracle_r"][col], 4)
    out["_bmd"] = (keep[1]["gt_bmd"].to_numpy(), keep[2]["gt_bmd"].to_numpy())  # for choose()
    return out


def choose(rows: dict, baseline: str = "base", n_boot: int = 2000, seed: int = 0,
           ssim_tol: float = 0.01) -> tuple[str, dict]:
    """The arm to train long: the largest bone-density r gain over ``baseline`` whose paired
    bootstrap 95% CI (same films, resampled) excludes zero, at an SSIM no more than
    ``ssim_tol`` below the baseline's. At a few hundred steps most gains are noise of the
    size of the differences (r on ~250 films has a standard error near 0.06), so a plain
    maximum would pick whichever arm was lucky. Returns (arm, {arm: (mean, low, high)})."""
    a0, b0 = rows[baseline]["_bmd"]
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(a0), (n_boot, len(a0)))
    def r(a, b):
        return np.array([np.corrcoef(a[i], b[i])[0, 1] for i in idx])
    base = r(a0, b0)
    gains, best, best_gain = {}, baseline, 0.0
    for arm, row in rows.items():
        if arm == baseline:
            continue
        a, b = row["_bmd"]
        d = r(a, b) - base
        lo, hi = np.percentile(d, [2.5, 97.5])
        gains[arm] = (round(float(d.mean()), 4), round(float(lo), 4), round(float(hi), 4))
        if lo > 0 and row["ssim"] >= rows[baseline]["ssim"] - ssim_tol and d.mean() > best_gain:
            best, best_gain = arm, float(d.mean())
    return best, gains


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("data", type=Path, help="prepared cohort-v2 dataset at 64x64")
    ap.add_argument("--out", type=Path, default=None,
                    help="folder of the arms' run directories (not with --train)")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--arms", default=",".join(ARMS))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--score-only", action="store_true")
    ap.add_argument("--no-score", action="store_true", help="train the arms only")
    ap.add_argument("--oracle", default=None, help="oracle directory (default: the shipped v2 one)")
    ap.add_argument("--train", default=None, metavar="ARM", help="train one arm long, at --run")
    ap.add_argument("--run", type=Path, default=None)
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--scratch", action="store_true", help="random initial weights for every arm")
    a = ap.parse_args(argv)
    if a.train is not None and (a.run is None or a.train not in ARMS):
        ap.error(f"--train {a.train}: needs --run DIR and one of {', '.join(ARMS)}")
    if a.train is None and a.out is None:
        ap.error("--out is required (the arms' run directories), unless --train ARM --run DIR")
    unknown = [x for x in a.arms.split(",") if x not in ARMS]
    if unknown:
        ap.error(f"--arms: unknown arm {unknown[0]!r} (choose from {', '.join(ARMS)})")
    logging.basicConfig(level=logging.INFO)
    torch.set_num_threads(a.threads)
    from seegaan.cohort.version import dataset_cohort_version, oracle_for
    from seegaan.errors import SeegaanError

    try:  # wrong data or no v2 oracle: say so now, in one line, not after hours of training
        if dataset_cohort_version(a.data) != 2:
            raise SystemExit(f"error: {a.data}: not a prepared cohort-v2 dataset (prepare.json / "
                             "cohort.json record no cohort_version 2)")
        if not a.train and not a.no_score:
            oracle_for(2, 64, path=a.oracle)
    except SeegaanError as err:
        raise SystemExit(f"error: {err} (or pass --no-score and score later with --score-only)") from None
    if a.train:
        res = train_arm(a.data, a.run, a.train, a.steps, a.batch, a.seed, a.resume, a.scratch,
                        long_run=True)
        print(json.dumps({k: v for k, v in res.items() if k != "best"}, default=str))
        return 0
    a.out.mkdir(parents=True, exist_ok=True)
    rows = {}
    for arm in a.arms.split(","):
        run = a.out / arm
        if not a.score_only:
            res = train_arm(a.data, run, arm, a.steps, a.batch, a.seed, resume=True,
                            scratch=a.scratch)
            (run / "ablation_time.json").write_text(json.dumps({"seconds": res["seconds"]}))
        if a.no_score or not (run / "last").is_dir():
            continue
        rows[arm] = score(a.data, run / "last", oracle_path=a.oracle)
        t = run / "ablation_time.json"
        rows[arm]["train_s"] = json.loads(t.read_text())["seconds"] if t.is_file() else None
        print(arm, {k: v for k, v in rows[arm].items() if not k.startswith("_")}, flush=True)
    if not rows:
        return 0
    if "base" in rows:
        best, gains = choose(rows)
    else:  # no baseline to compare with: the plain maximum
        best, gains = max(rows, key=lambda k: (rows[k]["r_bmd"], rows[k]["ssim"])), {}
    public = {k: {m: v for m, v in r.items() if not m.startswith("_")} for k, r in rows.items()}
    for k, g in gains.items():
        public[k]["r_bmd_gain_vs_base"] = g
    (a.out / "ablation.json").write_text(json.dumps({"steps": a.steps, "batch": a.batch,
                                                     "arms": public, "chosen": best}, indent=2))
    lines = ["| arm | SSIM | r bone density | gain vs base [95% CI] | r CTR | r fat | r breast | train s |",
             "|---|---|---|---|---|---|---|---|"]
    for k, r in public.items():
        g = gains.get(k)
        gain = f"{g[0]:+.3f} [{g[1]:+.3f}, {g[2]:+.3f}]" if g else "–"
        lines.append(f"| {k}{' (chosen)' if k == best else ''} | {r['ssim']:.3f} | {r['r_bmd']:.3f} | "
                     f"{gain} | {r['r_ctr']:.3f} | {r['r_fat']:.3f} | {r['r_breast']:.3f} | "
                     f"{r['train_s']} |")
    (a.out / "ablation.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
