"""Grad-CAM (Selvaraju et al. 2017) on the model's last feature map of at least 8 x 8.

Which layer: ``--gradcam-layer NAME`` when given (the model's ``gradcam_layer`` setting),
otherwise the last layer whose map is at least 8 x 8 at the model's input size
(:func:`seegaan.explain.loading.choose_gradcam_layer`); the name used is recorded in the
explanation's scalars. The ReLU'd map is upsampled bilinearly to the image size.
"""

from __future__ import annotations

from seegaan.errors import ModelError
from seegaan.explain.methods._gradient import input_copy, to_map
from seegaan.explain.methods.base import Case, Context, Explanation, Method


class GradCAM(Method):
    name = "gradcam"
    title = "Grad-CAM"
    needs_gradients = True

    def unavailable(self, ctx: Context) -> str | None:
        why = super().unavailable(ctx)
        if why is None and ctx.model.gradcam_layer() is None:
            why = f"Grad-CAM unavailable ({ctx.model.gradcam_unavailable})"
        return why

    def run(self, case: Case, ctx: Context) -> Explanation:
        from captum.attr import LayerAttribution, LayerGradCam

        layer = ctx.model.gradcam_layer()
        if layer is None:
            raise ModelError(f"{ctx.model.name}: Grad-CAM unavailable ({ctx.model.gradcam_unavailable})")
        x = input_copy(case)
        cam = LayerGradCam(ctx.model.score, layer).attribute(x, relu_attributions=True)
        if cam.ndim != 4:
            raise ModelError(f"{ctx.model.name}: Grad-CAM layer output is not a feature map "
                             f"(shape {tuple(cam.shape)}); pick one with --gradcam-layer")
        side = int(cam.shape[-1])
        cam = LayerAttribution.interpolate(cam.sum(dim=1, keepdim=True), tuple(x.shape[-2:]),
                                           interpolate_mode="bilinear")
        return self.explanation(map=to_map(cam, tuple(x.shape[-2:]), ctx, self.title),
                                scalars={"model_calls": 1,
                                         "layer": getattr(ctx.model, "gradcam_layer_name", None),
                                         "layer_side": side})
