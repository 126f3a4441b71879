"""``seegaan gvr fit|explain|bias-test|shortcut``: thin wrappers over :mod:`seegaan.gvr`."""

from __future__ import annotations

from pathlib import Path

import click


def _rationale_options(f):
    opts = [
        click.option("--beta", type=float, default=0.5, show_default=True,
                     help="Proximity weight β of f(w) + β‖w − w₀‖²/r² (unit-free; 0 = none)."),
        click.option("--step", type=float, default=0.002, show_default=True,
                     help="Step length as a share of the latents' spread r."),
        click.option("--max-steps", type=click.IntRange(1), default=2000, show_default=True,
                     help="Accepted steps at most."),
    ]
    for opt in reversed(opts):
        f = opt(f)
    return f


@click.group("gvr")
def gvr() -> None:
    """Generative Visual Rationales: a latent predictor, and what the film must lose to change its mind.

    \b
    seegaan gvr fit latents.parquet --target bnpp --log --architecture linear --out runs/gvr/pred
    seegaan gvr explain CKPT latents.parquet --predictor runs/gvr/pred --cases tp,fp --out runs/gvr/exp
    seegaan gvr bias-test CKPT latents.parquet --out runs/gvr/bias
    seegaan gvr shortcut CKPT --out runs/gvr/shortcut
    """


@gvr.command("fit")
@click.argument("latents", type=click.Path(path_type=Path))
@click.option("--target", default="bnpp", show_default=True, help="Column of the latent table to predict.")
@click.option("--log/--no-log", "log_scale", default=True, show_default=True, help="Regress log(target).")
# --kind is the option's old name, kept so that existing scripts run.
@click.option("--architecture", "--kind", "architecture", type=click.Choice(["linear", "mlp"]),
              default="linear", show_default=True,
              help="linear: ridge / logistic; mlp: one hidden layer with early stopping.")
@click.option("--threshold", type=float, default=400.0, show_default=True,
              help="Cut-off on the original scale (probability for a 0/1 target).")
@click.option("--hidden", type=click.IntRange(1), default=64, show_default=True, help="MLP hidden units.")
@click.option("--holdout", type=float, default=0.2, show_default=True,
              help="Share of patients held out for the score (when the table has no train/test split).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--out", "out", required=True, type=click.Path(path_type=Path), help="Predictor directory.")
@click.option("--overwrite", is_flag=True, help="Replace an existing predictor directory.")
def fit(latents: Path, target: str, log_scale: bool, architecture: str, threshold: float, hidden: int,
        holdout: float, seed: int, out: Path, overwrite: bool) -> None:
    """Fit a latent predictor on LATENTS and write it as safetensors + JSON."""
    from seegaan.gvr import PredictorConfig, fit_predictor, save_predictor
    from seegaan.latent import load_latents
    from seegaan.utils.fsio import check_output

    check_output(out, overwrite)
    cfg = PredictorConfig(target=target, architecture=architecture, log_scale=log_scale, threshold=threshold, hidden=hidden,
                          holdout=holdout, seed=seed)
    cfg.check()
    pred, rep = fit_predictor(load_latents(latents), cfg)
    save_predictor(pred, out, overwrite=overwrite)
    h = rep["heldout"]
    score = ", ".join(f"{k} {h[k]:.3f}" for k in ("auc", "r2", "accuracy") if h.get(k) is not None)
    click.echo(f"predictor: {out} ({pred.describe()}; {rep['n_fit']} films fitted, held-out "
               f"n={h['n']}: {score or 'no held-out rows'}; {rep['split']})")


@gvr.command("explain")
@click.argument("checkpoint", type=click.Path(path_type=Path))
@click.argument("latents", type=click.Path(path_type=Path))
@click.option("--predictor", "predictor_dir", required=True, type=click.Path(path_type=Path),
              help="Predictor directory from `seegaan gvr fit`.")
@click.option("--images", default=None, help="Image ids to explain, comma-separated.")
@click.option("--cases", default=None, help="Categories among held-out films, e.g. tp,tn,fp,fn.")
@click.option("--inverse", is_flag=True, help="Inverse GVR: push each film to every --targets value.")
@click.option("--targets", default="250,1000,4000", show_default=True,
              help="Inverse GVR goals on the original scale.")
@click.option("--margin", type=float, default=0.0, show_default=True,
              help="Go this far past the cut-off (predictor axis, log units with --log).")
@click.option("--frames", type=click.IntRange(2), default=8, show_default=True, help="Frames along each path.")
@_rationale_options
@click.option("--data", "data_dir", type=click.Path(path_type=Path), default=None,
              help="Prepared dataset of the films (default: the one the table records).")
@click.option("--device", default="cpu", show_default=True, help="torch device, e.g. cuda.")
@click.option("--out", "out", required=True, type=click.Path(path_type=Path), help="Output directory.")
@click.option("--overwrite", is_flag=True, help="Replace an existing output directory.")
def explain(checkpoint: Path, latents: Path, predictor_dir: Path, images: str | None,
            cases: str | None, inverse: bool, targets: str, margin: float, frames: int, beta: float,
            step: float, max_steps: int, data_dir: Path | None, device: str, out: Path,
            overwrite: bool) -> None:
    """GVR for chosen films: overlay.png, sequence.png, rationale.gif, result.json, cases/."""
    import seegaan
    from seegaan.errors import OptionError
    from seegaan.gvr import load_predictor
    from seegaan.gvr.explain import GVRConfig, explain_cases, parse_targets, target_goals
    from seegaan.gvr.predictor import check_latent_width
    from seegaan.latent import load_latents
    from seegaan.utils.fsio import check_output

    # Everything that needs no model is checked first: a typo costs a second.
    check_output(out, overwrite)
    if bool(images) == bool(cases):
        raise OptionError("give exactly one of --images ID,... and --cases tp,tn,fp,fn")
    cfg = GVRConfig(beta=beta, step=step, max_steps=max_steps, margin=margin, frames=frames,
                    inverse=inverse, targets=parse_targets(targets))
    cfg.check()
    pred = load_predictor(predictor_dir)
    table = load_latents(latents)
    check_latent_width(pred, table.w_dim)
    if inverse:
        target_goals(pred, cfg.targets)
    ae = seegaan.load_autoencoder(checkpoint, device=device)
    summary = explain_cases(ae, table, pred, out, images=images.split(",") if images else None,
                            cases=cases.split(",") if cases else None, data_dir=data_dir,
                            config=cfg, overwrite=overwrite, echo=lambda line: click.echo(f"  {line}"))
    click.echo(f"wrote {out}: {len(summary['cases'])} films, overlay.png, sequence.png, "
               "rationale.gif, result.json, manifest.json")


@gvr.command("bias-test")
@click.argument("checkpoint", type=click.Path(path_type=Path))
@click.argument("latents", type=click.Path(path_type=Path))
@click.option("--target", default="bnpp", show_default=True)
@click.option("--log/--no-log", "log_scale", default=True, show_default=True)
@click.option("--threshold", type=float, default=400.0, show_default=True)
@click.option("--n-films", type=click.IntRange(2), default=60, show_default=True,
              help="Held-out diseased films rated (the paper read 50 per reader and model).")
@click.option("--n-small", type=click.IntRange(2), default=40, show_default=True,
              help="Films the overfitted MLP memorises.")
@click.option("--beta", type=float, default=0.5, show_default=True, help="Rationale proximity weight.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--device", default="cpu", show_default=True)
@click.option("--out", "out", required=True, type=click.Path(path_type=Path))
@click.option("--overwrite", is_flag=True)
def bias_test(checkpoint: Path, latents: Path, target: str, log_scale: bool, threshold: float,
              n_films: int, n_small: int, beta: float, seed: int, device: str, out: Path,
              overwrite: bool) -> None:
    """Correct vs overfitted predictor: which factors their rationales change (oracle-read)."""
    import seegaan
    from seegaan.gvr.bias import BiasConfig
    from seegaan.gvr.bias import bias_test as run
    from seegaan.latent import load_latents
    from seegaan.utils.fsio import check_output

    check_output(out, overwrite)
    cfg = BiasConfig(n_films=n_films, n_small=n_small, beta=beta, seed=seed)
    cfg.check()
    table = load_latents(latents)
    ae = seegaan.load_autoencoder(checkpoint, device=device)
    res = run(ae, table, out, target=target, log_scale=log_scale, threshold=threshold, config=cfg,
              overwrite=overwrite, echo=lambda line: click.echo(f"  {line}"))
    click.echo(res["table_frame"][["factor", "correct %", "correct 95% CI", "overfitted %",
                                   "overfitted 95% CI", "paper correct %", "paper overfitted %"]]
               .to_string(index=False, float_format=lambda v: f"{v:.1f}"))
    click.echo(f"wrote {out}: bias_table.csv, bias_table.md, films.csv, bias.json, bias_pairs.png")


@gvr.command("shortcut")
@click.argument("checkpoint", type=click.Path(path_type=Path))
@click.option("--n", "n_images", type=click.IntRange(100), default=1000, show_default=True,
              help="Radiographs of the shortcut cohort to render and encode.")
@click.option("--targets", default="250,1000,4000", show_default=True,
              help="Inverse GVR goals on the original scale.")
@click.option("--n-films", type=click.IntRange(2), default=30, show_default=True,
              help="Healthy held-out films without a device pushed to the targets.")
@click.option("--beta", type=float, default=0.5, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--device", default="cpu", show_default=True)
@click.option("--out", "out", required=True, type=click.Path(path_type=Path))
@click.option("--overwrite", is_flag=True)
def shortcut(checkpoint: Path, n_images: int, targets: str, n_films: int, beta: float, seed: int,
             device: str, out: Path, overwrite: bool) -> None:
    """Inverse GVR on a cohort whose devices follow AHF: does the path add a device?"""
    import seegaan
    from seegaan.gvr.explain import parse_targets
    from seegaan.gvr.shortcut import ShortcutConfig, shortcut_test
    from seegaan.utils.fsio import check_output

    check_output(out, overwrite)
    cfg = ShortcutConfig(n_images=n_images, targets=parse_targets(targets), n_films=n_films,
                         beta=beta, seed=seed)
    ae = seegaan.load_autoencoder(checkpoint, device=device)
    res = shortcut_test(ae, out, cfg, overwrite=overwrite, echo=lambda line: click.echo(f"  {line}"))
    click.echo(res["verdict"])
    click.echo(f"wrote {out}: shortcut.json, readout.csv, readout.png, inverse.png")
