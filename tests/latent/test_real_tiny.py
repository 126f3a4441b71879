"""The whole latent stage with the real autoencoder (``tiny`` preset, random weights):
checkpoint on disk -> `seegaan encode` -> `seegaan sequence --image` -> frame 0 is the
reconstruction."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import torch

# The project's own modules: a failed import must fail the test, never skip it.
from seegaan import config
from seegaan.cli import main
from seegaan.data.prepared import PreparedDataset, write_prepared
from seegaan.models import autoencoder


def test_encode_and_local_sequence_with_the_tiny_autoencoder(tmp_path):
    torch.manual_seed(0)
    ae = autoencoder.Autoencoder(config.get_preset("tiny"))
    ckpt = ae.save(tmp_path / "ckpt")
    n, size = 8, ae.image_size
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:size, :size] / size
    images = np.stack([np.tanh(np.sin(6 * xx * (1 + k / 8)) + yy - 0.5) * 0.8 for k in range(n)])
    images += rng.normal(scale=0.02, size=images.shape)
    index = pd.DataFrame({"image_id": [f"r{k}" for k in range(n)], "patient_id": [f"p{k}" for k in range(n)],
                          "split": "test", "source_path": "", "ahf": np.arange(n) % 2})
    write_prepared(tmp_path / "data", images, index, {"ahf": "categorical"})

    lat = tmp_path / "lat.parquet"
    assert main(["--quiet", "encode", str(ckpt), str(tmp_path / "data"), "--out", str(lat)]) == 0
    seq = tmp_path / "seq"
    assert main(["--quiet", "sequence", str(ckpt), str(lat), "--feature", "ahf", "--from", "0",
                 "--to", "1", "--image", "r3", "--frames", "3", "--permutations", "4",
                 "--out", str(seq)]) == 0
    with np.load(seq / "result.npz") as npz:
        frame0 = npz["frames"][0]
    loaded = autoencoder.load_autoencoder(ckpt)
    x = PreparedDataset(tmp_path / "data").load_images(np.array([3]))
    recon = loaded.reconstruct(x).numpy()[0, 0]
    np.testing.assert_allclose(frame0, recon, atol=1e-5)
    assert json.loads((seq / "summary.json").read_text())["groups"] == {"0": 4, "1": 4}
