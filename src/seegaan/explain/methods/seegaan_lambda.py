"""SEE-GAAN λ search: the smallest step along the latent direction that brings the model's
prediction to a target (for a false positive or negative: its true value).

Bracket then bisect on ``f(λ) = model(G(w_E + λ d))``, forward calls only
(:func:`seegaan.explain.search_lambda`). Frames: ``G(w_E)``, the half-way step and the step
found (or ``lambda_max`` when the target is unreachable); ``+residual`` adds the film's own
detail as in the local sequence, and then searches on those frames. The target is
``case.meta["lambda_target"]`` when set, else ``case.truth`` (original units). Options
(``ctx.options["seegaan_lambda"]``): ``tol`` (0.01), ``lambda_max`` (4.0), ``max_calls`` (60),
``residual`` (False).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from seegaan.errors import OptionError
from seegaan.explain.lambda_search import comparison_scale, search_lambda
from seegaan.explain.methods._sequence import decode_path, latents
from seegaan.explain.methods.base import SEQUENCE, Case, Context, Explanation, Method


class SeeGaanLambda(Method):
    name = "seegaan_lambda"
    title = "SEE-GAAN λ search"
    kind = SEQUENCE
    needs_autoencoder = True
    variants = {"residual": {"residual": True}}

    def run(self, case: Case, ctx: Context) -> Explanation:
        target = case.meta.get("lambda_target", case.truth)
        if target is None:
            raise OptionError(f"λ search {case.image_id}: no target value (case.truth)")
        residual = bool(ctx.option(self.name, "residual", False))
        lam_max = float(ctx.option(self.name, "lambda_max", 4.0))
        w, d = latents(case, ctx, "λ search")
        model, ae = ctx.model, ctx.autoencoder
        base = None
        if residual:
            with torch.no_grad():
                base = ae.decode(w).float().cpu()

        def f(lam: float) -> float:
            with torch.no_grad():
                g = ae.decode(w + lam * d).float().cpu()
            img = g if base is None else (case.image.float().cpu() + g - base).clamp(-1.0, 1.0)
            return float(comparison_scale(model.predict(img), ctx.log_scale, model.name)[0])

        goal = math.log(float(target)) if ctx.log_scale else float(target)
        res = search_lambda(f, goal, tol=float(ctx.option(self.name, "tol", 0.01)),
                            lam_max=lam_max, max_calls=int(ctx.option(self.name, "max_calls", 60)))
        lam = res.display_lambda
        lams = np.array([0.0, 0.5 * lam, lam])
        frames = decode_path(ctx, w, d, lams, case.image if residual else None)
        preds = model.predict_scores(torch.from_numpy(frames[:, None]))
        scalars = {**res.to_dict(), "residual": residual, "decoder_calls": res.calls + 3,
                   "model_calls": res.calls + 3}
        scalars["prediction_at_lambda"] = float(math.exp(res.value) if ctx.log_scale else res.value)
        return self.explanation(frames=frames, steps=lams, step_name="lambda", predictions=preds,
                                scalars=scalars, status=res.status, message=res.message)
