"""``seegaan encode`` and ``seegaan sequence``: thin wrappers over :mod:`seegaan.latent`."""

from __future__ import annotations

from pathlib import Path

import click

from seegaan.cli.options import FINITE, POSITIVE, FiniteFloat
from seegaan.data.prepared import SMALL_TEST_SPLIT, SPLIT_CHOICES


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _warn(lines: list[str]) -> None:
    for line in lines:
        click.echo(f"warning: {line}", err=True)


def _load(checkpoint: Path, device: str):
    import seegaan
    from seegaan.utils.device import resolve_device

    return seegaan.load_autoencoder(checkpoint, device=resolve_device(device))


@click.command("encode")
@click.argument("checkpoint", type=click.Path(path_type=Path))
@click.argument("data_dir", type=click.Path(path_type=Path))
@click.option("--out", "out", required=True, type=click.Path(path_type=Path),
              help="Latent table to write (Parquet), e.g. latents.parquet.")
@click.option("--split", type=click.Choice(SPLIT_CHOICES), default=None,
              help="Which images to encode [default: test, or all when the test split has "
                   f"fewer than {SMALL_TEST_SPLIT} images].")
@click.option("--batch-size", type=click.IntRange(min=1), default=64, show_default=True,
              help="Images per encoder call.")
@click.option("--device", default="cpu", show_default=True, help="torch device, e.g. cuda.")
@click.option("--overwrite", is_flag=True, help="Replace an existing table.")
def encode(checkpoint: Path, data_dir: Path, out: Path, split: str | None, batch_size: int,
           device: str, overwrite: bool) -> None:
    """Encode DATA_DIR (a prepared dataset) with CHECKPOINT into a latent table.

    One row per image: image_id, patient_id, split, every feature column, then w_0 … w_{D-1}.

    \b
    Example:
      seegaan encode runs/ae/best data/cohort64 --out latents.parquet --split test
    """
    from seegaan.latent.encode import default_split, encode_to_file
    from seegaan.utils.fsio import check_not_input, check_output, output_lock

    check_output(out, overwrite)
    check_not_input(out, [checkpoint, data_dir])
    why = ""
    if split is None:
        split, why = default_split(data_dir)
    with output_lock(out):
        ae = _load(checkpoint, device)
        table = encode_to_file(ae, data_dir, out, split=split, batch_size=batch_size,
                               checkpoint=str(checkpoint), overwrite=overwrite)
    if why:
        click.echo(f"note: {why}", err=True)
    # Later commands default to the split recorded in the table, so no --split is needed.
    click.echo(f"latents: {out} ({_plural(len(table.w), 'image')} × {table.w_dim} dims, "
               f"split {split})")


@click.command("sequence")
@click.argument("checkpoint", type=click.Path(path_type=Path))
@click.argument("latents", type=click.Path(path_type=Path))
@click.option("--feature", required=True, help="Column of the latent table to explain.")
@click.option("--out", "out", required=True, type=click.Path(path_type=Path),
              help="Output directory (SEQ_DIR).")
@click.option("--from", "from_level", default=None,
              help="Start level of a qualitative feature, e.g. 0 or Carestream.")
@click.option("--to", "to_level", default=None,
              help="End level of a qualitative feature, e.g. 1 or GE.")
@click.option("--image", "image_id", default=None,
              help="Local sequence for this image_id: w_E + λ·(w̄_to − w̄_from).")
@click.option("--lambda-max", type=FINITE, default=1.0, show_default=True,
              help="Last λ of a local sequence.")
@click.option("--frames", type=click.IntRange(min=2), default=10, show_default=True,
              help="Frames in the sequence.")
# --kind is the option's old name, kept so that existing scripts run.
@click.option("--feature-type", "--kind", "feature_type",
              type=click.Choice(["auto", "qualitative", "quantitative"]),
              default="auto", show_default=True,
              help="auto: qualitative when --from/--to are given or the feature has ≤ 2 values.")
@click.option("--range", "percentiles", type=(FINITE, FINITE), default=(5.0, 95.0),
              show_default=True, help="Quantitative grid, as percentiles of the feature.")
@click.option("--backend", type=click.Choice(["pspline", "pygam"]), default="pspline",
              show_default=True, help="Regression for quantitative features (pygam: slow, optional).")
@click.option("--split", type=click.Choice(SPLIT_CHOICES), default=None,
              help="Rows that define the groups or the regression [default: the split the "
                   "latent table holds, from `seegaan encode`].")
@click.option("--permutations", type=click.IntRange(min=0), default=100, show_default=True,
              help="Permutations for the pixel test (0: no test).")
@click.option("--alpha", type=FiniteFloat(min=0, max=1, min_open=True, max_open=True), default=None, help="Significance level [default: 0.05].")
@click.option("--correction", type=click.Choice(["none", "fdr", "maxt"]), default="none",
              show_default=True, help="Multiple-comparison correction (none is the paper's).")
@click.option("--permute", type=click.Choice(["auto", "images", "patients"]), default="auto",
              show_default=True,
              help="What the test shuffles: whole patients (auto, when the table has patient_id) "
                   "or single images; see docs/sequences.md.")
@click.option("--seed", type=int, default=0, show_default=True, help="Permutation seed.")
@click.option("--vlim", type=POSITIVE, default=None,
              help="Colour range ±VLIM of the maps [default: largest |difference|; paper: 0.5].")
@click.option("--fps", type=POSITIVE, default=4.0, show_default=True, help="Animation speed.")
@click.option("--batch-size", type=click.IntRange(min=1), default=256, show_default=True,
              help="Frames per decoder call.")
@click.option("--device", default="cpu", show_default=True, help="torch device, e.g. cuda.")
@click.option("--overwrite", is_flag=True, help="Replace an existing SEQ_DIR.")
def sequence(checkpoint: Path, latents: Path, feature: str, out: Path, from_level: str | None,
             to_level: str | None, image_id: str | None, lambda_max: float, frames: int,
             feature_type: str, percentiles: tuple[float, float], backend: str, split: str | None,
             permutations: int, alpha: float | None, correction: str, permute: str, seed: int,
             vlim: float | None, fps: float, batch_size: int, device: str,
             overwrite: bool) -> None:
    """Render a SEE-GAAN sequence for FEATURE with permutation-tested subtraction maps.

    \b
    Global, qualitative (group means, interpolated):
      seegaan sequence runs/ae/best latents.parquet --feature ahf --from 0 --to 1 --out seq/ahf
    Global, quantitative (regression path, 5th..95th percentile):
      seegaan sequence runs/ae/best latents.parquet --feature age --out seq/age
    Local (one image pushed toward the other group):
      seegaan sequence runs/ae/best latents.parquet --feature ahf --from 0 --to 1 \\
          --image p0042 --lambda-max 1.5 --out seq/p0042

    Writes sequence.png, subtraction.png, significant.png, sequence.gif (+ .mp4 with
    imageio-ffmpeg), result.npz and summary.json.
    """
    from seegaan.utils.fsio import check_not_input, check_output, output_lock

    # Every check that needs no model runs first, so a typo costs a second, not a load.
    check_output(out, overwrite)
    check_not_input(out, [checkpoint, latents])
    with output_lock(out):
        _sequence(checkpoint, latents, feature, out, from_level, to_level, image_id, lambda_max,
                  frames, feature_type, percentiles, backend, split, permutations, alpha, correction,
                  permute, seed, vlim, fps, batch_size, device, overwrite)


def _sequence(checkpoint, latents, feature, out, from_level, to_level, image_id, lambda_max,
              frames, feature_type, percentiles, backend, split, permutations, alpha, correction, permute,
              seed, vlim, fps, batch_size, device, overwrite) -> None:
    from seegaan.latent.samplesize import selection_warnings
    from seegaan.latent.select import find_image, select_rows
    from seegaan.latent.sequence import (
        check_compatible,
        check_test_options,
        global_sequence,
        local_sequence,
        write_sequence,
    )
    from seegaan.latent.store import load_latents
    from seegaan.stats import group_ids, power_notes, resolve_scheme

    alpha_used = check_test_options(permutations, alpha, correction)
    table = load_latents(latents)
    split = split or table.split
    resolve_scheme(permute, group_ids(table.meta) is not None)
    # Say before any work when B cannot give the chosen correction any power.
    size = int(table.info.get("image_size") or 0)
    said = power_notes(permutations, alpha_used, correction, (frames - 1) * size * size)
    for note in said:
        click.echo(f"warning: {note}", err=True)
    if image_id is not None:
        find_image(table, image_id)
        sel = select_rows(table, feature, split, "qualitative", from_level, to_level)
    else:
        sel = select_rows(table, feature, split, feature_type, from_level, to_level)
    ae = _load(checkpoint, device)
    check_compatible(ae, table, str(checkpoint))
    from seegaan.latent.sequence import check_memory

    check_memory(ae, frames, len(table.w), permutations, batch_size, correction)
    # Warn only once every input has passed its checks: a failing run prints one line.
    _warn(selection_warnings(sel))
    common = dict(frames=frames, split=split, permutations=permutations, alpha=alpha,
                  correction=correction, seed=seed, batch_size=batch_size, permute=permute)
    if image_id is not None:
        result = local_sequence(ae, table, feature, image_id, from_level=from_level,
                                to_level=to_level, lambda_max=lambda_max, **common)
    else:
        result = global_sequence(ae, table, feature, from_level=from_level, to_level=to_level,
                                 feature_type=feature_type, percentiles=percentiles, backend=backend, **common)
    result.options.update(checkpoint=str(checkpoint), latents=str(latents))
    write_sequence(result, out, overwrite=overwrite, vlim=vlim, fps=fps)
    sig = ""
    if result.test is not None:
        for note in result.test.notes:
            if note not in said:
                click.echo(f"warning: {note}", err=True)
        frac = float(result.test.significant[1:].mean())
        sig = (f", {frac:.1%} of pixels significant ({result.test.correction}, "
               f"{result.test.permute} permuted)")
        if result.test.correction == "none":
            # One null map can light up far more than alpha; only maxt speaks for one map.
            sig += "; uncorrected: about alpha of null pixels on average, use --correction maxt for claims about this map"
    click.echo(f"sequence: {out} ({result.title}; {len(result.values)} frames{sig}; "
               f"{result.timings['total_s']:.1f} s)")
