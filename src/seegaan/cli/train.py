"""``seegaan train``: train the style-based adversarial autoencoder on a prepared dataset."""

from __future__ import annotations

import click

from seegaan.cli.options import POSITIVE
from seegaan.config import PRESETS, TrainConfig, get_preset


@click.command("train")
@click.argument("data_dir", type=click.Path(file_okay=False, path_type=str))
@click.option("--out", "run_dir", required=True, type=click.Path(path_type=str),
              help="Run directory (checkpoints last/, best/, state/; metrics.jsonl; samples/).")
@click.option("--preset", default="demo64", show_default=True, type=click.Choice(list(PRESETS)),
              help="Architecture preset; its image size must match DATA_DIR.")
@click.option("--steps", type=int, default=None, help="Total optimiser steps (default 20000).")
@click.option("--batch", type=int, default=None, help="Total batch over all processes (default 8).")
@click.option("--seed", type=int, default=None, help="Seed of every random draw (default 0).")
@click.option("--resume", is_flag=True, help="Continue RUN_DIR from its state/ (same seed, same data order).")
@click.option("--overwrite", is_flag=True, help="Replace an existing RUN_DIR.")
@click.option("--lr", type=POSITIVE, default=None, help="Adam learning rate (default 1e-3).")
@click.option("--ckpt-every", type=int, default=None, help="Steps between last/ + state/ checkpoints.")
@click.option("--val-every", type=int, default=None, help="Steps between validation (and best/ selection).")
@click.option("--sample-every", type=int, default=None, help="Steps between sample grids.")
@click.option("--log-every", type=int, default=None, help="Steps between loss lines in metrics.jsonl.")
@click.option("--val-images", type=int, default=None, help="Validation images for MSE/SSIM/SWD (default 256).")
@click.option("--perceptual", type=click.Choice(["auto", "vgg", "ssim", "none"]), default=None,
              help="Perceptual term: vgg (needs --vgg-weights) or the weight-free ssim substitute.")
@click.option("--vgg-weights", type=click.Path(dir_okay=False, path_type=str), default=None,
              help="Local torchvision vgg16 state dict for the perceptual loss.")
@click.option("--inception-weights", type=click.Path(dir_okay=False, path_type=str), default=None,
              help="Local Inception weights for FID (needs torchmetrics + torch-fidelity).")
@click.option("--best-by", type=click.Choice(["auto", "fid", "swd", "ssim", "mse"]), default=None,
              help="Validation metric that selects best/ (auto: fid if available, else ssim).")
@click.option("--modconv", type=click.Choice(["fast", "grouped"]), default=None,
              help="Modulated-conv implementation: fast (shared conv, the same maths; quicker "
                   "on small maps) or the reference's grouped conv.")
@click.option("--threads", type=int, default=None, help="torch threads per process (default: torch's).")
@click.option("--init-from", "init_from", default=None, metavar="CKPT",
              help="Warm start a new run from an inference checkpoint directory (or 'demo' for "
                   "the bundled one): E, M and G start from its weights, D and Adam afresh.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu or cuda.")
@click.option("--dry-run", is_flag=True, help="Check the dataset and options, print the plan, and stop.")
def train(data_dir, run_dir, preset, steps, batch, seed, resume, overwrite, lr, ckpt_every,
          val_every, sample_every, log_every, val_images, perceptual, vgg_weights,
          inception_weights, best_by, modconv, threads, init_from, device, dry_run) -> None:
    """Train the autoencoder on DATA_DIR (from `seegaan prepare`).

    \b
    Examples:
      seegaan train data/cohort64 --out runs/demo --preset demo64 --steps 20000
      seegaan train data/cohort64 --out runs/demo --resume          # continue after Ctrl-C
      seegaan train data/cohort64 --out runs/more --init-from demo  # warm start from the bundled weights
      torchrun --nproc_per_node=4 -m seegaan train data/cxr256 --out runs/paper --preset paper256
    """
    cfg = TrainConfig()
    given = {"steps": steps, "batch": batch, "seed": seed, "lr": lr, "ckpt_every": ckpt_every,
             "val_every": val_every, "sample_every": sample_every, "log_every": log_every,
             "val_images": val_images, "perceptual": perceptual, "vgg_weights": vgg_weights,
             "inception_weights": inception_weights, "best_by": best_by, "modconv": modconv,
             "threads": threads, "init_from": init_from}
    for k, v in given.items():
        if v is not None:
            setattr(cfg, k, v)
    cfg.validate()
    model_cfg = get_preset(preset)
    if device != "auto":
        from seegaan.utils.device import resolve_device

        resolve_device(device)
    from seegaan.utils.fsio import check_not_input, check_output

    check_not_input(run_dir, [data_dir, vgg_weights, inception_weights, init_from])
    check_output(run_dir, overwrite=True)  # writable? (existence is the trainer's to judge)
    if dry_run:
        from seegaan.data.prepared import PreparedDataset
        from seegaan.errors import InputError

        tr, va = PreparedDataset(data_dir, "train"), PreparedDataset(data_dir, "val")
        if tr.size != model_cfg.image_size:
            raise InputError(f"{data_dir}: images are {tr.size}x{tr.size} but preset {preset} "
                             f"needs {model_cfg.image_size}x{model_cfg.image_size}")
        click.echo(f"dry run: {len(tr)} train / {len(va)} val images of {tr.size}x{tr.size}; "
                   f"preset {preset}; {cfg.steps} steps of batch {cfg.batch} -> {run_dir}")
        return
    import contextlib
    import os

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
