"""Tiny prepared datasets for the training tests (32x32, a few dozen images)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from seegaan.data.prepared import write_prepared
from seegaan.utils.progress import set_quiet

# Options that keep a tiny run to a fraction of a second per step.
FAST = ["--preset", "tiny", "--batch", "4", "--log-every", "2", "--val-every", "3",
        "--sample-every", "3", "--ckpt-every", "3", "--val-images", "4", "--threads", "1"]


def make_data(root, size: int = 32, n: int = 24, splits=("train", "val", "test")) -> str:
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:size, 0:size] / size
    images = []
    for _ in range(n):
        cx, cy, r = rng.uniform(0.3, 0.7, 2).tolist() + [rng.uniform(0.1, 0.3)]
        blob = np.where((xx - cx) ** 2 + (yy - cy) ** 2 < r * r, 0.8, -0.6)
        images.append(np.clip(blob + 0.05 * rng.standard_normal((size, size)), -1, 1))
    split = [splits[0]] * (n - 8) + [splits[min(1, len(splits) - 1)]] * 4 + [splits[-1]] * 4
    index = pd.DataFrame({"image_id": [f"i{i}" for i in range(n)],
                          "patient_id": [f"p{i}" for i in range(n)],
                          "split": split, "source_path": [""] * n})
    write_prepared(root, np.stack(images), index, {})
    return str(root)


@pytest.fixture(autouse=True)
def _quiet():
    set_quiet(True)
    yield
    set_quiet(False)


@pytest.fixture(scope="session")
def data32(tmp_path_factory):
    return make_data(tmp_path_factory.mktemp("data") / "d32")
