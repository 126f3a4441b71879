"""The training loop of the style-based adversarial autoencoder (see docs/training.md).

One step, on every process, with its slice of the global batch:

1. augment the real batch (p = 0.2);
2. fake branch ``x_fake = G(M(z))`` with style mixing (p = 0.9); reconstruction branch
   ``x_rec = G(E(x))``;
3. D update on ``softplus(-D(x)) + 0.5 softplus(D(x_fake)) + 0.5 softplus(D(x_rec))``, plus the
   lazy R1 penalty every ``reg_every`` steps;
4. one joint update of M, G and E on
   ``L_fake + MSE + w_perc * perceptual + 0.1 softplus(-D(x_rec))`` (+ the latent-moment
   penalty every ``reg_every`` steps). G gets exactly one optimiser step per iteration: the
   reference's second G step from the same pass is a defect we do not copy;
5. EMA of M, G, E.

The fakes and reconstructions of step 2 are reused (detached) for the D update, which saves a
whole generator pass per step on the CPU.

Every random draw (data order, augmentation, z, mixing, noise) derives from ``(seed, step)``
and is drawn for the global batch before slicing, so a resumed run and a run on N processes
reproduce the uninterrupted single-process run.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from seegaan.config import ModelConfig, TrainConfig
from seegaan.data.prepared import PreparedDataset
from seegaan.errors import CheckpointError, InputError, OptionError, OutputExistsError
from seegaan.models.autoencoder import Autoencoder
from seegaan.models.checkpoint import write_inference_dir
from seegaan.models.discriminator import Discriminator
from seegaan.models.encoder import Encoder
from seegaan.models.generator import Generator
from seegaan.models.mapping import MappingNetwork
from seegaan.train import distributed as ddist
from seegaan.train.augment import apply_augment, draw_augment
from seegaan.train.detail import feature_matching, laplacian_l1
from seegaan.train.driver import run_steps
from seegaan.train.ema import ema_beta, update_ema
from seegaan.train.metrics import fid_or_none, sliced_wasserstein, ssim
from seegaan.train.perceptual import build_perceptual
from seegaan.train.samples import save_grid
from seegaan.train.state import (
    load_optimizer_tensors,
    optimizer_tensors,
    read_state,
    save_state,
)
from seegaan.utils.fsio import atomic_dir, write_json

HIGHER_IS_BETTER = {"val_ssim": True, "val_mse": False, "swd": False, "fid": False}


def step_generator(seed: int, step: int, stream: int = 0) -> torch.Generator:
    """A CPU generator determined by ``(seed, step, stream)`` alone (resume = no RNG state)."""
    s = int(np.random.SeedSequence([seed, step, stream]).generate_state(1, np.uint64)[0])
    return torch.Generator().manual_seed(s)


def batch_positions(n: int, batch: int, step: int, seed: int) -> np.ndarray:
    """Positions of the global batch at ``step``: a fresh permutation each epoch, last partial batch dropped."""
    per_epoch = n // batch
    epoch, k = divmod(step, per_epoch)
    perm = np.random.default_rng([seed, epoch, 7]).permutation(n)
    return perm[k * batch:(k + 1) * batch]


class Trainer:
    """Holds the networks, optimisers and run directory; ``run()`` trains to ``cfg.steps``."""

    def __init__(self,
                 data_dir:   str | os.PathLike,     # prepared dataset (train and val splits)
                 run_dir:    str | os.PathLike,     # output directory
                 model_cfg:  ModelConfig,           # architecture
                 cfg:        TrainConfig,           # training options
                 resume:     bool = False,          # continue from run_dir/state
                 overwrite:  bool = False,          # replace an existing run_dir
                 device:     str = "auto",          # "auto", "cpu" or "cuda[:i]"
                 ) -> None:
        cfg.validate()
        self.data_dir, self.run_dir = Path(data_dir), Path(run_dir)
        self.dist = ddist.init_distributed(device)
        self.dev = self.dist.device
        if cfg.threads > 0:
            torch.set_num_threads(cfg.threads)

        plan = plan_run(data_dir, run_dir, model_cfg, cfg, resume=resume,
                        overwrite=overwrite, world=self.dist.world)
        model_cfg, cfg, init = plan.model_cfg, plan.cfg, plan.init
        self.model_cfg, self.cfg = model_cfg, cfg
        self.train_ds, self.val_ds = plan.train_ds, plan.val_ds
        self.local_batch = cfg.batch // self.dist.world

        # -- networks -----------------------------------------------------------------------
        torch.manual_seed(cfg.seed)
        self.nets = nn.ModuleDict({
            "mapping": MappingNetwork(model_cfg),
            "generator": Generator(model_cfg, impl=cfg.modconv),
            "encoder": Encoder(model_cfg),
            "discriminator": Discriminator(model_cfg),
        }).to(self.dev)
        self.ema = Autoencoder(model_cfg, impl=cfg.modconv).to(self.dev)
        self.ema.load_state_dict({k: v for k, v in self.nets.state_dict().items()
                                  if not k.startswith("discriminator.")})
        # The EMA ramp exists for random initial weights; a warm start averages at full decay
        # at once, so the bundled weights are not washed out while the fresh D settles.
        self.ema_offset = 0
        if init is not None:
            self._warm_start(init)
            self.ema_offset = 10**6
        self.ema.requires_grad_(False)
        gen_names, gen_groups = [], []
        for part in ("mapping", "generator", "encoder"):
            named = list(self.nets[part].named_parameters())
            gen_names += [f"{part}.{n}" for n, _ in named]
            gen_groups.append({"params": [p for _, p in named]})
        self.gen_names = gen_names
        self.gen_params = [p for g in gen_groups for p in g["params"]]
        self.disc_names = [f"discriminator.{n}" for n, _ in self.nets["discriminator"].named_parameters()]
        self.disc_params = list(self.nets["discriminator"].parameters())
        adam = {"lr": cfg.lr, "betas": tuple(cfg.betas), "eps": cfg.eps}
        self.opt_g = torch.optim.Adam(gen_groups, **adam)
        self.opt_d = torch.optim.Adam(self.disc_params, **adam)
        perc, self.perc_weight, self.perc_name = plan.perceptual
        self.perc = perc.to(self.dev) if perc is not None else None
        self.best_key = self._best_key()
        self.best: dict[str, Any] = {"metric": self.best_key, "value": None, "step": None}
        self.step = 0

        # -- run directory ------------------------------------------------------------------
        if resume:
            self._load_state()
        else:
            if self.dist.world > 1:
                self._broadcast_weights()
            if self.dist.is_main:
                self._prepare_run_dir(overwrite)
        self.val_images = self.val_ds.load_images(slice(0, min(cfg.val_images, len(self.val_ds))))

    # -- set-up helpers ------------------------------------------------------------------------
    def _best_key(self) -> str:
        key = self.cfg.best_by
        if key == "auto":
            key = "fid" if self.cfg.inception_weights else "ssim"
        return {"ssim": "val_ssim", "mse": "val_mse", "swd": "swd", "fid": "fid"}[key]

    def _prepare_run_dir(self, overwrite: bool) -> None:
        rd = self.run_dir
        if rd.exists() and any(rd.iterdir()):
            if not overwrite:
                hint = " (pass --resume to continue it)" if (rd / "state").is_dir() else ""
                raise OutputExistsError(f"{rd}: already exists{hint}; pass --overwrite to start over")
            shutil.rmtree(rd)
        rd.mkdir(parents=True, exist_ok=True)
        (rd / "samples").mkdir(exist_ok=True)
        write_json(rd / "config.json", self._run_config())

    def _run_config(self) -> dict[str, Any]:
        out = {"model": self.model_cfg.to_dict(), "train": self.cfg.to_dict(),
               "data_dir": str(self.data_dir.resolve()), "n_train": len(self.train_ds),
               "n_val": len(self.val_ds), "world_size": self.dist.world,
               "perceptual": self.perc_name, "best_by": self.best_key}
        # On the virtual cohort, which version it learnt: the demo and the oracle follow it
        # (seegaan.cohort.version.checkpoint_cohort_version reads it back).
        version = self.train_ds.info.get("cohort_version")
        if version is None and self.train_ds.info.get("preset") == "seegaan-cohort":
            from seegaan.cohort.version import dataset_cohort_version

            version = dataset_cohort_version(self.data_dir)
        if version is not None:
            out["cohort_version"] = int(version)
        return out

    def _broadcast_weights(self) -> None:
        import torch.distributed as dist

        for t in list(self.nets.state_dict().values()) + list(self.ema.state_dict().values()):
            dist.broadcast(t, src=0)

    def _warm_start(self, init: Autoencoder) -> None:
        """E, M and G (live and EMA) from an inference checkpoint; D keeps its fresh init.

        The checkpoint holds EMA weights only, so the live networks start from the EMA ones;
        the Adam moments start at zero, as in any new run.
        """
        self.ema.load_state_dict(init.state_dict(), strict=True)
        for part in ("encoder", "mapping", "generator"):
            self.nets[part].load_state_dict(getattr(self.ema, part).state_dict(), strict=True)

    def _state_tensors(self) -> dict[str, torch.Tensor]:
        out = dict(self.nets.state_dict())
        out.update({f"ema.{k}": v for k, v in self.ema.state_dict().items()})
        return out

    def _load_state(self) -> None:
        model, optim, info = read_state(self.run_dir, self._state_tensors())
        self.nets.load_state_dict({k: v for k, v in model.items() if not k.startswith("ema.")})
        self.ema.load_state_dict({k[4:]: v for k, v in model.items() if k.startswith("ema.")})
        src = str(self.run_dir / "state" / "optim.safetensors")
        load_optimizer_tensors(self.opt_g, self.gen_names, "opt_g", optim, src)
        load_optimizer_tensors(self.opt_d, self.disc_names, "opt_d", optim, src)
        if info.get("n_train") != len(self.train_ds):
            raise CheckpointError(f"{self.run_dir}: the run was trained on {info.get('n_train')} "
                                  f"images but {self.data_dir} has {len(self.train_ds)} in train")
        self.step = int(info["step"])
        self.best = info.get("best", self.best)
        if self.dist.is_main:
            _truncate_metrics(self.run_dir / "metrics.jsonl", self.step)
            write_json(self.run_dir / "config.json", self._run_config())

    # -- one optimisation step -----------------------------------------------------------------
    def train_step(self, step: int) -> dict[str, float]:
        cfg, mc = self.cfg, self.model_cfg
        B, b, r = cfg.batch, self.local_batch, self.dist.rank
        lo, hi = r * b, (r + 1) * b
        M, G, E, D = (self.nets[k] for k in ("mapping", "generator", "encoder", "discriminator"))
        gen = step_generator(cfg.seed, step)
        # Draw for the global batch in a fixed order, then slice this process's share.
        aug = draw_augment(B, cfg.aug_p, gen)[lo:hi]
        z = torch.randn(2, B, mc.z_dim, generator=gen)[:, lo:hi].to(self.dev)
        mix = (torch.rand(B, generator=gen) < cfg.mix_p)[lo:hi]
        cut = torch.randint(1, mc.num_ws, (B,), generator=gen)[lo:hi]
        noise_fake = [n[lo:hi].to(self.dev) for n in G.make_noise(B, gen)]
        noise_rec = [n[lo:hi].to(self.dev) for n in G.make_noise(B, gen)]
        pos = batch_positions(len(self.train_ds), B, step, cfg.seed)[lo:hi]
        x = apply_augment(self.train_ds.load_images(pos).to(self.dev), aug)

        # Generator passes (kept for the G update after D's).
        w_map = M(z[0])
        layer = torch.arange(mc.num_ws)[None, :]
        take2 = (mix[:, None] & (layer >= cut[:, None])).to(self.dev)      # (b, num_ws)
        ws = torch.where(take2[..., None], M(z[1])[:, None], w_map[:, None])
        x_fake = G(ws, noise_fake)
        w_enc = E(x)
        x_rec = G(w_enc, noise_rec)
        do_reg = step % cfg.reg_every == 0
        stats: dict[str, float] = {}

        # D update.
        D.requires_grad_(True)
        x_real = x.detach().requires_grad_(do_reg)
        d_real = D(x_real)
        d_fr = D(torch.cat([x_fake.detach(), x_rec.detach()]))
        d_fake, d_rec = d_fr[:b], d_fr[b:]
        loss_d = (F.softplus(-d_real).mean() + cfg.fake_weight * F.softplus(d_fake).mean()
                  + cfg.recon_d_weight * F.softplus(d_rec).mean())
        stats["loss_d"] = loss_d.item()
        if do_reg:
            (grad,) = torch.autograd.grad(d_real.sum(), x_real, create_graph=True)
            r1 = grad.pow(2).sum(dim=(1, 2, 3)).mean()
            # Lazy regularisation: scale by the interval so the average strength is gamma.
            loss_d = loss_d + cfg.r1_gamma / 2 * r1 * cfg.reg_every
            stats["r1"] = r1.item()
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        ddist.average_gradients(self.disc_params, self.dist)
        self.opt_d.step()

        # Joint M, G, E update (one step for G).
        D.requires_grad_(False)
        d_fr = D(torch.cat([x_fake, x_rec]))
        loss_fake = F.softplus(-d_fr[:b]).mean()
        mse = F.mse_loss(x_rec, x)
        loss_enc = mse + cfg.rec_adv_weight * F.softplus(-d_fr[b:]).mean()
        if self.perc is not None and self.perc_weight > 0:
            perc = self.perc(x_rec, x)
            loss_enc = loss_enc + self.perc_weight * perc
            stats["perceptual"] = perc.item()
        if cfg.hf_weight > 0:
            hf = laplacian_l1(x_rec, x)
            loss_enc = loss_enc + cfg.hf_weight * hf
            stats["hf"] = hf.item()
        if cfg.fm_weight > 0:
            fm = feature_matching(D.features(x_rec), D.features(x))
            loss_enc = loss_enc + cfg.fm_weight * fm
            stats["fm"] = fm.item()
        loss_g = loss_fake + loss_enc
        if do_reg and cfg.moment_weight > 0:
            m_enc = ddist.global_mean(w_enc.pow(2).mean(), self.dist)
            m_map = ddist.global_mean(w_map.pow(2).mean(), self.dist)
            moment = (m_enc - m_map).pow(2)
            loss_g = loss_g + cfg.moment_weight * moment
            stats["moment"] = moment.item()
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        ddist.average_gradients(self.gen_params, self.dist)
        self.opt_g.step()
        update_ema(self.ema, _EmaView(self.nets), ema_beta(step + self.ema_offset, cfg.ema_beta))
        stats.update(loss_g_fake=loss_fake.item(), loss_enc=loss_enc.item(), rec_mse=mse.item())
        return stats

    # -- evaluation and output -----------------------------------------------------------------
    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        ae, x = self.ema, self.val_images
        rec = ae.reconstruct(x)
        out = {"val_mse": float(F.mse_loss(rec, x.to(rec.device))),
               "val_ssim": float(ssim(rec, x.to(rec.device)).mean())}
        fake = ae.sample(len(x), seed=self.cfg.seed + 1)
        out.update(sliced_wasserstein(x, fake.cpu(), seed=self.cfg.seed))
        fid = fid_or_none(x, fake, self.cfg.inception_weights)
        if fid is not None:
            out["fid"] = fid
        return out

    def save_samples(self) -> None:
        ae = self.ema
        fake = ae.sample(16, seed=self.cfg.seed + 2)
        x = self.val_images[:8]
        rec = ae.reconstruct(x)
        grid = torch.cat([fake.cpu(), x, rec.cpu()])
        save_grid(self.run_dir / "samples" / f"step{self.step:07d}.png", grid, cols=8)

    def save_checkpoints(self) -> None:
        with atomic_dir(self.run_dir / "last", overwrite=True) as tmp:
            write_inference_dir(tmp, self.ema.state_dict(), self.model_cfg, step=self.step)
        optim = optimizer_tensors(self.opt_g, self.gen_names, "opt_g")
        optim.update(optimizer_tensors(self.opt_d, self.disc_names, "opt_d"))
        info = {"step": self.step, "model": self.model_cfg.to_dict(), "train": self.cfg.to_dict(),
                "best": self.best, "n_train": len(self.train_ds), "time": time.time()}
        save_state(self.run_dir, self._state_tensors(), optim, info)

    def _maybe_best(self, metrics: dict[str, float]) -> None:
        value = metrics.get(self.best_key)
        if value is None or not math.isfinite(value):
            return
        old = self.best.get("value")
        better = old is None or (value > old if HIGHER_IS_BETTER[self.best_key] else value < old)
        if better:
            self.best = {"metric": self.best_key, "value": value, "step": self.step}
            with atomic_dir(self.run_dir / "best", overwrite=True) as tmp:
                write_inference_dir(tmp, self.ema.state_dict(), self.model_cfg, step=self.step,
                                    note=f"best {self.best_key}={value:.6g} at step {self.step}")

    def _log(self, record: dict[str, Any]) -> None:
        with open(self.run_dir / "metrics.jsonl", "a") as fh:
            fh.write(json.dumps(record) + "\n")

    # -- the loop ------------------------------------------------------------------------------
    def _periodic(self, final: bool) -> None:
        """Samples, validation (and best/), resumable state: main process, after each step."""
        cfg = self.cfg
        if self.step % cfg.sample_every == 0 or final:
            self.save_samples()
        if self.step % cfg.val_every == 0 or final:
            self.last_val = self.validate()
            self._log({"step": self.step, "phase": "val", **self.last_val})
            self._maybe_best(self.last_val)
        if self.step % cfg.ckpt_every == 0 or final:
            self.save_checkpoints()

    def _postfix(self, stats: dict[str, float]) -> dict[str, str] | None:
        if self.step % 5:
            return None
        return {k: f"{v:.3g}" for k, v in stats.items() if k in ("loss_d", "loss_g_fake", "rec_mse")}

    def run(self) -> dict[str, Any]:
        self.last_val: dict[str, float] = {}
        run_steps(self, desc="train", periodic=self._periodic, save=self.save_checkpoints,
                  postfix=self._postfix)
        return {"step": self.step, "best": self.best, "val": self.last_val,
                "run_dir": str(self.run_dir)}


class _EmaView(nn.Module):
    """The live M, G, E in the parameter order of :class:`Autoencoder` (encoder, mapping, generator)."""

    def __init__(self, nets: nn.ModuleDict) -> None:
        super().__init__()
        self.encoder, self.mapping, self.generator = nets["encoder"], nets["mapping"], nets["generator"]


@dataclass
class RunPlan:
    """What a run will do, resolved and checked before any network is built."""

    model_cfg:  ModelConfig             # the architecture actually used
    cfg:        TrainConfig             # the training options actually used
    arch_from:  str                     # where the architecture comes from, in the user's words
    init:       Autoencoder | None      # the --init-from checkpoint, if any
    train_ds:   PreparedDataset
    val_ds:     PreparedDataset
    perceptual: tuple[nn.Module | None, float, str]  # (module, weight, name) of the perceptual term


def plan_run(data_dir: str | os.PathLike, run_dir: str | os.PathLike, model_cfg: ModelConfig,
             cfg: TrainConfig, resume: bool = False, overwrite: bool = False,
             world: int = 1) -> RunPlan:
    """Every check a run makes before training, shared by ``train`` and ``train --dry-run``.

    The architecture comes from ``--preset``, or from the ``--init-from`` checkpoint (a warm
    start keeps its architecture), or from the run being resumed; errors name that source.
    """
    cfg.validate()
    data_dir, run_dir = Path(data_dir), Path(run_dir)
    if resume and cfg.init_from:
        raise OptionError("--init-from starts a new run and --resume continues one; pass one of them")
    init = None
    arch_from = f"--preset {model_cfg.preset}"
    if not resume and cfg.init_from:
        init = _load_init(cfg.init_from)
        model_cfg = init.cfg
        arch_from = f"--init-from {cfg.init_from} (a {model_cfg.preset} checkpoint)"
    if resume:
        saved = _read_state_info(run_dir)
        model_cfg = ModelConfig.from_dict(saved["model"], source=str(run_dir / "state"))
        arch_from = f"the run being resumed ({run_dir}, {model_cfg.preset})"
        steps = cfg.steps
        old = TrainConfig.from_dict(saved["train"])
        # The run's own options win, except the length (to extend a run) and intervals.
        for name in ("log_every", "sample_every", "ckpt_every", "val_every", "threads"):
            setattr(old, name, getattr(cfg, name))
        old.steps = steps
        cfg = old
    elif run_dir.exists() and any(run_dir.iterdir()) and not overwrite:
        hint = " (pass --resume to continue it)" if (run_dir / "state").is_dir() else ""
        raise OutputExistsError(f"{run_dir}: already exists{hint}; pass --overwrite to start over")

    from seegaan.train.metrics import check_fid

    check_fid(cfg.inception_weights)
    # Built here so a bad --vgg-weights fails the dry run too; the run reuses it.
    perceptual = build_perceptual(cfg.perceptual, cfg.vgg_weights, cfg.vgg_weight, cfg.ssim_weight)
    train_ds = PreparedDataset(data_dir, "train")
    val_ds = PreparedDataset(data_dir, "val")
    if train_ds.size != model_cfg.image_size:
        fix = ("prepare with --size {s} or pick another --preset" if arch_from.startswith("--preset")
               else "prepare with --size {s} or start from another checkpoint")
        raise InputError(f"{data_dir}: images are {train_ds.size}x{train_ds.size} but "
                         f"{arch_from} needs {model_cfg.image_size}x{model_cfg.image_size} "
                         f"({fix.format(s=model_cfg.image_size)})")
    if len(train_ds) < cfg.batch:
        raise InputError(f"{data_dir}: the train split has {len(train_ds)} images, "
                         f"fewer than --batch {cfg.batch}")
    if cfg.batch % world:
        raise OptionError(f"--batch {cfg.batch}: must be divisible by the number of "
                          f"processes ({world})")
    return RunPlan(model_cfg, cfg, arch_from, init, train_ds, val_ds, perceptual)


def _load_init(source: str) -> Autoencoder:
    """The ``--init-from`` checkpoint ("demo": the bundled one), through the usual loader."""
    from seegaan.models.autoencoder import load_autoencoder

    try:
        return load_autoencoder(None if source == "demo" else source)
    except CheckpointError as err:
        raise CheckpointError(f"--init-from: {err}") from None


def _read_state_info(run_dir: Path) -> dict[str, Any]:
    from seegaan.utils.fsio import read_json

    path = run_dir / "state" / "state.json"
    if not path.is_file():
        raise CheckpointError(f"{run_dir}: nothing to resume (no state/state.json); "
                              "start without --resume")
    return read_json(path)


def _truncate_metrics(path: Path, step: int) -> None:
    """Drop metric lines written after the saved state, so a resumed log has no duplicates."""
    if not path.is_file():
        return
    keep = []
    for line in path.read_text().splitlines():
        try:
            if json.loads(line).get("step", 0) <= step:
                keep.append(line)
        except json.JSONDecodeError:
            continue
    from seegaan.utils.fsio import atomic_file

    with atomic_file(path, mode="w") as fh:
        fh.write("".join(k + "\n" for k in keep))


def train(data_dir: str | os.PathLike, run_dir: str | os.PathLike, model_cfg: ModelConfig,
          cfg: TrainConfig, resume: bool = False, overwrite: bool = False,
          device: str = "auto") -> dict[str, Any]:
    """Train (or resume) a run; returns the final step, best score and last validation metrics.

    Example::

        from seegaan.config import TrainConfig, get_preset
        train("data/cohort64", "runs/demo", get_preset("demo64"), TrainConfig(steps=20000))
    """
    trainer = Trainer(data_dir, run_dir, model_cfg, cfg, resume=resume, overwrite=overwrite,
                      device=device)
    try:
        return trainer.run()
    finally:
        ddist.cleanup()
