"""``seegaan demo`` and ``seegaan report``."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("report")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--title", default=None, help="Title shown at the top (default: the folder name).")
@click.option("--overwrite", is_flag=True, help="Replace an existing report.html.")
def report(run_dir: Path, title: str | None, overwrite: bool) -> None:
    """Build RUN_DIR/report.html from whatever artefacts RUN_DIR holds.

    Works on the demo's output or on your own folder of prepare / train / sequence / explain
    outputs: a section appears for each kind of artefact found. Images are linked relative
    to the report, so the folder can be moved or zipped as a whole.

    \b
    Example:
      seegaan report runs/my-study --overwrite
    """
    from seegaan.report import build_report
    from seegaan.report.discover import incomplete_reason

    path = build_report(run_dir, overwrite=overwrite, title=title)
    reason = incomplete_reason(run_dir)
    if reason:
        click.echo(f"warning: {reason}", err=True)
    click.echo(f"report: {path}")


@click.command("demo", context_settings={"max_content_width": 100})
@click.option("--out", "out", default="seegaan-demo", show_default=True, type=click.Path(),
              help="Run directory to create (it appears only when the demo has finished).")
@click.option("--size", default=64, show_default=True, type=int,
              help="Image side in pixels; must match the checkpoint (the bundled one is 64).")
@click.option("--train", is_flag=True,
              help="Train a new autoencoder on the demo cohort instead of loading one "
                   "(slow: hours at 64 px on a CPU).")
@click.option("--train-steps", default=None, type=int,
              help="Autoencoder steps with --train [default: 3000, quick 40].")
@click.option("--quick", is_flag=True,
              help="Reduced run for CI: fewer images, permutations, frames and CNN epochs.")
@click.option("--checkpoint", default=None, type=click.Path(file_okay=False),
              help="Autoencoder checkpoint directory [default: the bundled demo64 one]. The "
                   "demo renders the cohort version the checkpoint was trained on (recorded in "
                   "its training config; 1 when none is).")
@click.option("--seed", default=0, show_default=True, type=int,
              help="Seed of the cohort, split, permutations and CNN.")
@click.option("--threads", default=0, show_default=True, type=int,
              help="torch CPU threads (0: torch's default).")
@click.option("--per-figure-range", is_flag=True,
              help="Give each subtraction map its own colour range [default: one range shared "
                   "by the sequences of a figure, so their colours compare].")
@click.option("--overwrite", is_flag=True, help="Replace an existing --out (once the new run is done).")
def demo(out: str, size: int, train: bool, train_steps: int | None, quick: bool,
         checkpoint: str | None, seed: int, threads: int, per_figure_range: bool,
         overwrite: bool) -> None:
    """Run the whole SEE-GAAN study on the built-in virtual cohort and write a report.

    \b
    Stages:  1 render the cohort    2 prepare (split, Table 1)   3 load the autoencoder
             4 encode               5 global sequences (Fig. 3)  6 local sequences (Fig. 4)
             7 train the BNPP CNN   8 BNPP sequences (Fig. 5)    9 TP/TN/FP/FN (Fig. 6)
             10 ground-truth check  11 GVR (Fig. 6 films, bias)   12 medXGAN (Fig. 6 films)
             13 methods compared on the truth (benchmark), then report.html
    The last line printed is the path of the report.

    \b
    Examples:
      seegaan demo                         # about 7 minutes on 2 CPU cores
      seegaan demo --quick --out /tmp/q    # a reduced study
    """
    from seegaan.demo import DemoConfig, run_demo

    cfg = DemoConfig.make(out, quick=quick, size=size, train=train, train_steps=train_steps,
                          checkpoint=checkpoint, seed=seed, threads=threads,
                          per_figure_range=per_figure_range or None)
    path = run_demo(cfg, echo=lambda line: click.echo(line, err=True), overwrite=overwrite)
    click.echo(f"report: {path}")
