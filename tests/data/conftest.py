"""Fixtures for the data tests: tiny image collections made on the fly, in every format."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pydicom
import pytest
from PIL import Image
from pydicom.data import get_testdata_file

from seegaan.utils.progress import set_quiet

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(autouse=True)
def _no_progress_bars():
    set_quiet(True)
    yield
    set_quiet(False)


def gradient(h: int, w: int) -> np.ndarray:
    """A smooth test picture in [0, 1]: a diagonal ramp plus a broad bump (not symmetric,
    so flips and transposes are caught)."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    y, x = (y + 0.5) / h, (x + 0.5) / w
    img = 0.6 * x + 0.3 * y + 0.4 * np.exp(-((x - 0.35) ** 2 + (y - 0.6) ** 2) / 0.05)
    return (img - img.min()) / (img.max() - img.min())


def save_png16(path: Path, img01: np.ndarray) -> None:
    Image.fromarray(np.rint(img01 * 65535).astype(np.uint16)).save(path)


def dicom_file(name: str) -> Path:
    """A pydicom bundled test file (local, no network)."""
    return Path(get_testdata_file(name))


def monochrome1_copy(src: str, dst: Path) -> None:
    """A real DICOM re-labelled MONOCHROME1 (pydicom's own MONOCHROME1 samples are not
    bundled offline); the pixels are identical, only their display meaning flips."""
    ds = pydicom.dcmread(dicom_file(src))
    ds.PhotometricInterpretation = "MONOCHROME1"
    ds.save_as(dst)


def write_mixed_collection(root: Path) -> tuple[Path, Path]:
    """Every supported format in one folder, plus its CSV. Returns (images_dir, csv_path)."""
    images = root / "images"
    (images / "sub").mkdir(parents=True)
    g = gradient(96, 80)
    rgb = np.stack([g, g ** 2, 1 - g], axis=-1)
    save_png16(images / "png16.png", g)
    Image.fromarray(np.rint(g * 255).astype(np.uint8)).save(images / "png8.png")
    Image.fromarray(np.rint(rgb * 255).astype(np.uint8)).save(images / "sub" / "png_rgb.png")
    Image.fromarray(np.rint(g * 255).astype(np.uint8)).save(images / "jpg8.jpg", quality=95)
    Image.fromarray(np.rint(rgb * 255).astype(np.uint8)).save(images / "jpg_rgb.jpeg", quality=95)
    Image.fromarray(np.rint(g * 65535).astype(np.uint16)).save(images / "tif16.tif")
    Image.fromarray(g.astype(np.float32)).save(images / "tif_float.tiff")
    np.save(images / "npy_unit.npy", (g * 2 - 1).astype(np.float32))   # already in [-1, 1]
    np.save(images / "npy_int.npy", (g * 4000 - 1000).astype(np.int32))
    shutil.copy(dicom_file("CT_small.dcm"), images / "dcm_ct16.dcm")     # 16-bit, slope/intercept
    shutil.copy(dicom_file("MR_small.dcm"), images / "dcm_mr_window.dcm")  # window centre/width
    shutil.copy(dicom_file("MR_small_RLE.dcm"), images / "dcm_rle.dcm")   # RLE Lossless
    shutil.copy(dicom_file("JPEG2000.dcm"), images / "dcm_j2k.dcm")       # JPEG 2000 (Pillow)
    monochrome1_copy("CT_small.dcm", images / "dcm_mono1.dcm")
    ids = ["png16", "png8", "png_rgb", "jpg8", "jpg_rgb", "tif16", "tif_float", "npy_unit",
           "npy_int", "dcm_ct16", "dcm_mr_window", "dcm_rle", "dcm_j2k", "dcm_mono1"]
    rng = np.random.default_rng(0)
    table = pd.DataFrame({
        "image_id": ids,
        "patient_id": [f"P{i // 2}" for i in range(len(ids))],
        "age": np.round(rng.normal(60, 12, len(ids)), 1),
        "sex": ["F", "M"] * (len(ids) // 2),
    })
    csv = root / "table.csv"
    table.to_csv(csv, index=False)
    return images, csv


@pytest.fixture
def mixed(tmp_path) -> tuple[Path, Path]:
    return write_mixed_collection(tmp_path)


def write_cohort(root: Path, n: int = 24, size: int = 48, seed: int = 0, version: int = 1) -> Path:
    """A miniature of `seegaan cohort OUT_DIR` (same files and columns), for auto-detection.

    ``version`` 2 adds the version-2 columns (site, egfr, projection, gt_ap, ...) and
    ``cohort_version`` in cohort.json, as `seegaan cohort --version 2` writes them."""
    rng = np.random.default_rng(seed)
    (root / "images").mkdir(parents=True)
    rows = []
    for i in range(n):
        image_id = f"c{i:04d}"
        save_png16(root / "images" / f"{image_id}.png", rng.random((size, size)))
        rows.append({"image_id": image_id, "patient_id": f"pt{i // 3:03d}",
                     "sex": "FM"[i % 2], "age": float(rng.uniform(20, 90)), "ahf": int(i % 5 == 0),
                     "bnpp": float(rng.lognormal(7, 1)), "manufacturer": ["GE", "Agfa", "Canon"][i % 3],
                     "device": int(i % 7 == 0), "gt_ctr": float(rng.uniform(0.4, 0.6)),
                     "gt_fat": float(rng.random()), "gt_bmd": float(rng.random())})
        if version == 2:  # the columns `seegaan cohort` writes after device and after gt_*
            ap = int(i % 4 == 0)
            row = rows.pop()
            head = {k: row[k] for k in list(row)[:8]}
            rows.append({**head, "site": "ABCD"[i % 4], "egfr": float(rng.uniform(30, 120)),
                         "projection": "AP" if ap else "PA",
                         **{k: row[k] for k in list(row)[8:]},
                         "gt_ap": ap, "gt_lr_marker": int(i % 9 != 0),
                         "gt_thorax_width": float(rng.uniform(0.9, 1.1)),
                         "gt_diaphragm": float(rng.uniform(-20, 20))})
    pd.DataFrame(rows).to_csv(root / "cohort.csv", index=False)
    meta = {"seed": seed, "n": n, "size": size}
    if version == 2:
        meta["cohort_version"] = 2
    (root / "cohort.json").write_text(json.dumps(meta))
    return root


@pytest.fixture
def kit():
    """The helpers above, for test modules (importlib mode cannot import conftest)."""
    from types import SimpleNamespace

    return SimpleNamespace(gradient=gradient, save_png16=save_png16, dicom_file=dicom_file,
                           monochrome1_copy=monochrome1_copy, write_cohort=write_cohort,
                           write_mixed_collection=write_mixed_collection, fixtures=FIXTURES)
