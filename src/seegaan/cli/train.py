"""``seegaan train``: train the style-based adversarial autoencoder on a prepared dataset."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import click

from seegaan.cli.options import POSITIVE
from seegaan.config import PRESETS, TrainConfig, get_preset, train_default, train_fields
from seegaan.errors import InputError, OptionError


def _d(name: str) -> Any:
    """The TrainConfig default of ``name``: the one source of the defaults --help shows."""
    return train_default(name)


def read_config_file(path: str) -> dict[str, Any]:
    """Training options from a JSON or TOML file (a flat table of TrainConfig fields).

    A run's own ``config.json`` also works: its ``train`` block is used.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(f"--config {path}: file not found")
    text = p.read_text()
    try:
        if p.suffix.lower() == ".toml":
            try:
                import tomllib
            except ImportError:  # Python 3.10
                raise OptionError(f"--config {path}: TOML needs Python 3.11+; use JSON") from None
            data = tomllib.loads(text)
        else:
            data = json.loads(text)
    except (ValueError, UnicodeDecodeError) as err:  # JSONDecodeError and TOMLDecodeError
        raise InputError(f"--config {path}: not valid {p.suffix.lstrip('.') or 'JSON'} ({err})") from None
    if not isinstance(data, dict):
        raise InputError(f"--config {path}: must hold a table of training options")
    if isinstance(data.get("train"), dict):  # a run directory's config.json
        data = data["train"]
    return data


def parse_sets(pairs: tuple[str, ...]) -> dict[str, str]:
    """``--set key=value`` pairs as a dict; every key must be a TrainConfig field."""
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key:
            raise OptionError(f"--set {pair}: expected KEY=VALUE, e.g. --set r1_gamma=5")
        if key not in train_fields():
            raise OptionError(f"--set {key}: unknown training option (known: "
                              f"{', '.join(train_fields())})")
        out[key] = value.strip()
    return out


def resolve_config(config_file: str | None, sets: tuple[str, ...],
                   flags: dict[str, Any]) -> TrainConfig:
    """Defaults < ``--config`` file < ``--set`` pairs < the named flags; then validated."""
    cfg = TrainConfig()
    if config_file:
        cfg = cfg.updated(read_config_file(config_file), source=f"--config {config_file}")
    if sets:
        cfg = cfg.updated(parse_sets(sets), source="--set")
    given = {k: v for k, v in flags.items() if v is not None}
    if given:
        cfg = cfg.updated(given, source="options")
    cfg.validate()
    return cfg


@click.command("train")
@click.argument("data_dir", type=click.Path(file_okay=False, path_type=str))
@click.option("--out", "run_dir", required=True, type=click.Path(path_type=str),
              help="Run directory (checkpoints last/, best/, state/; metrics.jsonl; samples/).")
@click.option("--preset", default="demo64", show_default=True, type=click.Choice(list(PRESETS)),
              help="Architecture preset; its image size must match DATA_DIR.")
@click.option("--steps", type=int, default=_d("steps"), show_default=True, help="Total optimiser steps.")
@click.option("--batch", type=int, default=_d("batch"), show_default=True,
              help="Total batch over all processes.")
@click.option("--seed", type=int, default=_d("seed"), show_default=True, help="Seed of every random draw.")
@click.option("--resume", is_flag=True, help="Continue RUN_DIR from its state/ (same seed, same data order).")
@click.option("--overwrite", is_flag=True, help="Replace an existing RUN_DIR.")
@click.option("--lr", type=POSITIVE, default=_d("lr"), show_default=True, help="Adam learning rate.")
@click.option("--ckpt-every", type=int, default=_d("ckpt_every"), show_default=True,
              help="Steps between last/ + state/ checkpoints.")
@click.option("--val-every", type=int, default=_d("val_every"), show_default=True,
              help="Steps between validation (and best/ selection).")
@click.option("--sample-every", type=int, default=_d("sample_every"), show_default=True,
              help="Steps between sample grids.")
@click.option("--log-every", type=int, default=_d("log_every"), show_default=True,
              help="Steps between loss lines in metrics.jsonl.")
@click.option("--val-images", type=int, default=_d("val_images"), show_default=True,
              help="Validation images for MSE/SSIM/SWD.")
@click.option("--perceptual", type=click.Choice(["auto", "vgg", "ssim", "none"]), default=_d("perceptual"),
              show_default=True,
              help="Perceptual term: vgg (needs --vgg-weights) or the weight-free ssim substitute.")
@click.option("--vgg-weights", type=click.Path(dir_okay=False, path_type=str), default=None,
              help="Local torchvision vgg16 state dict for the perceptual loss.")
@click.option("--inception-weights", type=click.Path(dir_okay=False, path_type=str), default=None,
              help="Local Inception weights for FID (needs torchmetrics + torch-fidelity).")
@click.option("--best-by", type=click.Choice(["auto", "fid", "swd", "ssim", "mse"]), default=_d("best_by"),
              show_default=True,
              help="Validation metric that selects best/ (auto: fid if available, else ssim).")
@click.option("--modconv", type=click.Choice(["fast", "grouped"]), default=_d("modconv"),
              show_default=True,
              help="Modulated-conv implementation: fast (shared conv, the same maths; quicker "
                   "on small maps) or the reference's grouped conv.")
@click.option("--threads", type=int, default=_d("threads"), show_default=True,
              help="torch threads per process (0: torch's default).")
@click.option("--init-from", "init_from", default=None, metavar="CKPT",
              help="Warm start a new run from an inference checkpoint directory (or 'demo' for "
                   "the bundled one): E, M and G start from its weights, D and Adam afresh. "
                   "The run keeps that checkpoint's architecture, whatever --preset says.")
@click.option("--config", "config_file", type=click.Path(dir_okay=False, path_type=str), default=None,
              metavar="FILE.json|toml",
              help="Training options from a file (any TrainConfig field; unknown keys are an error).")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
              help="Set any training option, e.g. --set r1_gamma=5 --set ema_beta=0.995 "
                   "(repeatable; see `--dry-run` for every field and its value).")
@click.option("--device", default="auto", show_default=True, help="auto, cpu or cuda.")
@click.option("--dry-run", is_flag=True,
              help="Make every check the run makes, print the resolved config, and stop.")
def train(data_dir, run_dir, preset, steps, batch, seed, resume, overwrite, lr, ckpt_every,
          val_every, sample_every, log_every, val_images, perceptual, vgg_weights,
          inception_weights, best_by, modconv, threads, init_from, config_file, sets, device,
          dry_run) -> None:
    """Train the autoencoder on DATA_DIR (from `seegaan prepare`).

    Options apply in this order, later ones winning: the defaults shown here, --config,
    --set, then the named flags.

    \b
    Examples:
      seegaan train data/cohort64 --out runs/demo --preset demo64 --steps 20000
      seegaan train data/cohort64 --out runs/demo --resume          # continue after Ctrl-C
      seegaan train data/cohort64 --out runs/more --init-from demo  # warm start from the bundled weights
      seegaan train data/cohort64 --out runs/r1 --set r1_gamma=5 --dry-run
      torchrun --nproc_per_node=4 -m seegaan train data/cxr256 --out runs/paper --preset paper256
    """
    flags = {"steps": steps, "batch": batch, "seed": seed, "lr": lr, "ckpt_every": ckpt_every,
             "val_every": val_every, "sample_every": sample_every, "log_every": log_every,
             "val_images": val_images, "perceptual": perceptual, "vgg_weights": vgg_weights,
             "inception_weights": inception_weights, "best_by": best_by, "modconv": modconv,
             "threads": threads, "init_from": init_from}
    # A flag left at its default must not undo --config or --set: only typed flags count.
    ctx = click.get_current_context()
    flags = {k: v for k, v in flags.items()
             if ctx.get_parameter_source(k) != click.core.ParameterSource.DEFAULT}
    cfg = resolve_config(config_file, sets, flags)
    model_cfg = get_preset(preset)
    if device != "auto":
        from seegaan.utils.device import resolve_device

        resolve_device(device)
    from seegaan.utils.fsio import check_not_input, check_output

    check_not_input(run_dir, [data_dir, vgg_weights, inception_weights, init_from])
    check_output(run_dir, overwrite=True)  # writable? (existence is the trainer's to judge)
    if dry_run:
        from seegaan.train.loop import plan_run

        plan = plan_run(data_dir, run_dir, model_cfg, cfg, resume=resume, overwrite=overwrite)
        tr, va = plan.train_ds, plan.val_ds
        click.echo(json.dumps({"model": plan.model_cfg.to_dict(), "train": plan.cfg.to_dict()},
                              indent=2, default=str))
        click.echo(f"dry run: {len(tr)} train / {len(va)} val images of {tr.size}x{tr.size}; "
                   f"architecture from {plan.arch_from}; {plan.cfg.steps} steps of batch "
                   f"{plan.cfg.batch} -> {run_dir} (every check of the run passed)")
        return
    import contextlib

    from seegaan.train.loop import train as run_training
    from seegaan.utils.fsio import output_lock

    # A second `train --out` on the same RUN_DIR is refused; torchrun's other ranks share
    # rank 0's run and must not take the lock themselves.
    rank0 = int(os.environ.get("RANK", "0")) == 0
    with output_lock(run_dir) if rank0 else contextlib.nullcontext():
        result = run_training(data_dir, run_dir, model_cfg, cfg, resume=resume,
                              overwrite=overwrite, device=device)
    if rank0:
        val = result.get("val") or {}
        best = result.get("best") or {}
        parts = [f"trained to step {result['step']}"]
        if "val_ssim" in val:
            parts.append(f"val SSIM {val['val_ssim']:.3f}, MSE {val['val_mse']:.4g}, SWD {val['swd']:.3g}")
        if best.get("value") is not None:
            parts.append(f"best {best['metric']} {best['value']:.4g} at step {best['step']}")
        click.echo("; ".join(parts) + f" -> {result['run_dir']}")
