"""Integrated Gradients (Sundararajan et al. 2017), from the image the model reads as zero.

Options (``ctx.options["ig"]``): ``steps`` (32 Riemann steps), ``batch_size`` (64 images
per internal batch). The map keeps its sign.
"""

from __future__ import annotations

import torch

from seegaan.explain.methods._gradient import input_copy, to_map
from seegaan.explain.methods.base import Case, Context, Explanation, Method


class IntegratedGradients(Method):
    name = "ig"
    title = "Integrated Gradients"
    needs_gradients = True

    def run(self, case: Case, ctx: Context) -> Explanation:
        from captum.attr import IntegratedGradients as CaptumIG

        steps = int(ctx.option(self.name, "steps", 32))
        x = input_copy(case)
        base = torch.full_like(x, ctx.model.adapter.zero_point())
        a = CaptumIG(ctx.model.score).attribute(
            x, baselines=base, n_steps=steps,
            internal_batch_size=int(ctx.option(self.name, "batch_size", 64)))
        return self.explanation(map=to_map(a, tuple(x.shape[-2:]), ctx, self.title),
                                scalars={"model_calls": steps})
