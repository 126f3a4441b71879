"""Model adapters: load a user's CNN, whatever its form, behind one small interface.

``load_model(spec, ...)`` accepts

- a CNN directory from ``seegaan cnn train`` (``config.json`` + ``model.safetensors``);
- a TorchScript file (``.pt``, ``.pth``, ``.ts``, ``.jit``, ``.torchscript``);
- an ONNX file (``.onnx``), run by onnxruntime: predictions only;
- a Python entry point ``package.module:factory`` with ``weights=`` a safetensors or
  state-dict file (read with ``torch.load(weights_only=True)``: no object is ever unpickled);
- ``txrv:NAME``, a torchxrayvision DenseNet whose weights come from ``weights_dir`` (a local
  cache; nothing is downloaded).

Every adapter returns an :class:`ExplainableModel`: ``predict(images)`` gives the prediction
in the target's units, ``score(images)`` the differentiable model-scale output that
attribution methods and the lambda search use. Images are always ``(N, 1, S, S)`` in [-1, 1];
the :class:`~seegaan.explain.adapter.InputAdapter` turns them into what the model expects.

Example::

    model = load_model("runs/cnn")                           # seegaan's reference CNN
    model = load_model("cnn.onnx", adapter=InputAdapter(size=224))
    model = load_model("mypkg.nets:make_resnet", weights="resnet.safetensors")
    bnpp = model.predict(images)                              # numpy (N,)
"""

from __future__ import annotations

import importlib
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from seegaan.errors import ModelError, OptionError
from seegaan.explain.adapter import InputAdapter
from seegaan.utils.renamed import renamed_keywords

TORCHSCRIPT_SUFFIXES = (".pt", ".pth", ".ts", ".jit", ".torchscript")
ONNX_REFUSAL = ("ONNX models give predictions only; gradient methods ({methods}) need a "
                "PyTorch model: pass a TorchScript file or package.module:factory with --weights")
_ENTRY_POINT = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0][:300] if text else type(err).__name__


class ExplainableModel:
    """A loaded model plus its input adapter: what every explanation method needs.

    Subclasses provide ``_raw(x)`` (the model's own output on adapted input). Everything
    else — input mapping, choosing the output, the NaN check, batching — lives here once.
    """

    model_format = "model"                   # how it was loaded: torchscript, onnx, ...
    supports_gradients = True

    def __init__(self, name: str, adapter: InputAdapter) -> None:
        self.name = name
        self.adapter = adapter

    # Subclasses -----------------------------------------------------------------------
    def _raw(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def gradcam_layer(self) -> nn.Module | None:
        """The module Grad-CAM attributes to, or None when the model offers no hookable layer."""
        return None

    gradcam_unavailable = "this model exposes no hookable convolutional layer"

    # Shared ---------------------------------------------------------------------------
    def score(self, images: torch.Tensor) -> torch.Tensor:
        """Model-scale prediction ``(N,)`` for images in [-1, 1]; differentiable when supported."""
        return self.adapter.select(self._raw(self.adapter.to_model(images)), where=self.name)

    def require_gradients(self, methods: str = "saliency, gradcam, ig, smoothgrad") -> None:
        if not self.supports_gradients:
            raise ModelError(f"{self.name}: " + ONNX_REFUSAL.format(methods=methods))

    @torch.no_grad()
    def predict_scores(self, images: torch.Tensor, batch_size: int = 64) -> np.ndarray:
        """Model-scale scores for many images, batched, checked for NaN."""
        out = []
        for i in range(0, len(images), batch_size):
            out.append(self.score(images[i:i + batch_size]).detach().cpu().float().numpy())
        scores = np.concatenate(out) if out else np.zeros(0, np.float32)
        bad = ~np.isfinite(scores)
        if bad.any():
            raise ModelError(f"{self.name}: model returned NaN or infinite output for "
                             f"{int(bad.sum())} of {len(scores)} images")
        return scores

    def predict(self, images: torch.Tensor, batch_size: int = 64) -> np.ndarray:
        """Predictions in the target's own units (``exp`` of the output when ``log_output``)."""
        s = self.predict_scores(images, batch_size)
        return np.exp(s) if self.adapter.log_output else s

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "model_format": self.model_format, "supports_gradients": self.supports_gradients,
                "input_adapter": self.adapter.to_dict()}


class TorchModel(ExplainableModel):
    """Any ``nn.Module`` (Python or TorchScript) in eval mode."""

    @renamed_keywords(kind="model_format")
    def __init__(self, name: str, module: nn.Module, adapter: InputAdapter, model_format: str,
                 gradcam_layer: str | None = None) -> None:
        super().__init__(name, adapter)
        self.module = module.eval()
        for p in self.module.parameters():
            # Attributions differentiate w.r.t. the input only; frozen weights save memory.
            p.requires_grad_(False)
        self.model_format = model_format
        self._layer_name = gradcam_layer
        self._layer: nn.Module | None = None
        if model_format == "torchscript":
            self.gradcam_unavailable = ("TorchScript inlines its layers, so Grad-CAM has nothing to "
                                        "hook; load the model as package.module:factory + --weights")

    def _raw(self, x: torch.Tensor) -> torch.Tensor:
        try:
            return self.module(x)
        except (RuntimeError, ValueError, TypeError, IndexError) as err:
            raise ModelError(f"{self.name}: forward pass failed on input of shape "
                             f"{tuple(x.shape)} ({_first_line(err)})") from None

    def gradcam_layer(self) -> nn.Module | None:
        if self.model_format == "torchscript":
            return None
        if self._layer is None:
            modules = dict(self.module.named_modules())
            if self._layer_name:
                if self._layer_name not in modules:
                    raise OptionError(f"--gradcam-layer {self._layer_name}: no such module in "
                                      f"{self.name}")
                self._layer = modules[self._layer_name]
            else:
                self._layer_name, self._layer = choose_gradcam_layer(self.module, self.adapter)
        return self._layer

    @property
    def gradcam_layer_name(self) -> str | None:
        """The name of the module Grad-CAM hooks (after :meth:`gradcam_layer` chose it)."""
        return self._layer_name if self._layer is not None else None


# Grad-CAM's map is as coarse as its layer; below this side it says little about where.
GRADCAM_MIN_SIDE = 8


def choose_gradcam_layer(module: nn.Module, adapter: InputAdapter,
                         min_side: int = GRADCAM_MIN_SIDE) -> tuple[str | None, nn.Module | None]:
    """The last module whose output is a feature map of at least ``min_side`` pixels a side.

    One forward pass at the adapter's input size, with hooks; forward hooks fire when a
    module finishes, so a container (a ResNet stage) comes after its children and is
    preferred. At 64 x 64 a ResNet's ``layer4`` is 2 x 2 and ``layer2`` 8 x 8, so the latter
    is chosen; on a 224 x 224 input ``layer4`` (7 x 7) falls back to ``layer3`` (14 x 14).
    When no layer reaches ``min_side``, the largest-map last layer is used. Returns
    ``(name, module)``, or ``(None, None)`` when the network makes no 4-D feature map.
    """
    names = {m: n for n, m in module.named_modules() if m is not module}
    seen: list[tuple[nn.Module, int]] = []

    def hook(mod, _inp, out):
        if torch.is_tensor(out) and out.ndim == 4:
            seen.append((mod, min(out.shape[-2:])))

    handles = [m.register_forward_hook(hook) for m in names]
    try:
        size = int(adapter.size or 64)
        with torch.no_grad():
            module(adapter.to_model(torch.zeros(1, 1, size, size)))
    except (RuntimeError, ValueError, TypeError, IndexError) as err:
        raise ModelError(f"cannot find a Grad-CAM layer: a forward pass on a {size}x{size} image "
                         f"failed ({_first_line(err)}); set the input size or --gradcam-layer") from None
    finally:
        for h in handles:
            h.remove()
    # Keep convolutions and containers; a bare ReLU/BatchNorm output is the same map as its conv's.
    usable = [(m, s) for m, s in seen
              if isinstance(m, nn.Conv2d) or any(True for _ in m.children())]
    if not usable:
        return None, None
    big = [(m, s) for m, s in usable if s >= min_side]
    if big:
        chosen = big[-1][0]
    else:
        top = max(s for _, s in usable)
        chosen = [m for m, s in usable if s == top][-1]
    return names[chosen], chosen


class OnnxModel(ExplainableModel):
    """An ONNX graph run by onnxruntime on the CPU. Forward only: no gradients exist here."""

    model_format = "onnx"
    supports_gradients = False
    gradcam_unavailable = "ONNX models give predictions only"

    def __init__(self, name: str, session: Any, adapter: InputAdapter) -> None:
        super().__init__(name, adapter)
        self.session = session
        inp = session.get_inputs()[0]
        self.input_name = inp.name
        batch = inp.shape[0] if inp.shape else None
        # A graph exported with a fixed batch dimension must be fed that many images at a time.
        self.fixed_batch = batch if isinstance(batch, int) and batch > 0 else None

    def _raw(self, x: torch.Tensor) -> torch.Tensor:
        arr = x.detach().cpu().float().numpy()
        step = self.fixed_batch or len(arr)
        outs = []
        for i in range(0, len(arr), step):
            chunk = arr[i:i + step]
            if self.fixed_batch and len(chunk) < step:  # pad the last chunk, then drop the padding
                pad = np.repeat(chunk[-1:], step - len(chunk), axis=0)
                res = self._run(np.concatenate([chunk, pad]))[:len(chunk)]
            else:
                res = self._run(chunk)
            outs.append(res)
        return torch.from_numpy(np.concatenate(outs).astype(np.float32))

    def _run(self, arr: np.ndarray) -> np.ndarray:
        try:
            return np.asarray(self.session.run(None, {self.input_name: arr})[0])
        except Exception as err:  # onnxruntime raises its own exception types
            raise ModelError(f"{self.name}: onnxruntime failed on input of shape {arr.shape} "
                             f"({_first_line(err)})") from None


# -- loaders --------------------------------------------------------------------------------

def load_model(spec: str | os.PathLike, adapter: InputAdapter | None = None, *,
               weights: str | os.PathLike | None = None,
               weights_dir: str | os.PathLike | None = None,
               factory_kwargs: dict[str, Any] | None = None,
               gradcam_layer: str | None = None,
               adapter_overrides: dict[str, Any] | None = None) -> ExplainableModel:
    """Load a model from any supported form (see the module docstring).

    ``adapter`` replaces the model's own (from its ``config.json`` or the torchxrayvision
    registry); ``adapter_overrides`` changes single fields of whichever adapter applies.
    """
    spec_str = str(spec)
    overrides = adapter_overrides or {}
    path = Path(spec_str)
    if spec_str.startswith("txrv:"):
        model = _load_txrv(spec_str[5:], weights_dir, adapter, gradcam_layer)
    elif path.is_dir():
        model = _load_cnn_dir(path, adapter, gradcam_layer)
    elif path.suffix.lower() == ".safetensors":
        raise ModelError(f"{spec_str}: a weights file holds no architecture; pass the model as "
                         "package.module:factory with --weights FILE")
    elif path.suffix.lower() == ".onnx":
        model = _load_onnx(path, adapter)
    elif path.suffix.lower() in TORCHSCRIPT_SUFFIXES or path.is_file():
        if weights is not None:
            raise OptionError("--weights: only used with a package.module:factory model")
        model = _load_torchscript(path, adapter)
    elif _ENTRY_POINT.match(spec_str):
        model = _load_entry_point(spec_str, weights, adapter, factory_kwargs, gradcam_layer)
    else:
        raise ModelError(f"{spec_str}: model not found (give a CNN directory, a TorchScript or "
                         ".onnx file, package.module:factory, or txrv:NAME)")
    if overrides:
        model.adapter = model.adapter.replace(**overrides)
    return model


def _load_cnn_dir(path: Path, adapter: InputAdapter | None, gradcam_layer: str | None) -> TorchModel:
    from seegaan.explain.reference_cnn import is_cnn_dir, load_reference_cnn

    if not is_cnn_dir(path):
        raise ModelError(f"{path}: not a CNN directory (config.json and model.safetensors "
                         "are needed; create one with `seegaan cnn train`)")
    module, config = load_reference_cnn(path)
    if adapter is None:
        adapter = InputAdapter.from_dict(config.get("input_adapter", {}))
    return TorchModel(str(path), module, adapter, model_format="seegaan-cnn", gradcam_layer=gradcam_layer)


def _load_torchscript(path: Path, adapter: InputAdapter | None) -> TorchModel:
    if not path.is_file():
        raise ModelError(f"{path}: model file not found")
    import warnings

    try:
        # TorchScript archives hold TorchScript code and tensors, not pickled Python objects.
        # torch.jit.load's deprecation notice is for developers, not for the person running seegaan.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            module = torch.jit.load(str(path), map_location="cpu")
    except Exception as err:  # torch raises RuntimeError, ValueError or its own types here
        raise ModelError(f"{path}: does not load as TorchScript ({_first_line(err)}); "
                         "export with torch.jit.script/trace, or use package.module:factory "
                         "with --weights") from None
    return TorchModel(str(path), module, adapter or InputAdapter(), model_format="torchscript")


def _load_onnx(path: Path, adapter: InputAdapter | None) -> OnnxModel:
    if not path.is_file():
        raise ModelError(f"{path}: model file not found")
    try:
        import onnxruntime as ort
    except ImportError:
        raise ModelError(f"{path}: ONNX models need onnxruntime "
                         "(pip install 'seegaan[onnx]')") from None
    try:
        options = ort.SessionOptions()
        options.log_severity_level = 3  # errors only: warnings would break the one-line rule
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as err:  # onnxruntime's exceptions share no useful base class
        raise ModelError(f"{path}: does not load as ONNX ({_first_line(err)})") from None
    return OnnxModel(str(path), session, adapter or InputAdapter())


def load_state_dict_file(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Read a safetensors or ``torch.save``'d state dict without unpickling arbitrary objects."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{path}: weights file not found")
    if path.suffix.lower() == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            return load_file(str(path))
        except (SafetensorError, OSError) as err:
            raise ModelError(f"{path}: not a readable safetensors file ({_first_line(err)})") from None
    from seegaan.models.checkpoint import torch_load_weights

    obj = torch_load_weights(path, str(path), ModelError)  # its message never advises unsafe loading
    # Common wrappers: {"state_dict": {...}} or {"model": {...}}.
    for key in ("state_dict", "model", "model_state_dict"):
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
    if not isinstance(obj, dict) or not all(torch.is_tensor(v) for v in obj.values()):
        raise ModelError(f"{path}: expected a dict of tensors (a state dict)")
    return obj


def _load_entry_point(spec: str, weights: str | os.PathLike | None, adapter: InputAdapter | None,
                      factory_kwargs: dict[str, Any] | None, gradcam_layer: str | None) -> TorchModel:
    module_name, attr = spec.split(":")
    try:
        factory = getattr(importlib.import_module(module_name), attr)
    except ImportError as err:
        raise ModelError(f"{spec}: cannot import {module_name} ({_first_line(err)})") from None
    except AttributeError:
        raise ModelError(f"{spec}: {module_name} has no attribute {attr}") from None
    try:
        module = factory(**(factory_kwargs or {}))
    except Exception as err:  # user code: report it on one line rather than crash
        raise ModelError(f"{spec}: factory failed ({type(err).__name__}: {_first_line(err)})") from None
    if not isinstance(module, nn.Module):
        raise ModelError(f"{spec}: factory returned {type(module).__name__}, not a torch.nn.Module")
    if weights is not None:
        state = load_state_dict_file(weights)
        try:
            module.load_state_dict(state, strict=True)
        except RuntimeError as err:
            raise ModelError(f"{weights}: does not match {spec} ({_first_line(err)})") from None
    return TorchModel(spec, module, adapter or InputAdapter(), model_format="entry-point",
                      gradcam_layer=gradcam_layer)


# -- torchxrayvision ------------------------------------------------------------------------

TXRV_ADAPTER = dict(size=224, value_range=(-1024.0, 1024.0), channels=1, activation="sigmoid")


def _load_txrv(name: str, weights_dir: str | os.PathLike | None, adapter: InputAdapter | None,
               gradcam_layer: str | None) -> TorchModel:
    """A torchxrayvision DenseNet built without weights, then filled from a local file.

    torchxrayvision's own loader downloads missing weights and unpickles whole model
    objects; seegaan does neither. ``weights_dir`` must hold either
    ``{NAME}.safetensors`` or a state dict saved with ``torch.save(model.state_dict())``
    (``{NAME}.pt`` or the file name torchxrayvision uses for that model).
    """
    if weights_dir is None:
        raise OptionError(f"txrv:{name}: --weights-dir is required (seegaan never downloads weights)")
    try:
        xrv = importlib.import_module("torchxrayvision")
    except ImportError:
        raise ModelError(f"txrv:{name}: torchxrayvision is not installed "
                         "(pip install torchxrayvision)") from None
    registry = getattr(xrv.models, "model_urls", {})
    if name not in registry:
        known = ", ".join(sorted(k for k in registry if "densenet" in k)) or "none"
        raise ModelError(f"txrv:{name}: unknown torchxrayvision model (DenseNets known: {known})")
    if "densenet" not in name:
        raise ModelError(f"txrv:{name}: only torchxrayvision DenseNets are supported; export other "
                         "models to TorchScript or ONNX")
    entry = registry[name]
    labels = list(entry.get("labels") or getattr(xrv.datasets, "default_pathologies", []))
    root = Path(weights_dir)
    url_name = os.path.basename(str(entry.get("weights_url", "")))
    candidates = [root / f"{name}.safetensors", root / f"{name}.pt"]
    if url_name:
        candidates.append(root / url_name)
    found = next((c for c in candidates if c.is_file()), None)
    if found is None:
        raise ModelError(f"txrv:{name}: weights not in {root} (looked for "
                         f"{', '.join(c.name for c in candidates)}); seegaan never downloads them")
    try:
        module = xrv.models.DenseNet(weights=None, num_classes=len(labels) or 18)
    except Exception as err:  # a different torchxrayvision version, say
        raise ModelError(f"txrv:{name}: cannot build the architecture ({_first_line(err)})") from None
    # Raw logits: the adapter's sigmoid makes them probabilities, without txrv's in-place
    # operating-point rescaling, which breaks gradients.
    if hasattr(module, "op_threshs"):
        module.op_threshs = None
    if hasattr(module, "apply_sigmoid"):
        module.apply_sigmoid = False
    state = load_state_dict_file(found)
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise ModelError(f"{found}: does not match txrv:{name} ({_first_line(err)})") from None
    if adapter is None:
        adapter = InputAdapter(**TXRV_ADAPTER)
    model = TorchModel(f"txrv:{name}", module, adapter, model_format="torchxrayvision",
                       gradcam_layer=gradcam_layer)
    model.labels = labels
    return model


def output_index_for(labels: list[str], label: str) -> int:
    """Resolve a class name (e.g. ``Cardiomegaly``) to its output index, case-insensitively."""
    lower = [lab.lower() for lab in labels]
    if label.lower() not in lower:
        raise OptionError(f"--output {label}: not one of the model's outputs ({', '.join(labels)})")
    return lower.index(label.lower())
