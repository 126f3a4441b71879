"""Encode a prepared dataset once into a latent table (``seegaan encode``).

Every later step (sequences, predictions, explanations) works from the table, so the
encoder runs once per checkpoint. Images are read from the memory map a batch at a time,
so the dataset never has to fit in memory.

Example::

    ae = seegaan.load_autoencoder("runs/ae/best")
    table = encode_dataset(ae, "data/cohort64", split="test")
    table.to_frame()            # DataFrame: metadata then w_0 … w_511
    table.meta, table.w         # or as arrays
    save_latents(table.meta, table.w, "latents.parquet", table.info)
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from seegaan.data.prepared import SMALL_TEST_SPLIT, SPLIT_CHOICES, PreparedDataset
from seegaan.errors import CheckpointError, OptionError
from seegaan.latent.protocol import Autoencoder, encode_images
from seegaan.latent.store import LatentTable, save_latents
from seegaan.utils.fsio import check_output
from seegaan.utils.progress import progress

ENCODE_SPLITS = SPLIT_CHOICES


def default_split(data_dir: str | os.PathLike) -> tuple[str, str]:
    """The split ``seegaan encode`` uses when none is given, and one sentence saying why.

    The test split, as in the paper, unless it has fewer than :data:`SMALL_TEST_SPLIT` images:
    then every image (``all``), since a handful of test films cannot carry a sequence.
    """
    index = PreparedDataset(data_dir).index
    n_all = len(index)
    n_test = int((index["split"].astype(str) == "test").sum())
    if n_test < SMALL_TEST_SPLIT and n_all > n_test:
        return "all", (f"the test split has only {n_test} of {n_all} images, so every image was "
                       "encoded (split 'all'); pass --split test to encode only the test split")
    return "test", (f"encoded the test split ({n_test} of {n_all} images), as in the paper; "
                    "pass --split all to take every film")


def encode_dataset(ae: Autoencoder, data_dir: str | os.PathLike,
                   split:      str = "test",   # test | val | train | all
                   batch_size: int = 64,       # images per encoder call
                   checkpoint: str | None = None,  # recorded in the table's provenance
                   ) -> LatentTable:
    """Latents of every image of ``split`` in a prepared dataset, with their metadata rows."""
    if split not in ENCODE_SPLITS:
        raise OptionError(f"--split {split}: choose from {', '.join(ENCODE_SPLITS)}")
    if batch_size < 1:
        raise OptionError(f"--batch-size {batch_size}: must be at least 1")
    ds = PreparedDataset(data_dir, split=None if split == "all" else split)
    if ds.size != int(ae.image_size):
        raise CheckpointError(f"{checkpoint or 'checkpoint'}: image size {ae.image_size} does not "
                              f"match the dataset's {ds.size} ({data_dir}); prepare the data at "
                              f"{ae.image_size} or use a matching checkpoint")
    n = len(ds)
    w = np.empty((n, int(ae.w_dim)), dtype=np.float32)
    starts = range(0, n, batch_size)
    for start in progress(starts, desc="encode", total=len(starts), unit="batch"):
        pos = np.arange(start, min(start + batch_size, n))
        w[pos] = encode_images(ae, ds.load_images(pos), batch_size)
    meta = ds.index.drop(columns=["_row"]).reset_index(drop=True)
    info = {"w_dim": int(ae.w_dim), "image_size": int(ae.image_size),
            "checkpoint": str(checkpoint) if checkpoint else None,
            "data_dir": str(Path(data_dir)), "split": split,
            "features": ds.features}
    if "cohort_version" in ds.info:  # a virtual cohort: the oracle that reads it follows this
        info["cohort_version"] = int(ds.info["cohort_version"])
    return LatentTable(meta, w, info)


def encode_to_file(ae: Autoencoder, data_dir: str | os.PathLike, out: str | os.PathLike,
                   split: str = "test", batch_size: int = 64, checkpoint: str | None = None,
                   overwrite: bool = False) -> LatentTable:
    """:func:`encode_dataset`, then write the table to ``out`` (Parquet, atomically)."""
    check_output(out, overwrite)
    table = encode_dataset(ae, data_dir, split, batch_size, checkpoint)
    save_latents(table.meta, table.w, out, table.info)
    return table
