"""Occlusion (Zeiler and Fergus 2014), through Captum: the score change when a patch is greyed.

The GVR paper's baseline. Options (``ctx.options["occlusion"]``): ``window`` (patch side in
pixels; default 1/8 of the image), ``stride`` (default half the window), ``batch_size``
(64 occluded copies per forward pass). Patches are set to the image the model reads as
zero, as Integrated Gradients' baseline is. Forward calls only: no gradients needed.
"""

from __future__ import annotations

import torch

from seegaan.explain.methods._gradient import to_map
from seegaan.explain.methods.base import Case, Context, Explanation, Method


class Occlusion(Method):
    name = "occlusion"
    title = "Occlusion"

    def run(self, case: Case, ctx: Context) -> Explanation:
        from captum.attr import Occlusion as CaptumOcclusion

        x = case.image.detach().clone().float()
        side = int(x.shape[-1])
        window = int(ctx.option(self.name, "window", max(2, side // 8)))
        stride = int(ctx.option(self.name, "stride", max(1, window // 2)))
        with torch.no_grad():
            a = CaptumOcclusion(ctx.model.score).attribute(
                x, sliding_window_shapes=(1, window, window), strides=(1, stride, stride),
                baselines=ctx.model.adapter.zero_point(),
                perturbations_per_eval=int(ctx.option(self.name, "batch_size", 64)))
        n = ((side - window) // stride + 1) ** 2
        return self.explanation(map=to_map(a, tuple(x.shape[-2:]), ctx, self.title),
                                scalars={"model_calls": n + 1, "window": window, "stride": stride})
