"""One film explained by medXGAN: inversion, negative realisation, class sequence, LIG.

Example::

    G, info = load_medxgan(None)
    C = classifier_for(load_model("runs/cnn"), info)
    res = explain_film(G, C, x)                 # x: (1, 1, 64, 64) in [-1, 1]
    res.lig, res.sequence.frames, res.inversion.convergence
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from seegaan.medxgan.classifier import PositiveClass, fingerprint
from seegaan.medxgan.config import ClassifierSpec
from seegaan.medxgan.invert import Inversion, InversionSettings, invert
from seegaan.medxgan.lig import ClassSequence, class_sequence, latent_integrated_gradients
from seegaan.medxgan.networks import MedXGANGenerator


@dataclass
class ExplainSettings:
    inversion: InversionSettings = field(default_factory=InversionSettings)
    frames:    int = 9        # frames of the alpha sequence (alpha = 0 ... 1)
    lig_steps: int = 32       # alphas averaged by LIG
    lig_batch: int = 16       # alphas per backward pass


@dataclass
class FilmExplanation:
    image:     np.ndarray       # (S, S) the film
    inversion: Inversion
    sequence:  ClassSequence    # frames[0] = G(z1, 0), the negative realisation
    lig:       np.ndarray       # (S, S)

    @property
    def negative(self) -> np.ndarray:
        return self.sequence.frames[0]

    def summary(self) -> dict[str, Any]:
        return {"inversion": self.inversion.to_dict(), "spearman": self.sequence.spearman,
                "alphas": self.sequence.alphas.tolist(),
                "positive_scores": self.sequence.scores.tolist(),
                "lig_abs_sum": float(np.abs(self.lig).sum())}


def classifier_for(model: Any, info: dict[str, Any]) -> tuple[PositiveClass, bool]:
    """C as the checkpoint defines its positive class, and whether ``model`` is the exact C
    (same weights sha256) the checkpoint was trained against."""
    rec = info.get("classifier") or {}
    spec = ClassifierSpec(**rec.get("spec", {}))
    C = PositiveClass(model, spec, image_size=int(info["model"]["image_size"]))
    sha = rec.get("sha256")
    return C, bool(sha) and sha == fingerprint(model)


def explain_film(G: MedXGANGenerator, C: PositiveClass, x: torch.Tensor,
                 settings: ExplainSettings | None = None) -> FilmExplanation:
    """Invert ``x`` (1, 1, S, S), then build its class sequence and LIG (f = positive score)."""
    s = settings or ExplainSettings()
    inv = invert(G, C, x, s.inversion)
    seq = class_sequence(G, C.prob, inv.z1, inv.z2, frames=s.frames)
    lig = latent_integrated_gradients(G, C.prob, inv.z1, inv.z2, steps=s.lig_steps, batch=s.lig_batch)
    return FilmExplanation(image=x.detach().reshape(x.shape[-2:]).numpy().astype(np.float32),
                           inversion=inv, sequence=seq, lig=lig)
