"""The input adapter: what a user's model expects, and which of its outputs is "the prediction".

SEE-GAAN works on single-channel images in [-1, 1] at the autoencoder's size. Models in the
wild expect other things: torchxrayvision wants 224 x 224 in [-1024, 1024], ImageNet-style
networks want three normalised channels, a classifier has many outputs of which one matters.
An :class:`InputAdapter` records those expectations once, travels in the model's
``config.json``, and is applied, differentiably, to real and generated images alike, so the
CNN sees SEE-GAAN's frames exactly as it sees radiographs.

Example::

    adapter = InputAdapter(size=224, value_range=(-1024, 1024), activation="sigmoid",
                           output_index=10)
    model_input = adapter.to_model(images)          # (N, 1, 64, 64) in [-1, 1] -> (N, 1, 224, 224)
    score = adapter.select(model(model_input))      # (N,) the chosen output, on the model's scale
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from seegaan.errors import ModelError, OptionError

ACTIVATIONS = ("none", "sigmoid", "softmax")


@dataclass
class InputAdapter:
    size:        int | None = None               # side the model expects; None keeps the image's own
    value_range: tuple[float, float] = (-1.0, 1.0)  # [-1, 1] is mapped linearly onto [lo, hi]
    channels:    int = 1                          # grey is repeated to this many channels (1 or 3)
    mean:        tuple[float, ...] | None = None  # optional per-channel normalisation, after the range map
    std:         tuple[float, ...] | None = None
    output_index: int = 0                         # column of the model's output that is the prediction
    activation:  str = "none"                     # none | sigmoid | softmax, applied before indexing
    log_output:  bool = False                     # the chosen output is log(target): prediction = exp(output)
    label:       str | None = None                # optional name of the chosen output (e.g. "Cardiomegaly")

    def __post_init__(self) -> None:
        self.value_range = tuple(float(v) for v in self.value_range)  # JSON gives lists
        if len(self.value_range) != 2 or not self.value_range[0] < self.value_range[1]:
            raise OptionError(f"input adapter value_range {self.value_range}: need two numbers lo < hi")
        if self.size is not None and int(self.size) < 8:
            raise OptionError(f"input adapter size {self.size}: must be at least 8 pixels")
        if self.channels not in (1, 3):
            raise OptionError(f"input adapter channels {self.channels}: must be 1 or 3")
        if self.activation not in ACTIVATIONS:
            raise OptionError(f"input adapter activation {self.activation!r}: choose from "
                              f"{', '.join(ACTIVATIONS)}")
        if int(self.output_index) < 0:
            raise OptionError(f"input adapter output_index {self.output_index}: must be >= 0")
        for name in ("mean", "std"):
            val = getattr(self, name)
            if val is not None:
                val = tuple(float(v) for v in val)
                if len(val) not in (1, self.channels):
                    raise OptionError(f"input adapter {name} {val}: need 1 or {self.channels} values")
                setattr(self, name, val)
        if self.std is not None and any(s <= 0 for s in self.std):
            raise OptionError(f"input adapter std {self.std}: values must be positive")

    # -- serialisation ------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> InputAdapter:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise OptionError(f"input adapter: unknown key(s) {', '.join(unknown)} "
                              f"(known: {', '.join(sorted(known))})")
        return cls(**d)

    def replace(self, **changes: Any) -> InputAdapter:
        changes = {k: v for k, v in changes.items() if v is not None}
        return dataclasses.replace(self, **changes)

    # -- the image side -----------------------------------------------------------------
    def zero_point(self) -> float:
        """The [-1, 1] grey level that the model sees as 0 (Integrated Gradients' baseline)."""
        lo, hi = self.value_range
        x = -1.0 + 2.0 * (0.0 - lo) / (hi - lo)
        return float(min(1.0, max(-1.0, x)))

    def to_model(self, images: torch.Tensor) -> torch.Tensor:
        """Map ``(N, 1, S, S)`` images in [-1, 1] to the model's input; differentiable."""
        if images.ndim != 4 or images.shape[1] != 1:
            raise ModelError(f"expected images of shape (N, 1, S, S), got {tuple(images.shape)}")
        x = images.float()
        if self.size is not None and x.shape[-1] != int(self.size):
            size = int(self.size)
            # Antialias only when shrinking; bilinear keeps the map differentiable for Captum.
            x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False,
                              antialias=size < x.shape[-1])
        lo, hi = self.value_range
        if (lo, hi) != (-1.0, 1.0):
            x = lo + (x + 1.0) * (0.5 * (hi - lo))
        if self.channels != 1:
            x = x.expand(-1, self.channels, -1, -1)
        if self.mean is not None or self.std is not None:
            mean = torch.tensor(self.mean or (0.0,), dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
            std = torch.tensor(self.std or (1.0,), dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
            x = (x - mean) / std
        return x

    # -- the output side ----------------------------------------------------------------
    def select(self, output: torch.Tensor, where: str = "model") -> torch.Tensor:
        """Pick the prediction column from a model's raw output: ``(N,)`` on the model's scale."""
        if isinstance(output, (tuple, list)):
            output = output[0]
        if not torch.is_tensor(output):
            raise ModelError(f"{where}: returned {type(output).__name__}, expected a tensor")
        out = output.float()
        if out.ndim == 1:
            out = out[:, None]
        if out.ndim != 2:
            out = out.reshape(out.shape[0], -1)
        if self.activation == "sigmoid":
            out = torch.sigmoid(out)
        elif self.activation == "softmax":
            out = torch.softmax(out, dim=1)
        k = int(self.output_index)
        if k >= out.shape[1]:
            raise ModelError(f"{where}: output index {k} is out of range (the model returns "
                             f"{out.shape[1]} output{'s' if out.shape[1] != 1 else ''} per image)")
        return out[:, k]
