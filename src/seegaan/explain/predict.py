"""Predictions of a model (or of any algorithm, via a CSV) attached to images and latents.

SEE-GAAN's global explanations need only one prediction per image, so a column in the
latent table is the whole interface: ``seegaan predict`` fills it from a model, or from a CSV
that another tool wrote (``image_id`` plus one numeric column).

Example::

    df = predict_dataset(model, "data/cohort64", split="test")   # image_id, split, prediction
    table = predict_latents(model, "latents.parquet")            # LatentTable with "prediction"
    table = merge_predictions_csv(table, "rf_preds.csv")         # someone else's model
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from seegaan.data.prepared import PreparedDataset
from seegaan.errors import InputError, OptionError
from seegaan.explain.loading import ExplainableModel
from seegaan.latent.store import LatentTable, load_latents
from seegaan.utils.progress import progress

DEFAULT_COLUMN = "prediction"


def predict_dataset(model: ExplainableModel, data_dir: str | os.PathLike,
                    split: str | None = None, batch_size: int = 64,
                    column: str = DEFAULT_COLUMN) -> pd.DataFrame:
    """One row per image of a prepared dataset: ``image_id``, ``patient_id``, ``split``, ``column``."""
    ds = PreparedDataset(data_dir, split=split)
    preds = np.concatenate([
        model.predict(ds.load_images(slice(i, i + batch_size)), batch_size=batch_size)
        for i in progress(range(0, len(ds), batch_size), desc="predict", unit="batch")])
    df = ds.index[["image_id", "patient_id", "split"]].copy()
    df[column] = preds
    return df.reset_index(drop=True)


class TableImages:
    """The real images behind a latent table's rows, matched by ``image_id`` in its DATA_DIR.

    Example::

        source = TableImages(table)            # uses table.info["data_dir"]
        x = source.load([0, 5, 9])             # (3, 1, S, S) in [-1, 1]
    """

    def __init__(self, table: LatentTable, data_dir: str | os.PathLike | None = None) -> None:
        source = data_dir or table.info.get("data_dir")
        if not source:
            raise InputError("the latent table records no data_dir; pass --data DATA_DIR")
        self.dataset = PreparedDataset(source)
        where = pd.Series(np.arange(len(self.dataset.index)),
                          index=self.dataset.index["image_id"].astype(str))
        if where.index.has_duplicates:
            raise InputError(f"{source}: image_id is not unique, cannot match the latent table")
        ids = table.meta["image_id"].astype(str)
        missing = ~ids.isin(where.index)
        if missing.any():
            raise InputError(f"{source}: image {ids[missing].iloc[0]} of the latent table is not in "
                             f"this dataset ({int(missing.sum())} missing); pass the DATA_DIR it "
                             "was encoded from with --data")
        self.positions = where.loc[ids.to_numpy()].to_numpy()

    def load(self, rows: np.ndarray | list[int] | slice) -> torch.Tensor:
        return self.dataset.load_images(self.positions[rows])


def predict_latents(model: ExplainableModel, latents: str | os.PathLike | LatentTable,
                    data_dir: str | os.PathLike | None = None, column: str = DEFAULT_COLUMN,
                    batch_size: int = 64, overwrite: bool = False) -> LatentTable:
    """The latent table with ``column`` holding the model's prediction on each real image."""
    table = latents if isinstance(latents, LatentTable) else load_latents(latents)
    _check_column(table, column, overwrite)
    source = TableImages(table, data_dir)
    preds = [model.predict(source.load(slice(i, i + batch_size)), batch_size=batch_size)
             for i in progress(range(0, len(table.meta), batch_size), desc="predict", unit="batch")]
    out = LatentTable(table.meta.copy(), table.w, dict(table.info))
    out.meta[column] = np.concatenate(preds) if preds else np.zeros(0)
    out.info.setdefault("predictions", {})[column] = model.describe()
    return out


def read_predictions_csv(path: str | os.PathLike, column: str | None = None) -> pd.Series:
    """A CSV of ``image_id`` plus a numeric prediction column, as a Series indexed by image_id."""
    path = Path(path)
    try:
        df = pd.read_csv(path, dtype={"image_id": str})
    except FileNotFoundError:
        raise InputError(f"{path}: file not found") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise InputError(f"{path}: not a readable CSV ({str(err).splitlines()[0]})") from None
    if "image_id" not in df.columns:
        raise InputError(f"{path}: needs an image_id column")
    if column is None:
        numeric = [c for c in df.columns if c != "image_id" and pd.api.types.is_numeric_dtype(df[c])]
        if DEFAULT_COLUMN in df.columns:
            column = DEFAULT_COLUMN
        elif len(numeric) == 1:
            column = numeric[0]
        else:
            raise InputError(f"{path}: cannot tell which column is the prediction "
                             f"(numeric columns: {', '.join(numeric) or 'none'}); name it "
                             f"'{DEFAULT_COLUMN}' or pass --csv-column")
    if column not in df.columns:
        raise InputError(f"{path}: no column {column!r}")
    values = pd.to_numeric(df[column], errors="coerce")
    bad = values.isna() | ~np.isfinite(values.fillna(0))
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0]) + 2  # +1 header, +1 one-based
        raise InputError(f"{path}: row {row}, column {column}: not a finite number")
    if df["image_id"].duplicated().any():
        dup = df["image_id"][df["image_id"].duplicated()].iloc[0]
        raise InputError(f"{path}: image_id {dup} appears more than once")
    return pd.Series(values.to_numpy(dtype=np.float64), index=df["image_id"].astype(str), name=column)


def merge_predictions_csv(table: LatentTable, path: str | os.PathLike, column: str = DEFAULT_COLUMN,
                          csv_column: str | None = None, overwrite: bool = False) -> LatentTable:
    """The latent table with ``column`` from a predictions CSV; every image must have a value."""
    _check_column(table, column, overwrite)
    preds = read_predictions_csv(path, csv_column)
    ids = table.meta["image_id"].astype(str)
    missing = ~ids.isin(preds.index)
    if missing.any():
        raise InputError(f"{path}: no prediction for image {ids[missing].iloc[0]} "
                         f"({int(missing.sum())} of {len(ids)} latent-table images missing)")
    out = LatentTable(table.meta.copy(), table.w, dict(table.info))
    out.meta[column] = preds.loc[ids.to_numpy()].to_numpy()
    out.info.setdefault("predictions", {})[column] = {"name": str(path), "model_format": "csv"}
    return out


def _check_column(table: LatentTable, column: str, overwrite: bool) -> None:
    if not column or column.startswith("w_") and column[2:].isdigit():
        raise OptionError(f"--column {column!r}: not allowed (w_<n> names are latent columns)")
    if column in table.meta.columns and not overwrite:
        raise OptionError(f"--column {column}: the latent table already has it "
                          "(pass --overwrite to replace it)")


def summarise(pred: np.ndarray, truth: np.ndarray | None, threshold: float | None,
              log_scale: bool) -> dict[str, Any]:
    """R² (on the log scale when ``log_scale``) and AUC at ``threshold`` when ground truth exists."""
    from seegaan.explain.metrics import auc, r2

    if truth is None:
        return {"n": int(len(pred))}
    t = np.asarray(truth, dtype=np.float64)
    p = np.asarray(pred, dtype=np.float64)
    ok = np.isfinite(t) & np.isfinite(p) & ((t > 0) & (p > 0) if log_scale else True)
    t, p = t[ok], p[ok]
    out: dict[str, Any] = {"n": int(ok.sum()), "r2": r2(np.log(t) if log_scale else t, np.log(p) if log_scale else p),
                           "r2_scale": "log" if log_scale else "linear"}
    if threshold is not None:
        out["auc"] = auc(t > threshold, p)
        out["threshold"] = threshold
    return out
