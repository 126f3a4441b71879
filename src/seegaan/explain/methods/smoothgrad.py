"""SmoothGrad (Smilkov et al. 2017): the vanilla gradient averaged over noisy copies.

Options (``ctx.options["smoothgrad"]``): ``samples`` (16), ``stdev`` (0.3 on the [-1, 1]
scale, i.e. 15% of the range, as the paper suggests), ``batch_size`` (16).
"""

from __future__ import annotations

import torch

from seegaan.explain.methods._gradient import input_copy, to_map
from seegaan.explain.methods.base import Case, Context, Explanation, Method


class SmoothGrad(Method):
    name = "smoothgrad"
    title = "SmoothGrad"
    needs_gradients = True

    def run(self, case: Case, ctx: Context) -> Explanation:
        from captum.attr import NoiseTunnel, Saliency

        n = int(ctx.option(self.name, "samples", 16))
        x = input_copy(case)
        with torch.random.fork_rng(devices=[]):
            # Seeded per case, so a case's map does not depend on which cases ran before it.
            torch.manual_seed(ctx.seed + _stable_hash(case.image_id))
            a = NoiseTunnel(Saliency(ctx.model.score)).attribute(
                x, nt_type="smoothgrad", nt_samples=n,
                stdevs=float(ctx.option(self.name, "stdev", 0.3)),
                nt_samples_batch_size=int(ctx.option(self.name, "batch_size", 16)), abs=True)
        return self.explanation(map=to_map(a, tuple(x.shape[-2:]), ctx, self.title),
                                scalars={"model_calls": n})


def _stable_hash(text: str) -> int:
    # Python's hash() of a str changes between runs; this one does not.
    import zlib

    return zlib.crc32(str(text).encode()) % (2**31)
