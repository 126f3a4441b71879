"""``seegaan cnn train``, ``seegaan predict`` and ``seegaan explain``: thin wrappers over seegaan.explain."""

from __future__ import annotations

import json
from pathlib import Path

import click

from seegaan.cli.options import FINITE, POSITIVE, FiniteFloat
from seegaan.data.prepared import SPLIT_CHOICES, SPLITS
from seegaan.errors import InputError, OptionError

# -- shared model options -----------------------------------------------------------------

def model_options(f):
    """Options that say how to load a model and adapt images to it (shared by predict/explain)."""
    opts = [
        click.option("--weights", type=click.Path(dir_okay=False),
                     help="Weights (.safetensors or state-dict .pt) for a package.module:factory model."),
        click.option("--weights-dir", type=click.Path(file_okay=False),
                     help="Local torchxrayvision weights directory for txrv:NAME (never downloaded)."),
        click.option("--factory-args", default=None, metavar="JSON",
                     help="Keyword arguments for the factory, as a JSON object."),
        click.option("--adapter", "adapter_file", type=click.Path(dir_okay=False), default=None,
                     help="Input adapter JSON (size, value_range, channels, mean, std, "
                          "output_index, activation, log_output)."),
        click.option("--input-size", type=int, default=None, help="Side length the model expects."),
        click.option("--value-range", type=FINITE, nargs=2, default=None, metavar="LO HI",
                     help="Value range the model expects, e.g. -1024 1024 for torchxrayvision."),
        click.option("--channels", type=click.IntRange(1, 3), default=None,
                     help="Input channels the model expects (grey is repeated)."),
        click.option("--output", "output_sel", default=None, metavar="INDEX|LABEL",
                     help="Which output is the prediction: an index, or a label of a txrv model."),
        click.option("--activation", type=click.Choice(["none", "sigmoid", "softmax"]), default=None,
                     help="Applied to the outputs before picking one."),
        click.option("--log-output/--linear-output", default=None,
                     help="Whether the chosen output is log(target) (the reference CNN's is)."),
        click.option("--gradcam-layer", default=None, metavar="NAME",
                     help="Module Grad-CAM attributes to (default: the last layer whose map is at least 8x8)."),
    ]
    for opt in reversed(opts):
        f = opt(f)
    return f


def _load(spec, weights, weights_dir, factory_args, adapter_file, input_size, value_range,
          channels, output_sel, activation, log_output, gradcam_layer):
    from seegaan.explain.adapter import InputAdapter
    from seegaan.explain.loading import load_model, output_index_for
    from seegaan.utils.fsio import read_json

    adapter = None
    if adapter_file:
        adapter = InputAdapter.from_dict(read_json(adapter_file))
    kwargs = None
    if factory_args:
        try:
            kwargs = json.loads(factory_args)
        except json.JSONDecodeError as err:
            raise OptionError(f"--factory-args: not valid JSON ({err.msg})") from None
        if not isinstance(kwargs, dict):
            raise OptionError("--factory-args: must be a JSON object")
    overrides = {"size": input_size, "value_range": tuple(value_range) if value_range else None,
                 "channels": channels, "activation": activation, "log_output": log_output}
    label = None
    if output_sel is not None:
        if output_sel.isdigit():
            overrides["output_index"] = int(output_sel)
        else:
            label = output_sel
    model = load_model(spec, adapter, weights=weights, weights_dir=weights_dir,
                       factory_kwargs=kwargs, gradcam_layer=gradcam_layer,
                       adapter_overrides={k: v for k, v in overrides.items() if v is not None})
    if label is not None:
        labels = getattr(model, "labels", None)
        if not labels:
            raise OptionError(f"--output {label}: this model has no output labels; give an index")
        model.adapter = model.adapter.replace(output_index=output_index_for(labels, label),
                                              label=label)
    return model


def _model_kwargs(kw: dict) -> dict:
    keys = ("weights", "weights_dir", "factory_args", "adapter_file", "input_size", "value_range",
            "channels", "output_sel", "activation", "log_output", "gradcam_layer")
    return {k: kw.pop(k) for k in keys}


def _echo_line(msg: str) -> None:
    click.echo(msg, err=True)


# -- seegaan cnn ----------------------------------------------------------------------------

@click.group("cnn")
def cnn() -> None:
    """The reference CNN (a ResNet regressing log BNPP) that `seegaan explain` can explain."""


@cnn.command("train")
@click.argument("data_dir", type=click.Path(file_okay=False))
@click.option("--out", "out_dir", required=True, type=click.Path(), help="CNN directory to write.")
@click.option("--target", default="bnpp", show_default=True, help="Numeric column to regress.")
@click.option("--log/--no-log", "log_scale", default=True, show_default=True, help="Regress log(target).")
@click.option("--threshold", type=FINITE, default=400.0, show_default=True,
              help="Report AUC for target > threshold.")
@click.option("--arch", type=click.Choice(["resnet10", "resnet18", "resnet34"]), default="resnet10",
              show_default=True, help="torchvision ResNet depth (weights=None, 1-channel stem).")
@click.option("--epochs", type=click.IntRange(1), default=6, show_default=True,
              help="Passes over the training split (the best validation epoch is kept).")
@click.option("--batch-size", type=click.IntRange(2), default=64, show_default=True,
              help="Training batch size.")
@click.option("--lr", type=POSITIVE, default=1e-3, show_default=True,
              help="Adam learning rate (cosine-decayed).")
@click.option("--max-train", type=click.IntRange(2), default=None, help="Use at most N training images.")
@click.option("--shortcut-check", is_flag=True,
              help="Report device-stratified metrics (train on a cohort rendered with --shortcut).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for init, order and shifts.")
@click.option("--threads", type=click.IntRange(1), default=None, help="CPU threads for torch.")
@click.option("--dry-run", is_flag=True, help="Check the dataset and options, then stop.")
@click.option("--overwrite", is_flag=True, help="Replace CNN_DIR if it exists.")
def cnn_train(data_dir, out_dir, target, log_scale, threshold, arch, epochs, batch_size, lr, max_train,
              shortcut_check, seed, threads, dry_run, overwrite) -> None:
    """Train the reference CNN on DATA_DIR (a prepared dataset); writes TorchScript + safetensors + config.json.

    \b
    Example:
      seegaan cnn train data/cohort64 --target bnpp --log --out runs/cnn
    """
    from seegaan.explain.train_cnn import CNNTrainConfig, train_cnn

    cfg = CNNTrainConfig(target=target, log_scale=log_scale, threshold=threshold, arch=arch, epochs=epochs,
                         batch_size=batch_size, lr=lr, max_train=max_train, seed=seed,
                         shortcut_check=shortcut_check, threads=threads)
    if dry_run:
        from seegaan.data.prepared import PreparedDataset
        from seegaan.explain.train_cnn import _targets
        from seegaan.utils.fsio import check_output

        check_output(out_dir, overwrite)
        sizes = {s: len(PreparedDataset(data_dir, split=s)) for s in ("train", "val", "test")}
        _targets(PreparedDataset(data_dir), cfg)
        click.echo(f"dry run: {data_dir} ok ({sizes['train']} train, {sizes['val']} val, "
                   f"{sizes['test']} test images); would write {out_dir}")
        return
    from seegaan.utils.fsio import check_not_input

    check_not_input(out_dir, [data_dir])
    m = train_cnn(data_dir, out_dir, cfg, overwrite=overwrite, echo=_echo_line)
    t = m["test"]
    click.echo(f"wrote {out_dir}: test R² {t['r2']:.3f} ({'log ' if log_scale else ''}{target}), "
               f"AUC {t['auc']:.3f} for {target} > {threshold:g} (n={t['n']}), best epoch "
               f"{m['best_epoch']}, {m['train_seconds']:.0f} s")
    if shortcut_check and "shortcut" in m:
        d = m["shortcut"]["device_on_off"]
        click.echo(f"shortcut check: switching the device on changes the prediction by "
                   f"{d['device_dy_mean']:+.3f} ({'log ' if log_scale else ''}{target}; 95% CI "
                   f"{d['device_dy_ci_low']:+.3f} to {d['device_dy_ci_high']:+.3f}, n={d['n']})")


# -- seegaan predict -----------------------------------------------------------------------

@click.command("predict")
@click.argument("model_spec", metavar="MODEL")
@click.argument("source", metavar="LATENTS_OR_DATA", type=click.Path())
@click.option("--out", "out_path", type=click.Path(), default=None,
              help="Output: a latent table (default: rewrite LATENTS in place) or a CSV for DATA_DIR.")
@click.option("--column", default="prediction", show_default=True, help="Name of the prediction column.")
@click.option("--data", "data_dir", type=click.Path(file_okay=False), default=None,
              help="Prepared dataset holding the latent table's images (default: the one it records).")
@click.option("--split", type=click.Choice(SPLITS), default=None,
              help="Only this split (prepared datasets).")
@click.option("--csv-column", default=None, help="Column of a predictions CSV MODEL to use.")
@click.option("--batch-size", type=click.IntRange(1), default=64, show_default=True)
@click.option("--overwrite", is_flag=True, help="Replace an existing output file or column.")
@model_options
def predict(model_spec, source, out_path, column, data_dir, split, csv_column, batch_size,
            overwrite, **kw) -> None:
    """Add MODEL's predictions to a latent table, or write a predictions CSV for a prepared dataset.

    MODEL is a CNN directory, a TorchScript or ONNX file, package.module:factory (with
    --weights), txrv:NAME (with --weights-dir), or a CSV of predictions from any algorithm
    (image_id + one numeric column), which is merged into the latent table.

    \b
    Examples:
      seegaan predict runs/cnn latents.parquet                    # adds column 'prediction'
      seegaan predict runs/cnn data/cohort64 --out preds.csv
      seegaan predict rf_predictions.csv latents.parquet --column rf
    """
    from seegaan.explain.reference_cnn import is_cnn_dir
    from seegaan.utils.fsio import check_not_input, output_lock

    src = Path(source)
    is_table = src.is_file()
    if not is_table and not src.is_dir():
        raise InputError(f"{source}: not found (give a latent table .parquet or a prepared DATA_DIR)")
    if src.is_dir() and is_cnn_dir(src):
        raise InputError(f"{source}: is a CNN directory; the order is `seegaan predict MODEL LATENTS_OR_DATA`")
    csv_model = str(model_spec).lower().endswith(".csv")
    if is_table:
        out = Path(out_path) if out_path else src
        if out != src and out.exists() and not overwrite:
            raise OptionError(f"{out}: already exists (pass --overwrite to replace it)")
        check_not_input(out, [model_spec, data_dir])
        # In place, the table is read, extended and rewritten: a second run on it meanwhile
        # would lose one of the two columns, so both the table and --out are locked.
        with output_lock(src), output_lock(out):
            _predict_table(src, out, model_spec, csv_model, column, csv_column, data_dir,
                           batch_size, overwrite, kw)
        return
    if csv_model:
        raise OptionError(f"{model_spec}: a predictions CSV can only be merged into a latent table")
    from seegaan.explain.predict import predict_dataset
    from seegaan.utils.fsio import atomic_file, check_output

    out = Path(out_path or "predictions.csv")
    check_output(out, overwrite)
    check_not_input(out, [model_spec, src])
    model = _load(model_spec, **_model_kwargs(kw))
    df = predict_dataset(model, src, split, batch_size, column)
    with output_lock(out), atomic_file(out, mode="w") as fh:
        df.to_csv(fh, index=False)
    click.echo(f"wrote {out}: {len(df)} predictions ('{column}')")


def _predict_table(src, out, model_spec, csv_model, column, csv_column, data_dir, batch_size,
                   overwrite, kw) -> None:
    from seegaan.latent.store import load_latents, save_latents

    mk = _model_kwargs(kw)
    table = load_latents(src)
    if csv_model:
        from seegaan.explain.predict import merge_predictions_csv

        table = merge_predictions_csv(table, model_spec, column, csv_column, overwrite)
    else:
        from seegaan.explain.predict import predict_latents

        model = _load(model_spec, **mk)
        table = predict_latents(model, table, data_dir, column, batch_size, overwrite)
    save_latents(table.meta, table.w, out, table.info)
    v = table.meta[column]
    click.echo(f"wrote {out}: column '{column}' for {len(v)} image{'' if len(v) == 1 else 's'} "
               f"(median {v.median():.4g}, range {v.min():.4g}..{v.max():.4g})")


# -- seegaan explain -----------------------------------------------------------------------

@click.command("explain")
@click.argument("checkpoint", type=click.Path())
@click.argument("latents", type=click.Path(dir_okay=False))
@click.option("--out", "out_dir", required=True, type=click.Path(), help="EXP_DIR to write.")
@click.option("--model", "model_spec", default=None,
              help="Model to explain (CNN dir, TorchScript, .onnx, package.module:factory, txrv:NAME).")
@click.option("--predictions", "predictions_csv", type=click.Path(dir_okay=False), default=None,
              help="CSV of predictions (image_id + value) instead of, or besides, --model.")
@click.option("--prediction-column", default="prediction", show_default=True,
              help="Latent-table column holding predictions when neither --model nor --predictions is given.")
@click.option("--data", "data_dir", type=click.Path(file_okay=False), default=None,
              help="Prepared dataset with the original images (default: the one the table records).")
@click.option("--target", default="bnpp", show_default=True, help="Ground-truth column.")
@click.option("--threshold", type=FINITE, default=400.0, show_default=True,
              help="Positive means target > threshold.")
@click.option("--log/--no-log", "log_scale", default=True, show_default=True,
              help="Sequences and λ tolerance on the log scale.")
@click.option("--split", type=click.Choice(SPLIT_CHOICES), default=None,
              help="Rows for predictions, class means, sequences and the four patients "
                   "[default: the split the latent table holds].")
@click.option("--frames", type=click.IntRange(3), default=10, show_default=True,
              help="Frames per sequence.")
@click.option("--permutations", type=click.IntRange(0), default=100, show_default=True,
              help="Permutations per sequence test (0: no test).")
@click.option("--alpha", type=FiniteFloat(min=0, max=1, min_open=True, max_open=True), default=None, help="Significance level (default 0.05).")
@click.option("--correction", type=click.Choice(["none", "fdr", "maxt"]), default="none",
              show_default=True, help="Multiple-comparison correction of the pixel p-values.")
@click.option("--lambda-max", type=POSITIVE, default=4.0, show_default=True,
              help="Largest λ the FP/FN search tries.")
@click.option("--tol", type=POSITIVE, default=0.01, show_default=True,
              help="λ search tolerance (log scale with --log).")
@click.option("--max-calls", type=click.IntRange(2), default=60, show_default=True,
              help="Model calls allowed per λ search.")
@click.option("--local-lambda-max", type=FINITE, default=1.0, show_default=True,
              help="Last λ of the TP/TN local sequences.")
@click.option("--attributions", default=None, metavar="LIST",
              help="Comma list of saliency,gradcam,ig,smoothgrad,occlusion, or 'none' (default: all the model supports).")
@click.option("--ig-steps", type=click.IntRange(2), default=32, show_default=True,
              help="Integrated Gradients steps.")
@click.option("--sg-samples", type=click.IntRange(1), default=16, show_default=True,
              help="SmoothGrad noisy samples.")
@click.option("--images", default=None, metavar="TP,TN,FP,FN",
              help="Image ids of the four patients, in this order ('-' skips one).")
@click.option("--direction", type=click.Choice(["truth", "prediction"]), default="truth",
              show_default=True, help="Classes whose latent means define the local direction.")
@click.option("--oracle", is_flag=True,
              help="Measure the global sequences with the virtual cohort's oracle.")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seed for permutations and SmoothGrad noise.")
@click.option("--overwrite", is_flag=True, help="Replace EXP_DIR if it exists.")
@model_options
def explain(checkpoint, latents, out_dir, model_spec, predictions_csv, prediction_column, data_dir,
            target, threshold, log_scale, split, frames, permutations, alpha, correction, lambda_max, tol,
            max_calls, local_lambda_max, attributions, ig_steps, sg_samples, images, direction,
            oracle, seed, overwrite, **kw) -> None:
    """Explain a CNN with SEE-GAAN: global and local sequences, λ search, attribution maps.

    \b
    Example:
      seegaan explain runs/ae/best latents.parquet --model runs/cnn \\
          --target bnpp --threshold 400 --out exp/cnn
    """
    from seegaan.explain.attribution import AttributionSettings, parse_methods
    from seegaan.explain.pipeline import ExplainConfig
    from seegaan.explain.pipeline import explain as run_explain
    from seegaan.latent.samplesize import class_warnings
    from seegaan.latent.store import load_latents
    from seegaan.utils.fsio import check_not_input, check_output

    mk = _model_kwargs(kw)
    check_output(out_dir, overwrite)
    check_not_input(out_dir, [checkpoint, latents, model_spec, predictions_csv, data_dir,
                              kw.get("weights"), kw.get("weights_dir"), kw.get("adapter_file")])
    table = load_latents(latents)
    split = split or table.split
    warnings = class_warnings(table, target, threshold, split)
    methods = None
    if attributions is not None:
        methods = () if attributions.strip().lower() == "none" else parse_methods(attributions)
    picks = None
    if images is not None:
        picks = tuple(s.strip() for s in images.split(","))
    cfg = ExplainConfig(target=target, threshold=threshold, log_scale=log_scale, split=split, frames=frames,
                        permutations=permutations, alpha=alpha, correction=correction,
                        local_lambda_max=local_lambda_max, lambda_max=lambda_max, tol=tol,
                        max_calls=max_calls, attributions=methods, images=picks,
                        direction=direction, prediction_column=prediction_column, oracle=oracle,
                        seed=seed)
    model = _load(model_spec, **mk) if model_spec else None
    for line in warnings:  # after the inputs' own checks, so a failing run prints one line
        click.echo(f"warning: {line}", err=True)
    s = run_explain(checkpoint, latents, out_dir, model=model, predictions_csv=predictions_csv,
                    data_dir=data_dir, config=cfg,
                    attribution_settings=AttributionSettings(ig_steps=ig_steps, sg_samples=sg_samples,
                                                             seed=seed),
                    overwrite=overwrite, echo=_echo_line)
    from seegaan.explain.methods import load_explanation, read_manifest

    p = s["predictions"]
    parts = [f"wrote {out_dir}: R² {p.get('r2', float('nan')):.3f}, AUC {p.get('auc', float('nan')):.3f}"]
    man = read_manifest(out_dir)
    for case in man["cases"]:
        if case["methods"].get("seegaan_lambda") in (None, "skipped"):
            continue
        lam = load_explanation(Path(out_dir) / case["folder"] / "seegaan_lambda").scalars
        where = f"λ={lam['lam']:.3g}" if lam.get("lam") is not None else lam["status"]
        parts.append(f"{case['category']} {where} ({lam['calls']} calls)")
    if man.get("gradcam_layer"):
        parts.append(f"Grad-CAM on {man['gradcam_layer']}")
    click.echo("; ".join(parts))


__all__ = ["cnn", "explain", "predict"]
