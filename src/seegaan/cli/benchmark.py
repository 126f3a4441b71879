"""``seegaan benchmark``: a thin wrapper over :func:`seegaan.validate.benchmark.run_benchmark`."""

from __future__ import annotations

import click


@click.command("benchmark", context_settings={"max_content_width": 100})
@click.option("--out", "out_dir", required=True, type=click.Path(), help="Benchmark directory to write.")
@click.option("--quick", is_flag=True, help="Reduced run (fewer subjects and training films) for CI.")
@click.option("--subjects", type=click.IntRange(2), default=None,
              help="Benchmark subjects [default: 50, quick 10].")
@click.option("--sequence-subjects", type=click.IntRange(0), default=None,
              help="How many of them the SEE-GAAN sequence methods explain [default: 16, quick 2].")
@click.option("--methods", default=None, metavar="LIST",
              help="Comma list of registered methods [default: every registered method].")
@click.option("--models", "models_dir", type=click.Path(file_okay=False), default=None,
              help="Reuse the models of an earlier run (its models/ folder) instead of training.")
@click.option("--checkpoint", default=None, type=click.Path(file_okay=False),
              help="Autoencoder checkpoint [default: the bundled demo64 one].")
@click.option("--seed", type=int, default=None, help="Seed of the subjects [default: 1000].")
@click.option("--overwrite", is_flag=True, help="Replace OUT if it exists.")
def benchmark(out_dir, quick, subjects, sequence_subjects, methods, models_dir, checkpoint, seed,
              overwrite) -> None:
    """Explain models of known reliance with every registered method and score the maps
    against interventional truth (scores.csv/.md/.json, one figure per model, ranking.png).

    \b
    Examples:
      seegaan benchmark --quick --out /tmp/bench
      seegaan benchmark --out bench --methods saliency,gradcam,occlusion
    """
    from seegaan.validate.benchmark import BenchmarkConfig, run_benchmark

    chosen = tuple(m.strip() for m in methods.split(",") if m.strip()) if methods else None
    cfg = BenchmarkConfig.make(quick=quick, subjects=subjects, sequence_subjects=sequence_subjects,
                               methods=chosen, checkpoint=checkpoint, seed=seed)
    s = run_benchmark(out_dir, cfg, models_dir=models_dir, overwrite=overwrite,
                      echo=lambda line: click.echo(line, err=True))
    short = s["shortcut_test"]
    click.echo(f"wrote {out_dir}: {len(s['methods'])} methods x {len(s['models'])} models in "
               f"{s['timings_s']['total_s']:.0f} s; true device Δŷ on the shortcut model "
               f"{s['true_device_dy']['shortcut']:+.3f}; device ranked 1st/2nd on it by: "
               f"{', '.join(short['ranks_device_on_shortcut']) or 'no method'}; also 1st on the "
               f"reference: {', '.join(short['device_first_on_reference']) or 'none'}; shortcut "
               f"test passed by: {', '.join(short['passing']) or 'no method'}")
