"""The perceptual term of the reconstruction loss.

- ``vgg``: ImageNet VGG16 features from a local torchvision state dict (as in the reference):
  five layers (relu1_2, relu2_2, relu3_3, relu4_3, relu5_3), each standardised by the real
  image's feature mean and std, compared by MSE. Loaded with ``weights_only=True``.
- ``ssim``: the weight-free substitute, multi-scale (1 - SSIM)
  (:func:`seegaan.train.metrics.multiscale_ssim_loss`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from seegaan.errors import OptionError
from seegaan.train.metrics import multiscale_ssim_loss

VGG_LAYERS = (3, 8, 15, 22, 29)  # indices of relu1_2, relu2_2, relu3_3, relu4_3, relu5_3


class VGGPerceptual(nn.Module):
    """VGG16 feature distance; frozen, used only as a loss."""

    def __init__(self,
                 weights_path:  str,   # a torchvision vgg16 state dict saved with torch.save
                                       # (the whole model's, or only its features.* entries)
                 ) -> None:
        super().__init__()
        from torchvision.models.vgg import cfgs, make_layers

        from seegaan.models.checkpoint import torch_load_weights

        state = torch_load_weights(weights_path, f"--vgg-weights {weights_path}", OptionError)
        # Only VGG16's convolutional trunk is used, so only it is built (the classifier's
        # 120 M parameters would cost seconds to initialise for nothing); a full torchvision
        # state dict and a features-only one (58 MB instead of 528 MB) both load.
        trunk = make_layers(cfgs["D"])
        if not isinstance(state, dict) or not any(str(k).startswith("features.") for k in state):
            raise OptionError(f"--vgg-weights {weights_path}: not a torchvision vgg16 state dict "
                              "(no features.* entries)")
        trunk_state = {k[len("features."):]: v for k, v in state.items()
                       if k.startswith("features.")}
        try:
            trunk.load_state_dict(trunk_state)
        except (RuntimeError, TypeError) as err:
            raise OptionError(f"--vgg-weights {weights_path}: not a torchvision vgg16 state dict "
                              f"({str(err).splitlines()[0]})") from None
        self.features = trunk[: VGG_LAYERS[-1] + 1].eval().requires_grad_(False)
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))

    def _feats(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = ((x + 1) / 2).expand(-1, 3, -1, -1)
        x = (x - self.mean) / self.std
        out = []
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i in VGG_LAYERS:
                out.append(x)
        return out

    def forward(self, fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
        total = fake.new_zeros(())
        for ff, fr in zip(self._feats(fake), self._feats(real)):
            # One mean and std per layer (not per channel): dead ReLU channels would make a
            # per-channel std near zero and blow the loss up.
            mu = fr.mean().detach()
            sd = fr.std().detach() + 1e-6
            total = total + F.mse_loss((ff - mu) / sd, (fr.detach() - mu) / sd)
        return total


class SSIMPerceptual(nn.Module):
    """Multi-scale (1 - SSIM): the documented weight-free substitute."""

    def forward(self, fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
        return multiscale_ssim_loss(fake, real)


def build_perceptual(perceptual: str, vgg_weights: str | None, vgg_weight: float,
                     ssim_weight: float) -> tuple[nn.Module | None, float, str]:
    """``(module, weight, resolved name)`` for the training options."""
    if perceptual == "auto":
        perceptual = "vgg" if vgg_weights else "ssim"
    if perceptual == "vgg":
        return VGGPerceptual(vgg_weights), vgg_weight, "vgg"
    if perceptual == "ssim":
        return SSIMPerceptual(), ssim_weight, "ssim"
    return None, 0.0, "none"
