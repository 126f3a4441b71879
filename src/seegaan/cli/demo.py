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

    path = build_report(run_dir, overwrite=overwrite, title=title)
    click.echo(f"report: {path}")
