"""Makers of bad inputs for the robustness tests: pickles posing as weights, tampered
checkpoints, decompression bombs, DICOM without pixels, broken tables.

Shared by ``test_bad_inputs.py`` and ``test_regressions.py`` (imported by name: the
conftest puts this folder on ``sys.path``, as pytest's importlib mode does not).
"""

from __future__ import annotations

import json
import pickle
import shutil
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pydicom
import torch
from pydicom.data import get_testdata_file

# -- makers --------------------------------------------------------------------

class Evil:
    """Unpickling this would create ``marker``: proof, if it ever appears, that code ran."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def pickle_file(path: Path, marker: Path) -> Path:
    path.write_bytes(pickle.dumps({"weight": Evil(marker)}, protocol=2))
    return path


def torch_zip_pickle(path: Path, marker: Path) -> Path:
    torch.save({"weight": Evil(marker)}, path)
    return path


def latent_frame(world) -> pd.DataFrame:
    import pyarrow.parquet as pq

    return pq.read_table(world.latents).to_pandas()


def write_frame(df: pd.DataFrame, path: Path) -> Path:
    df.to_parquet(path, index=False)   # no seegaan metadata: load_latents must cope
    return path


def ckpt_copy(world, tmp: Path) -> Path:
    dst = tmp / "ckpt"
    shutil.copytree(world.ckpt, dst)
    return dst


def edit_config(ckpt: Path, **changes) -> Path:
    doc = json.loads((ckpt / "config.json").read_text())
    doc.update(changes)
    (ckpt / "config.json").write_text(json.dumps(doc))
    return ckpt


def crafted_wide_checkpoint(world, tmp: Path, w_dim: int = 10**6) -> Path:
    """A config asking for w_dim = 10^6 with a *matching* hash: only the tensor shapes in
    the safetensors header can tell that the weights are not that model's."""
    from safetensors.torch import load_file, save_file

    from seegaan.config import ModelConfig
    from seegaan.models.checkpoint import CONFIG_EXTRAS, FORMAT, FORMAT_VERSION, config_hash

    ckpt = ckpt_copy(world, tmp)
    doc = json.loads((ckpt / "config.json").read_text())
    doc["w_dim"] = doc["z_dim"] = w_dim
    cfg = ModelConfig.from_dict({k: v for k, v in doc.items() if k not in CONFIG_EXTRAS})
    tensors = load_file(str(ckpt / "model.safetensors"))
    save_file(tensors, str(ckpt / "model.safetensors"),
              metadata={"format": FORMAT, "format_version": str(FORMAT_VERSION),
                        "config_sha256": config_hash(cfg)})
    (ckpt / "config.json").write_text(json.dumps(doc))
    return ckpt


def png_bomb(path: Path, side: int = 20000) -> Path:
    """A PNG whose header promises side x side pixels (a decompression bomb's signature)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * (side + 1) * 4)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat)
                     + chunk(b"IEND", b""))
    return path


def dicom_without_pixels(path: Path) -> Path:
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    del ds.PixelData
    ds.save_as(path)
    return path


def collection(world, tmp: Path, bad: dict[str, Callable[[Path], object]] | None = None,
               rows: Callable[[pd.DataFrame], pd.DataFrame] | None = None,
               n_good: int = 6) -> tuple[Path, Path]:
    """A fresh images folder + CSV in ``tmp``: ``n_good`` valid PNGs, plus ``bad`` files
    (name -> writer) listed in the CSV, then ``rows`` applied to the table."""
    images = tmp / "imgs"
    images.mkdir()
    table = pd.read_csv(world.csv, dtype=str).head(n_good)
    for f in table["file"]:
        shutil.copy(world.images / f, images / f)
    extra = []
    for k, (name, writer) in enumerate((bad or {}).items()):
        writer(images / name)
        extra.append({"image_id": Path(name).stem, "patient_id": f"bad{k}", "age": "50",
                      "ahf": "1", "bnpp": "300", "file": name})
    table = pd.concat([table, pd.DataFrame(extra)], ignore_index=True) if extra else table
    if rows is not None:
        table = rows(table)
    csv = tmp / "table.csv"
    table.to_csv(csv, index=False)
    return images, csv


def prep(images, csv, out, *extra) -> list:
    return ["prepare", "--images", images, "--csv", csv, "--out", out, "--size", "32",
            "--workers", "1", "--preset", "none", "--id-col", "image_id", "--patient-col",
            "patient_id", "--numeric", "age,bnpp", "--categorical", "ahf", *extra]


def seq(world, tmp, *extra, latents=None, ckpt=None) -> list:
    return ["sequence", ckpt or world.ckpt, latents or world.latents, "--feature", "ahf",
            "--split", "all", "--out", tmp / "seq", "--permutations", "0", *extra]


def set_cell(df: pd.DataFrame, row: int, col: str, value) -> pd.DataFrame:
    df = df.copy()
    df.loc[row, col] = value
    return df


def hold_lock(target: Path, pid: int = 424242):
    """Take ``target``'s output lock as another process would (own fd, pid inside)."""
    import fcntl
    import os

    lock = target.absolute().parent / f".{target.name}.lock"
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    os.write(fd, str(pid).encode())
    return fd, lock


def release(held) -> None:
    import os

    fd, lock = held
    os.unlink(lock)
    os.close(fd)


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def parent(path: Path) -> Path:
    return path.parent


def truncate(path: Path) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def npy_bytes() -> bytes:
    import io

    buf = io.BytesIO()
    np.save(buf, np.zeros((40, 40), np.float32))
    return buf.getvalue()


def corrupt_index(world, tmp: Path) -> Path:
    data = shutil.copytree(world.data, tmp / "data")
    (data / "index.parquet").write_bytes(b"PAR1garbage-not-parquetPAR1")
    return data


def truncate_npy(world, tmp: Path) -> Path:
    data = shutil.copytree(world.data, tmp / "data")
    truncate(data / "images.npy")
    return data


def dup_row(world, image_id: str) -> pd.DataFrame:
    df = latent_frame(world)
    return pd.concat([df, df[df["image_id"] == image_id]], ignore_index=True)


def preds_csv(world, tmp: Path) -> Path:
    ids = latent_frame(world)["image_id"]
    path = tmp / "rf.csv"
    pd.DataFrame({"image_id": ids, "rf": np.arange(len(ids), dtype=float)}).to_csv(path, index=False)
    return path


def out_is_input(world, tmp: Path) -> list:
    lat = Path(shutil.copy(world.latents, tmp / "lat.parquet"))
    return ["sequence", world.ckpt, lat, "--feature", "ahf", "--split", "all", "--out", lat,
            "--permutations", "0", "--overwrite"]


def out_contains_input(world, tmp: Path) -> list:
    (tmp / "in").mkdir()
    lat = Path(shutil.copy(world.latents, tmp / "in" / "lat.parquet"))
    return ["sequence", world.ckpt, lat, "--feature", "ahf", "--split", "all", "--out",
            tmp / "in", "--permutations", "0", "--overwrite"]


