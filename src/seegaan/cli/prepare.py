"""``seegaan prepare``: parse options, call :func:`seegaan.data.prepare.prepare`, print a summary."""

from __future__ import annotations

import os

import click

from seegaan.data.presets import PRESETS
from seegaan.errors import OptionError

# The registry is the one list of dataset presets; "auto" detects one, "none" uses none.
PRESET_CHOICES = ("auto", "none", *PRESETS)


def _columns(values: tuple[str, ...]) -> list[str]:
    """Repeatable options that also accept comma-separated lists: --numeric age,bnpp."""
    return [c.strip() for v in values for c in v.split(",") if c.strip()]


def _percentiles(text: str | None) -> tuple[float, float] | None:
    if text is None:
        return None
    try:
        lo, hi = (float(v) for v in text.split(","))
    except ValueError:
        raise OptionError(f"--clip-percentiles {text!r}: expected two numbers like 0.5,99.5") from None
    return lo, hi


@click.command("prepare", context_settings={"max_content_width": 100})
@click.option("--images", "images", required=True, type=click.Path(file_okay=False),
              help="Folder of radiographs (searched recursively): PNG, JPEG, TIFF, .npy, DICOM.")
@click.option("--csv", "csv", required=True, type=click.Path(dir_okay=False),
              help="Clinical table, one row per radiograph (.csv or .csv.gz).")
@click.option("--out", "out", required=True, type=click.Path(),
              help="Output DATA_DIR (must not exist unless --overwrite).")
@click.option("--size", default=256, show_default=True, type=int,
              help="Output side in pixels (images are size x size).")
@click.option("--preset", default="auto", show_default=True, type=click.Choice(PRESET_CHOICES),
              help="Column convention of a public collection; 'auto' detects it from "
                   "cohort.json or the CSV header, 'none' uses only the column options.")
@click.option("--id-col", default=None, metavar="COL",
              help="Column of image ids matching file names without extension "
                   "[default: image_id, or the preset's].")
@click.option("--path-col", default=None, metavar="COL",
              help="Column of file paths relative to --images (instead of --id-col).")
@click.option("--patient-col", default=None, metavar="COL",
              help="Column of patient ids [default: patient_id, or the preset's].")
@click.option("--view-col", default=None, metavar="COL",
              help="Column of the projection (PA/AP/lateral…), used by --frontal-only.")
@click.option("--numeric", multiple=True, metavar="COL[,COL…]",
              help="Numeric feature column(s); repeatable. With --categorical, replaces the "
                   "preset's features (default without a preset: every other column, type "
                   "inferred).")
@click.option("--categorical", multiple=True, metavar="COL[,COL…]",
              help="Categorical feature column(s); repeatable.")
@click.option("--split", "split", default="0.8,0.1,0.1", show_default=True, metavar="TR,VA,TE",
              help="Train/val/test shares of radiographs; whole patients are assigned.")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the patient split.")
@click.option("--stratify", default=None, metavar="FEATURE",
              help="Balance this feature across splits (numeric ones by quartile).")
@click.option("--frontal-only", is_flag=True,
              help="Keep PA/AP (frontal) views only; others are listed in skipped.csv.")
@click.option("--fit", default="crop", show_default=True, type=click.Choice(["crop", "pad"]),
              help="Make images square by centre crop, or by padding with black.")
@click.option("--clip-percentiles", default=None, metavar="LO,HI",
              help="Clip each image to these percentiles before min-max (e.g. 0.5,99.5); "
                   "default: plain min-max as in the paper.")
@click.option("--workers", default=None, type=int,
              help="Decoding processes [default: CPU count, at most 8].")
@click.option("--skip-bad", is_flag=True,
              help="Skip unreadable images and rows whose file is missing (listed in "
                   "skipped.csv) instead of stopping at the first.")
@click.option("--overwrite", is_flag=True, help="Replace an existing --out directory.")
def prepare(images, csv, out, size, preset, id_col, path_col, patient_col, view_col, numeric,
            categorical, split, seed, stratify, frontal_only, fit, clip_percentiles, workers,
            skip_bad, overwrite) -> None:
    """Turn a folder of radiographs plus a clinical CSV into a prepared dataset.

    \b
    Writes DATA_DIR/images.npy (uint16, memory-mapped), index.parquet, prepare.json,
    table1.csv, table1.md and skipped.csv. Each image is centre-cropped (or padded),
    resized bicubically to SIZE x SIZE and min-max normalised to [-1, 1]; the split keeps
    every patient in one of train/val/test.

    \b
    Examples:
      seegaan prepare --images cohort/images --csv cohort/cohort.csv --out data/c64 --size 64
      seegaan prepare --images nih/images --csv Data_Entry_2017.csv --out data/nih --frontal-only
      seegaan prepare --images imgs --csv table.csv --out data/mine --id-col file \\
          --patient-col mrn --numeric age,bnpp --categorical sex --stratify sex
    """
    from seegaan.data.prepare import PrepareOptions, resolve_spec
    from seegaan.data.prepare import prepare as run_prepare
    from seegaan.utils.fsio import check_not_input, check_output

    check_output(out, overwrite)  # before reading anything: fail in a second, not an hour
    check_not_input(out, [images, csv])
    opts = PrepareOptions(size=size, fit=fit, clip_percentiles=_percentiles(clip_percentiles),
                          split=split, seed=seed, stratify=stratify, frontal_only=frontal_only,
                          workers=workers if workers is not None else min(8, os.cpu_count() or 1),
                          skip_bad=skip_bad)
    opts.check()
    spec = resolve_spec(csv, images, preset, id_col=id_col, path_col=path_col,
                        patient_col=patient_col, view_col=view_col,
                        numeric=_columns(numeric), categorical=_columns(categorical))
    result = run_prepare(images, csv, out, spec, opts, overwrite=overwrite)
    click.echo(result.summary())
