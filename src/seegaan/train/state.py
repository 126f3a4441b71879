"""Full training state under ``RUN_DIR/state/``, enough to resume bit-for-bit.

- ``model.safetensors``: live M, G, E, D and the EMA copies (``ema.*``);
- ``optim.safetensors``: Adam moments and step counts, keyed by parameter name;
- ``state.json``: step, model and training configs, the best validation score so far.

Nothing else is needed because every random draw is derived from ``(seed, step)``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from seegaan.errors import CheckpointError
from seegaan.models.checkpoint import check_state, load_tensors, save_tensors
from seegaan.utils.fsio import atomic_dir, read_json, write_json

STATE_FORMAT = "seegaan-train-state"


def optimizer_tensors(opt: torch.optim.Optimizer, names: list[str], prefix: str) -> dict[str, torch.Tensor]:
    """Adam state as named tensors (``names[i]`` is the name of the i-th parameter)."""
    out = {}
    sd = opt.state_dict()["state"]
    for i, name in enumerate(names):
        for key, value in sd.get(i, {}).items():
            out[f"{prefix}.{name}.{key}"] = value if torch.is_tensor(value) else torch.tensor(value)
    return out


def load_optimizer_tensors(opt: torch.optim.Optimizer, names: list[str], prefix: str,
                           tensors: dict[str, torch.Tensor], source: str) -> None:
    sd = opt.state_dict()
    state: dict[int, dict[str, Any]] = {}
    for i, name in enumerate(names):
        keys = {k.rsplit(".", 1)[1]: v for k, v in tensors.items()
                if k.startswith(f"{prefix}.{name}.") and k.count(".") == f"{prefix}.{name}".count(".") + 1}
        if keys:
            state[i] = keys
    if len(state) not in (0, len(names)):
        raise CheckpointError(f"{source}: optimiser state covers {len(state)} of {len(names)} parameters")
    sd["state"] = state
    opt.load_state_dict(sd)


def save_state(run_dir: str | os.PathLike, model_tensors: dict[str, torch.Tensor],
               optim_tensors: dict[str, torch.Tensor], info: dict[str, Any]) -> None:
    """Write ``run_dir/state`` atomically (the previous state survives a crash mid-write)."""
    with atomic_dir(Path(run_dir) / "state", overwrite=True) as tmp:
        save_tensors(tmp / "model.safetensors", model_tensors, metadata={"format": STATE_FORMAT})
        save_tensors(tmp / "optim.safetensors", optim_tensors, metadata={"format": STATE_FORMAT})
        write_json(tmp / "state.json", {"format": STATE_FORMAT, **info})


def read_state(run_dir: str | os.PathLike, expected_model: dict[str, torch.Tensor]
               ) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor], dict[str, Any]]:
    root = Path(run_dir) / "state"
    if not (root / "state.json").is_file():
        raise CheckpointError(f"{root}: no training state to resume from (state.json missing)")
    info = read_json(root / "state.json")
    if info.get("format") != STATE_FORMAT:
        raise CheckpointError(f"{root / 'state.json'}: not a seegaan training state")
    model, _ = load_tensors(root / "model.safetensors")
    check_state(expected_model, model, str(root / "model.safetensors"))
    optim, _ = load_tensors(root / "optim.safetensors")
    return model, optim, info
