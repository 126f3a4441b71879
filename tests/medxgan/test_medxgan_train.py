"""Training: C stays frozen, resume continues exactly, checkpoints load, bad inputs fail early."""

from __future__ import annotations

import copy

import pytest
import torch

from seegaan.errors import CheckpointError, ModelError, OutputExistsError
from seegaan.medxgan.checkpoint import load_medxgan
from seegaan.medxgan.classifier import PositiveClass
from seegaan.medxgan.config import ClassifierSpec
from seegaan.medxgan.train import MedXGANTrainer, class_accuracy

from .conftest import TinyModel, tiny_net


def test_classifier_is_bit_identical_after_a_training_step(tmp_path, tiny_data, tiny_cfg,
                                                           tiny_train_cfg, tiny_classifier):
    before = copy.deepcopy(tiny_classifier.model.module.state_dict())
    tr = MedXGANTrainer(tiny_data, tmp_path / "run", tiny_cfg, tiny_train_cfg, tiny_classifier)
    g_before = copy.deepcopy(tr.G.state_dict())
    tr.train_step(0)
    after = tiny_classifier.model.module.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert not tiny_classifier.model.module.training
    # ... while G did learn (the check can fail).
    assert any(not torch.equal(g_before[k], v) for k, v in tr.G.state_dict().items())


def test_resume_continues_exactly(tmp_path, tiny_data, tiny_cfg, tiny_train_cfg, tiny_classifier):
    full = MedXGANTrainer(tiny_data, tmp_path / "full", tiny_cfg, tiny_train_cfg, tiny_classifier)
    full.run()
    half_cfg = copy.deepcopy(tiny_train_cfg)
    half_cfg.steps = 2
    MedXGANTrainer(tiny_data, tmp_path / "half", tiny_cfg, half_cfg, tiny_classifier).run()
    resumed = MedXGANTrainer(tiny_data, tmp_path / "half", tiny_cfg, tiny_train_cfg,
                             tiny_classifier, resume=True)
    assert resumed.step == 2
    resumed.run()
    for a, b in ((full.G, resumed.G), (full.D, resumed.D), (full.G_ema, resumed.G_ema)):
        for (k, va), vb in zip(a.state_dict().items(), b.state_dict().values()):
            assert torch.equal(va, vb), k
    G, info = load_medxgan(tmp_path / "half")            # a run directory -> its best/
    assert info["step"] in (2, 4) and info["classifier"]["output"] == "logit"
    x = G(torch.randn(2, 8), torch.zeros(2, 3))
    assert x.shape == (2, 1, 16, 16)


def test_resume_refuses_another_classifier(tmp_path, tiny_data, tiny_cfg, tiny_train_cfg,
                                           tiny_classifier):
    MedXGANTrainer(tiny_data, tmp_path / "run", tiny_cfg, tiny_train_cfg, tiny_classifier).run()
    other = PositiveClass(TinyModel(tiny_net(seed=5)), ClassifierSpec(output="logit"), 16)
    with pytest.raises(CheckpointError, match="another classifier"):
        MedXGANTrainer(tiny_data, tmp_path / "run", tiny_cfg, tiny_train_cfg, other, resume=True)
    with pytest.raises(OutputExistsError):
        MedXGANTrainer(tiny_data, tmp_path / "run", tiny_cfg, tiny_train_cfg, tiny_classifier)


def test_training_refuses_a_classifier_of_another_size(tmp_path, tiny_data, tiny_cfg, tiny_train_cfg):
    C = PositiveClass(TinyModel(tiny_net(), size=32), ClassifierSpec(output="logit"))
    with pytest.raises(ModelError, match="32x32.*16x16"):
        MedXGANTrainer(tiny_data, tmp_path / "run", tiny_cfg, tiny_train_cfg, C)


def test_class_accuracy_is_at_chance_for_a_class_blind_generator(tiny_cfg, tiny_classifier):
    from seegaan.medxgan.networks import MedXGANGenerator

    torch.manual_seed(0)
    G = MedXGANGenerator(tiny_cfg).eval()
    with torch.no_grad():  # z2 has no effect: the class code is ignored
        G.seed.weight[:, tiny_cfg.z1_dim:] = 0
    acc = class_accuracy(G, tiny_classifier, n=64)
    assert 0.3 <= acc["class_acc"] <= 0.7
