"""Models: shapes, gradients, fast == grouped modulated conv, parameter counts, input checks."""

from __future__ import annotations

import pytest
import torch

from seegaan.config import PRESETS, ModelConfig, get_preset
from seegaan.errors import InputError, OptionError
from seegaan.models.autoencoder import Autoencoder
from seegaan.models.discriminator import Discriminator
from seegaan.models.generator import Generator
from seegaan.models.layers import MinibatchStd
from seegaan.models.modconv import ModulatedConv2d

TINY = get_preset("tiny")


def count(m: torch.nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def test_shapes():
    torch.manual_seed(0)
    ae, d = Autoencoder(TINY), Discriminator(TINY)
    x = torch.rand(3, 1, 32, 32) * 2 - 1
    w = ae.encode(x)
    assert w.shape == (3, TINY.w_dim) and w.dtype == torch.float32
    y = ae.decode(w)
    assert y.shape == x.shape and y.abs().max() <= 1
    assert d(x).shape == (3,)
    ws = torch.randn(3, TINY.num_ws, TINY.w_dim)  # per-layer styles (mixing)
    assert ae.generator(ws).shape == x.shape
    assert ae.sample(2, seed=1).shape == (2, 1, 32, 32)


def test_gradients_reach_every_parameter():
    torch.manual_seed(0)
    ae, d = Autoencoder(TINY).train().requires_grad_(True), Discriminator(TINY)
    x = torch.rand(4, 1, 32, 32) * 2 - 1
    g = ae.generator
    noise = g.make_noise(4, torch.Generator().manual_seed(0))
    fake = g(ae.mapping(torch.randn(4, TINY.z_dim)), noise)
    rec = g(ae.encoder(x), noise)
    loss = d(fake).sum() + d(rec).sum() + (rec - x).pow(2).mean()
    loss.backward()
    for name, p in list(ae.named_parameters()) + [(f"D.{n}", p) for n, p in d.named_parameters()]:
        assert p.grad is not None and p.grad.abs().sum() > 0, name


@pytest.mark.parametrize("upsample,demod,kernel", [(False, True, 3), (True, True, 3), (False, False, 1)])
def test_fast_and_grouped_modconv_agree(upsample, demod, kernel):
    torch.manual_seed(0)
    m = ModulatedConv2d(8, 6, kernel, w_dim=16, demod=demod, upsample=upsample)
    with torch.no_grad():
        m.affine.weight.mul_(3.0)  # styles far from 1, so a wrong scaling would show
    x = torch.randn(5, 8, 8, 8, requires_grad=True)
    w = torch.randn(5, 16)
    m.impl = "fast"
    a = m(x, w)
    (ga,) = torch.autograd.grad(a.square().sum(), x)
    m.impl = "grouped"
    b = m(x, w)
    (gb,) = torch.autograd.grad(b.square().sum(), x)
    assert torch.allclose(a, b, atol=1e-5, rtol=0)
    assert torch.allclose(ga, gb, atol=1e-4, rtol=1e-5)


def test_generators_agree_across_impls():
    torch.manual_seed(0)
    g = Generator(TINY)
    w = torch.randn(3, TINY.num_ws, TINY.w_dim)
    noise = g.make_noise(3, torch.Generator().manual_seed(1))
    a = g(w, noise)
    g.set_modconv("grouped")
    assert torch.allclose(a, g(w, noise), atol=1e-5, rtol=0)


def test_decode_is_deterministic():
    torch.manual_seed(0)
    ae = Autoencoder(TINY)
    with torch.no_grad():  # make noise matter if it were on
        for m in ae.generator.convs:
            m.noise.strength.fill_(0.5)
    w = torch.randn(4, TINY.w_dim)
    assert torch.equal(ae.decode(w), ae.decode(w))
    x = torch.rand(2, 1, 32, 32) * 2 - 1
    assert torch.equal(ae.reconstruct(x), ae.reconstruct(x))
    assert not torch.is_grad_enabled() or not ae.decode(w).requires_grad
    assert ae.decode(w.requires_grad_(True), grad=True).requires_grad


def test_minibatch_std_groups_are_consecutive():
    mb = MinibatchStd(2)
    x = torch.randn(4, 3, 4, 4)
    whole = mb(x)
    halves = torch.cat([mb(x[:2]), mb(x[2:])])
    assert torch.allclose(whole, halves)


def test_input_checks():
    ae = Autoencoder(TINY)
    with pytest.raises(InputError, match="expected shape"):
        ae.encode(torch.zeros(2, 1, 16, 16))
    with pytest.raises(InputError, match=r"\[-1, 1\]"):
        ae.encode(torch.full((1, 1, 32, 32), 255.0))
    with pytest.raises(InputError, match="w: expected shape"):
        ae.decode(torch.zeros(2, 7))


def test_presets_and_paper_size():
    assert set(PRESETS) == {"tiny", "demo64", "paper256"}
    demo = Autoencoder(get_preset("demo64"))
    assert count(demo) * 4 < 25e6  # the bundled inference weights fit in 25 MB
    paper = get_preset("paper256")
    ae = Autoencoder(paper)
    assert abs(count(ae.mapping) - 2.1e6) < 0.01e6                  # the paper: 2.1 M
    assert abs(count(ae.generator) - 22.7e6) < 0.2e6                # the paper: 22.7 M
    total = count(ae) + count(Discriminator(paper))
    assert 55e6 < total < 66e6                                      # the paper: about 58 M
    with pytest.raises(OptionError):
        ModelConfig(preset="bad", image_size=48, g_channels=(1,), e_channels=(1,), d_channels=(1,))
