"""``seegaan cohort``: render the virtual radiograph cohort with its ground truth."""

from __future__ import annotations

import time

import click


@click.command("cohort", context_settings={"max_content_width": 100})
@click.argument("out_dir", type=click.Path())
@click.option("--n", "n", default=4000, show_default=True, type=int,
              help="Number of radiographs (patients have ~1.7 films each).")
@click.option("--size", default=256, show_default=True, type=int,
              help="Image side in pixels (16..1024).")
@click.option("--seed", default=0, show_default=True, type=int,
              help="Random seed: the same seed gives identical images and table.")
@click.option("--shortcut", is_flag=True,
              help="Make pacemakers far more common with acute heart failure (a confounder).")
@click.option("--version", "version", default=2, show_default=True, type=click.IntRange(1, 2),
              help="Cohort version: 2 (PA framing, shape model, AP films, markers) or 1 (original).")
@click.option("--device-log-odds", default=None, type=float,
              help="Version 2: log odds ratio of a device given AHF (default 1.7; 3.4 with --shortcut).")
@click.option("--workers", default=0, show_default=True, type=int,
              help="Rendering processes (0 = one per CPU, at most 8). Output does not depend on it.")
@click.option("--overwrite", is_flag=True, help="Replace OUT_DIR if it exists.")
def cohort(out_dir: str, n: int, size: int, seed: int, shortcut: bool, version: int,
           device_log_odds: float | None, workers: int, overwrite: bool) -> None:
    """Render N chest radiographs with clinical table and ground truth into OUT_DIR.

    \b
    OUT_DIR/images/{image_id}.png   16-bit grey, SIZE x SIZE
    OUT_DIR/cohort.csv              image_id, patient_id, sex, age, ahf, bnpp,
                                    manufacturer, device, gt_* factors
    OUT_DIR/cohort.json             options and seed (lets `seegaan prepare` auto-detect it)

    \b
    Example:  seegaan cohort cohort64 --n 4000 --size 64 --seed 0
              seegaan cohort cohort64_v1 --n 4000 --size 64 --version 1
              seegaan prepare --images cohort64/images --csv cohort64/cohort.csv --out data64 --size 64
    """
    from seegaan.cohort.cohort import render_cohort

    t0 = time.perf_counter()
    table = render_cohort(out_dir, n=n, size=size, seed=seed, shortcut=shortcut,
                          workers=workers, overwrite=overwrite, version=version,
                          device_log_odds=device_log_odds)
    dt = time.perf_counter() - t0
    click.echo(f"wrote {out_dir}: {len(table)} radiographs of {table['patient_id'].nunique()} "
               f"patients at {size}x{size} in {dt:.1f} s; AHF {table['ahf'].mean():.0%}, "
               f"female {(table['sex'] == 'F').mean():.0%}, device {table['device'].mean():.0%}")
