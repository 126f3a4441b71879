"""The shipped oracle reads the factors back, at the demo size and at other sizes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from seegaan.cohort import Subject, render_image
from seegaan.cohort.oracle import TARGETS, load_oracle
from seegaan.errors import OptionError


def _images(subjects, size):
    x = np.stack([render_image(s, size) for s in subjects])[:, None]
    return torch.from_numpy(x * 2.0 - 1.0)


@pytest.fixture(scope="module")
def oracle():
    return load_oracle(64)


# The oracle's accuracy on fresh films is measured (not read from its config) in
# tests/models/test_demo_checkpoint.py::test_oracle_reads_the_true_factors_of_fresh_films.


@pytest.mark.parametrize("size", [64, 128, 48])
def test_heart_size_read_back_in_order(oracle, size):
    hs = np.linspace(0.75, 1.35, 7)
    subs = [Subject(heart_scale=float(h), deform_seed=i, noise_seed=i) for i, h in enumerate(hs)]
    df = oracle.predict(_images(subs, size))
    assert list(df.columns) == list(TARGETS) and len(df) == 7
    assert np.corrcoef(hs, df["gt_ctr"])[0, 1] > 0.9


def test_factors_move_the_right_readout(oracle):
    base = Subject(deform_seed=3, noise_seed=3, sex="F")
    pairs = {"gt_breast": base.replace(breast_mm=50), "gt_effusion": base.replace(
        effusion_r_mm=60, effusion_l_mm=50), "gt_device": base.replace(device=1),
        "gt_fat": base.replace(fat_mm=35)}
    p0 = oracle.predict(_images([base], 64)).iloc[0]
    p1 = oracle.predict(_images(list(pairs.values()), 64))
    for i, k in enumerate(pairs):
        assert p1.iloc[i][k] > p0[k], k


def test_bad_input_shape(oracle):
    with pytest.raises(OptionError, match="expected shape"):
        oracle.predict(np.zeros((2, 3, 64, 64), np.float32))
