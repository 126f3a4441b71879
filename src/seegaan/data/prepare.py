"""``seegaan prepare``: images + clinical CSV -> a prepared dataset (``docs/CONTRACTS.md``).

Steps, in the order that fails fastest:

1. check the options and that the output may be written;
2. read and validate the whole table, match every row to its file (no pixels read yet);
3. decode, fit and normalise each image (in a process pool for ``workers > 1``), streaming
   the uint16 result straight into a memory-mapped ``images.npy`` preallocated in a
   temporary directory, so memory stays flat however many images there are;
4. split by patient, write ``index.parquet``, ``prepare.json``, Table 1 and
   ``skipped.csv``; rename the temporary directory into place only now.

Any error before the rename leaves no ``DATA_DIR`` behind (and an old one untouched).

Example::

    spec = resolve_spec("cohort/cohort.csv", "cohort/images")          # auto-detects the preset
    result = prepare("cohort/images", "cohort/cohort.csv", "data/c64", spec,
                     PrepareOptions(size=64, workers=2))
    print(result.summary())
"""

from __future__ import annotations

import datetime as _dt
import multiprocessing as mp
import os
from collections.abc import Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from seegaan import __version__
from seegaan.data.presets import TableSpec, detect_preset, get_preset
from seegaan.data.split import parse_fractions, patient_split
from seegaan.data.table import SKIPPED_COLUMNS, build_table, read_csv
from seegaan.data.table1 import table1, write_table1
from seegaan.data.transform import FITS, decode_chunk, die_with_parent
from seegaan.errors import InputError, OptionError
from seegaan.utils.fsio import atomic_dir, atomic_file, check_output, write_json
from seegaan.utils.progress import progress

CHUNK = 8  # images per pool task: enough to amortise IPC, small enough to keep the bar smooth


@dataclass
class PrepareOptions:
    """Everything ``seegaan prepare`` does to the images; saved in ``prepare.json``."""

    size: int = 256                          # output side in pixels, 8..4096 (paper: 256)
    fit: str = "crop"                        # "crop": centre square; "pad": whole image, pad -1
    clip_percentiles: tuple[float, float] | None = None  # e.g. (0.5, 99.5) before min-max
    split: tuple[float, float, float] = (0.8, 0.1, 0.1)  # train/val/test share of radiographs
    seed: int = 0                            # seed of the patient split
    stratify: str | None = None              # feature balanced across splits (or None)
    frontal_only: bool = False               # keep PA/AP views only (needs a view column)
    workers: int = 1                         # decoding processes, >= 1
    skip_bad: bool = False                   # skip unreadable/missing images instead of stopping

    def check(self) -> None:
        if not 8 <= int(self.size) <= 4096:
            raise OptionError(f"--size {self.size}: must be between 8 and 4096 pixels")
        if self.fit not in FITS:
            raise OptionError(f"--fit {self.fit!r}: choose one of {', '.join(FITS)}")
        if self.clip_percentiles is not None:
            lo, hi = self.clip_percentiles
            if not 0.0 <= lo < hi <= 100.0:
                raise OptionError(f"--clip-percentiles {lo:g},{hi:g}: need 0 <= low < high <= 100")
        if int(self.workers) < 1:
            raise OptionError(f"--workers {self.workers}: must be at least 1")
        self.split = parse_fractions(self.split)


@dataclass
class PrepareResult:
    out_dir: Path
    n_images: int
    n_patients: int
    split_counts: dict[str, int]
    features: dict[str, str]
    preset: str
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> count

    def _preset_words(self) -> str:
        # "columns" is the spec built from the user's own column options, not a preset.
        return "no preset: your column options" if self.preset == "columns" else f"preset {self.preset}"

    def summary(self) -> str:
        """Human summary: what was written and what was skipped (and where it is listed)."""
        splits = " / ".join(f"{k} {v}" for k, v in self.split_counts.items())
        text = (f"prepared {self.n_images} radiographs of {self.n_patients} patients "
                f"({splits}) -> {self.out_dir}  [{self._preset_words()}; features: "
                f"{', '.join(self.features) or 'none'}]")
        n_skip = sum(self.skipped.values())
        if n_skip:
            reasons = ", ".join(f"{n} {r}" for r, n in self.skipped.items())
            text += f"\nskipped {n_skip} ({reasons}); listed in {self.out_dir / 'skipped.csv'}"
        return text


def resolve_spec(csv_path: str | os.PathLike, images_dir: str | os.PathLike,
                 preset: str | None = "auto", *, id_col: str | None = None,
                 path_col: str | None = None, patient_col: str | None = None,
                 view_col: str | None = None, numeric: Iterable[str] = (),
                 categorical: Iterable[str] = ()) -> TableSpec:
    """Pick the column mapping: a preset (named, or ``"auto"``-detected) plus explicit columns.

    Explicit column options override the preset's; ``numeric``/``categorical`` replace its
    feature list. With no preset and no feature options, every column that is not an id,
    path, patient or view becomes a feature, numeric unless it holds text or only 0/1.

    Example::

        spec = resolve_spec("my.csv", "imgs", "none", id_col="file", patient_col="mrn",
                            numeric=["age"], categorical=["sex"])
    """
    columns = list(read_csv(csv_path, nrows=0).columns)
    name = preset
    if preset in (None, "auto"):
        name = detect_preset(columns, Path(csv_path), Path(images_dir))
    elif preset == "none":
        name = None
    spec = get_preset(name, columns) if name else TableSpec(infer_rest=True, name="columns")
    numeric, categorical = list(numeric), list(categorical)
    if numeric or categorical:
        overlap = set(numeric) & set(categorical)
        if overlap:
            raise OptionError(f"column {sorted(overlap)[0]!r}: given as both --numeric and "
                              "--categorical")
        spec = spec.with_overrides(numeric={c: c for c in numeric},
                                   categorical={c: c for c in categorical},
                                   optional=frozenset(), infer_rest=False)
    if path_col is not None and id_col is None and name is None:
        spec.image_col = None  # ids come from the path column
    return spec.with_overrides(image_col=id_col, path_col=path_col, patient_col=patient_col,
                               view_col=view_col)


def _pool_context():
    # fork where the OS has it: workers start in milliseconds and inherit the imported
    # modules (what torch's DataLoader does too). spawn/forkserver re-import the caller's
    # main module in every worker, which with torch loaded costs seconds per pool. The
    # worker code itself touches only numpy, Pillow and pydicom, and the pool is started
    # before any progress-bar thread exists.
    methods = mp.get_all_start_methods()
    return mp.get_context("fork" if "fork" in methods else "spawn")


def _decode_all(paths: list[str], out: np.ndarray, opts: PrepareOptions) -> dict[int, str]:
    """Fill ``out[i]`` for every ``paths[i]``; return ``{i: message}`` for files that failed.

    Without ``skip_bad`` the first failure raises at once and pending work is cancelled.
    """
    failed: dict[int, str] = {}
    clip = tuple(opts.clip_percentiles) if opts.clip_percentiles else None

    def take(results) -> None:
        for i, arr, msg in results:
            if arr is None:
                if not opts.skip_bad:
                    raise InputError(f"{msg} (pass --skip-bad to skip unreadable images)")
                failed[i] = msg
            else:
                out[i] = arr

    if opts.workers == 1 or len(paths) <= CHUNK:
        with progress(total=len(paths), desc="prepare", unit="img") as bar:
            for i, p in enumerate(paths):
                take(decode_chunk([(i, p)], opts.size, opts.fit, clip))
                bar.update(1)
        return failed
    items = list(enumerate(paths))
    chunks = (items[s:s + CHUNK] for s in range(0, len(items), CHUNK))
    pending: set[Future] = set()
    # A bounded window of tasks in flight keeps finished-but-unwritten images few, so
    # memory does not grow with the collection.
    window = 4 * opts.workers
    pool = ProcessPoolExecutor(max_workers=opts.workers, mp_context=_pool_context(),
                               initializer=die_with_parent, initargs=(os.getpid(),))
    bar = None
    try:
        for chunk in chunks:  # the first submit starts the workers, before the bar's thread
            pending.add(pool.submit(decode_chunk, chunk, opts.size, opts.fit, clip))
            if len(pending) >= window:
                break
        bar = progress(total=len(paths), desc="prepare", unit="img")
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                results = fut.result()
                take(results)
                bar.update(len(results))
                nxt = next(chunks, None)
                if nxt is not None:
                    pending.add(pool.submit(decode_chunk, nxt, opts.size, opts.fit, clip))
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        if bar is not None:
            bar.close()
    return failed


def _compact(tmp: Path, keep: np.ndarray, size: int) -> None:
    """Rewrite ``images.npy`` without the rows of failed images, in bounded chunks."""
    src = np.load(tmp / "images.npy", mmap_mode="r")
    rows = np.flatnonzero(keep)
    dst = np.lib.format.open_memmap(tmp / "images.compact.npy", mode="w+", dtype=np.uint16,
                                    shape=(len(rows), size, size))
    for s in range(0, len(rows), 1024):
        dst[s:s + 1024] = src[rows[s:s + 1024]]
    dst.flush()
    del src, dst
    os.replace(tmp / "images.compact.npy", tmp / "images.npy")


def prepare(images_dir: str | os.PathLike, csv_path: str | os.PathLike,
            out_dir: str | os.PathLike, spec: TableSpec | None = None,
            options: PrepareOptions | None = None, overwrite: bool = False) -> PrepareResult:
    """Build a prepared dataset in ``out_dir`` from ``images_dir`` and ``csv_path``.

    ``spec`` defaults to :func:`resolve_spec` with auto-detection. Raises a one-line
    :class:`~seegaan.errors.SeegaanError` on bad input and then writes nothing.

    Example::

        res = prepare("imgs", "table.csv", "data", options=PrepareOptions(size=128, seed=1))
        res.split_counts                    # {'train': 800, 'val': 100, 'test': 100}
    """
    opts = options or PrepareOptions()
    opts.check()
    out = check_output(out_dir, overwrite)
    spec = spec or resolve_spec(csv_path, images_dir)
    res = build_table(csv_path, images_dir, spec, frontal_only=opts.frontal_only,
                      skip_bad=opts.skip_bad)
    features = res.features
    if opts.stratify is not None and opts.stratify not in features:
        raise OptionError(f"--stratify {opts.stratify!r}: not a feature "
                          f"(features: {', '.join(features) or 'none'})")
    table = res.table
    skipped = list(res.skipped)
    n = len(table)

    with atomic_dir(out, overwrite=overwrite) as tmp:
        images = np.lib.format.open_memmap(tmp / "images.npy", mode="w+", dtype=np.uint16,
                                           shape=(n, opts.size, opts.size))
        failed = _decode_all(table["source_path"].tolist(), images, opts)
        images.flush()
        del images  # close the map before a possible compaction replaces the file
        if failed:
            keep = np.ones(n, dtype=bool)
            keep[list(failed)] = False
            for i, msg in sorted(failed.items()):
                row = table.iloc[i]
                skipped.append({"source_path": row["source_path"], "csv_line": row["csv_line"],
                                "image_id": row["image_id"],
                                "reason": f"unreadable: {msg.split(': ', 1)[-1]}"})
            if not keep.any():
                raise InputError(f"{csv_path}: no images left to prepare (all {n} matched "
                                 f"images were unreadable, e.g. {next(iter(failed.values()))})")
            _compact(tmp, keep, opts.size)
            table = table[keep].reset_index(drop=True)

        strat = table[opts.stratify] if opts.stratify else None
        split = patient_split(table["patient_id"], opts.split, opts.seed, strat,
                              features.get(opts.stratify, "categorical"))
        index = table.drop(columns=["csv_line"])
        index.insert(2, "split", split.to_numpy())
        index = index[["image_id", "patient_id", "split", "source_path", *features]]
        index.to_parquet(tmp / "index.parquet", index=False)

        t1 = table1(index, features)
        write_table1(t1, tmp)
        with atomic_file(tmp / "skipped.csv", mode="w") as fh:
            pd.DataFrame(skipped, columns=SKIPPED_COLUMNS).to_csv(fh, index=False,
                                                                  lineterminator="\n")
        reasons: dict[str, int] = {}
        for s in skipped:
            key = s["reason"].split(" (")[0].split(":")[0]
            key = "missing file" if key.startswith(("no file", "file ")) else key
            reasons[key] = reasons.get(key, 0) + 1
        split_counts = {k: int(v) for k, v in index["split"].value_counts()
                        .reindex(["train", "val", "test"], fill_value=0).items()}
        info: dict[str, Any] = {
            "size": int(opts.size),
            "n_images": int(len(index)),
            "features": features,
            "seegaan_version": __version__,
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "images": str(Path(images_dir).absolute()),
            "csv": str(Path(csv_path).absolute()),
            "preset": spec.name,
            "columns": {"image_id": spec.image_col, "path": spec.path_col,
                        "patient_id": spec.patient_col, "view": spec.view_col,
                        "features": {**spec.numeric, **spec.categorical}},
            **{k: v for k, v in asdict(opts).items() if k != "size"},
            "normalisation": "per-image min-max to [-1, 1]"
                             + (" after percentile clipping" if opts.clip_percentiles else ""),
            "resize": "bicubic (Pillow, antialiased)",
            "split_counts": split_counts,
            "n_patients": int(index["patient_id"].nunique()),
            "n_skipped": len(skipped),
            "skipped_reasons": reasons,
        }
        if spec.name == "seegaan-cohort":
            # Which renderer drew the films: the oracle that reads them must match.
            from seegaan.cohort.version import find_cohort_version

            info["cohort_version"] = find_cohort_version(
                Path(csv_path).parent, images_dir, Path(images_dir).parent) or 1
        write_json(tmp / "prepare.json", info)

    return PrepareResult(out_dir=out, n_images=len(index),
                         n_patients=int(index["patient_id"].nunique()),
                         split_counts=split_counts, features=features, preset=spec.name,
                         skipped=reasons)
