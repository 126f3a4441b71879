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

    threshold = name = None
    if target:
        m = _TARGET.match(target)
        if not m:
            raise OptionError(f"--target {target!r}: write NAME>VALUE, e.g. bnpp>400")
        name, threshold = m.group(1).strip(), float(m.group(2))
    return ClassifierSpec(output=score_as, threshold=threshold, temperature=temperature, target=name)


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
@click.option("--dry-run", is_flag=True,
              help="Make every check the run makes, print the resolved run and its size, and stop.")
def train(data_dir, run_dir, size, z1_dim, z2_dim, steps, batch, lr, cls_weight, seed, val_every,
          ckpt_every, threads, resume, overwrite, device, dry_run, **kw) -> None:
    """Train G(z1, z2) on DATA_DIR (from `seegaan prepare`) against the frozen classifier C.

    \b
    Examples:
      seegaan medxgan train data/cohort64 --classifier runs/cnn --target 'bnpp>400' --out runs/mx
      seegaan medxgan train data/cohort64 --classifier runs/cnn --target 'bnpp>400' --out runs/mx --resume
      seegaan medxgan train data/cxr128 --size 128 --classifier cnn128 --out runs/mx128 --dry-run
      torchrun --nproc_per_node=4 -m seegaan medxgan train data/cxr128 --size 128 ...
    """
    from seegaan.medxgan.config import MedXGANModelConfig, MedXGANTrainConfig
    from seegaan.medxgan.train import MedXGANTrainer, dry_run_summary, train_medxgan

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
    if dry_run:
        import json

        tr = MedXGANTrainer(data_dir, run_dir, model_cfg, cfg, C, resume=resume,
                            overwrite=overwrite, device=device, dry_run=True)
        info = dry_run_summary(tr)
        click.echo(json.dumps(info, indent=2, default=str))
        f, p = info["flops"], info["params"]
        click.echo(f"dry run: {info['n_train']} train / {info['n_val']} val films of "
                   f"{model_cfg.image_size}x{model_cfg.image_size}; G {p['G'] / 1e6:.2f} M and "
                   f"D {p['D'] / 1e6:.2f} M parameters; about {f['step_estimate'] / 1e9:.1f} GFLOP "
                   f"per step of batch {tr.cfg.batch}; steps {tr.step} -> {tr.cfg.steps} "
                   f"into {run_dir} (every check of the run passed)")
        return
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


def _load_generator(run: str):
    from seegaan.medxgan.checkpoint import load_medxgan

    return load_medxgan(None if run == "demo" else run)


def _classifier_for_checkpoint(kw: dict, info: dict):
    """C as the checkpoint defines its positive class, unless --target / --score-as override it."""
    from seegaan.medxgan.config import ClassifierSpec

    rec = info.get("classifier") or {}
    default = ClassifierSpec(**rec.get("spec", {})) if kw.get("score_as") == "auto" else None
    C = load_classifier(kw, int(info["model"]["image_size"]), default_spec=default)
    from seegaan.medxgan.classifier import fingerprint

    if rec.get("sha256") and rec["sha256"] != fingerprint(C.model):
        click.echo(f"warning: {C.model.name} is not the classifier this checkpoint was trained "
                   "against (weights differ); the explanation still runs, but G's class code "
                   "follows the other classifier", err=True)
    return C


def _truth(spec) -> tuple[str, float]:
    """The dataset column and threshold that define a film's true class."""
    if spec.target is None or spec.threshold is None:
        raise OptionError("--target NAME>VALUE: needed to know each film's true class "
                          "(the checkpoint does not record it)")
    return spec.target, spec.threshold


def _settings(restarts, steps, frames, lig_steps, seed, prior_weight=None):
    from seegaan.medxgan.explainer import ExplainSettings
    from seegaan.medxgan.invert import InversionSettings

    inv = InversionSettings(restarts=restarts, steps=steps, seed=seed)
    if prior_weight is not None:
        inv.prior_weight = prior_weight
    return ExplainSettings(inversion=inv, frames=frames, lig_steps=lig_steps)


def explain_options(f):
    opts = [
        click.option("--restarts", type=int, default=8, show_default=True,
                     help="Random restarts of the inversion (the best is kept)."),
        click.option("--inversion-steps", "steps", type=int, default=300, show_default=True,
                     help="Adam steps of each inversion."),
        click.option("--prior-weight", type=float, default=None,
                     help="Weight of the Gaussian prior on the latents in the inversion "
                          "(default 0.1; 0 = the paper's objective). See docs/medxgan.md."),
        click.option("--frames", type=int, default=9, show_default=True, help="Frames of the alpha sequence."),
        click.option("--lig-steps", type=int, default=32, show_default=True, help="Alphas LIG averages."),
        click.option("--seed", type=int, default=0, show_default=True),
        click.option("--overwrite", is_flag=True, help="Replace an existing --out."),
    ]
    for opt in reversed(opts):
        f = opt(f)
    return f


@medxgan.command("explain")
@click.argument("run", metavar="RUN|demo")
@classifier_options
@click.option("--data", "data_dir", required=True, type=click.Path(file_okay=False, path_type=str),
              help="Prepared dataset holding the films (and the target column for --cases).")
@click.option("--images", default=None, metavar="ID,ID,...", help="Image ids to explain.")
@click.option("--cases", default=None, metavar="tp,tn,fp,fn",
              help="One film of each listed category from the test split (the Fig. 6 rule).")
@click.option("--out", required=True, type=click.Path(path_type=str), help="Output folder.")
@explain_options
def explain(run, data_dir, images, cases, out, restarts, steps, prior_weight, frames, lig_steps, seed,
            overwrite, **kw) -> None:
    """Explain films with a medXGAN checkpoint (a run, a checkpoint directory, or 'demo').

    \b
    Examples:
      seegaan medxgan explain demo --classifier seegaan-demo/cnn --data seegaan-demo/data --cases tp,fn --out mx
      seegaan medxgan explain runs/mx --classifier runs/cnn --data data/c64 --images p0012_0 --out mx
    """
    from seegaan.medxgan.outputs import explain_to_dir, films_from_dataset

    if bool(images) == bool(cases):
        raise OptionError("give exactly one of --images and --cases")
    G, info = _load_generator(run)
    C = _classifier_for_checkpoint(kw, info)
    target, threshold = _truth(C.spec)
    cats = None
    if cases:
        cats = [c.strip().lower() for c in cases.split(",") if c.strip()]
        bad = [c for c in cats if c not in ("tp", "tn", "fp", "fn")]
        if bad:
            raise OptionError(f"--cases {bad[0]}: choose from tp, tn, fp, fn")
    films = films_from_dataset(data_dir, C.model, target, threshold,
                               image_ids=[i.strip() for i in images.split(",")] if images else None,
                               categories=cats)
    if not films:
        raise OptionError("no film to explain (the requested categories are empty)")
    settings = _settings(restarts, steps, frames, lig_steps, seed, prior_weight)
    rec = explain_to_dir(G, C, films, out, info, settings, overwrite=overwrite, echo=lambda m: click.echo(m, err=True))
    click.echo(f"{len(rec['films'])} film(s) explained -> {out}")


@medxgan.command("evaluate")
@click.argument("run", metavar="RUN|demo")
@classifier_options
@click.option("--data", "data_dir", required=True, type=click.Path(file_okay=False, path_type=str),
              help="Prepared dataset; positive test films (true target > threshold) are used.")
@click.option("--n", "n_films", type=int, default=50, show_default=True, help="Positive test films.")
@click.option("--k", type=float, default=0.10, show_default=True,
              help="Share of pixels deleted in the perturbation test (the same for every map).")
@click.option("--n-generated", type=int, default=1000, show_default=True,
              help="Generated films for the generated-class accuracy.")
@click.option("--out", required=True, type=click.Path(path_type=str), help="Output folder.")
@explain_options
def evaluate(run, data_dir, n_films, k, n_generated, out, restarts, steps, prior_weight, frames,
             lig_steps, seed, overwrite, **kw) -> None:
    """The paper's evaluations on positive test films, in a table beside the paper's numbers."""
    from seegaan.medxgan.evaluate import EvalSettings, evaluate_medxgan, table_markdown
    from seegaan.medxgan.outputs import evaluate_to_dir, positive_test_films
    from seegaan.utils.fsio import check_output

    if not 0 < k < 1:
        raise OptionError(f"--k {k}: must be between 0 and 1")
    check_output(out, overwrite)
    G, info = _load_generator(run)
    C = _classifier_for_checkpoint(kw, info)
    target, threshold = _truth(C.spec)
    films, ids = positive_test_films(data_dir, target, threshold, n_films, seed=seed)
    s = EvalSettings(k=k, n_generated=n_generated, seed=seed,
                     explain=_settings(restarts, steps, frames, lig_steps, seed, prior_weight))
    result = evaluate_medxgan(G, C, films, ids, s, echo=lambda m: click.echo(m, err=True))
    evaluate_to_dir(result, out, {"checkpoint": info.get("path"), "classifier": C.describe(),
                                  "data_dir": str(data_dir)}, overwrite=overwrite)
    click.echo(table_markdown(result), nl=False)
    click.echo(f"-> {out}")
