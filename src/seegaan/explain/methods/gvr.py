"""GVR (Generative Visual Rationales) as a registered explanation method.

The frames are the rationale path, decoded: the film's latent code moved by gradient steps on
a *latent predictor* until its prediction crosses the cut-off (a film predicted positive is
moved down to it, one predicted negative up). The map is the last frame minus the first.

GVR explains a predictor of the latent code, not the CNN itself. The predictor comes from
``ctx.options["gvr"]["predictor"]`` (a :class:`seegaan.gvr.LatentPredictor` or the path of a
directory written by ``seegaan gvr fit``). **When there is none**, a linear one (ridge on
log ``ctx.target`` when ``ctx.log_scale``) is fitted on ``ctx.table`` at ``ctx.threshold``
and kept in ``ctx.cache["gvr/predictor"]``, so every case of a run shares it.

Other options (``ctx.options["gvr"]``): ``beta`` (0.5), ``step`` (0.002), ``max_steps``
(2000), ``frames`` (8), ``margin`` (0), ``goal`` ("cross", or "truth": move to the case's
true value when it has one).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from seegaan.explain.methods.base import SEQUENCE, Case, Context, Explanation, Method

CACHE_KEY = "gvr/predictor"


class GVR(Method):
    name = "gvr"
    title = "GVR (generative visual rationale)"
    kind = SEQUENCE
    needs_model = False
    needs_gradients = False
    needs_autoencoder = True

    def unavailable(self, ctx: Context) -> str | None:
        reason = super().unavailable(ctx)
        if reason:
            return reason
        if ctx.option(self.name, "predictor", None) is None and CACHE_KEY not in ctx.cache:
            if ctx.table is None:
                return "needs a latent predictor or a latent table to fit one on"
            if ctx.target not in ctx.table.meta.columns:
                return f"needs a '{ctx.target}' column in the latent table to fit a predictor"
        return None

    def predictor(self, ctx: Context):
        """The run's predictor: given, cached, or fitted once on ``ctx.table`` (see module doc)."""
        from seegaan.gvr import PredictorConfig, fit_predictor, load_predictor

        given = ctx.option(self.name, "predictor", None)
        if given is not None:
            if isinstance(given, str) or hasattr(given, "__fspath__"):
                key = f"{CACHE_KEY}:{given}"
                if key not in ctx.cache:
                    ctx.cache[key] = load_predictor(given)
                given = ctx.cache[key]
            return given
        if CACHE_KEY not in ctx.cache:
            cfg = PredictorConfig(target=ctx.target, architecture="linear", log_scale=ctx.log_scale,
                                  threshold=ctx.threshold, seed=ctx.seed)
            ctx.cache[CACHE_KEY], _ = fit_predictor(ctx.table, cfg)
        return ctx.cache[CACHE_KEY]

    def run(self, case: Case, ctx: Context) -> Explanation:
        from seegaan.gvr.explain import GVRConfig, crossing_goal, decode_paths
        from seegaan.gvr.predictor import check_latent_width
        from seegaan.gvr.rationale import find_rationale
        from seegaan.latent import encode_images

        pred = self.predictor(ctx)
        opt: dict[str, Any] = ctx.options.get(self.name, {})
        cfg = GVRConfig(**{k: opt[k] for k in ("beta", "step", "max_steps", "frames", "margin")
                           if k in opt})
        cfg.check()
        w0 = case.w if case.w is not None else encode_images(ctx.autoencoder, case.image)[0]
        w0 = np.asarray(w0, dtype=np.float32).reshape(1, -1)
        check_latent_width(pred, w0.shape[1], "case's latent code")
        start = pred.predict(w0)
        if opt.get("goal", "cross") == "truth" and case.truth is not None:
            goal = np.array([pred.scale(float(case.truth))])
        else:
            goal = crossing_goal(pred, start, cfg.margin)
        res = find_rationale(pred, w0, goal, cfg.rationale_config())
        path = decode_paths(ctx.autoencoder, pred, res, cfg.frames)[0]
        return self.explanation(map=path.frames[-1] - path.frames[0], frames=path.frames,
                                steps=path.steps, step_name="step", predictions=path.predictions,
                                scalars={**path.record, "predictor": pred.describe()},
                                status=path.record["status"], message=path.record.get("reason", ""))
