"""The fused inference decode equals the training forward to float rounding, and so do the
permutation p-values computed with it; bad latents are still refused."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from seegaan.config import get_preset
from seegaan.errors import InputError
from seegaan.latent import GroupMeanPath, decode_latents, permutation_test, protocol
from seegaan.models.autoencoder import Autoencoder, load_autoencoder
from seegaan.models.fastdecode import fused_synthesis


def _random_ae(out_tanh: bool = True) -> Autoencoder:
    """A tiny autoencoder with random weights and non-trivial biases and noise strengths."""
    cfg = dataclasses.replace(get_preset("tiny"), out_tanh=out_tanh)
    torch.manual_seed(0)
    ae = Autoencoder(cfg)
    with torch.no_grad():
        for name, p in ae.generator.named_parameters():
            if name.endswith("bias") or name.endswith("strength"):
                p.normal_(0.0, 0.3)                 # zeros at init would hide a wrong bias fold
    return ae.eval().requires_grad_(False)


@pytest.mark.parametrize("out_tanh", [True, False])
@pytest.mark.parametrize("channels_last", [False, True])
def test_fused_synthesis_equals_the_training_forward(out_tanh, channels_last):
    ae = _random_ae(out_tanh)
    w = torch.randn(6, ae.w_dim, generator=torch.Generator().manual_seed(1)) * 2
    gen = ae.generator
    if channels_last:
        gen.to(memory_format=torch.channels_last)
    ref = gen(w, noise=None)
    got = fused_synthesis(gen, w)
    assert got.shape == ref.shape
    scale = float(ref.abs().max())
    assert scale > 0.1                              # a non-degenerate image, so the check bites
    np.testing.assert_allclose(got.numpy(), ref.numpy(), atol=1e-5 * max(scale, 1.0), rtol=0)
    # The check can fail: dropping a layer's bias moves the output well beyond the tolerance.
    with torch.no_grad():
        gen.convs[-1].bias.add_(0.5)
    moved = gen(w, noise=None)
    assert float((moved - got).abs().max()) > 1e-3


def test_training_forward_is_untouched_by_the_fused_path():
    ae = _random_ae()
    w = torch.randn(3, ae.w_dim, generator=torch.Generator().manual_seed(2))
    before = ae.generator(w, noise=None)
    fused_synthesis(ae.generator, w)
    ae.generator.requires_grad_(True)
    wg = w.clone().requires_grad_(True)
    out = ae.generator(wg, noise=None)               # gradients still flow through G
    out.sum().backward()
    assert wg.grad is not None and torch.isfinite(wg.grad).all()
    torch.testing.assert_close(out.detach(), before)


@pytest.fixture(scope="module")
def demo_ae():
    return load_autoencoder(None)


def _both(ae, w, batch_size=256):
    old = protocol.FAST_DECODE
    try:
        protocol.FAST_DECODE = False
        ref = decode_latents(ae, w, batch_size)
        protocol.FAST_DECODE = True
        fast = decode_latents(ae, w, batch_size)
    finally:
        protocol.FAST_DECODE = old
    return ref, fast


def test_decode_latents_fast_path_matches_reference_on_the_bundled_checkpoint(demo_ae):
    rng = np.random.default_rng(0)
    w = demo_ae.mapping(torch.from_numpy(rng.normal(size=(66, 512)).astype(np.float32)))
    ref, fast = _both(demo_ae, w.numpy(), batch_size=256)      # 64 + 2 frames per fused call
    np.testing.assert_allclose(fast, ref, atol=5e-5, rtol=0)
    assert np.abs(ref).max() > 0.5


def test_permutation_pvalues_agree_between_fast_and_reference_decode(demo_ae):
    rng = np.random.default_rng(3)
    n = 24
    w = demo_ae.mapping(torch.from_numpy(rng.normal(size=(n, 512)).astype(np.float32))).numpy()
    is_to = (np.arange(n) // 2) % 2 == 1           # a patient-level label: 12 patients × 2 films
    builder = GroupMeanPath(w, is_to, frames=2)
    out = {}
    old = protocol.FAST_DECODE
    try:
        for flag in (False, True):
            protocol.FAST_DECODE = flag
            frames = decode_latents(demo_ae, builder.path())
            out[flag] = permutation_test(demo_ae, builder, frames - frames[0], permutations=19,
                                         seed=4, groups=np.arange(n) // 2, correction="maxt")
    finally:
        protocol.FAST_DECODE = old
    a, b = out[False].pvalues, out[True].pvalues
    # Only exact ties between a null map and the observed one can flip; none are expected,
    # allow one step of 1/(B + 1) at a handful of pixels.
    assert len(np.unique(a)) > 5                    # the nulls differ from the observed map
    assert (a != b).mean() < 1e-3
    assert np.abs(a - b).max() <= 1.0 / 20 + 1e-9
    assert (out[False].significant != out[True].significant).mean() < 1e-3


def test_fast_decode_refuses_non_finite_latents(demo_ae):
    w = np.zeros((3, 512), dtype=np.float32)
    w[2, 5] = np.nan
    with pytest.raises(InputError, match="row 2"):
        decode_latents(demo_ae, w)
    with pytest.raises(InputError, match="expected shape"):
        decode_latents(demo_ae, np.zeros((2, 7), dtype=np.float32))
