"""Finiteness at the boundary: no NaN or inf enters a computation unannounced.

A NaN latent or an infinite feature value does not crash anything downstream; it turns
into a plausible-looking wrong result (a permutation test on NaN differences reports every
pixel significant). So every array and table is checked where it is read, and a non-finite
value is an error naming the file, the row and the column.

Example::

    check_finite(w, ["w_0", "w_1"], meta, "latents.parquet")
    # InputError: latents.parquet: row 3 (image_id p03), column w_1 is nan ...
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from seegaan.errors import InputError


def check_finite(values: np.ndarray, columns: list[str], meta: pd.DataFrame | None,
                 source: str | os.PathLike) -> None:
    """Raise :class:`InputError` naming the first non-finite cell of ``values`` (rows x columns)."""
    values = np.asarray(values)
    if values.ndim == 1:
        values = values[:, None]
    bad = ~np.isfinite(values)
    if not bad.any():
        return
    r, c = (int(i) for i in np.argwhere(bad)[0])
    ident = ""
    if meta is not None and "image_id" in meta.columns:
        ident = f" (image_id {meta['image_id'].iloc[r]})"
    n = int(bad.sum())
    more = f"; {n - 1} more non-finite value{'s' if n > 2 else ''}" if n > 1 else ""
    raise InputError(f"{source}: row {r}{ident}, column {columns[c]} is {values[r, c]}"
                     f"{more} (every value must be finite)")


def check_no_inf(frame: pd.DataFrame, source: str | os.PathLike) -> None:
    """Refuse ±inf in any float column of ``frame``; NaN stays allowed (it means missing)."""
    for col in frame.columns:
        if pd.api.types.is_float_dtype(frame[col]):
            vals = frame[col].to_numpy(dtype=np.float64)
            check_finite(np.where(np.isnan(vals), 0.0, vals), [str(col)], frame, source)
