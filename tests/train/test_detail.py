"""The ablation's training options: detail losses, noise switch, linear mapping, old configs."""

from __future__ import annotations

import dataclasses

import torch

from seegaan.config import ModelConfig, TrainConfig, get_preset
from seegaan.models.discriminator import Discriminator
from seegaan.models.generator import Generator
from seegaan.models.mapping import MappingNetwork
from seegaan.train.detail import feature_matching, laplacian_l1, laplacian_pyramid
from seegaan.train.loop import Trainer
from seegaan.train.metrics import ssim


def _ribs(n=4, size=64):
    g = torch.Generator().manual_seed(0)
    yy = torch.arange(size).float()[:, None].expand(size, size)
    base = torch.tanh(torch.randn(n, 1, 4, 4, generator=g))
    smooth = torch.nn.functional.interpolate(base, size=size, mode="bicubic", align_corners=False)
    lines = 0.3 * (torch.sin(yy * 1.3) > 0.6).float()  # thin periodic "ribs"
    return (smooth + lines).clamp(-1, 1), smooth.clamp(-1, 1)


def test_laplacian_l1_sees_missing_detail_that_mse_forgives():
    sharp, smooth = _ribs()
    assert float(laplacian_l1(sharp, sharp)) == 0.0
    # The smooth copy (ribs removed) has a small MSE but a large detail loss compared with
    # a copy that keeps the ribs and shifts the brightness by the same MSE.
    mse_smooth = float(((sharp - smooth) ** 2).mean())
    shifted = sharp + mse_smooth**0.5
    assert abs(float(((shifted - sharp) ** 2).mean()) - mse_smooth) < 1e-4
    assert float(laplacian_l1(smooth, sharp)) > 5 * float(laplacian_l1(shifted, sharp))
    pyr = laplacian_pyramid(sharp, 3)
    assert [p.shape[-1] for p in pyr] == [64, 32, 16, 8]


def test_feature_matching_zero_only_for_identical_inputs():
    d = Discriminator(get_preset("tiny"))
    x = torch.randn(4, 1, 32, 32)
    with torch.no_grad():
        assert float(feature_matching(d.features(x), d.features(x))) == 0.0
    assert float(feature_matching(d.features(x + 0.5), d.features(x))) > 0.0
    # real features are constants: no gradient reaches the real branch
    xr = x.clone().requires_grad_(True)
    feature_matching(d.features(x + 0.5), d.features(xr)).backward()
    assert xr.grad is None


def test_linear_last_mapping_and_noise_switch():
    tiny = get_preset("tiny")
    lin = dataclasses.replace(tiny, mapping_linear_last=True)
    torch.manual_seed(0)
    z = torch.randn(256, tiny.z_dim)
    w_lrelu = MappingNetwork(tiny)(z)
    torch.manual_seed(0)
    w_lin = MappingNetwork(lin)(torch.randn(256, tiny.z_dim))
    # leaky ReLU's negative side is scaled by 0.2: skewed; the linear layer is symmetric
    skew = lambda w: float(((w - w.mean()) ** 3).mean() / w.std() ** 3)  # noqa: E731
    assert skew(w_lrelu) > 0.5 and abs(skew(w_lin)) < 0.3
    g = Generator(dataclasses.replace(tiny, g_noise=False))
    w = torch.randn(2, tiny.w_dim)
    noise = g.make_noise(2, torch.Generator().manual_seed(1))
    assert torch.equal(g(w, noise), g(w, None))
    g_on = Generator(tiny)
    g_on.load_state_dict(g.state_dict())
    for m in g_on.modules():  # give the noise a weight so that it shows
        if m.__class__.__name__ == "NoiseInjection":
            m.strength.data.fill_(1.0)
    assert not torch.equal(g_on(w, noise), g_on(w, None))


def test_old_configs_load_with_new_defaults():
    old = {k: v for k, v in get_preset("demo64").to_dict().items()
           if k not in ("mapping_linear_last", "g_noise")}
    cfg = ModelConfig.from_dict(old)
    assert cfg.mapping_linear_last is False and cfg.g_noise is True
    assert TrainConfig.from_dict({"steps": 5}).hf_weight == 0.0
    # the new fields are left out at their defaults, so existing checkpoints keep their hash
    assert "g_noise" not in cfg.to_dict() and "mapping_linear_last" not in cfg.to_dict()
    from seegaan.models.autoencoder import load_autoencoder

    assert load_autoencoder().cfg == get_preset("demo64")


def test_training_step_with_detail_terms(data32, tmp_path):
    cfg = TrainConfig(steps=2, batch=4, hf_weight=1.0, fm_weight=0.1, log_every=1, val_every=2,
                      sample_every=2, ckpt_every=2, val_images=4, threads=1, perceptual="ssim")
    mc = dataclasses.replace(get_preset("tiny"), mapping_linear_last=True, g_noise=False)
    tr = Trainer(data32, tmp_path / "run", mc, cfg)
    stats = tr.train_step(0)
    assert stats["hf"] > 0 and stats["fm"] > 0
    out = tr.run()
    assert out["step"] == 2
    from seegaan.models.autoencoder import load_autoencoder

    ae = load_autoencoder(str(tmp_path / "run" / "last"))
    assert ae.cfg.mapping_linear_last and not ae.cfg.g_noise
    x = tr.val_images
    assert float(ssim(ae.reconstruct(x), x).mean()) > -1.0
