"""Every adapter loads a tiny model and predicts exactly what calling the model directly gives."""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest
import torch

from seegaan.errors import ModelError, OptionError
from seegaan.explain.adapter import InputAdapter
from seegaan.explain.loading import load_model


@pytest.fixture
def images():
    g = torch.Generator().manual_seed(1)
    return torch.rand(5, 1, 16, 16, generator=g) * 2 - 1


def test_input_adapter_maps_size_range_and_channels(images):
    a = InputAdapter(size=32, value_range=(-1024, 1024), channels=3, mean=(0.0,), std=(2.0,))
    x = a.to_model(images)
    assert x.shape == (5, 3, 32, 32)
    assert torch.allclose(x[:, 0], x[:, 2])
    # The range map is affine: -1 -> -1024, 1 -> 1024, then divided by std.
    assert float(x.min()) >= -512 - 1e-3 and float(x.max()) <= 512 + 1e-3
    assert InputAdapter(value_range=(0, 1)).zero_point() == -1.0
    assert InputAdapter(value_range=(-1024, 1024)).zero_point() == 0.0
    back = InputAdapter.from_dict(a.to_dict())
    assert back == a


def test_adapter_rejects_bad_settings():
    with pytest.raises(OptionError, match="value_range"):
        InputAdapter(value_range=(1, 0))
    with pytest.raises(OptionError, match="activation"):
        InputAdapter(activation="relu")
    with pytest.raises(OptionError, match="unknown key"):
        InputAdapter.from_dict({"sizee": 3})


def test_cnn_directory_and_its_torchscript(ref_cnn_dir, images):
    from seegaan.explain.reference_cnn import load_reference_cnn

    net, config = load_reference_cnn(ref_cnn_dir)
    adapter = InputAdapter(size=32, log_output=True)
    with torch.no_grad():
        direct = net(adapter.to_model(images))[:, 0].numpy()
    m = load_model(ref_cnn_dir)
    assert m.model_format == "seegaan-cnn" and m.adapter == adapter
    np.testing.assert_allclose(m.predict(images), np.exp(direct), rtol=1e-5)
    ts = load_model(ref_cnn_dir / "model.pt", adapter=adapter)
    assert ts.model_format == "torchscript"
    np.testing.assert_allclose(ts.predict(images), np.exp(direct), rtol=1e-5)
    # Rebuilt from safetensors: hookable. At 32 x 32 the last map of >= 8 x 8 is layer1's.
    assert m.gradcam_layer() is m.module.net.layer1 and m.gradcam_layer_name == "net.layer1"
    assert ts.gradcam_layer() is None                  # TorchScript: layers are inlined


def test_entry_point_with_safetensors_and_state_dict(tmp_path, images, tiny_models_on_path):
    import explain_tiny_models as tm
    from safetensors.torch import save_file

    net = tm.small_cnn(seed=3).eval()
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(tmp_path / "w.safetensors"))
    torch.save(net.state_dict(), tmp_path / "w.pt")
    with torch.no_grad():
        direct = net(images)[:, 1].numpy()
    for weights in ("w.safetensors", "w.pt"):
        m = load_model("explain_tiny_models:small_cnn", InputAdapter(output_index=1),
                       weights=tmp_path / weights, factory_kwargs={"seed": 99})
        # The factory's seed 99 gives other weights: equality proves the file was loaded.
        np.testing.assert_allclose(m.predict(images), direct, rtol=1e-6, atol=1e-7)


def test_pickled_module_is_refused(tmp_path, tiny_models_on_path):
    import explain_tiny_models as tm

    torch.save(tm.small_cnn(), tmp_path / "whole.pt")  # a pickled nn.Module, not a state dict
    with pytest.raises(ModelError, match="refusing to unpickle"):
        load_model("explain_tiny_models:small_cnn", weights=tmp_path / "whole.pt")


def test_onnx_adapter_matches_pytorch(tmp_path, images, tiny_models_on_path):
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    import explain_tiny_models as tm

    net = tm.small_cnn(channels=3).eval()
    adapter = InputAdapter(size=24, channels=3, value_range=(0, 1), output_index=0)
    example = adapter.to_model(images[:2])
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(net, example, str(tmp_path / "m.onnx"), dynamo=False,
                          input_names=["x"], output_names=["y"], dynamic_axes={"x": {0: "n"}})
    m = load_model(tmp_path / "m.onnx", adapter)
    assert m.model_format == "onnx" and not m.supports_gradients
    with torch.no_grad():
        direct = net(adapter.to_model(images))[:, 0].numpy()
    np.testing.assert_allclose(m.predict(images), direct, rtol=1e-4, atol=1e-5)


def test_onnx_fixed_batch_is_fed_in_chunks(tmp_path, images, tiny_models_on_path):
    pytest.importorskip("onnxruntime")
    import warnings

    import explain_tiny_models as tm

    net = tm.small_cnn().eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(net, images[:2], str(tmp_path / "fixed.onnx"), dynamo=False,
                          input_names=["x"], output_names=["y"])  # batch fixed at 2
    m = load_model(tmp_path / "fixed.onnx")
    with torch.no_grad():
        direct = net(images)[:, 0].numpy()
    np.testing.assert_allclose(m.predict(images), direct, rtol=1e-4, atol=1e-5)


def _fake_txrv(monkeypatch, tiny_module_cls):
    """A stand-in torchxrayvision: a registry entry and a DenseNet class, no network code."""
    xrv = types.ModuleType("torchxrayvision")
    xrv.models = types.SimpleNamespace(
        model_urls={"densenet121-res224-tiny": {
            "weights_url": "https://example.invalid/tiny-densenet-best.pt",
            "labels": ["Atelectasis", "Cardiomegaly"]}},
        DenseNet=lambda weights=None, num_classes=18: tiny_module_cls())
    xrv.datasets = types.SimpleNamespace(default_pathologies=[])
    monkeypatch.setitem(sys.modules, "torchxrayvision", xrv)
    return xrv


def test_torchxrayvision_name_with_local_weights(tmp_path, images, monkeypatch, tiny_models_on_path):
    import explain_tiny_models as tm

    _fake_txrv(monkeypatch, lambda: tm.small_cnn(seed=5))
    net = tm.small_cnn(seed=7).eval()
    torch.save(net.state_dict(), tmp_path / "tiny-densenet-best.pt")  # the file name txrv uses
    m = load_model("txrv:densenet121-res224-tiny", weights_dir=tmp_path)
    assert m.model_format == "torchxrayvision" and m.labels == ["Atelectasis", "Cardiomegaly"]
    assert m.adapter.value_range == (-1024.0, 1024.0) and m.adapter.size == 224
    m.adapter = m.adapter.replace(size=16, output_index=1)
    with torch.no_grad():
        direct = torch.sigmoid(net(images * 1024.0))[:, 1].numpy()
    np.testing.assert_allclose(m.predict(images), direct, rtol=1e-5)


def test_torchxrayvision_missing_weights_never_downloads(tmp_path, monkeypatch, tiny_models_on_path):
    import explain_tiny_models as tm

    _fake_txrv(monkeypatch, tm.small_cnn)
    with pytest.raises(ModelError, match="never downloads"):
        load_model("txrv:densenet121-res224-tiny", weights_dir=tmp_path)
    with pytest.raises(ModelError, match="unknown torchxrayvision model"):
        load_model("txrv:densenet121-res224-nope", weights_dir=tmp_path)
    with pytest.raises(OptionError, match="--weights-dir"):
        load_model("txrv:densenet121-res224-tiny")


def test_real_torchxrayvision_if_installed(tmp_path):
    xrv = pytest.importorskip("torchxrayvision")
    name = next(k for k in xrv.models.model_urls if "densenet" in k)
    with pytest.raises(ModelError, match="never downloads"):
        load_model(f"txrv:{name}", weights_dir=tmp_path)


# -- errors, each one line --------------------------------------------------------------------

def _one_line(err: BaseException) -> str:
    text = str(err)
    assert "\n" not in text
    return text


def test_model_file_that_does_not_load(tmp_path):
    (tmp_path / "junk.pt").write_bytes(b"not a model at all")
    with pytest.raises(ModelError, match="does not load as TorchScript") as e:
        load_model(tmp_path / "junk.pt")
    _one_line(e.value)
    (tmp_path / "junk.onnx").write_bytes(b"not onnx either")
    pytest.importorskip("onnxruntime")
    with pytest.raises(ModelError, match="does not load as ONNX") as e:
        load_model(tmp_path / "junk.onnx")
    _one_line(e.value)
    with pytest.raises(ModelError, match="model not found"):
        load_model(tmp_path / "missing_dir_or_thing")
    with pytest.raises(ModelError, match="cannot import"):
        load_model("no_such_package_xyz.mod:factory")


def test_output_index_out_of_range(images, tiny_models_on_path):
    m = load_model("explain_tiny_models:small_cnn", InputAdapter(output_index=2))
    with pytest.raises(ModelError, match="output index 2 is out of range") as e:
        m.predict(images)
    assert "2 outputs" in _one_line(e.value)


def test_model_returning_nan(images, tiny_models_on_path):
    m = load_model("explain_tiny_models:nan_model")
    with pytest.raises(ModelError, match="NaN") as e:
        m.predict(images)
    _one_line(e.value)


def test_gradcam_layer_rule_and_choice():
    from seegaan.explain.loading import TorchModel, choose_gradcam_layer
    from seegaan.explain.reference_cnn import CNNArch, ReferenceCNN

    net = ReferenceCNN(CNNArch(arch="resnet10"))
    # 64 x 64: layer4 is 2 x 2, layer3 4 x 4, layer2 8 x 8 -> layer2.
    assert choose_gradcam_layer(net, InputAdapter(size=64))[0] == "net.layer2"
    assert choose_gradcam_layer(net, InputAdapter(size=256))[0] == "net.layer4"
    m = TorchModel("r", net, InputAdapter(size=64), model_format="entry-point", gradcam_layer="net.layer3")
    assert m.gradcam_layer() is net.net.layer3 and m.gradcam_layer_name == "net.layer3"
