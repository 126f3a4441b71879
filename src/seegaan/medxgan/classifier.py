"""The frozen classifier C as one positive-class score, with its sigmoid applied exactly once.

medXGAN explains a *binary* classifier. Any model that ``seegaan predict`` accepts is loaded
through :func:`seegaan.explain.load_model`; its model-scale output (``score``) becomes the
positive class in one of these documented ways (``ClassifierSpec.output``):

- ``logit``: the score is a logit; p = sigmoid(score), the loss is BCE-with-logits;
- ``probability``: the adapter already applies sigmoid/softmax; p = score, the loss is BCE on
  p (no second squashing: applying softmax twice is a defect of the authors' code);
- ``log-threshold``: a regressor of log(target) (the reference BNPP CNN) becomes
  "target > threshold" through logit = (score - log threshold) / temperature;
- ``threshold``: the same for a regressor on the target's own scale;
- ``auto``: probability when the adapter has an activation, log-threshold / threshold when a
  threshold is given, logit otherwise.

C is never trained: its parameters are frozen on load and the module stays in eval mode.

Example::

    C = PositiveClass(load_model("runs/cnn"), ClassifierSpec(threshold=400), image_size=64)
    p = C.prob(images)                       # (N,) P(BNPP > 400)
    loss = C.bce(images, target)             # target in {0, 1} or soft
"""

from __future__ import annotations

import hashlib
import math
from typing import Any

import torch
import torch.nn.functional as F

from seegaan.errors import ModelError, OptionError
from seegaan.explain import ExplainableModel
from seegaan.medxgan.config import ClassifierSpec

OUTPUTS = ("auto", "logit", "probability", "log-threshold", "threshold")


def resolve_output(spec: ClassifierSpec, adapter: Any) -> str:
    if spec.output not in OUTPUTS:
        raise OptionError(f"--output {spec.output}: choose from {', '.join(OUTPUTS)}")
    if spec.output != "auto":
        mode = spec.output
    elif adapter.activation != "none":
        mode = "probability"
    elif spec.threshold is not None:
        mode = "log-threshold" if adapter.log_output else "threshold"
    else:
        mode = "logit"
    if mode in ("log-threshold", "threshold"):
        if spec.threshold is None:
            raise OptionError(f"classifier output {mode}: needs --threshold")
        if mode == "log-threshold" and spec.threshold <= 0:
            raise OptionError(f"--threshold {spec.threshold}: must be positive for a log-scale model")
        if spec.temperature <= 0:
            raise OptionError(f"--temperature {spec.temperature}: must be positive")
    return mode


def check_input_size(model: Any, image_size: int) -> None:
    """One line naming both sizes when C expects another resolution than G makes."""
    size = getattr(model.adapter, "size", None)
    if size is not None and int(size) != int(image_size):
        raise ModelError(f"classifier {model.name} takes {int(size)}x{int(size)} images but the "
                         f"medXGAN generator makes {image_size}x{image_size}; train medXGAN at "
                         f"--size {int(size)} or use a classifier for {image_size}x{image_size}")


def fingerprint(model: Any) -> str | None:
    """sha256 of C's weights (None when the model has no PyTorch module, e.g. ONNX)."""
    module = getattr(model, "module", None)
    if module is None:
        return None
    h = hashlib.sha256()
    for name, t in sorted(module.state_dict().items()):
        h.update(name.encode())
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


class PositiveClass:
    """C's positive-class score ``prob`` and cross-entropy ``bce`` from an ExplainableModel."""

    def __init__(self, model: Any, spec: ClassifierSpec | None = None,
                 image_size: int | None = None) -> None:
        spec = spec or ClassifierSpec()
        model.require_gradients("medXGAN (the generator learns through C's gradient)")
        if image_size is not None:
            check_input_size(model, image_size)
        self.model, self.spec = model, spec
        self.mode = resolve_output(spec, model.adapter)
        module = getattr(model, "module", None)
        if module is not None:
            module.eval()
            # Per parameter: TorchScript modules do not support Module.requires_grad_.
            for p in module.parameters():
                p.requires_grad_(False)

    def logit(self, images: torch.Tensor) -> torch.Tensor:
        """The positive-class logit (not defined for ``probability`` models)."""
        s = self.model.score(images)
        if self.mode == "logit":
            return s
        if self.mode == "log-threshold":
            return (s - math.log(self.spec.threshold)) / self.spec.temperature
        if self.mode == "threshold":
            return (s - self.spec.threshold) / self.spec.temperature
        raise OptionError("classifier output probability: the model gives no logit")

    def prob(self, images: torch.Tensor) -> torch.Tensor:
        """P(positive) ``(N,)``; differentiable. The only place a sigmoid is applied."""
        if self.mode == "probability":
            return self.model.score(images)
        return torch.sigmoid(self.logit(images))

    def bce(self, images: torch.Tensor, target: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
        """Cross-entropy of C's positive score toward ``target`` (one squashing, stable form)."""
        target = target.to(images.dtype)
        if self.mode == "probability":
            p = self.model.score(images).clamp(1e-6, 1 - 1e-6)
            return F.binary_cross_entropy(p, target, reduction=reduction)
        return F.binary_cross_entropy_with_logits(self.logit(images), target, reduction=reduction)

    @torch.no_grad()
    def prob_batched(self, images: torch.Tensor, batch: int = 64) -> torch.Tensor:
        return torch.cat([self.prob(images[i:i + batch]) for i in range(0, len(images), batch)])

    def as_model(self) -> Any:
        """C with the positive score as its output, for ``seegaan.explain.attribute`` (Grad-CAM,
        IG on the same f as LIG)."""
        return _PositiveScoreModel(self)

    def describe(self) -> dict[str, Any]:
        return {"name": str(self.model.name), "output": self.mode, "spec": self.spec.to_dict(),
                "input_adapter": self.model.adapter.to_dict(), "sha256": fingerprint(self.model)}


class _PositiveScoreModel(ExplainableModel):
    """An ExplainableModel whose score is P(positive): C's layers, C's adapter, one sigmoid."""

    def __init__(self, positive: PositiveClass) -> None:
        inner = positive.model
        super().__init__(f"{inner.name} (P positive)", inner.adapter)
        self.positive, self.inner = positive, inner
        self.gradcam_unavailable = inner.gradcam_unavailable

    def score(self, images: torch.Tensor) -> torch.Tensor:
        return self.positive.prob(images)

    def gradcam_layer(self):
        return self.inner.gradcam_layer()
