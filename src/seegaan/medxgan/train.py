"""Training medXGAN: a generator, a class-blind discriminator and the frozen classifier C.

One step, on every process, with its slice of the global batch:

1. draw z1 ~ N(0, I), z2 ~ N(0, I) and a class c ~ Bernoulli(p_pos) per film, where p_pos is
   the share of training films C calls positive (so D sees the classes in the data's
   proportions); the generator's class code is c * z2 (0 for a negative film);
2. D update: non-saturating logistic loss on real vs G(z1, c z2), lazy R1 on real films;
3. G update: the adversarial loss plus ``cls_weight`` x C's cross-entropy toward c. C is
   frozen (eval mode, no parameter gradients): only the generated image receives gradient;
4. EMA of G (the checkpoint's weights).

As in ``seegaan train``, every random draw derives from ``(seed, step)`` and is drawn for the
global batch before slicing, so ``--resume`` and ``torchrun`` reproduce the uninterrupted
single-process run; a first Ctrl-C finishes the step and saves a resumable state.

Validation (every ``val_every`` steps, EMA generator): the generated-class accuracy (share of
generated films C assigns to the class they were asked for, half positive, half negative)
and the sliced Wasserstein distance to validation films. ``best/`` is the checkpoint with the
lowest SWD among those whose accuracy reaches ``ACCURACY_TARGET``, or the most accurate one
until one does.

Example::

    C = PositiveClass(load_model("runs/cnn"), ClassifierSpec(threshold=400), 64)
    MedXGANTrainer("data/cohort64", "runs/mx", MedXGANModelConfig.preset(64),
                   MedXGANTrainConfig(steps=4000), C).run()
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from seegaan.data.prepared import PreparedDataset
from seegaan.errors import CheckpointError, InputError, OptionError, OutputExistsError
from seegaan.medxgan.checkpoint import write_checkpoint
from seegaan.medxgan.classifier import PositiveClass
from seegaan.medxgan.config import MedXGANModelConfig, MedXGANTrainConfig
from seegaan.medxgan.networks import MedXGANDiscriminator, MedXGANGenerator
from seegaan.train import distributed as ddist
from seegaan.train.driver import run_steps
from seegaan.train.ema import ema_beta, update_ema
from seegaan.train.loop import _truncate_metrics, batch_positions, step_generator
from seegaan.train.metrics import sliced_wasserstein
from seegaan.train.samples import save_grid
from seegaan.train.state import load_optimizer_tensors, optimizer_tensors, read_state, save_state
from seegaan.utils.fsio import atomic_dir, read_json, write_json

ACCURACY_TARGET = 0.85


@torch.no_grad()
def sample_classes(G: MedXGANGenerator, n: int, seed: int, n_pos: int | None = None,
                   batch: int = 128) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` films from fixed latents: ``n - n_pos`` negatives, then ``n_pos`` (default n/2) positives."""
    gen = torch.Generator().manual_seed(seed)
    cfg = G.cfg
    z1 = torch.randn(n, cfg.z1_dim, generator=gen)
    z2 = torch.randn(n, cfg.z2_dim, generator=gen)
    c = (torch.arange(n) >= n - (n // 2 if n_pos is None else n_pos)).float()
    dev = next(G.parameters()).device
    x = torch.cat([G(z1[i:i + batch].to(dev), (c[i:i + batch, None] * z2[i:i + batch]).to(dev)).cpu()
                   for i in range(0, n, batch)])
    return x, c


@torch.no_grad()
def class_accuracy(G: MedXGANGenerator, C: PositiveClass, n: int = 512, seed: int = 1
                   ) -> dict[str, float]:
    """Generated-class accuracy: C's verdict (p > 0.5) agrees with the class G was asked for."""
    x, c = sample_classes(G, n, seed)
    p = C.prob_batched(x).cpu()
    hit = ((p > 0.5).float() == c).float()
    return {"class_acc": float(hit.mean()), "class_acc_neg": float(hit[c == 0].mean()),
            "class_acc_pos": float(hit[c == 1].mean()),
            "p_pos_mean_neg": float(p[c == 0].mean()), "p_pos_mean_pos": float(p[c == 1].mean())}


class MedXGANTrainer:
    def __init__(self,
                 data_dir:   str | os.PathLike,     # prepared dataset (train and val splits)
                 run_dir:    str | os.PathLike,     # output directory
                 model_cfg:  MedXGANModelConfig,    # generator / discriminator shape
                 cfg:        MedXGANTrainConfig,    # training options
                 classifier: PositiveClass,         # the frozen C
                 resume:     bool = False,          # continue from run_dir/state
                 overwrite:  bool = False,          # replace an existing run_dir
                 device:     str = "auto",          # "auto", "cpu" or "cuda[:i]"
                 dry_run:    bool = False,          # every check, no file written
                 ) -> None:
        cfg.check()
        self.dry_run = dry_run
        self.data_dir, self.run_dir = Path(data_dir), Path(run_dir)
        self.dist = ddist.init_distributed(device)
        self.dev = self.dist.device
        if cfg.threads > 0:
            torch.set_num_threads(cfg.threads)
        if resume:
            saved = _read_info(self.run_dir)
            model_cfg = MedXGANModelConfig.from_dict(saved["model"])
            old = MedXGANTrainConfig.from_dict(saved["train"])
            # The run's own options win, except its length and the reporting intervals.
            for name in ("steps", "log_every", "val_every", "ckpt_every", "threads"):
                setattr(old, name, getattr(cfg, name))
            cfg = old
        self.model_cfg, self.cfg, self.C = model_cfg, cfg, classifier
        from seegaan.medxgan.classifier import check_input_size

        check_input_size(classifier.model, model_cfg.image_size)
        module = getattr(classifier.model, "module", None)
        if module is not None:
            module.to(self.dev)
        self.train_ds = PreparedDataset(self.data_dir, "train")
        self.val_ds = PreparedDataset(self.data_dir, "val")
        if self.train_ds.size != model_cfg.image_size:
            raise InputError(f"{self.data_dir}: images are {self.train_ds.size}x{self.train_ds.size} "
                             f"but the generator makes {model_cfg.image_size}x{model_cfg.image_size}")
        if len(self.train_ds) < cfg.batch:
            raise InputError(f"{self.data_dir}: {len(self.train_ds)} training films, fewer than "
                             f"--batch {cfg.batch}")
        if cfg.batch % self.dist.world:
            raise OptionError(f"--batch {cfg.batch}: must be divisible by the number of "
                              f"processes ({self.dist.world})")
        self.local_batch = cfg.batch // self.dist.world

        torch.manual_seed(cfg.seed)
        self.G = MedXGANGenerator(model_cfg).to(self.dev)
        self.D = MedXGANDiscriminator(model_cfg).to(self.dev)
        self.G_ema = copy.deepcopy(self.G).eval().requires_grad_(False)
        adam = {"lr": cfg.lr, "betas": tuple(cfg.betas)}
        self.opt_g = torch.optim.Adam(self.G.parameters(), **adam)
        self.opt_d = torch.optim.Adam(self.D.parameters(), **adam)
        self.g_names = [n for n, _ in self.G.named_parameters()]
        self.d_names = [n for n, _ in self.D.named_parameters()]
        self.best: dict[str, Any] = {"class_acc": None, "swd": None, "step": None}
        self.step = 0
        self.classifier_info = classifier.describe()
        if resume:
            self._load_state()
        else:
            self.p_pos = self._positive_share()
            if self.dist.world > 1:
                self._broadcast()
            if self.dist.is_main:
                self._prepare_run_dir(overwrite)
        n_val = min(cfg.val_samples, len(self.val_ds))
        self.val_images = self.val_ds.load_images(slice(0, n_val))

    # -- set-up ----------------------------------------------------------------------------
    @torch.no_grad()
    def _positive_share(self) -> float:
        """The share of training films C calls positive: the class prior of the generator."""
        x = self.train_ds.load_images()
        p = self.C.prob_batched(x.to(self.dev)).cpu()
        share = float((p > 0.5).float().mean())
        if not 0.0 < share < 1.0:
            raise InputError(f"{self.data_dir}: C calls {share:.0%} of the training films positive; "
                             "medXGAN needs both classes (check --threshold / --output)")
        return share

    def _broadcast(self) -> None:
        import torch.distributed as dist

        for t in list(self.G.state_dict().values()) + list(self.D.state_dict().values()):
            dist.broadcast(t, src=0)
        self.G_ema.load_state_dict(self.G.state_dict())

    def _run_config(self) -> dict[str, Any]:
        return {"model": self.model_cfg.to_dict(), "train": self.cfg.to_dict(),
                "classifier": self.classifier_info, "p_pos": self.p_pos,
                "data_dir": str(self.data_dir.resolve()), "n_train": len(self.train_ds),
                "n_val": len(self.val_ds), "world_size": self.dist.world}

    def _prepare_run_dir(self, overwrite: bool) -> None:
        rd = self.run_dir
        if rd.exists() and any(rd.iterdir()):
            if not overwrite:
                hint = " (pass --resume to continue it)" if (rd / "state").is_dir() else ""
                raise OutputExistsError(f"{rd}: already exists{hint}; pass --overwrite to start over")
            if self.dry_run:
                return
            shutil.rmtree(rd)
        if self.dry_run:
            return
        (rd / "samples").mkdir(parents=True, exist_ok=True)
        write_json(rd / "config.json", self._run_config())

    def _state_tensors(self) -> dict[str, torch.Tensor]:
        out = {f"G.{k}": v for k, v in self.G.state_dict().items()}
        out.update({f"D.{k}": v for k, v in self.D.state_dict().items()})
        out.update({f"G_ema.{k}": v for k, v in self.G_ema.state_dict().items()})
        return out

    def _load_state(self) -> None:
        model, optim, info = read_state(self.run_dir, self._state_tensors())
        for prefix, net in (("G.", self.G), ("D.", self.D), ("G_ema.", self.G_ema)):
            net.load_state_dict({k[len(prefix):]: v for k, v in model.items() if k.startswith(prefix)})
        src = str(self.run_dir / "state" / "optim.safetensors")
        load_optimizer_tensors(self.opt_g, self.g_names, "opt_g", optim, src)
        load_optimizer_tensors(self.opt_d, self.d_names, "opt_d", optim, src)
        if info.get("n_train") != len(self.train_ds):
            raise CheckpointError(f"{self.run_dir}: the run was trained on {info.get('n_train')} "
                                  f"films but {self.data_dir} has {len(self.train_ds)} in train")
        was = (info.get("classifier") or {}).get("sha256")
        if was and self.classifier_info.get("sha256") and was != self.classifier_info["sha256"]:
            raise CheckpointError(f"{self.run_dir}: the run was trained against another classifier "
                                  f"(weights sha256 {was[:12]}…, given {self.classifier_info['sha256'][:12]}…)")
        self.step, self.best, self.p_pos = int(info["step"]), info["best"], float(info["p_pos"])
        if self.dist.is_main and not self.dry_run:
            _truncate_metrics(self.run_dir / "metrics.jsonl", self.step)
            write_json(self.run_dir / "config.json", self._run_config())

    # -- one step --------------------------------------------------------------------------
    def train_step(self, step: int) -> dict[str, float]:
        cfg, mc = self.cfg, self.model_cfg
        B, b = cfg.batch, self.local_batch
        lo, hi = self.dist.rank * b, (self.dist.rank + 1) * b
        gen = step_generator(cfg.seed, step)
        z1 = torch.randn(B, mc.z1_dim, generator=gen)[lo:hi].to(self.dev)
        z2 = torch.randn(B, mc.z2_dim, generator=gen)[lo:hi].to(self.dev)
        c = (torch.rand(B, generator=gen) < self.p_pos).float()[lo:hi].to(self.dev)
        pos = batch_positions(len(self.train_ds), B, step, cfg.seed)[lo:hi]
        x = self.train_ds.load_images(pos).to(self.dev)
        fake = self.G(z1, c[:, None] * z2)
        stats: dict[str, float] = {}

        self.D.requires_grad_(True)
        do_reg = step % cfg.reg_every == 0
        x_real = x.detach().requires_grad_(do_reg)
        d_real = self.D(x_real)
        loss_d = F.softplus(-d_real).mean() + F.softplus(self.D(fake.detach())).mean()
        stats["loss_d"] = loss_d.item()
        if do_reg:
            (grad,) = torch.autograd.grad(d_real.sum(), x_real, create_graph=True)
            r1 = grad.pow(2).sum(dim=(1, 2, 3)).mean()
            loss_d = loss_d + cfg.r1_gamma / 2 * r1 * cfg.reg_every
            stats["r1"] = r1.item()
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        ddist.average_gradients(list(self.D.parameters()), self.dist)
        self.opt_d.step()

        self.D.requires_grad_(False)
        loss_adv = F.softplus(-self.D(fake)).mean()
        loss_cls = self.C.bce(fake, c)
        loss_g = loss_adv + cfg.cls_weight * loss_cls
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        ddist.average_gradients(list(self.G.parameters()), self.dist)
        self.opt_g.step()
        update_ema(self.G_ema, self.G, ema_beta(step, cfg.ema_beta))
        stats.update(loss_g_adv=loss_adv.item(), loss_cls=loss_cls.item())
        return stats

    # -- validation and output -------------------------------------------------------------
    def validate(self) -> dict[str, float]:
        out = class_accuracy(self.G_ema, self.C, self.cfg.val_samples, seed=self.cfg.seed + 1)
        # Real films mix the classes as the data does; compare with a matching generated mix.
        n = len(self.val_images)
        mix, _ = sample_classes(self.G_ema, n, seed=self.cfg.seed + 2, n_pos=round(self.p_pos * n))
        out["swd"] = sliced_wasserstein(self.val_images, mix, seed=self.cfg.seed)["swd"]
        return out

    def _is_better(self, m: dict[str, float]) -> bool:
        old_acc, old_swd = self.best.get("class_acc"), self.best.get("swd")
        if old_acc is None:
            return True
        ok, old_ok = m["class_acc"] >= ACCURACY_TARGET, old_acc >= ACCURACY_TARGET
        if ok != old_ok:
            return ok
        return m["swd"] < old_swd if ok else m["class_acc"] > old_acc

    def _checkpoint(self, name: str, metrics: dict[str, Any] | None = None, note: str | None = None) -> None:
        with atomic_dir(self.run_dir / name, overwrite=True) as tmp:
            write_checkpoint(tmp, self.G_ema.state_dict(), self.model_cfg, self.classifier_info,
                             self.step, note=note,
                             extra={"p_pos": self.p_pos, "metrics": metrics or {},
                                    "train": self.cfg.to_dict()})

    def save_state(self) -> None:
        self._checkpoint("last")
        optim = optimizer_tensors(self.opt_g, self.g_names, "opt_g")
        optim.update(optimizer_tensors(self.opt_d, self.d_names, "opt_d"))
        info = {"step": self.step, "model": self.model_cfg.to_dict(), "train": self.cfg.to_dict(),
                "best": self.best, "p_pos": self.p_pos, "n_train": len(self.train_ds),
                "classifier": self.classifier_info, "time": time.time()}
        save_state(self.run_dir, self._state_tensors(), optim, info)

    def _log(self, record: dict[str, Any]) -> None:
        with open(self.run_dir / "metrics.jsonl", "a") as fh:
            fh.write(json.dumps(record) + "\n")

    def _periodic(self, final: bool) -> dict[str, str] | None:
        """Validation (samples, best/) and resumable state: main process, after each step."""
        cfg, shown = self.cfg, None
        if self.step % cfg.val_every == 0 or final:
            self.last_val = self.validate()
            self._log({"step": self.step, "phase": "val", **self.last_val})
            shown = {"acc": f"{self.last_val['class_acc']:.3f}", "swd": f"{self.last_val['swd']:.1f}"}
            self._save_samples()
            if self._is_better(self.last_val):
                self.best = {"class_acc": self.last_val["class_acc"], "swd": self.last_val["swd"],
                             "step": self.step}
                self._checkpoint("best", self.last_val, note=f"best at step {self.step}")
        if self.step % cfg.ckpt_every == 0 or final:
            self.save_state()
        return shown

    def run(self) -> dict[str, Any]:
        self.last_val: dict[str, float] = {}
        run_steps(self, desc="medxgan", periodic=self._periodic, save=self.save_state)
        return {"step": self.step, "best": self.best, "val": self.last_val,
                "run_dir": str(self.run_dir)}

    def _save_samples(self) -> None:
        x, _ = sample_classes(self.G_ema, 16, seed=self.cfg.seed + 3)
        save_grid(self.run_dir / "samples" / f"step{self.step:07d}.png", x, cols=8)


def forward_flops(trainer: MedXGANTrainer) -> dict[str, float]:
    """FLOPs of one film through G and through D (forward), counted by torch.

    A training step costs about ``batch x 3 x (G + 3 D)`` of these (forward + backward of G,
    D on real and fake films, D again for G's loss), plus C and R1: the dry run's estimate.
    """
    from torch.utils.flop_counter import FlopCounterMode

    mc = trainer.model_cfg
    z1, z2 = torch.zeros(1, mc.z1_dim, device=trainer.dev), torch.zeros(1, mc.z2_dim, device=trainer.dev)
    out = {}
    with torch.no_grad():
        with FlopCounterMode(display=False) as fc:
            x = trainer.G(z1, z2)
        out["g_forward"] = float(fc.get_total_flops())
        with FlopCounterMode(display=False) as fc:
            trainer.D(x)
        out["d_forward"] = float(fc.get_total_flops())
    out["step_estimate"] = trainer.cfg.batch * 3 * (out["g_forward"] + 3 * out["d_forward"])
    return out


def dry_run_summary(trainer: MedXGANTrainer) -> dict[str, Any]:
    """What ``medxgan train --dry-run`` prints: the resolved run and its size."""
    n_params = {name: sum(p.numel() for p in net.parameters())
                for name, net in (("G", trainer.G), ("D", trainer.D))}
    return {**trainer._run_config(), "step": trainer.step, "params": n_params,
            "flops": forward_flops(trainer)}


def _read_info(run_dir: Path) -> dict[str, Any]:
    path = run_dir / "state" / "state.json"
    if not path.is_file():
        raise CheckpointError(f"{run_dir}: nothing to resume (no state/state.json); "
                              "start without --resume")
    return read_json(path)


def train_medxgan(data_dir: str | os.PathLike, run_dir: str | os.PathLike,
                  model_cfg: MedXGANModelConfig, cfg: MedXGANTrainConfig, classifier: PositiveClass,
                  resume: bool = False, overwrite: bool = False, device: str = "auto") -> dict[str, Any]:
    """Train (or resume) a medXGAN run; returns the final step, best and last validation."""
    trainer = MedXGANTrainer(data_dir, run_dir, model_cfg, cfg, classifier, resume=resume,
                             overwrite=overwrite, device=device)
    try:
        return trainer.run()
    finally:
        ddist.cleanup()
