"""Vanilla gradient (Simonyan et al. 2014): |d score / d pixel|, one backward pass."""

from __future__ import annotations

from seegaan.explain.methods._gradient import input_copy, to_map
from seegaan.explain.methods.base import Case, Context, Explanation, Method


class Saliency(Method):
    name = "saliency"
    title = "Vanilla gradient"
    needs_gradients = True

    def run(self, case: Case, ctx: Context) -> Explanation:
        from captum.attr import Saliency as CaptumSaliency

        x = input_copy(case)
        a = CaptumSaliency(ctx.model.score).attribute(x, abs=True)
        return self.explanation(map=to_map(a, tuple(x.shape[-2:]), ctx, self.title),
                                scalars={"model_calls": 1})
