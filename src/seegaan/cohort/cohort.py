"""Render a whole virtual cohort to disk: 16-bit PNGs, ``cohort.csv`` and ``cohort.json``.

Every subject is fully drawn before rendering starts and carries its own seeds, so the
images and the table depend only on ``(n, size, seed, shortcut)``, never on the number of
worker processes or on their scheduling.

Example::

    from seegaan.cohort import render_cohort
    render_cohort("cohort64", n=500, size=64, seed=0)
"""

from __future__ import annotations

import contextlib
import io
import multiprocessing as mp
import os
import platform
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from seegaan import __version__
from seegaan.cohort.clinical import sample_subjects, subjects_frame
from seegaan.cohort.render import ground_truth, render_image
from seegaan.cohort.subject import Subject
from seegaan.errors import OptionError
from seegaan.utils.fsio import atomic_dir, check_output, write_json
from seegaan.utils.progress import progress

MIN_SIZE = 16
MAX_SIZE = 1024


def check_options(n: int, size: int, workers: int | None = None) -> None:
    """One-line errors for out-of-range options, before any work is done."""
    if n < 1:
        raise OptionError(f"--n: must be at least 1 (got {n})")
    if not MIN_SIZE <= size <= MAX_SIZE:
        raise OptionError(f"--size: must be between {MIN_SIZE} and {MAX_SIZE} pixels (got {size})")
    if workers is not None and workers < 0:
        raise OptionError(f"--workers: must be 0 (automatic) or more (got {workers})")


def to_uint16(img: np.ndarray) -> np.ndarray:
    """[0, 1] float image -> uint16 (the PNG and prepared-dataset convention)."""
    return np.round(np.clip(img, 0.0, 1.0) * 65535.0).astype(np.uint16)


def png_bytes(img16: np.ndarray) -> bytes:
    buf = io.BytesIO()
    # Level 1: PNG is lossless at every level; higher levels only cost render time.
    Image.fromarray(img16).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def _render_chunk(args: tuple[list[Subject], int, str]) -> list[dict]:
    subjects, size, image_dir = args
    rows = []
    for s in subjects:
        img = to_uint16(render_image(s, size))
        Path(image_dir, f"{s.image_id}.png").write_bytes(png_bytes(img))
        rows.append({"image_id": s.image_id, **ground_truth(s)})
    return rows


def _render_arrays_chunk(args: tuple[list[Subject], int]) -> np.ndarray:
    subjects, size = args
    return np.stack([to_uint16(render_image(s, size)) for s in subjects])


def render_arrays(subjects: list[Subject], size: int, workers: int = 0, chunk: int = 64) -> np.ndarray:
    """Render ``subjects`` in memory: uint16 ``(N, size, size)`` (for the oracle and tests)."""
    workers = workers or _default_workers()
    chunks = [(subjects[i:i + chunk], size) for i in range(0, len(subjects), chunk)]
    if workers == 1 or len(chunks) == 1:
        parts = [_render_arrays_chunk(c) for c in chunks]
    else:
        ctx = mp.get_context("fork" if platform.system() == "Linux" else "spawn")
        with ctx.Pool(workers) as pool:
            parts = list(pool.imap(_render_arrays_chunk, chunks))
    return np.concatenate(parts)


def _default_workers() -> int:
    return max(1, min(os.cpu_count() or 1, 8))


def render_subjects(subjects: list[Subject], size: int, image_dir: Path, workers: int = 0,
                    chunk: int = 32) -> pd.DataFrame:
    """Render ``subjects`` into ``image_dir`` as PNGs; return their ground-truth rows."""
    workers = workers or _default_workers()
    chunks = [(subjects[i:i + chunk], size, str(image_dir)) for i in range(0, len(subjects), chunk)]
    rows: list[dict] = []
    bar = progress(desc="render", total=len(subjects), unit="img")
    if workers == 1 or len(chunks) == 1:
        for c in chunks:
            rows.extend(_render_chunk(c))
            bar.update(len(c[0]))
    else:
        # fork shares the loaded anatomy with the workers; spawn elsewhere (macOS, Windows).
        ctx = mp.get_context("fork" if platform.system() == "Linux" else "spawn")
        with ctx.Pool(workers) as pool:
            for r in pool.imap(_render_chunk, chunks):  # imap keeps the input order
                rows.extend(r)
                bar.update(len(r))
    bar.close()
    return pd.DataFrame(rows)


def render_cohort(out_dir: str | os.PathLike, n: int = 4000, size: int = 256, seed: int = 0,
                  shortcut: bool = False, workers: int = 0, overwrite: bool = False,
                  version: int = 2, device_log_odds: float | None = None) -> pd.DataFrame:
    """Render ``n`` radiographs with their clinical table and ground truth into ``out_dir``.

    ``version`` 2 (default) or 1 (the original cohort, byte-identical for the same seed).
    ``device_log_odds`` (version 2): log odds ratio of a device given AHF. Writes ``images/{image_id}.png`` (16-bit), ``cohort.csv`` and ``cohort.json``; the folder
    appears only when complete. Returns the table.
    """
    check_options(n, size, workers)
    check_output(out_dir, overwrite)
    subjects = sample_subjects(n, seed=seed, shortcut=shortcut, version=version,
                               device_log_odds=device_log_odds)
    try:
        ctx = atomic_dir(out_dir, overwrite=overwrite)
        tmp = ctx.__enter__()
    except OSError as err:
        raise OptionError(f"{out_dir}: cannot write here ({err.strerror or err})") from None
    with contextlib.ExitStack() as stack:
        stack.push(ctx)
        (tmp / "images").mkdir()
        gt = render_subjects(subjects, size, tmp / "images", workers=workers)
        table = subjects_frame(subjects).merge(gt, on="image_id", how="left", validate="1:1")
        table.to_csv(tmp / "cohort.csv", index=False, float_format="%.6g")
        features = {"sex": "categorical", "age": "numeric", "ahf": "categorical",
                    "bnpp": "numeric", "manufacturer": "categorical", "device": "categorical"}
        options = {"n": n, "size": size, "seed": seed, "shortcut": shortcut}
        if version == 2:
            from seegaan.cohort.clinical_v2 import DEVICE_LOG_ODDS, DEVICE_LOG_ODDS_SHORTCUT

            features.update(site="categorical", egfr="numeric", projection="categorical")
            options["device_log_odds"] = device_log_odds if device_log_odds is not None else (
                DEVICE_LOG_ODDS_SHORTCUT if shortcut else DEVICE_LOG_ODDS)
        # "version" is the file format (1 throughout); "cohort_version" the renderer.
        info = {"format": "seegaan-cohort", "version": 1, "seegaan": __version__}
        if version == 2:
            info["cohort_version"] = 2
        write_json(tmp / "cohort.json", {
            **info, "options": options,
            "n_images": len(table), "n_patients": int(table["patient_id"].nunique()),
            "image_dir": "images", "table": "cohort.csv", "features": features,
            "ground_truth": [c for c in table.columns if c.startswith("gt_")],
        })
    return table
