"""The prepared dataset: the artefact every later stage reads.

Layout of ``DATA_DIR`` (see ``docs/CONTRACTS.md``)::

    images.npy      uint16 (N, S, S), opened memory-mapped; v -> v / 65535 * 2 - 1
    index.parquet   row i describes images.npy[i]: image_id, patient_id, split, source_path, features
    prepare.json    every option, size, n_images, features {name: numeric|categorical}

16 bits keep ~3e-5 of precision on [-1, 1], far below what a radiograph's display range
resolves, at a quarter of the size of float32; a memory map keeps 100,000 images off the heap.

Example::

    ds = PreparedDataset("data/cohort64", split="train")
    image, meta = ds[0]          # FloatTensor[1, 64, 64] in [-1, 1], dict of the index row
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import torch
from torch.utils.data import Dataset

from seegaan.errors import InputError
from seegaan.utils.finite import check_no_inf
from seegaan.utils.fsio import read_json, write_json

SPLITS = ("train", "val", "test")
# What a command may select: one split, or "all" (every image). The one list the CLI offers.
SPLIT_CHOICES = ("test", "val", "train", "all")
# Below this many test images, group means and permutation maps of the test split alone mean
# little, so `seegaan encode` without --split takes every film instead (and says so).
SMALL_TEST_SPLIT = 30
REQUIRED_COLUMNS = ("image_id", "patient_id", "split", "source_path")


def to_uint16(images: np.ndarray) -> np.ndarray:
    """Map float images in [-1, 1] to the stored uint16 code (values outside are clipped)."""
    x = np.clip((np.asarray(images, dtype=np.float32) + 1.0) * 0.5, 0.0, 1.0)
    return np.rint(x * 65535.0).astype(np.uint16)


def from_uint16(codes: np.ndarray) -> np.ndarray:
    """Inverse of :func:`to_uint16`, as float32 in [-1, 1]."""
    return np.asarray(codes, dtype=np.float32) * (2.0 / 65535.0) - 1.0


def write_prepared(out_dir: str | os.PathLike, images: np.ndarray, index: pd.DataFrame,
                   features: dict[str, str], options: dict[str, Any] | None = None) -> Path:
    """Write a complete prepared dataset from in-memory float images (tests, small data).

    ``seegaan prepare`` streams into the same layout for large collections; this helper is
    the simple path for arrays already in memory. ``out_dir`` must not hold another dataset's
    files you want to keep: they are replaced.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    images = np.asarray(images)
    if images.ndim != 3 or images.shape[1] != images.shape[2]:
        raise InputError(f"{out}: images must be (N, S, S), got {images.shape}")
    if len(index) != len(images):
        raise InputError(f"{out}: index has {len(index)} rows but there are {len(images)} images")
    missing = [c for c in REQUIRED_COLUMNS if c not in index.columns]
    if missing:
        raise InputError(f"{out}: index is missing column(s) {', '.join(missing)}")
    np.save(out / "images.npy", to_uint16(images))
    index.reset_index(drop=True).to_parquet(out / "index.parquet", index=False)
    meta = {"size": int(images.shape[1]), "n_images": int(len(images)), "features": features}
    meta.update(options or {})
    write_json(out / "prepare.json", meta)
    return out


class PreparedDataset(Dataset):
    """A ``torch.utils.data.Dataset`` over a prepared ``DATA_DIR``.

    Returns ``(image, meta)`` with ``image`` a float32 tensor ``(1, S, S)`` in [-1, 1] and
    ``meta`` the index row as a dict. ``split`` restricts to ``train``/``val``/``test`` (or a
    list of them); ``None`` keeps every row.
    """

    def __init__(self, data_dir: str | os.PathLike, split: str | list[str] | None = None,
                 transform=None) -> None:
        self.root = Path(data_dir)
        if not self.root.is_dir():
            raise InputError(f"{self.root}: prepared dataset directory not found")
        for name in ("images.npy", "index.parquet", "prepare.json"):
            if not (self.root / name).is_file():
                raise InputError(f"{self.root}: not a prepared dataset ({name} is missing; "
                                 "create one with `seegaan prepare`)")
        self.info: dict[str, Any] = read_json(self.root / "prepare.json")
        try:
            self.images = np.load(self.root / "images.npy", mmap_mode="r")
        except (ValueError, OSError, EOFError) as err:
            raise InputError(f"{self.root / 'images.npy'}: unreadable array "
                             f"({str(err).splitlines()[0] if str(err) else type(err).__name__})") from None
        if self.images.ndim != 3 or self.images.shape[1] != self.images.shape[2]:
            raise InputError(f"{self.root / 'images.npy'}: expected (N, S, S) images, got "
                             f"shape {self.images.shape}")
        try:
            full = pd.read_parquet(self.root / "index.parquet")
        except (pa.ArrowException, OSError, ValueError) as err:
            raise InputError(f"{self.root / 'index.parquet'}: not a readable Parquet file "
                             f"({str(err).splitlines()[0] if str(err) else type(err).__name__})") from None
        check_no_inf(full, self.root / "index.parquet")
        missing = [c for c in REQUIRED_COLUMNS if c not in full.columns]
        if missing:
            raise InputError(f"{self.root / 'index.parquet'}: missing column(s) {', '.join(missing)}")
        if len(full) != len(self.images):
            raise InputError(f"{self.root}: index.parquet has {len(full)} rows but images.npy "
                             f"holds {len(self.images)} images")
        full = full.assign(_row=np.arange(len(full)))
        if split is not None:
            wanted = [split] if isinstance(split, str) else list(split)
            bad = [s for s in wanted if s not in SPLITS]
            if bad:
                raise InputError(f"split {bad[0]!r}: unknown (choose from {', '.join(SPLITS)})")
            full = full[full["split"].isin(wanted)]
            if len(full) == 0:
                raise InputError(f"{self.root}: split {'/'.join(wanted)} has no images")
        self.index = full.reset_index(drop=True)
        self.split = split
        self.transform = transform

    @property
    def size(self) -> int:
        return int(self.images.shape[1])

    @property
    def features(self) -> dict[str, str]:
        return dict(self.info.get("features", {}))

    def __len__(self) -> int:
        return len(self.index)

    def rows(self) -> np.ndarray:
        """Positions in ``images.npy`` of this dataset's rows."""
        return self.index["_row"].to_numpy()

    def load_images(self, positions: np.ndarray | slice | None = None) -> torch.Tensor:
        """Images of this dataset (or a subset of its positions) as one ``(n, 1, S, S)`` tensor."""
        rows = self.rows() if positions is None else self.rows()[positions]
        arr = from_uint16(self.images[np.sort(rows)])
        order = np.argsort(np.argsort(rows))  # restore the requested order after sorted reads
        return torch.from_numpy(arr[order]).unsqueeze(1)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, dict[str, Any]]:
        row = self.index.iloc[i]
        image = torch.from_numpy(from_uint16(self.images[int(row["_row"])])).unsqueeze(0)
        if self.transform is not None:
            image = self.transform(image)
        meta = {k: v for k, v in row.items() if k != "_row"}
        return image, meta
