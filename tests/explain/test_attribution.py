"""Captum attributions: input-shaped, finite, inputs untouched, hooks released, ONNX refused."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from seegaan.errors import ModelError, OptionError
from seegaan.explain.adapter import InputAdapter
from seegaan.explain.attribution import METHODS, AttributionSettings, attribute, parse_methods
from seegaan.explain.loading import load_model

FAST = AttributionSettings(ig_steps=8, sg_samples=4, batch_size=4)


@pytest.fixture
def images():
    g = torch.Generator().manual_seed(2)
    return torch.rand(3, 1, 16, 16, generator=g) * 2 - 1


def _hook_count(module):
    return sum(len(m._forward_hooks) + len(m._backward_hooks) + len(m._forward_pre_hooks)
               for m in module.modules())


@pytest.mark.parametrize("factory", ["small_cnn", "brightness"])
def test_all_methods_shape_finite_and_pure(images, tiny_models_on_path, factory):
    m = load_model(f"explain_tiny_models:{factory}", InputAdapter(size=20))
    before = images.clone()
    hooks_before = _hook_count(m.module)
    maps = attribute(m, images, METHODS, FAST)
    assert set(maps) == set(METHODS)
    for name, a in maps.items():
        assert a.shape == tuple(images.shape), name
        assert np.isfinite(a).all(), name
        assert a.dtype == np.float32
    assert torch.equal(images, before)                  # inputs are not modified
    assert not images.requires_grad
    assert _hook_count(m.module) == hooks_before        # Captum's hooks are released
    assert (maps["saliency"] >= 0).all() and (maps["gradcam"] >= 0).all()


def test_reference_cnn_gradcam_on_layer4(ref_cnn_dir, images):
    m = load_model(ref_cnn_dir)
    maps = attribute(m, images, ("gradcam", "saliency"), FAST)
    assert maps["gradcam"].shape == images.shape and np.isfinite(maps["gradcam"]).all()


def test_smoothgrad_is_reproducible(images, tiny_models_on_path):
    m = load_model("explain_tiny_models:small_cnn")
    a = attribute(m, images, ("smoothgrad",), FAST)["smoothgrad"]
    b = attribute(m, images, ("smoothgrad",), FAST)["smoothgrad"]
    np.testing.assert_array_equal(a, b)


def test_torchscript_refuses_gradcam_but_gives_gradients(tmp_path, images, tiny_models_on_path):
    import explain_tiny_models as tm

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.jit.trace(tm.small_cnn().eval(), images).save(str(tmp_path / "m.pt"))
    m = load_model(tmp_path / "m.pt")
    assert attribute(m, images, ("saliency", "ig"), FAST)["ig"].shape == images.shape
    with pytest.raises(ModelError, match="Grad-CAM unavailable.*TorchScript"):
        attribute(m, images, ("gradcam",), FAST)


def test_onnx_refuses_gradient_methods(tmp_path, images, tiny_models_on_path):
    pytest.importorskip("onnxruntime")
    import explain_tiny_models as tm

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(tm.small_cnn().eval(), images, str(tmp_path / "m.onnx"), dynamo=False,
                          input_names=["x"], output_names=["y"], dynamic_axes={"x": {0: "n"}})
    m = load_model(tmp_path / "m.onnx")
    for method in METHODS:
        if method == "occlusion":  # forward passes only: works on ONNX
            assert attribute(m, images, (method,), FAST)[method].shape == images.shape
            continue
        with pytest.raises(ModelError, match="ONNX models give predictions only") as e:
            attribute(m, images, (method,), FAST)
        assert "\n" not in str(e.value) and method in str(e.value)


def test_unknown_method():
    with pytest.raises(OptionError, match="unknown method"):
        parse_methods("saliency,lime")
