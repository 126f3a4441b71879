"""Reconstruction quality: perfect reconstructions score 1, damaged ones score less."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from seegaan.train.quality import reconstruction_quality
from seegaan.validate.checks import quality_rows


class _Identity:
    def reconstruct(self, x):
        return x


class _Blur:
    def reconstruct(self, x):
        return torch.nn.functional.avg_pool2d(x, 5, stride=1, padding=2, count_include_pad=False)


def _oracle(images: np.ndarray) -> pd.DataFrame:
    # A "factor reader": mean brightness of the top and of the left half.
    x = np.asarray(images)[:, 0]
    return pd.DataFrame({"gt_ctr": x[:, :16].mean((1, 2)), "gt_fat": x[:, :, :16].mean((1, 2))})


def _images(n: int = 12) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    return (torch.rand(n, 1, 32, 32, generator=g) * 2 - 1).clamp(-1, 1)


def test_perfect_reconstruction_scores_one():
    q = reconstruction_quality(_Identity(), _images(), _oracle, batch_size=5)
    assert q["n"] == 12 and abs(q["ssim_mean"] - 1) < 1e-5 and q["mse_mean"] < 1e-12
    assert all(abs(r - 1) < 1e-9 for r in q["oracle_r"].values())
    rows = quality_rows(q)
    assert [r["pass"] for r in rows] == ["pass", "pass", "pass"]


def test_blurred_reconstruction_scores_lower_and_fails():
    q = reconstruction_quality(_Blur(), _images(), _oracle)
    assert q["ssim_mean"] < 0.5 and q["mse_mean"] > 0.05
    assert quality_rows(q)[0]["pass"] == "fail"


class _Decoder:
    """Latents are the images themselves: decoding them is a perfect reconstruction."""

    def decode(self, w):
        return torch.as_tensor(w)


def test_given_latents_are_decoded_instead_of_re_encoding():
    x = _images()
    q = reconstruction_quality(_Decoder(), x, _oracle, latents=x.clone())
    assert abs(q["ssim_mean"] - 1) < 1e-5
