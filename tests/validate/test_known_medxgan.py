"""The medXGAN fine-tune that gives each benchmark model its own generator (tiny, CPU)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from seegaan.errors import InputError
from seegaan.explain import ExplainableModel, InputAdapter
from seegaan.medxgan.classifier import PositiveClass
from seegaan.medxgan.config import ClassifierSpec, MedXGANModelConfig
from seegaan.medxgan.finetune import FinetuneConfig, finetune_generator, positive_share
from seegaan.medxgan.networks import MedXGANGenerator
from seegaan.validate.known_medxgan import classifier_spec

SIZE = 16


class _LeftHalf(nn.Module):
    """A 'model' whose positive class is a bright left half: something G0 was never taught."""

    def forward(self, x):
        return 20.0 * (x[:, :, :, : SIZE // 2].mean(dim=(1, 2, 3)) - x.mean(dim=(1, 2, 3)))[:, None]


class _Model(ExplainableModel):
    def __init__(self, module: nn.Module) -> None:
        super().__init__("left-half", InputAdapter(size=SIZE))
        self.module = module

    def _raw(self, x):
        return self.module(x)


def _g0() -> MedXGANGenerator:
    torch.manual_seed(0)
    cfg = MedXGANModelConfig(image_size=SIZE, z1_dim=8, z2_dim=3, g_channels=(16, 8), d_channels=(8, 16))
    return MedXGANGenerator(cfg).eval().requires_grad_(False)


def test_finetune_teaches_the_class_code_a_new_classifier_and_leaves_g0_alone():
    G0 = _g0()
    C = PositiveClass(_Model(_LeftHalf()), ClassifierSpec(output="logit"), SIZE)
    films = torch.cat([torch.full((8, 1, SIZE, SIZE), -0.5), torch.full((8, 1, SIZE, SIZE), -0.5)])
    films[8:, :, :, : SIZE // 2] = 0.5   # half of them bright on the left: both classes present
    before = {k: v.clone() for k, v in G0.state_dict().items()}
    G, rec = finetune_generator(G0, C, films, FinetuneConfig(steps=40, batch=8, lr=2e-3, anchor=1.0,
                                                              val_samples=64))
    assert rec["p_pos"] == pytest.approx(0.5)
    # A random G0 knows nothing of this C (chance); the fine-tuned class code does.
    assert rec["class_acc_before"] < 0.75 and rec["class_acc"] >= 0.9, rec
    assert rec["loss_cls_last"] < rec["loss_cls_first"]
    assert all(torch.equal(before[k], v) for k, v in G0.state_dict().items())
    assert not any(p.requires_grad for p in G.parameters())


def test_one_class_only_is_a_one_line_error():
    C = PositiveClass(_Model(_LeftHalf()), ClassifierSpec(output="logit"), SIZE)
    with pytest.raises(InputError, match="both classes"):
        positive_share(C, torch.full((4, 1, SIZE, SIZE), -0.5))


def test_classifier_spec_is_the_median_with_a_tenth_of_the_spread():
    scores = np.linspace(5.0, 9.0, 101)
    spec = classifier_spec(scores)
    assert spec.output == "log-threshold" and spec.threshold == pytest.approx(math.exp(7.0))
    assert spec.temperature == pytest.approx((np.quantile(scores, 0.9) - np.quantile(scores, 0.1)) / 10)
    assert classifier_spec(np.full(5, 3.0)).temperature > 0   # a constant model still gets a finite one
