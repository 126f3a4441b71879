"""``seegaan medxgan train|explain|evaluate``: thin wrappers over :mod:`seegaan.medxgan`."""

from __future__ import annotations

import os
import re

import click

from seegaan.cli.explain import _load, _model_kwargs, model_options
from seegaan.errors import OptionError

_TARGET = re.compile(r"^\s*([A-Za-z_][\w ]*?)\s*>\s*([-+0-9.eE]+)\s*$")


def classifier_options(f):
    """How C's output becomes a positive-class score (on top of the shared model options)."""
    opts = [
        click.option("--classifier", "classifier_spec", default=None, metavar="MODEL",
                     help="The frozen classifier C: anything `seegaan predict` accepts "
                          "(CNN directory, TorchScript, package.module:factory, txrv:NAME). "
                          "Default for the bundled checkpoint: needs the demo CNN."),
        click.option("--target", default=None, metavar="NAME>VALUE",
                     help="Positive class of a regressor, e.g. 'bnpp>400' (the demo's)."),
        click.option("--score-as", "score_as", default="auto", show_default=True,
                     type=click.Choice(["auto", "logit", "probability", "log-threshold", "threshold"]),
                     help="What C's chosen output is; see docs/medxgan.md."),
        click.option("--temperature", type=float, default=0.25, show_default=True,
                     help="logit = (score - threshold) / temperature for a thresholded regressor."),
    ]
    for opt in reversed(opts):
        f = opt(f)
    return model_options(f)


def _spec(target: str | None, score_as: str, temperature: float):
    from seegaan.medxgan.config import ClassifierSpec

    threshold = None
    if target:
        m = _TARGET.match(target)
        if not m:
            raise OptionError(f"--target {target!r}: write NAME>VALUE, e.g. bnpp>400")
        threshold = float(m.group(2))
    return ClassifierSpec(output=score_as, threshold=threshold, temperature=temperature)


def load_classifier(kw: dict, image_size: int, default_spec=None):
    """C from the CLI options, as a PositiveClass checked against G's image size."""
    from seegaan.medxgan.classifier import PositiveClass

    spec = kw.pop("classifier_spec")
    target, score_as, temperature = kw.pop("target"), kw.pop("score_as"), kw.pop("temperature")
    model_kw = _model_kwargs(kw)
    if spec is None:
        raise OptionError("--classifier: required (the frozen model C that medXGAN explains)")
    cspec = _spec(target, score_as, temperature)
    if default_spec is not None and target is None:
        cspec = default_spec  # the checkpoint's own definition of the positive class
    return PositiveClass(_load(spec, **model_kw), cspec, image_size=image_size)


@click.group("medxgan")
def medxgan() -> None:
    """medXGAN: a class-conditional GAN that explains a binary classifier (Dravid et al. 2022)."""


@medxgan.command("train")
@click.argument("data_dir", type=click.Path(file_okay=False, path_type=str))
@classifier_options
@click.option("--out", "run_dir", required=True, type=click.Path(path_type=str),
              help="Run directory (best/, last/, state/, metrics.jsonl, samples/).")
@click.option("--size", type=click.Choice(["64", "128", "256"]), default="64", show_default=True,
              help="Generator preset (image side).")
@click.option("--z1", "z1_dim", type=int, default=100, show_default=True, help="Anatomy code size.")
@click.option("--z2", "z2_dim", type=int, default=10, show_default=True, help="Class code size.")
@click.option("--steps", type=int, default=None, help="Generator updates (default 4000).")
@click.option("--batch", type=int, default=None, help="Global batch (default 16).")
@click.option("--lr", type=float, default=None, help="Adam learning rate (default 2e-4).")
@click.option("--cls-weight", type=float, default=None, help="Weight of C's cross-entropy (default 1).")
@click.option("--seed", type=int, default=None, help="Seed of every random draw (default 0).")
@click.option("--val-every", type=int, default=None, help="Steps between validations (best/).")
@click.option("--ckpt-every", type=int, default=None, help="Steps between resumable states.")
@click.option("--threads", type=int, default=None, help="torch threads per process.")
@click.option("--resume", is_flag=True, help="Continue RUN_DIR from its state/.")
@click.option("--overwrite", is_flag=True, help="Replace an existing RUN_DIR.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu or cuda.")
def train(data_dir, run_dir, size, z1_dim, z2_dim, steps, batch, lr, cls_weight, seed, val_every,
          ckpt_every, threads, resume, overwrite, device, **kw) -> None:
    """Train G(z1, z2) on DATA_DIR (from `seegaan prepare`) against the frozen classifier C.

    \b
    Examples:
      seegaan medxgan train data/cohort64 --classifier runs/cnn --target 'bnpp>400' --out runs/mx
      seegaan medxgan train data/cohort64 --classifier runs/cnn --target 'bnpp>400' --out runs/mx --resume
      torchrun --nproc_per_node=4 -m seegaan medxgan train data/cxr128 --size 128 ...
    """
    from seegaan.medxgan.config import MedXGANModelConfig, MedXGANTrainConfig
    from seegaan.medxgan.train import train_medxgan

    model_cfg = MedXGANModelConfig.preset(int(size), z1_dim=z1_dim, z2_dim=z2_dim)
    cfg = MedXGANTrainConfig()
    for k, v in {"steps": steps, "batch": batch, "lr": lr, "cls_weight": cls_weight, "seed": seed,
                 "val_every": val_every, "ckpt_every": ckpt_every, "threads": threads}.items():
        if v is not None:
            setattr(cfg, k, v)
    if cfg.threads:
        import torch

        torch.set_num_threads(cfg.threads)
    C = load_classifier(kw, model_cfg.image_size)
    cfg.classifier = C.spec
    result = train_medxgan(data_dir, run_dir, model_cfg, cfg, C, resume=resume,
                           overwrite=overwrite, device=device)
    if int(os.environ.get("RANK", "0")) == 0:
        val, best = result.get("val") or {}, result.get("best") or {}
        line = f"trained to step {result['step']}"
        if "class_acc" in val:
            line += f"; generated-class accuracy {val['class_acc']:.3f}, SWD {val['swd']:.3g}"
        if best.get("step") is not None:
            line += f"; best/ = step {best['step']} (accuracy {best['class_acc']:.3f})"
        click.echo(line + f" -> {result['run_dir']}")
