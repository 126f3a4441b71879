"""``seegaan view``: serve the live viewer on localhost (needs ``pip install 'seegaan[viewer]'``)."""

from __future__ import annotations

import time

import click

from seegaan.cli.explain import _load, _model_kwargs, model_options
from seegaan.data.prepared import SPLIT_CHOICES
from seegaan.errors import SeegaanError


@click.command("view", context_settings={"max_content_width": 100})
@click.argument("checkpoint", type=click.Path(exists=True, file_okay=False))
@click.argument("latents", type=click.Path(exists=True, dir_okay=False))
@click.option("--model", "model_spec", default=None,
              help="The model whose prediction is shown (CNN dir, .pt/.onnx, package.module:factory, txrv:NAME).")
@model_options
@click.option("--benchmark", "benchmark_dir", type=click.Path(exists=True, file_okay=False),
              default=None, help="A run whose stored explanations (cases/<id>/<method>/) are shown "
                                 "instead of recomputed.")
@click.option("--data", "data_dir", type=click.Path(exists=True, file_okay=False), default=None,
              help="Prepared dataset of the films (default: the one the latent table records).")
@click.option("--split", type=click.Choice(SPLIT_CHOICES), default="test",
              show_default=True, help="Rows whose group means / regression define a feature's direction.")
@click.option("--target", default="bnpp", show_default=True, help="The model's ground-truth column.")
@click.option("--threshold", type=float, default=400.0, show_default=True,
              help="Positive means prediction > threshold; 'find λ' aims at it.")
@click.option("--log/--no-log", "log_scale", default=True, show_default=True,
              help="Compare predictions on the log scale in the λ search.")
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True,
              help="Port to listen on (0: any free port).")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. Anything but localhost exposes the films to your network.")
@click.option("--threads", type=click.IntRange(1), default=1, show_default=True,
              help="Torch threads. One decode of one frame gains nothing from more, and on a "
                   "busy machine several threads make each slider step far slower.")
def view(checkpoint, latents, model_spec, benchmark_dir, data_dir, split, target, threshold,
         log_scale, port, host, threads, **kw):
    """Open a local web viewer: pick a film, drag λ along a feature, see the model react.

    \b
    Example:
      seegaan view runs/ae/best latents.parquet --model runs/cnn
      # then open the printed URL (http://127.0.0.1:8765/)
    """
    from seegaan.view import missing_extra

    missing = missing_extra()
    if missing is not None:
        raise SeegaanError(f"seegaan view needs the viewer extra ({missing} is not installed): "
                           "pip install 'seegaan[viewer]'")
    import torch

    from seegaan.view import bind, is_loopback, load_viewer, serve, url_of

    torch.set_num_threads(threads)
    t0 = time.perf_counter()
    sock = bind(host, port)  # first: a taken port fails before anything is loaded
    mk = _model_kwargs(kw)
    model = _load(model_spec, **mk) if model_spec else None
    viewer = load_viewer(checkpoint, latents, model=model, benchmark=benchmark_dir,
                         data_dir=data_dir, split=split, target=target, threshold=threshold,
                         log_scale=log_scale)
    if not is_loopback(host):
        click.echo(f"warning: listening on {host}: anyone who can reach this machine can see "
                   "these radiographs and upload files; there is no login", err=True)
    click.echo(f"seegaan view: {url_of(sock)}  ({len(viewer.ids)} films, loaded in "
               f"{time.perf_counter() - t0:.1f} s; Ctrl+C to stop)")
    serve(viewer, sock)
