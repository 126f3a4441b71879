"""Attribution baselines through Captum: vanilla gradient, Grad-CAM, Integrated Gradients, SmoothGrad.

Nothing here re-derives a method; each is one Captum ``attribute`` call on the same forward
function, ``images in [-1, 1] -> input adapter -> model -> chosen output``. Attributions are
therefore taken with respect to the SEE-GAAN image itself, at its own size, and line up
pixel for pixel with the sequences and subtraction maps shown beside them.

Example::

    maps = attribute(model, images)             # {"saliency": (N,1,S,S), "gradcam": ..., ...}
    maps = attribute(model, images, methods=("saliency",))
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from seegaan.errors import ModelError, OptionError
from seegaan.explain.models import ExplainableModel

METHODS = ("saliency", "gradcam", "ig", "smoothgrad")
TITLES = {"saliency": "Vanilla gradient", "gradcam": "Grad-CAM", "ig": "Integrated Gradients",
          "smoothgrad": "SmoothGrad"}


@dataclass
class AttributionSettings:
    ig_steps:      int = 32      # Riemann steps of Integrated Gradients (Captum's n_steps)
    sg_samples:    int = 16      # noisy copies SmoothGrad averages
    sg_stdev:      float = 0.3   # noise s.d. on the [-1, 1] scale (15% of the range, as Smilkov et al. suggest)
    batch_size:    int = 16      # images per Captum call (IG expands each by ig_steps)
    seed:          int = 0       # SmoothGrad's noise


def parse_methods(text: str | Sequence[str]) -> tuple[str, ...]:
    items = [t.strip().lower() for t in (text.split(",") if isinstance(text, str) else text)]
    items = [t for t in items if t]
    bad = [t for t in items if t not in METHODS]
    if bad:
        raise OptionError(f"--attributions {bad[0]}: unknown method (choose from {', '.join(METHODS)})")
    return tuple(dict.fromkeys(items))


def attribute(model: ExplainableModel, images: torch.Tensor,
              methods: Sequence[str] = METHODS,
              settings: AttributionSettings | None = None) -> dict[str, np.ndarray]:
    """Attribution maps ``{method: float32 (N, 1, S, S)}`` for images ``(N, 1, S, S)`` in [-1, 1].

    Saliency and SmoothGrad are absolute gradients (Simonyan et al.'s convention); Grad-CAM
    is ReLU'd and bilinearly upsampled from the last conv block; Integrated Gradients keeps
    its sign, from the baseline the model sees as zero. Raises :class:`ModelError` for a
    model without gradients (ONNX) and for a Grad-CAM request the model cannot serve.
    """
    from captum.attr import (
        IntegratedGradients,
        LayerAttribution,
        LayerGradCam,
        NoiseTunnel,
        Saliency,
    )

    methods = parse_methods(methods)
    s = settings or AttributionSettings()
    if not methods:
        return {}
    model.require_gradients(", ".join(methods))
    if images.ndim != 4 or images.shape[1] != 1:
        raise ModelError(f"expected images of shape (N, 1, S, S), got {tuple(images.shape)}")
    layer = None
    if "gradcam" in methods:
        layer = model.gradcam_layer()
        if layer is None:
            raise ModelError(f"{model.name}: Grad-CAM unavailable ({model.gradcam_unavailable})")

    forward = model.score
    size = images.shape[-2:]
    baseline_value = model.adapter.zero_point()
    out: dict[str, list[np.ndarray]] = {m: [] for m in methods}
    for i in range(0, len(images), s.batch_size):
        # A private copy that requires grad: the caller's tensor is never modified.
        x = images[i:i + s.batch_size].detach().clone().float().requires_grad_(True)
        for m in methods:
            if m == "saliency":
                a = Saliency(forward).attribute(x, abs=True)
            elif m == "smoothgrad":
                with torch.random.fork_rng(devices=[]):
                    torch.manual_seed(s.seed + i)
                    a = NoiseTunnel(Saliency(forward)).attribute(
                        x, nt_type="smoothgrad", nt_samples=s.sg_samples, stdevs=s.sg_stdev,
                        nt_samples_batch_size=s.batch_size, abs=True)
            elif m == "ig":
                base = torch.full_like(x, baseline_value)
                a = IntegratedGradients(forward).attribute(
                    x, baselines=base, n_steps=s.ig_steps, internal_batch_size=s.batch_size * 4)
            else:  # gradcam
                cam = LayerGradCam(forward, layer).attribute(x, relu_attributions=True)
                if cam.ndim != 4:
                    raise ModelError(f"{model.name}: Grad-CAM layer output is not a feature map "
                                     f"(shape {tuple(cam.shape)}); pick one with --gradcam-layer")
                cam = cam.sum(dim=1, keepdim=True)
                # Captum's own upsampling helper; the feature map is at the model's input
                # size scale, so map it straight to the SEE-GAAN image size.
                a = LayerAttribution.interpolate(cam, tuple(size), interpolate_mode="bilinear")
            a = a.detach().float()
            if a.shape[-2:] != size:  # defensive: keep the promise "same shape as the input"
                a = F.interpolate(a, size=tuple(size), mode="bilinear", align_corners=False)
            a = a.cpu().numpy().astype(np.float32)
            if not np.isfinite(a).all():
                # Hiding NaN would show a clean map for a broken model; say so instead.
                raise ModelError(f"{model.name}: {TITLES[m]} produced NaN or infinite values "
                                 "(the model's gradient is not finite on these images)")
            out[m].append(a)
    return {m: np.concatenate(v) for m, v in out.items()}
