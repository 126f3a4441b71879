"""A tiny viewer for the tests: a random 32² autoencoder checkpoint, a prepared dataset of
24 films encoded by it, and a brightness "CNN" whose prediction moves with the frame.

Everything is built in a temporary folder per test module (about a second); nothing is
downloaded, and the bundled demo checkpoint is not used (it is for the benchmark).
"""

from __future__ import annotations

import socket
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from seegaan.config import get_preset
from seegaan.data.prepared import write_prepared
from seegaan.latent.store import save_latents
from seegaan.utils.progress import set_quiet

N_FILMS = 24


class Brightness(nn.Module):
    """log prediction = 6 + 3·mean(image): brighter frames predict more."""

    def __init__(self):
        super().__init__()
        self.features = nn.Conv2d(1, 1, kernel_size=1, bias=False)
        with torch.no_grad():
            self.features.weight.fill_(1.0)

    def forward(self, x):
        return 6.0 + 3.0 * self.features(x).mean(dim=(1, 2, 3))[:, None]


def brightness_model():
    from seegaan.explain import InputAdapter
    from seegaan.explain.loading import TorchModel

    return TorchModel("brightness", Brightness(), InputAdapter(log_output=True), model_format="test")


def _films(n: int, size: int, seed: int = 0) -> np.ndarray:
    """Smooth random blobs in [-1, 1], a different brightness per film."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    out = []
    for _ in range(n):
        cx, cy, r = rng.uniform(0.3, 0.7, 2).tolist() + [rng.uniform(0.15, 0.35)]
        img = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / r ** 2) + 0.1 * rng.normal(size=(size, size))
        img = (img - img.min()) / (img.max() - img.min())
        out.append(img * 2 - 1)
    return np.asarray(out, dtype=np.float32)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """(checkpoint dir, latents path, data dir) of a tiny, freshly built study."""
    set_quiet(True)
    from seegaan.latent import encode_images
    from seegaan.models.autoencoder import Autoencoder

    root = tmp_path_factory.mktemp("viewrun")
    torch.manual_seed(0)
    ae = Autoencoder(get_preset("tiny"))
    ckpt = ae.save(root / "ae")
    size = ae.image_size
    images = _films(N_FILMS, size)
    rng = np.random.default_rng(1)
    index = pd.DataFrame({
        "image_id": [f"p{i:03d}" for i in range(N_FILMS)],
        "patient_id": [f"q{i:03d}" for i in range(N_FILMS)],
        "split": ["test"] * 16 + ["train"] * 8,
        "source_path": [""] * N_FILMS,
        "ahf": np.tile([0, 1], N_FILMS // 2),
        "sex": np.tile(["F", "F", "M"], N_FILMS // 3),
        "age": rng.uniform(20, 90, N_FILMS).round(1),
        "bnpp": np.exp(rng.normal(6, 1, N_FILMS)).round(1),
    })
    data = write_prepared(root / "data", images, index,
                          {"ahf": "categorical", "sex": "categorical", "age": "numeric",
                           "bnpp": "numeric"}, {"fit": "crop", "clip_percentiles": None})
    w = encode_images(ae, torch.from_numpy(images[:, None]))
    meta = index.drop(columns=["source_path"])
    lat = save_latents(meta, w, root / "latents.parquet",
                       {"checkpoint": str(ckpt), "data_dir": str(data), "image_size": size})
    return Path(ckpt), lat, data


@pytest.fixture(scope="module")
def viewer(tiny_run):
    """A Viewer on the tiny run, with torch on one thread as `seegaan view` runs it."""
    from seegaan.view import load_viewer

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    ckpt, lat, _ = tiny_run
    yield load_viewer(ckpt, lat, model=brightness_model())
    torch.set_num_threads(threads)


def png_bytes(size=(40, 30), seed=0) -> bytes:
    import io

    from PIL import Image

    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, size[::-1], dtype=np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def make_png():
    """``make_png(size=(w, h), seed=0)``: the bytes of a random grey PNG."""
    return png_bytes


@pytest.fixture(scope="module")
def dummy_method():
    """A method registered from outside the package, as a user would (``register``): its map
    is the film itself. ``runs`` counts its calls (reset it in a test that counts)."""
    from seegaan.explain.methods import ATTRIBUTION, Method, register, unregister

    class FilmItself(Method):
        name = "dummy_film"
        title = "Dummy: the film itself"
        kind = ATTRIBUTION
        needs_model = False
        runs = 0

        def run(self, case, ctx):
            FilmItself.runs += 1
            return self.explanation(map=case.image[0, 0].numpy().astype(np.float32),
                                    scalars={"calls": 1})

    register(FilmItself)
    yield FilmItself
    unregister(FilmItself.name)
