"""medXGAN as a registered method: the alpha class sequence, with Latent Integrated Gradients as its map.

It needs a medXGAN checkpoint trained against the model being explained. The checkpoint is
``ctx.options["medxgan"]["checkpoint"]`` (a directory, or ``"demo"`` for the bundled one);
without that option the bundled checkpoint is used only when the model is exactly the
classifier it was trained against (same weights sha256, i.e. the demo's reference CNN), and
the method says it is unavailable otherwise.

Options (``ctx.options["medxgan"]``): ``checkpoint``, ``restarts`` (4), ``steps`` (150),
``frames`` (9), ``lig_steps`` (32). The inversion budget is half the CLI's (8 x 300) because
a benchmark explains many cases; raise it for a closer fit.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from seegaan.explain.methods.base import SEQUENCE, Case, Context, Explanation, Method

CACHE_KEY = "medxgan"


def _resolve(ctx: Context) -> dict[str, Any]:
    """Load (once per run) the generator and C; {"error": reason} when they cannot be had."""
    if CACHE_KEY in ctx.cache:
        return ctx.cache[CACHE_KEY]
    from seegaan.errors import SeegaanError
    from seegaan.medxgan.checkpoint import load_medxgan
    from seegaan.medxgan.explainer import classifier_for

    given = ctx.option("medxgan", "checkpoint", None)
    try:
        G, info = load_medxgan(given)
        C, exact = classifier_for(ctx.model, info)
    except SeegaanError as err:
        out = {"error": str(err)}
    else:
        if given is None and not exact:
            out = {"error": "needs a medXGAN checkpoint trained against this model "
                            "(options medxgan.checkpoint; the bundled one explains the demo's "
                            "reference CNN only)"}
        else:
            out = {"G": G, "C": C, "info": info, "exact": exact}
    ctx.cache[CACHE_KEY] = out
    return out


class MedXGANMethod(Method):
    name = "medxgan"
    title = "medXGAN (LIG)"
    kind = SEQUENCE
    needs_model = True
    needs_gradients = True

    def unavailable(self, ctx: Context) -> str | None:
        why = super().unavailable(ctx)
        if why:
            return why
        return _resolve(ctx).get("error")

    def run(self, case: Case, ctx: Context) -> Explanation:
        import torch

        from seegaan.medxgan.explainer import ExplainSettings, explain_film
        from seegaan.medxgan.invert import InversionSettings

        r = _resolve(ctx)
        if "error" in r:
            return self.explanation(status="skipped", message=r["error"])
        opt = lambda k, d: ctx.option("medxgan", k, d)  # noqa: E731
        settings = ExplainSettings(
            inversion=InversionSettings(restarts=int(opt("restarts", 4)), steps=int(opt("steps", 150)),
                                        seed=ctx.seed),
            frames=int(opt("frames", 9)), lig_steps=int(opt("lig_steps", 32)))
        res = explain_film(r["G"], r["C"], case.image.detach().float(), settings)
        frames = res.sequence.frames
        with torch.no_grad():
            pred = ctx.model.predict(torch.from_numpy(frames[:, None]))
        scalars = {**res.summary(), "checkpoint": r["info"].get("path"),
                   "classifier_exact": r["exact"]}
        return self.explanation(map=res.lig, frames=frames, steps=res.sequence.alphas,
                                step_name="alpha", predictions=np.asarray(pred, dtype=np.float64),
                                scalars=scalars)
