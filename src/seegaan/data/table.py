"""From a clinical CSV and a folder of images to one clean row per radiograph.

:func:`build_table` reads the CSV, applies a :class:`~seegaan.data.presets.TableSpec`,
checks it (required columns, duplicate ids, numbers that are not numbers), finds each row's
file, and returns the rows to decode plus everything it set aside and why. It reads no pixel
data, so every table problem is reported before any slow work starts.

Example::

    result = build_table("cohort/cohort.csv", "cohort/images", get_preset("seegaan-cohort"))
    result.table[["image_id", "patient_id", "source_path"]]
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from seegaan.data.presets import FRONTAL_VIEWS, TableSpec
from seegaan.data.readers import SUFFIXES
from seegaan.errors import InputError, OptionError

SKIPPED_COLUMNS = ["source_path", "csv_line", "image_id", "reason"]


@dataclass
class TableResult:
    table: pd.DataFrame                    # image_id, patient_id, source_path, csv_line, features
    features: dict[str, str]               # name -> "numeric" | "categorical", in column order
    skipped: list[dict] = field(default_factory=list)  # rows of skipped.csv (SKIPPED_COLUMNS)
    n_csv_rows: int = 0                    # data rows in the CSV
    n_files: int = 0                       # image files found under the images folder


def read_csv(path: str | os.PathLike, nrows: int | None = None) -> pd.DataFrame:
    """Read a CSV with every value as text (ids like ``00012`` keep their zeros).

    Example::

        df = read_csv("Data_Entry_2017.csv")
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: CSV file not found")
    try:
        df = pd.read_csv(path, dtype=str, skipinitialspace=True, nrows=nrows,
                         compression="infer", encoding="utf-8-sig")
    except pd.errors.EmptyDataError:
        raise InputError(f"{path}: CSV file is empty") from None
    except pd.errors.ParserError as err:
        raise InputError(f"{path}: malformed CSV ({str(err).strip().splitlines()[-1]})") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: not UTF-8 text (is it really a CSV?)") from None
    df.columns = [str(c).strip() for c in df.columns]
    return df


def _line(i: int) -> int:
    """The editor line of data row ``i`` (the header is line 1)."""
    return int(i) + 2


def _need(df: pd.DataFrame, col: str, csv: Path, option: str) -> None:
    if col not in df.columns:
        shown = [c for c in df.columns if not c.startswith("__")]
        listing = ", ".join(shown[:12]) + (", …" if len(shown) > 12 else "")
        raise InputError(f"{csv}: column {col!r} not found (set it with {option}; "
                         f"the CSV has: {listing})")


def _numeric(df: pd.DataFrame, name: str, col: str, csv: Path) -> pd.Series:
    raw = df[col]
    text = raw.astype("string").str.strip()
    values = pd.to_numeric(text.replace("", pd.NA), errors="coerce")
    bad = text.notna() & text.ne("") & values.isna()
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(f"{csv} line {_line(i)}, column {col!r}: {raw.iloc[i]!r} is not a "
                         f"number (feature '{name}' is numeric; declare it with --categorical "
                         f"if it is a category)")
    inf = np.isinf(values.to_numpy(dtype="float64", na_value=np.nan))
    if inf.any():
        i = int(np.flatnonzero(inf)[0])
        raise InputError(f"{csv} line {_line(i)}, column {col!r}: {raw.iloc[i]!r} is not a "
                         f"finite number (feature '{name}' must be finite; leave the cell "
                         "empty if the value is missing)")
    return values.astype("float64")


def _inside(images_dir: Path, rel: str) -> bool:
    """Whether ``rel`` (a --path-col value) stays inside ``images_dir``.

    An absolute path or one climbing out with ``..`` would let a table read any file the
    user can read (and copy it, resized, into the prepared dataset).
    """
    p = Path(rel)
    if p.is_absolute() or p.drive or ".." in p.parts:
        base = images_dir.resolve()
        target = (images_dir / p).resolve() if not p.is_absolute() else p.resolve()
        return target == base or base in target.parents
    return True


def _categorical(series: pd.Series) -> pd.Series:
    """Category codes as written, except that integer codes (0/1, 1-5) stay integers.

    Keeping ``ahf`` as the number 1 rather than the text "1" lets later stages compare and
    average it without knowing how the CSV spelled it.
    """
    s = series.astype("string").str.strip().replace("", pd.NA)
    nums = pd.to_numeric(s, errors="coerce")
    if s.notna().any() and nums[s.notna()].notna().all() and \
            np.allclose(nums.dropna(), np.round(nums.dropna())):
        return nums.astype("int64") if nums.notna().all() else nums.astype("float64")
    return s.astype(object).where(s.notna(), None)


def _infer_value_type(series: pd.Series) -> str:
    """Numeric when (nearly) every value parses as a number and the values are not just 0/1.

    "Nearly": a column that is at least 90 % numbers is taken as numeric, so that a typo
    such as ``sixty`` in an age column is reported by line instead of silently turning age
    into a category with one level per value.
    """
    s = series.dropna().astype(str).str.strip()
    s = s[s != ""]
    nums = pd.to_numeric(s, errors="coerce")
    if len(s) == 0 or nums.notna().mean() < 0.9:
        return "categorical"
    return "categorical" if set(nums.dropna().unique()) <= {0, 1} else "numeric"


def _scan(images_dir: Path) -> dict[str, list[Path]]:
    """Every supported file under ``images_dir`` (recursively), by lower-cased stem."""
    found: dict[str, list[Path]] = {}
    for root, dirs, files in os.walk(images_dir):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for f in sorted(files):
            if f.startswith("."):
                continue
            p = Path(root) / f
            if p.suffix.lower() in SUFFIXES:
                found.setdefault(_strip_suffix(f).lower(), []).append(p)
    return found


def _strip_suffix(name: str) -> str:
    p = Path(name)
    return (p.stem if p.suffix.lower() in SUFFIXES else p.name)


def _resolve(images_dir: Path, rel: str, hint: list[int]) -> Path | None:
    """``images_dir / rel``, dropping leading folders of ``rel`` until the file exists.

    CheXpert paths start with ``CheXpert-v1.0-small/`` while users point ``--images`` at
    that folder or its parent; dropping leading parts covers both without an option.
    ``hint`` remembers how many parts the previous row needed, so the usual case is one stat.
    """
    parts = Path(rel).parts
    order = [hint[0]] + [k for k in range(len(parts)) if k != hint[0]]
    for k in order:
        if k >= len(parts):
            continue
        p = images_dir.joinpath(*parts[k:])
        if p.is_file():
            hint[0] = k
            return p
    return None


def build_table(csv_path: str | os.PathLike, images_dir: str | os.PathLike, spec: TableSpec,
                frontal_only: bool = False, skip_bad: bool = False) -> TableResult:
    """Match CSV rows to image files and validate the clinical columns.

    Stops with a one-line :class:`InputError` on a table problem (missing column, duplicate
    id, non-numeric value in a numeric feature, empty result). A row whose file is missing
    stops too unless ``skip_bad``; image files with no CSV row are always skipped and listed.

    The steps, each a function below: read (and derive) the CSV, check the required columns,
    take the image ids, validate the features, match files, list the files nobody asked for.

    Example::

        res = build_table("train.csv", "CheXpert-v1.0-small", get_preset("chexpert"),
                          frontal_only=True)
        len(res.table), res.features
    """
    csv, images = Path(csv_path), Path(images_dir)
    if not images.is_dir():
        raise InputError(f"{images}: images folder not found")
    df = _read_derived(csv, spec)
    n_rows = len(df)
    frontal_only = _check_required(df, csv, spec, frontal_only)
    ids = _image_ids(df, csv, spec)
    features, columns = _features(df, csv, spec)

    table = pd.DataFrame({"image_id": ids.astype(str).to_numpy(),
                          "patient_id": df[spec.patient_col].astype(str).str.strip().to_numpy(),
                          "csv_line": np.arange(n_rows) + 2})
    for name, values in columns.items():
        table[name] = values.to_numpy() if hasattr(values, "to_numpy") else values

    # --frontal-only: lateral (and view-less) rows are set aside and listed, not errors.
    keep = np.ones(n_rows, dtype=bool)
    if frontal_only:
        views = df[spec.view_col].astype("string").str.strip()
        keep &= views.str.lower().isin(FRONTAL_VIEWS).fillna(False).to_numpy(dtype=bool)

    found = _scan(images)
    n_files = sum(len(v) for v in found.values())
    sources, claimed, skipped = _match_files(df, ids, csv, images, spec, found, keep,
                                             frontal_only, skip_bad)
    table["source_path"] = sources
    skipped += _unclaimed(found, claimed)

    table = table[keep].reset_index(drop=True)
    if len(table) == 0:
        reasons = pd.Series([s["reason"].split(" (")[0] for s in skipped]).value_counts()
        why = "; ".join(f"{n} {r}" for r, n in reasons.head(3).items()) or "the CSV has no rows"
        raise InputError(f"{csv}: no images left to prepare ({n_rows} CSV rows, {n_files} image "
                         f"files under {images}; {why})")
    order = ["image_id", "patient_id", "source_path", "csv_line", *features]
    return TableResult(table=table[order], features=features, skipped=skipped,
                       n_csv_rows=n_rows, n_files=n_files)


def _read_derived(csv: Path, spec: TableSpec) -> pd.DataFrame:
    """The CSV, with the preset's computed columns added."""
    df = read_csv(csv)
    if spec.derive is not None:
        try:
            df = spec.derive(df)
        except KeyError as err:
            raise InputError(f"{csv}: column {err.args[0]!r} not found (needed by preset "
                             f"{spec.name}; pick another --preset or --preset none)") from None
    return df


def _check_required(df: pd.DataFrame, csv: Path, spec: TableSpec, frontal_only: bool) -> bool:
    """Required columns, each named after the option that sets it; returns ``frontal_only``
    (off when the collection is frontal by construction)."""
    if spec.image_col is None and spec.path_col is None:
        raise OptionError("give --id-col (ids matching file names) or --path-col (file paths)")
    if spec.path_col is not None:
        _need(df, spec.path_col, csv, "--path-col")
    else:
        _need(df, spec.image_col, csv, "--id-col")
    if spec.patient_col is None:
        raise OptionError("--patient-col is required: splits are made per patient")
    _need(df, spec.patient_col, csv, "--patient-col")
    if frontal_only and spec.view_col is None and spec.all_frontal:
        return False  # nothing to filter: the collection is frontal by construction
    if frontal_only:
        if spec.view_col is None:
            raise OptionError("--frontal-only needs a view column: set it with --view-col")
        _need(df, spec.view_col, csv, "--view-col")
    return frontal_only


def _image_ids(df: pd.DataFrame, csv: Path, spec: TableSpec) -> pd.Series:
    """Ids from the id column, else the path without its extension; none empty or repeated."""
    if spec.image_col is not None and spec.image_col in df.columns:
        ids = df[spec.image_col].astype("string").str.strip()
    else:
        ids = df[spec.path_col].astype("string").str.strip().str.replace(r"\.\w+$", "", regex=True)
    for col, values, what in ((spec.image_col or spec.path_col, ids, "image id"),
                              (spec.patient_col, df[spec.patient_col], "patient id")):
        empty = values.isna() | values.astype("string").str.strip().eq("")
        if empty.any():
            i = int(np.flatnonzero(empty.to_numpy())[0])
            raise InputError(f"{csv} line {_line(i)}, column {col!r}: {what} is empty")
    dup = ids.duplicated(keep=False).to_numpy()
    if dup.any():
        first = ids[dup].iloc[0]
        lines = [_line(i) for i in np.flatnonzero((ids == first).to_numpy())[:2]]
        raise InputError(f"{csv} lines {lines[0]} and {lines[1]}: duplicate image id {first!r}")
    return ids


def _features(df: pd.DataFrame, csv: Path, spec: TableSpec
              ) -> tuple[dict[str, str], dict[str, pd.Series]]:
    """The feature columns, validated on every row before any image is touched.

    Returns ``{name: "numeric" | "categorical"}`` and the cleaned values, in the CSV's own
    column order (computed columns last), as users expect.
    """
    used = {spec.image_col, spec.path_col, spec.patient_col, spec.view_col}
    numeric = dict(spec.numeric)
    categorical = dict(spec.categorical)
    if spec.infer_rest:
        taken = set(numeric.values()) | set(categorical.values()) | used
        for col in df.columns:
            if col in taken or col.startswith("__") or col.startswith("Unnamed:"):
                continue
            target = numeric if _infer_value_type(df[col]) == "numeric" else categorical
            target[col] = col
    wanted = [(name, col, "numeric") for name, col in numeric.items()]
    wanted += [(name, col, "categorical") for name, col in categorical.items()]
    for name, col, value_type in wanted:
        if col not in df.columns and name not in spec.optional:
            _need(df, col, csv, f"--{value_type}")
    wanted = [w for w in wanted if w[1] in df.columns]
    position = {c: k for k, c in enumerate(df.columns)}
    wanted.sort(key=lambda w: position[w[1]])
    features: dict[str, str] = {}
    columns: dict[str, pd.Series] = {}
    for name, col, value_type in wanted:
        columns[name] = (_numeric(df, name, col, csv) if value_type == "numeric"
                         else _categorical(df[col]))
        features[name] = value_type
    reserved = {"image_id", "patient_id", "split", "source_path"} & set(features)
    if reserved:
        raise OptionError(f"feature {sorted(reserved)[0]!r}: this name is reserved for the index")
    return features, columns


def _match_files(df: pd.DataFrame, ids: pd.Series, csv: Path, images: Path, spec: TableSpec,
                 found: dict[str, list[Path]], keep: np.ndarray, frontal_only: bool,
                 skip_bad: bool) -> tuple[list[str | None], set[Path], list[dict]]:
    """Each row's file: by relative path, or by id matched to a file stem under --images.

    Updates ``keep`` in place for rows skipped with ``skip_bad``; returns the source paths,
    the files claimed, and the skipped rows (not frontal, or with a file problem).
    """
    n_rows = len(df)
    sources: list[str | None] = [None] * n_rows
    claimed: set[Path] = set()
    skipped: list[dict] = []
    hint = [0]
    # Plain lists: per-row .iloc on 100,000 rows costs seconds for nothing.
    id_list = ids.astype(str).tolist()
    rel_list = df[spec.path_col].tolist() if spec.path_col is not None else None
    view_list = df[spec.view_col].tolist() if frontal_only else None
    for i in range(n_rows):
        if rel_list is not None:
            rel = rel_list[i]
            if not pd.isna(rel) and not _inside(images, str(rel).strip()):
                raise InputError(f"{csv} line {_line(i)}, column {spec.path_col!r}: {rel!s} "
                                 f"points outside --images {images} (paths must be relative "
                                 "to it)")
            path, problem = _by_path(images, rel, hint)
        else:
            path, problem = _by_id(images, id_list[i], found)
        if path is not None:
            claimed.add(path.absolute())
            sources[i] = str(path.absolute())
        if not keep[i]:
            view = view_list[i]
            skipped.append({"source_path": sources[i] or "", "csv_line": _line(i),
                            "image_id": id_list[i],
                            "reason": f"not frontal (view {'missing' if pd.isna(view) else view})"})
            continue
        if problem is not None:
            if not skip_bad:
                raise InputError(f"{csv} line {_line(i)}: {problem} "
                                 "(pass --skip-bad to skip such rows)")
            skipped.append({"source_path": "", "csv_line": _line(i), "image_id": id_list[i],
                            "reason": problem})
            keep[i] = False
    return sources, claimed, skipped


def _by_path(images: Path, rel: Any, hint: list[int]) -> tuple[Path | None, str | None]:
    path = None if pd.isna(rel) else _resolve(images, str(rel).strip(), hint)
    return path, (None if path is not None else f"file {rel!s} not found under {images}")


def _by_id(images: Path, image_id: str, found: dict[str, list[Path]]
           ) -> tuple[Path | None, str | None]:
    stem = _strip_suffix(image_id)
    hits = found.get(stem.lower(), [])
    if len(hits) == 1:
        return hits[0], None
    if not hits:
        return None, f"no file named {stem}.* under {images}"
    return None, (f"image id {image_id!r} matches {len(hits)} files "
                  f"({', '.join(h.name for h in hits[:3])})")


def _unclaimed(found: dict[str, list[Path]], claimed: set[Path]) -> list[dict]:
    """Files nobody asked for: counted and listed, never an error (a CSV may cover a subset)."""
    return [{"source_path": str(p.absolute()), "csv_line": None,
             "image_id": _strip_suffix(p.name), "reason": "no CSV row"}
            for paths in found.values() for p in paths if p.absolute() not in claimed]
