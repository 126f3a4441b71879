"""Pixel attribution maps for many images at once, through the method registry.

The methods themselves live one per file in :mod:`seegaan.explain.methods` (vanilla gradient,
Grad-CAM, Integrated Gradients, SmoothGrad, Occlusion); this module only runs a chosen set
of them over a batch of images and stacks the maps, for callers that want arrays rather than
per-case explanation folders.

Example::

    maps = attribute(model, images)             # {"saliency": (N,1,S,S), "gradcam": ..., ...}
    maps = attribute(model, images, methods=("saliency",))
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from seegaan.errors import ModelError, OptionError
from seegaan.explain.loading import ExplainableModel
from seegaan.explain.methods import ATTRIBUTION, REGISTRY, Case, Context, get_method

# The package's pixel attribution methods, in registry order.
METHODS = tuple(n for n in REGISTRY if get_method(n).kind == ATTRIBUTION)
TITLES = {n: get_method(n).title for n in REGISTRY}


@dataclass
class AttributionSettings:
    ig_steps:      int = 32      # Riemann steps of Integrated Gradients (Captum's n_steps)
    sg_samples:    int = 16      # noisy copies SmoothGrad averages
    sg_stdev:      float = 0.3   # noise s.d. on the [-1, 1] scale (15% of the range, as Smilkov et al. suggest)
    batch_size:    int = 16      # images per internal Captum batch
    occlusion_window: int | None = None  # occlusion patch side (None: 1/8 of the image)
    seed:          int = 0       # SmoothGrad's noise

    def options(self) -> dict[str, dict[str, Any]]:
        """The same settings as per-method options of a :class:`Context`."""
        occ: dict[str, Any] = {"batch_size": self.batch_size * 4}
        if self.occlusion_window:
            occ["window"] = self.occlusion_window
        return {"ig": {"steps": self.ig_steps, "batch_size": self.batch_size * 4},
                "smoothgrad": {"samples": self.sg_samples, "stdev": self.sg_stdev,
                               "batch_size": self.batch_size},
                "occlusion": occ}


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

    Raises :class:`ModelError` for a model without gradients (ONNX) and for a Grad-CAM
    request the model cannot serve.
    """
    methods = parse_methods(methods)
    s = settings or AttributionSettings()
    if not methods:
        return {}
    if images.ndim != 4 or images.shape[1] != 1:
        raise ModelError(f"expected images of shape (N, 1, S, S), got {tuple(images.shape)}")
    ctx = Context(model=model, seed=s.seed, options=s.options())
    out: dict[str, list[np.ndarray]] = {}
    for m in methods:
        method = get_method(m)
        if method.needs_gradients:
            model.require_gradients(", ".join(methods))
        why = method.unavailable(ctx)
        if why:
            raise ModelError(f"{model.name}: {why}")
        out[m] = [method.run(Case(f"image{i}", images[i:i + 1]), ctx).map[None, None]
                  for i in range(len(images))]
    return {m: np.concatenate(v) for m, v in out.items()}
