"""Augmentation, EMA, the VGG perceptual term (tiny random-weights file) and the FID path."""

from __future__ import annotations

import math

import pytest
import torch

from seegaan.cli import main
from seegaan.errors import OptionError
from seegaan.train.augment import apply_augment, draw_augment
from seegaan.train.ema import ema_beta, update_ema
from seegaan.train.metrics import check_fid, fid_or_none
from seegaan.train.perceptual import VGGPerceptual, build_perceptual

from .conftest import FAST


def _blobs(n=8, size=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.linspace(0, 1, size), torch.linspace(0, 1, size), indexing="ij")
    c = torch.rand(n, 2, generator=g) * 0.4 + 0.3
    d = (xx[None] - c[:, 0, None, None]) ** 2 + (yy[None] - c[:, 1, None, None]) ** 2
    return torch.where(d < 0.03, 0.8, -0.6)[:, None].float()


# -- augmentation -------------------------------------------------------------------------------
def test_augment_probability_ranges_and_identity():
    g = torch.Generator().manual_seed(0)
    params = draw_augment(4000, 0.2, g)
    on = params[:, 0] > 0
    assert abs(on.float().mean().item() - 0.2) < 0.03             # drawn with probability p
    assert (params[~on, 1:4] == 0).all() and (params[~on, 4:] == 1).all()  # identity when off
    assert params[:, 1:3].abs().max() <= 0.05 + 1e-6               # translation ±5 %
    assert params[:, 3].abs().max() <= math.radians(7) + 1e-6     # rotation ±7°
    assert (params[:, 4] - 1).abs().max() <= 0.15 + 1e-6           # zoom ±15 %
    x = _blobs()
    assert torch.equal(apply_augment(x, draw_augment(8, 0.0, g)), x)  # p = 0 changes nothing
    y = apply_augment(x, draw_augment(8, 1.0, g))
    assert y.shape == x.shape and y.min() >= -1 and y.max() <= 1
    assert (y - x).abs().amax(dim=(1, 2, 3)).min() > 0.01          # every image moved


def test_augment_is_reproducible_from_the_generator():
    a = draw_augment(16, 0.5, torch.Generator().manual_seed(7))
    b = draw_augment(16, 0.5, torch.Generator().manual_seed(7))
    assert torch.equal(a, b)
    # A pure translation moves a blob's centre of mass by the drawn fraction of the width.
    x = _blobs(1, 64)
    p = torch.tensor([[1.0, 0.05, 0.0, 0.0, 1.0, 1.0]])
    y = apply_augment(x, p)

    def com_x(img):
        w = (img[0, 0] + 1).clamp(min=0) ** 4
        return (w.sum(0) * torch.arange(64.0)).sum() / w.sum()
    # affine_grid samples from x + t, so the content shifts by -t·(width/2)·2 = -0.05·64 px.
    assert abs((com_x(y) - com_x(x)).item() + 0.05 * 64) < 1.0


# -- EMA ------------------------------------------------------------------------------------------
def test_ema_ramp_and_update():
    assert ema_beta(0, 0.999) == pytest.approx(0.1)                # ~nothing kept at step 0
    assert ema_beta(10**6, 0.999) == 0.999                         # capped at beta
    assert all(ema_beta(s, 0.999) <= ema_beta(s + 1, 0.999) for s in range(0, 5000, 50))
    live, ema = torch.nn.Linear(3, 2), torch.nn.Linear(3, 2)
    with torch.no_grad():
        for p in ema.parameters():
            p.zero_()
        for p in live.parameters():
            p.fill_(1.0)
    for _ in range(10):
        update_ema(ema, live, 0.5)
    for p in ema.parameters():                                     # 1 - 0.5**10
        assert torch.allclose(p, torch.full_like(p, 1 - 0.5 ** 10))
    update_ema(ema, live, 0.0)                                     # beta 0: a copy
    assert all(torch.equal(a, b) for a, b in zip(ema.parameters(), live.parameters()))


# -- VGG perceptual term ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def vgg_file(tmp_path_factory):
    """Random VGG16 trunk weights, half precision, features only: ~29 MB, no download."""
    from torchvision.models.vgg import cfgs, make_layers

    torch.manual_seed(0)
    state = {f"features.{k}": v.half() for k, v in make_layers(cfgs["D"]).state_dict().items()}
    path = tmp_path_factory.mktemp("vgg") / "vgg16_random.pth"
    torch.save(state, path)
    return str(path)


def test_vgg_perceptual_is_a_distance(vgg_file):
    module, weight, kind = build_perceptual("auto", vgg_file, 0.01, 0.2)
    assert isinstance(module, VGGPerceptual) and (weight, kind) == (0.01, "vgg")
    x = _blobs(2, 16)  # four poolings take 16 px to 1 px at relu5_3: the smallest useful input
    same = module(x, x).item()
    near = module(x + 0.05 * torch.randn_like(x), x).item()
    far = module(-x, x).item()
    assert same == pytest.approx(0.0, abs=1e-6) and 0 < near < far
    # Gradients reach the fake image, not the frozen network.
    fake = x.clone().requires_grad_(True)
    module(fake, x.flip(0)).backward()
    assert fake.grad.abs().sum() > 0
    assert not any(p.requires_grad for p in module.parameters())


def test_bad_vgg_file_is_a_one_line_error_in_the_dry_run(data32, tmp_path, capsys):
    bad = tmp_path / "not_vgg.pth"
    torch.save({"features.0.weight": torch.zeros(3)}, bad)
    with pytest.raises(OptionError, match="not a torchvision vgg16 state dict"):
        VGGPerceptual(str(bad))
    rc = main(["train", data32, "--out", str(tmp_path / "r"), *FAST, "--vgg-weights", str(bad),
               "--dry-run"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "--vgg-weights" in err and len(err.splitlines()) == 1, err


# -- FID ------------------------------------------------------------------------------------------
def test_fid_path_without_and_with_a_weights_file(tmp_path):
    x = _blobs(4)
    assert fid_or_none(x, x, None) is None                         # no file: no FID, no error
    with pytest.raises(OptionError, match="file not found"):
        check_fid(str(tmp_path / "missing.pth"))
    weights = tmp_path / "inception_random.pth"
    torch.save({"w": torch.zeros(2)}, weights)
    try:
        import torch_fidelity  # noqa: F401
        import torchmetrics  # noqa: F401
    except ImportError:
        # Without the packages a given weights file is an error, never a silent None.
        with pytest.raises(OptionError, match="torchmetrics and torch-fidelity"):
            fid_or_none(x, x, str(weights))
    else:
        with pytest.raises(OptionError, match="cannot build FID"):  # random file: not Inception
            fid_or_none(x, x, str(weights))
