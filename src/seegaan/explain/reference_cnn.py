"""The reference CNN: a torchvision ResNet that regresses log BNPP from one radiograph.

The paper's BNPP-CNN was a ResNet152 at 256 x 256; at 64 x 64 on a CPU a ResNet10/18 has
ample capacity. The network outputs the target on its own log scale (the training
standardisation is folded into two buffers), so every tool can read the prediction without
knowing how it was trained.

A CNN directory holds, in the nanoGPT / stylegan habit of checkpoints that describe
themselves::

    model.safetensors   the state dict (what seegaan loads: no code runs on loading)
    model.pt            TorchScript, for users of other tools
    config.json         {"format": "seegaan-cnn", "model": {...}, "input_adapter": {...}, ...}

Example::

    cnn = load_reference_cnn("runs/cnn")         # ReferenceCNN in eval mode
    log_bnpp = cnn(images)[:, 0]                  # (N, 1, 64, 64) in [-1, 1]
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torchvision.models.resnet import BasicBlock, ResNet

from seegaan.errors import ModelError, OptionError
from seegaan.utils.fsio import read_json

FORMAT = "seegaan-cnn"
ARCHS: dict[str, list[int]] = {        # BasicBlock counts per stage
    "resnet10": [1, 1, 1, 1],
    "resnet18": [2, 2, 2, 2],
    "resnet34": [3, 4, 6, 3],
}
# Plain conv nets (channels per stage, each stage halving the map): seconds to train on a
# CPU, for the benchmark's models of known reliance (``seegaan benchmark``).
SMALL_ARCHS: dict[str, tuple[int, ...]] = {
    "cnn4": (16, 32, 64, 64),
}


@dataclass
class CNNArch:
    arch:        str = "resnet18"   # one of ARCHS
    in_channels: int = 1            # grey radiographs
    n_outputs:   int = 1            # one regression output (the target, on its training scale)


class ReferenceCNN(nn.Module):
    """A torchvision ResNet (``weights=None``) with a 1-channel stem and a de-standardising head."""

    def __init__(self, arch: CNNArch | None = None) -> None:
        super().__init__()
        arch = arch or CNNArch()
        if arch.arch not in ARCHS and arch.arch not in SMALL_ARCHS:
            raise OptionError(f"--arch {arch.arch}: unknown (choose from "
                              f"{', '.join([*ARCHS, *SMALL_ARCHS])})")
        self.config = arch
        if arch.arch in SMALL_ARCHS:
            self.net = _small_net(SMALL_ARCHS[arch.arch], arch.in_channels, arch.n_outputs)
        else:
            self.net = ResNet(BasicBlock, ARCHS[arch.arch], num_classes=arch.n_outputs)
            # torchvision's stem is RGB; radiographs are grey, so replace it rather than repeat
            # channels.
            self.net.conv1 = nn.Conv2d(arch.in_channels, 64, kernel_size=7, stride=2, padding=3,
                                       bias=False)
        # The net learns a standardised target; these buffers map its output back to the
        # target's log scale, so the saved model speaks in log BNPP directly.
        self.register_buffer("y_mean", torch.zeros(arch.n_outputs))
        self.register_buffer("y_std", torch.ones(arch.n_outputs))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x) * self.y_std + self.y_mean


def _small_net(widths: tuple[int, ...], in_channels: int, n_outputs: int) -> nn.Sequential:
    """Conv-BN-ReLU stages, max-pooling between them (not after the last), mean-pooled head."""
    layers: list[nn.Module] = []
    c = in_channels
    for i, w in enumerate(widths):
        block = [nn.Conv2d(c, w, 3, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU()]
        if i < len(widths) - 1:
            block.append(nn.MaxPool2d(2))
        layers.append(nn.Sequential(*block))
        c = w
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, n_outputs))


def save_reference_cnn(model: ReferenceCNN, out_dir: str | os.PathLike, config: dict[str, Any]) -> None:
    """Write ``model.safetensors``, ``model.pt`` (TorchScript) and ``config.json`` into ``out_dir``."""
    from safetensors.torch import save_file

    from seegaan.utils.fsio import fix_mode, write_json

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model = model.eval().cpu()
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(out / "model.safetensors"))
    fix_mode(out / "model.safetensors")  # save_file writes 0600 whatever the umask
    size = int(config.get("input_adapter", {}).get("size") or 64)
    example = torch.zeros(2, model.config.in_channels, size, size)
    import warnings

    with warnings.catch_warnings():
        # torch.jit.trace is deprecated in recent torch but remains the portable format that
        # C++, Java and older Python tools can load; the deprecation is not the user's concern.
        warnings.simplefilter("ignore", FutureWarning)
        traced = torch.jit.trace(model, example)
    traced.save(str(out / "model.pt"))
    full = {"format": FORMAT, "version": 1, "model": asdict(model.config)}
    full.update(config)
    write_json(out / "config.json", full)


def is_cnn_dir(path: str | os.PathLike) -> bool:
    p = Path(path)
    return p.is_dir() and (p / "config.json").is_file() and (p / "model.safetensors").is_file()


def load_reference_cnn(path: str | os.PathLike) -> tuple[ReferenceCNN, dict[str, Any]]:
    """Rebuild a CNN directory's model from its config and safetensors (no pickle, no TorchScript).

    Rebuilding keeps the Python modules, so Grad-CAM can hook ``layer4``; a TorchScript graph
    inlines its layers and offers no such hook.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    root = Path(path)
    config = read_json(root / "config.json")
    if config.get("format") != FORMAT:
        raise ModelError(f"{root / 'config.json'}: not a seegaan CNN directory (format is "
                         f"{config.get('format')!r}, expected {FORMAT!r})")
    try:
        arch = CNNArch(**config.get("model", {}))
        model = ReferenceCNN(arch)
        state = load_file(str(root / "model.safetensors"))
        model.load_state_dict(state, strict=True)
    except (SafetensorError, RuntimeError, TypeError, OSError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ModelError(f"{root / 'model.safetensors'}: does not load ({first})") from None
    return model.eval(), config
