"""SEE-GAAN local sequence: one patient's latent code moved along a direction, frame by frame.

``frame_λ = G(w_E + λ d)`` for λ from 0 to ``lambda_max`` (``d``: the case's direction,
e.g. ``w̄_desired − w̄_current`` between the classes of a latent table). Frame 0 is the
reconstruction ``G(w_E)``; the variant ``+residual`` keeps the film's own detail instead
(``x + G(w(λ)) − G(w_E)``, frame 0 = the film). Its pixel map is the last frame minus the
first, which is the same for both variants. Options (``ctx.options["seegaan_local"]``):
``frames`` (8), ``lambda_max`` (1.0), ``residual`` (False).
"""

from __future__ import annotations

import numpy as np

from seegaan.explain.methods._sequence import decode_path, latents, scores
from seegaan.explain.methods.base import SEQUENCE, Case, Context, Explanation, Method


class SeeGaanLocal(Method):
    name = "seegaan_local"
    title = "SEE-GAAN local sequence"
    kind = SEQUENCE
    needs_model = False
    needs_autoencoder = True
    variants = {"residual": {"residual": True}}

    def run(self, case: Case, ctx: Context) -> Explanation:
        n = int(ctx.option(self.name, "frames", 8))
        lam_max = float(ctx.option(self.name, "lambda_max", 1.0))
        residual = bool(ctx.option(self.name, "residual", False))
        w, d = latents(case, ctx, "local sequence")
        lams = np.linspace(0.0, lam_max, n)
        frames = decode_path(ctx, w, d, lams, case.image if residual else None)
        preds = scores(ctx, frames)
        return self.explanation(frames=frames, steps=lams, step_name="lambda", predictions=preds,
                                scalars={"lambda_max": lam_max, "residual": residual,
                                         "decoder_calls": n,
                                         "model_calls": 0 if preds is None else n})
