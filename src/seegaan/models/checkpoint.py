"""Safe checkpoint files: ``safetensors`` tensors plus a JSON config, never pickles.

An inference checkpoint is a directory holding

- ``model.safetensors``: the EMA encoder, mapping and generator (keys ``encoder.*``,
  ``mapping.*``, ``generator.*``); its metadata records the format and a hash of the model
  config it was written with;
- ``config.json``: the :class:`~seegaan.config.ModelConfig` fields (``preset``,
  ``image_size``, ``w_dim``, ...) plus ``format`` and the training ``step``.

Loading checks, before any tensor reaches a model, that the file is really safetensors (a
pickle or ``torch.save`` zip is refused, never opened), that the config hash matches, and
that every tensor has exactly the expected name, shape and dtype.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from seegaan.config import ModelConfig
from seegaan.errors import CheckpointError
from seegaan.utils.fsio import atomic_temp_path, read_json

FORMAT = "seegaan-autoencoder"
FORMAT_VERSION = 1
WEIGHTS = "model.safetensors"
CONFIG = "config.json"
# Keys of config.json that are not ModelConfig fields.
CONFIG_EXTRAS = ("format", "format_version", "step", "note")


def config_hash(cfg: ModelConfig) -> str:
    """A stable hash of a model config, stored in the weights to catch mismatched pairs."""
    text = json.dumps(cfg.to_dict(), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _sniff(path: Path) -> None:
    """Refuse anything that is not a safetensors file without parsing it as anything else."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(9)
        size = path.stat().st_size
    except FileNotFoundError:
        raise CheckpointError(f"{path}: file not found") from None
    if head[:2] in (b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05") or head[:4] == b"PK\x03\x04":
        raise CheckpointError(f"{path}: this is a pickle / torch.save file; seegaan only loads "
                              "safetensors checkpoints (pickles can run code when opened)")
    if len(head) < 9 or head[8:9] != b"{" or int.from_bytes(head[:8], "little") > size - 8:
        raise CheckpointError(f"{path}: not a safetensors file (bad header)")


def save_tensors(path: str | os.PathLike, tensors: dict[str, torch.Tensor],
                 metadata: dict[str, str] | None = None) -> None:
    """Write tensors as safetensors atomically (contiguous CPU copies; shared storage allowed)."""
    path = Path(path)
    data = {k: v.detach().to("cpu").contiguous().clone() for k, v in tensors.items()}
    tmp = atomic_temp_path(path)
    try:
        save_file(data, str(tmp), metadata=metadata)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def load_tensors(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Read a safetensors file (and its metadata), refusing pickles and corrupt files."""
    path = Path(path)
    _sniff(path)
    try:
        tensors = load_file(str(path))
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as fh:
            meta = fh.metadata() or {}
    except (SafetensorError, OSError, ValueError) as err:
        raise CheckpointError(f"{path}: unreadable safetensors file ({err})") from None
    return tensors, meta


def check_state(expected: dict[str, torch.Tensor], found: dict[str, torch.Tensor], source: str) -> None:
    """Every expected tensor present with its shape and dtype, and nothing else."""
    missing = sorted(set(expected) - set(found))
    extra = sorted(set(found) - set(expected))
    if missing:
        raise CheckpointError(f"{source}: missing tensor(s) {', '.join(missing[:3])}"
                              f"{' ...' if len(missing) > 3 else ''} (not a checkpoint of this model)")
    if extra:
        raise CheckpointError(f"{source}: unexpected tensor(s) {', '.join(extra[:3])}"
                              f"{' ...' if len(extra) > 3 else ''}")
    for k, ref in expected.items():
        t = found[k]
        if tuple(t.shape) != tuple(ref.shape):
            raise CheckpointError(f"{source}: tensor {k} has shape {tuple(t.shape)}, the config "
                                  f"needs {tuple(ref.shape)} (tampered or mismatched file)")
        if t.dtype != ref.dtype:
            raise CheckpointError(f"{source}: tensor {k} has dtype {t.dtype}, expected {ref.dtype}")
        if not torch.isfinite(t).all():
            raise CheckpointError(f"{source}: tensor {k} holds NaN or infinite values")


def write_inference_dir(tmp_dir: Path, state: dict[str, torch.Tensor], cfg: ModelConfig,
                        step: int | None = None, note: str | None = None) -> None:
    """Fill ``tmp_dir`` (e.g. from :func:`~seegaan.utils.fsio.atomic_dir`) with an inference checkpoint."""
    meta = {"format": FORMAT, "format_version": str(FORMAT_VERSION), "config_sha256": config_hash(cfg)}
    save_tensors(tmp_dir / WEIGHTS, state, metadata=meta)
    from seegaan.utils.fsio import write_json

    doc: dict[str, Any] = {"format": FORMAT, "format_version": FORMAT_VERSION, **cfg.to_dict()}
    if step is not None:
        doc["step"] = int(step)
    if note:
        doc["note"] = note
    write_json(tmp_dir / CONFIG, doc)


def read_inference_dir(path: str | os.PathLike) -> tuple[ModelConfig, dict[str, torch.Tensor], dict[str, Any]]:
    """Read ``config.json`` and ``model.safetensors`` of a checkpoint directory (not yet shape-checked)."""
    root = Path(path)
    if root.is_file():
        raise CheckpointError(f"{root}: expected a checkpoint directory (with {WEIGHTS} and {CONFIG}), "
                              "got a file")
    if not root.is_dir():
        raise CheckpointError(f"{root}: checkpoint directory not found")
    for name in (WEIGHTS, CONFIG):
        if not (root / name).is_file():
            raise CheckpointError(f"{root}: not a seegaan checkpoint ({name} is missing)")
    try:
        doc = read_json(root / CONFIG)
    except Exception as err:  # InputError from read_json -> a checkpoint problem here
        raise CheckpointError(str(err)) from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise CheckpointError(f"{root / CONFIG}: not a seegaan autoencoder config (format field)")
    if int(doc.get("format_version", 0)) > FORMAT_VERSION:
        raise CheckpointError(f"{root / CONFIG}: written by a newer seegaan (format "
                              f"{doc.get('format_version')}); upgrade seegaan")
    extras = {k: doc[k] for k in CONFIG_EXTRAS if k in doc}
    cfg = ModelConfig.from_dict({k: v for k, v in doc.items() if k not in CONFIG_EXTRAS},
                                source=str(root / CONFIG))
    tensors, meta = load_tensors(root / WEIGHTS)
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{root / WEIGHTS}: not a seegaan autoencoder weights file")
    if meta.get("config_sha256") != config_hash(cfg):
        raise CheckpointError(f"{root}: {CONFIG} does not match {WEIGHTS} (the weights were "
                              "written with a different model config)")
    return cfg, tensors, extras
