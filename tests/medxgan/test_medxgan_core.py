"""LIG against its analytic value, the inversion, the class sequence and the classifier wrapper."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from seegaan.errors import ModelError, OptionError
from seegaan.medxgan.classifier import PositiveClass
from seegaan.medxgan.config import ClassifierSpec, MedXGANModelConfig
from seegaan.medxgan.invert import InversionSettings, convergence, invert
from seegaan.medxgan.lig import class_sequence, latent_integrated_gradients
from seegaan.medxgan.networks import MedXGANGenerator

from .conftest import SIZE, TinyModel, tiny_net


def _linear_generator(seed: int = 0):
    """G(z1, z2) = A z1 + B z2, reshaped to (N, 1, 4, 4)."""
    g = torch.Generator().manual_seed(seed)
    A, B = torch.randn(16, 5, generator=g), torch.randn(16, 3, generator=g)

    def G(z1, z2):
        return (z1 @ A.T + z2 @ B.T).reshape(-1, 1, 4, 4)

    return G, A, B


def test_lig_linear_model_is_analytic():
    G, A, B = _linear_generator()
    w = torch.randn(16, generator=torch.Generator().manual_seed(1))
    z1, z2 = torch.randn(5), torch.randn(3)
    lig = latent_integrated_gradients(G, lambda x: x.reshape(len(x), -1) @ w, z1, z2, steps=7, batch=3)
    # A linear f has gradient w everywhere, so LIG = (B z2) * w.
    np.testing.assert_allclose(lig.ravel(), ((B @ z2) * w).numpy(), rtol=1e-5, atol=1e-6)


def test_lig_quadratic_model_averages_the_path_and_is_complete():
    G, A, B = _linear_generator()
    w = torch.randn(16, generator=torch.Generator().manual_seed(2))
    z1, z2 = torch.randn(5), torch.randn(3)

    def f(x):  # 0.5 (w.x)^2: its gradient (w.x) w changes along the path
        return 0.5 * (x.reshape(len(x), -1) @ w) ** 2

    lig = latent_integrated_gradients(G, f, z1, z2, steps=5, batch=2)
    u, v = float(w @ (A @ z1)), float(w @ (B @ z2))
    expected = (B @ z2) * w * (u + 0.5 * v)    # mean over alpha of (u + alpha v)
    np.testing.assert_allclose(lig.ravel(), expected.numpy(), rtol=1e-4, atol=1e-5)
    # On a linear path, LIG's total equals f(end) - f(start) (completeness).
    x0, x1 = G(z1[None], torch.zeros(1, 3)), G(z1[None], z2[None])
    assert lig.sum() == pytest.approx(float(f(x1) - f(x0)), rel=1e-4)


def test_lig_with_a_per_step_argmax_target_would_differ():
    """The authors' per-step argmax flips the gradient's sign mid-path; ours never does."""
    G, A, B = _linear_generator()
    w = torch.randn(16, generator=torch.Generator().manual_seed(3))
    z2 = torch.randn(3, generator=torch.Generator().manual_seed(4))
    v = float(w @ (B @ z2))
    z1 = -0.5 * v * (A.T @ w) / float(w @ A @ A.T @ w)   # the path crosses p = 0.5 half way
    p = lambda x: torch.sigmoid(x.reshape(len(x), -1) @ w)  # noqa: E731
    ours = latent_integrated_gradients(G, p, z1, z2, steps=8)

    def argmax_score(x):
        s = p(x)
        return torch.where(s > 0.5, s, 1 - s)   # the score of whichever class wins at this step

    flipped = latent_integrated_gradients(G, argmax_score, z1, z2, steps=8)
    assert not np.allclose(ours, flipped)


def test_class_sequence_monotone_and_difference(tiny_cfg):
    G, A, B = _linear_generator()
    w = (B @ torch.ones(3))  # f rises along B z2 for z2 = 1
    seq = class_sequence(G, lambda x: x.reshape(len(x), -1) @ w, torch.zeros(5), torch.ones(3), frames=6)
    assert seq.spearman == pytest.approx(1.0)
    np.testing.assert_allclose(seq.frames[0], 0.0, atol=1e-6)
    np.testing.assert_allclose(seq.difference.ravel(), (B @ torch.ones(3)).numpy(), rtol=1e-5)
    # A sequence whose score falls gets -1: the check can fail.
    seq = class_sequence(G, lambda x: -(x.reshape(len(x), -1) @ w), torch.zeros(5), torch.ones(3), frames=6)
    assert seq.spearman == pytest.approx(-1.0)


def test_inversion_reduces_its_loss_and_reports_convergence(tiny_cfg, tiny_classifier):
    torch.manual_seed(0)
    G = MedXGANGenerator(tiny_cfg).eval()
    with torch.no_grad():
        x = G(torch.randn(1, 8), torch.randn(1, 3))     # a film G can make
    inv = invert(G, tiny_classifier, x, InversionSettings(restarts=4, steps=60, lr=0.05))
    # The BCE toward C(x) has a floor (the entropy of C(x)), so look at the total and the MSE.
    assert inv.history[-1] < 0.9 * inv.history[0]
    with torch.no_grad():
        start = G(torch.randn(4, 8, generator=torch.Generator().manual_seed(0)),
                  torch.randn(4, 3, generator=torch.Generator().manual_seed(0)))
    assert inv.mse < 0.5 * float((start - x).pow(2).mean())
    assert inv.loss == pytest.approx(float(inv.restart_losses.min()))
    assert inv.image.shape == (1, 1, SIZE, SIZE)
    assert -1.0 <= inv.convergence["cosine"] <= 1.0 and inv.convergence["ssim"] <= 1.0


def test_inversion_candidates_prior_and_schedule(tiny_cfg, tiny_classifier):
    """Best-of-K starts begin lower; the Gaussian prior shrinks the latents; the convergence
    of the anatomy and class parts is reported on its own."""
    torch.manual_seed(0)
    G = MedXGANGenerator(tiny_cfg).eval()
    with torch.no_grad():
        x = G(torch.randn(1, 8), torch.randn(1, 3))
    one = invert(G, tiny_classifier, x, InversionSettings(restarts=4, steps=1, candidates=1))
    best = invert(G, tiny_classifier, x, InversionSettings(restarts=4, steps=1, candidates=16))
    assert best.history[0] < one.history[0]
    plain = InversionSettings(restarts=4, steps=40, lr=0.05, schedule="cosine", prior_weight=0.0)
    free = invert(G, tiny_classifier, x, plain)
    tied = invert(G, tiny_classifier, x, InversionSettings(**{**plain.__dict__, "prior_weight": 1.0}))
    norm = lambda inv: float(torch.cat([inv.z1, inv.z2]).norm())  # noqa: E731
    assert norm(tied) < 0.8 * norm(free)
    assert {"cosine_z1", "cosine_z2"} <= set(free.convergence)
    with pytest.raises(OptionError):
        invert(G, tiny_classifier, x, InversionSettings(schedule="linear"))


def test_convergence_identical_restarts_is_one_and_random_is_low():
    z = torch.randn(1, 20).repeat(4, 1)
    img = torch.rand(1, 1, 16, 16).repeat(4, 1, 1, 1) * 2 - 1
    c = convergence(z, img)
    assert c["cosine"] == pytest.approx(1.0, abs=1e-5) and c["ssim"] == pytest.approx(1.0, abs=1e-4)
    g = torch.Generator().manual_seed(0)
    c = convergence(torch.randn(6, 200, generator=g), torch.rand(6, 1, 16, 16, generator=g) * 2 - 1)
    assert abs(c["cosine"]) < 0.2 and c["ssim"] < 0.2


def test_classifier_size_mismatch_is_one_line_naming_both_sizes():
    with pytest.raises(ModelError) as err:
        PositiveClass(TinyModel(tiny_net(), size=32), ClassifierSpec(output="logit"), image_size=64)
    msg = str(err.value)
    assert "32x32" in msg and "64x64" in msg and "\n" not in msg


def test_classifier_sigmoid_applied_once():
    model = TinyModel(tiny_net())
    x = torch.rand(3, 1, SIZE, SIZE) * 2 - 1
    logit = model.score(x)
    C = PositiveClass(model, ClassifierSpec(output="logit"), SIZE)
    torch.testing.assert_close(C.prob(x), torch.sigmoid(logit))
    # A model whose adapter already applies the sigmoid is used as a probability as is.
    probs = TinyModel(tiny_net())
    probs.adapter = probs.adapter.replace(activation="sigmoid")
    Cp = PositiveClass(probs, ClassifierSpec(), SIZE)
    assert Cp.mode == "probability"
    torch.testing.assert_close(Cp.prob(x), torch.sigmoid(logit))
    # A log-scale regressor with a threshold: logit = (score - log t) / temperature.
    reg = TinyModel(tiny_net())
    reg.adapter = reg.adapter.replace(log_output=True)
    Cr = PositiveClass(reg, ClassifierSpec(threshold=2.0, temperature=0.5), SIZE)
    assert Cr.mode == "log-threshold"
    torch.testing.assert_close(Cr.logit(x), (logit - np.log(2.0)) / 0.5)
    with pytest.raises(OptionError):
        PositiveClass(reg, ClassifierSpec(output="threshold"), SIZE)


def test_presets_build():
    for size in (64, 128, 256):
        cfg = MedXGANModelConfig.preset(size)
        assert (cfg.z1_dim, cfg.z2_dim) == (100, 10)
    with pytest.raises(OptionError):
        MedXGANModelConfig.preset(96)
