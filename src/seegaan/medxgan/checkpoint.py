"""medXGAN checkpoints: ``model.safetensors`` (the EMA generator) + ``config.json``.

``config.json`` records the generator's shape, the classifier it was trained against (name,
how its output became a positive score, the sha256 of its weights) and the training step,
so a checkpoint loads from its own directory and says which C it explains.

Example::

    G, info = load_medxgan(None)              # the bundled 64 x 64 demo checkpoint
    G, info = load_medxgan("runs/mx/best")
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from seegaan.errors import CheckpointError
from seegaan.medxgan.config import MedXGANModelConfig
from seegaan.medxgan.networks import MedXGANGenerator
from seegaan.models.checkpoint import check_state, load_tensors, save_tensors
from seegaan.utils.fsio import read_json, write_json

FORMAT = "seegaan-medxgan"
FORMAT_VERSION = 1
BUNDLED = Path(__file__).resolve().parent.parent / "assets" / "medxgan64"


def write_checkpoint(tmp_dir: Path, generator_state: dict[str, torch.Tensor],
                     cfg: MedXGANModelConfig, classifier: dict[str, Any], step: int,
                     note: str | None = None, extra: dict[str, Any] | None = None) -> None:
    """Fill ``tmp_dir`` (from :func:`~seegaan.utils.fsio.atomic_dir`) with an inference checkpoint."""
    save_tensors(tmp_dir / "model.safetensors", generator_state, metadata={"format": FORMAT})
    doc = {"format": FORMAT, "format_version": FORMAT_VERSION, "model": cfg.to_dict(),
           "classifier": classifier, "step": int(step), **(extra or {})}
    if note:
        doc["note"] = note
    write_json(tmp_dir / "config.json", doc)


def is_checkpoint(path: str | os.PathLike) -> bool:
    p = Path(path)
    return (p / "config.json").is_file() and (p / "model.safetensors").is_file()


def load_medxgan(path: str | os.PathLike | None = None) -> tuple[MedXGANGenerator, dict[str, Any]]:
    """The EMA generator of a checkpoint directory (``None`` or ``"demo"``: the bundled one)."""
    root = BUNDLED if path in (None, "demo") else Path(path)
    if root.is_dir() and not is_checkpoint(root) and is_checkpoint(root / "best"):
        root = root / "best"  # a training run directory: use its best checkpoint
    if not is_checkpoint(root):
        raise CheckpointError(f"{root}: not a medXGAN checkpoint (needs config.json and "
                              "model.safetensors; a training run's best/ or last/)")
    doc = read_json(root / "config.json")
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise CheckpointError(f"{root / 'config.json'}: not a medXGAN checkpoint (format field)")
    if int(doc.get("format_version", 0)) > FORMAT_VERSION:
        raise CheckpointError(f"{root}: written by a newer seegaan; upgrade seegaan")
    cfg = MedXGANModelConfig.from_dict(doc["model"])
    G = MedXGANGenerator(cfg)
    tensors, meta = load_tensors(root / "model.safetensors")
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{root / 'model.safetensors'}: not medXGAN weights")
    check_state(G.state_dict(), tensors, str(root / "model.safetensors"))
    G.load_state_dict(tensors)
    G.eval().requires_grad_(False)
    doc["path"] = str(root)
    return G, doc
