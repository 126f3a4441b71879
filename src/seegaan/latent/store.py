"""The latent table: one row per image, metadata columns then ``w_0 … w_{D-1}``.

Parquet keeps the table openable in pandas, R or DuckDB; the latent width and provenance
(checkpoint, data directory, image size) travel in the schema metadata under ``seegaan``.

Example::

    save_latents(meta_df, w, "latents.parquet", {"checkpoint": "runs/ae/best"})
    table = load_latents("latents.parquet")
    table.meta["sex"], table.w.shape            # (N,), (N, 512)
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from seegaan.errors import InputError
from seegaan.utils.finite import check_finite, check_no_inf
from seegaan.utils.fsio import atomic_temp_path, output_lock

META_KEY = b"seegaan"


def latent_columns(w_dim: int) -> list[str]:
    return [f"w_{i}" for i in range(w_dim)]


@dataclass
class LatentTable:
    meta: pd.DataFrame                 # one row per image: ids, split, features, predictions
    w: np.ndarray                      # (N, w_dim) float32 latents, row-aligned with meta
    info: dict[str, Any] = field(default_factory=dict)  # w_dim, checkpoint, data_dir, image_size

    @property
    def split(self) -> str:
        """The split this table holds, as `seegaan encode` recorded it (older tables: test).

        Later commands default to it, so a table encoded with ``--split all`` needs no
        ``--split`` flag afterwards.
        """
        return str(self.info.get("split") or "test")

    @property
    def w_dim(self) -> int:
        return int(self.w.shape[1])

    def subset(self, mask: np.ndarray) -> LatentTable:
        mask = np.asarray(mask)
        return LatentTable(self.meta[mask].reset_index(drop=True), self.w[mask], dict(self.info))

    def to_frame(self) -> pd.DataFrame:
        lat = pd.DataFrame(self.w, columns=latent_columns(self.w_dim))
        return pd.concat([self.meta.reset_index(drop=True), lat], axis=1)


def save_latents(meta: pd.DataFrame, w: np.ndarray, path: str | os.PathLike,
                 info: dict[str, Any] | None = None) -> Path:
    """Write a latent table atomically (temporary file, then rename)."""
    path = Path(path)
    w = np.asarray(w, dtype=np.float32)
    if w.ndim != 2 or len(w) != len(meta):
        raise InputError(f"{path}: latents must be (N, D) with N = {len(meta)} rows, got {w.shape}")
    check_finite(w, latent_columns(w.shape[1]), meta.reset_index(drop=True), path)
    table = LatentTable(meta.reset_index(drop=True), w, dict(info or {}))
    table.info["w_dim"] = table.w_dim
    arrow = pa.Table.from_pandas(table.to_frame(), preserve_index=False)
    schema_meta = dict(arrow.schema.metadata or {})
    schema_meta[META_KEY] = json.dumps(table.info, default=str).encode()
    arrow = arrow.replace_schema_metadata(schema_meta)
    with output_lock(path):  # no other seegaan run rewrites this table meanwhile
        tmp = atomic_temp_path(path)
        try:
            pq.write_table(arrow, tmp)
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
    return path


def load_latents(path: str | os.PathLike) -> LatentTable:
    """Read a latent table written by :func:`save_latents` (or ``seegaan encode``)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: latent table not found (create one with `seegaan encode`)")
    try:
        arrow = pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as err:
        raise InputError(f"{path}: not a readable Parquet file ({err})") from None
    raw = (arrow.schema.metadata or {}).get(META_KEY)
    info = json.loads(raw) if raw else {}
    df = arrow.to_pandas()
    lat_cols = [c for c in df.columns if c.startswith("w_") and c[2:].isdigit()]
    if not lat_cols:
        raise InputError(f"{path}: no latent columns (w_0, w_1, ...) found")
    lat_cols.sort(key=lambda c: int(c[2:]))
    w_dim = info.get("w_dim", len(lat_cols))
    if len(lat_cols) != w_dim:
        raise InputError(f"{path}: expected {w_dim} latent columns, found {len(lat_cols)}")
    w = df[lat_cols].to_numpy(dtype=np.float32)
    meta = df.drop(columns=lat_cols)
    check_finite(w, lat_cols, meta, path)
    # NaN in a feature column means "missing" (rows are dropped and counted later); ±inf
    # has no such reading and would poison a regression or a group mean.
    check_no_inf(meta, path)
    return LatentTable(meta, w, info)

