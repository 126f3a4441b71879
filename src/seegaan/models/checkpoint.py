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
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from seegaan.config import ModelConfig
from seegaan.errors import CheckpointError
from seegaan.utils.fsio import atomic_temp_path, fix_mode, read_json

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


# safetensors dtype names -> (torch dtype, bytes per element)
_DTYPES = {"F64": (torch.float64, 8), "F32": (torch.float32, 4), "F16": (torch.float16, 2),
           "BF16": (torch.bfloat16, 2), "I64": (torch.int64, 8), "I32": (torch.int32, 4),
           "I16": (torch.int16, 2), "I8": (torch.int8, 1), "U8": (torch.uint8, 1),
           "BOOL": (torch.bool, 1)}
MAX_HEADER = 64 << 20   # a header larger than this is not one of ours


def read_header(path: str | os.PathLike) -> tuple[dict[str, tuple[tuple[int, ...], torch.dtype]],
                                                  dict[str, str]]:
    """Tensor names, shapes and dtypes plus metadata of a safetensors file, from its header only.

    Nothing is allocated but the header, and every tensor's byte range is checked against
    the file size, so a crafted header cannot claim more data than the file holds. Loading
    code compares these shapes with what the config needs *before* building any module.
    """
    path = Path(path)
    _sniff(path)
    size = path.stat().st_size
    with open(path, "rb") as fh:
        n = int.from_bytes(fh.read(8), "little")
        if n > MAX_HEADER:
            raise CheckpointError(f"{path}: not a safetensors file (header of {n} bytes)")
        raw = fh.read(n)
    try:
        doc = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise CheckpointError(f"{path}: not a safetensors file (header is not JSON)") from None
    if not isinstance(doc, dict):
        raise CheckpointError(f"{path}: not a safetensors file (bad header)")
    meta = doc.pop("__metadata__", None) or {}
    if not isinstance(meta, dict):
        raise CheckpointError(f"{path}: not a safetensors file (bad metadata)")
    data_bytes = size - 8 - n
    shapes: dict[str, tuple[tuple[int, ...], torch.dtype]] = {}
    for name, info in doc.items():
        try:
            dtype, width = _DTYPES[info["dtype"]]
            shape = tuple(int(d) for d in info["shape"])
            start, end = (int(v) for v in info["data_offsets"])
        except (KeyError, TypeError, ValueError):
            raise CheckpointError(f"{path}: tensor {name}: unsupported or malformed header "
                                  "entry") from None
        numel = 1
        for d in shape:
            if d < 0:
                raise CheckpointError(f"{path}: tensor {name}: negative dimension")
            numel *= d
        if not 0 <= start <= end <= data_bytes or end - start != numel * width:
            raise CheckpointError(f"{path}: tensor {name}: shape {shape} does not match the "
                                  "bytes in the file (truncated or tampered)")
        shapes[name] = (shape, dtype)
    return shapes, {str(k): str(v) for k, v in meta.items()}


def check_header(expected: dict[str, torch.Tensor],
                 found: dict[str, tuple[tuple[int, ...], torch.dtype]], source: str) -> None:
    """Like :func:`check_state`, on header shapes (``expected`` may live on the meta device)."""
    check_state(expected, {k: torch.empty(shape, dtype=dtype, device="meta")
                           for k, (shape, dtype) in found.items()}, source, values=False)


def save_tensors(path: str | os.PathLike, tensors: dict[str, torch.Tensor],
                 metadata: dict[str, str] | None = None) -> None:
    """Write tensors as safetensors atomically (contiguous CPU copies; shared storage allowed)."""
    path = Path(path)
    data = {k: v.detach().to("cpu").contiguous().clone() for k, v in tensors.items()}
    tmp = atomic_temp_path(path)
    try:
        save_file(data, str(tmp), metadata=metadata)
        fix_mode(tmp)  # save_file makes 0600 files whatever the umask
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


def check_state(expected: dict[str, torch.Tensor], found: dict[str, torch.Tensor], source: str,
                values: bool = True) -> None:
    """Every expected tensor present with its shape and dtype, and nothing else (and, with
    ``values``, every value finite)."""
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
        if values and not torch.isfinite(t).all():
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


def read_inference_dir(path: str | os.PathLike,
                       expected: Callable[[ModelConfig], dict[str, torch.Tensor]] | None = None,
                       ) -> tuple[ModelConfig, dict[str, torch.Tensor], dict[str, Any]]:
    """Read ``config.json`` and ``model.safetensors`` of a checkpoint directory.

    ``expected(cfg)`` gives the state dict the config needs (on the meta device: no memory);
    the file's header is checked against it before any tensor is read.
    """
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
    version = doc.get("format_version", 0)
    if isinstance(version, bool) or not isinstance(version, int):
        raise CheckpointError(f"{root / CONFIG}: format_version {version!r} is not an integer")
    if version > FORMAT_VERSION:
        raise CheckpointError(f"{root / CONFIG}: written by a newer seegaan (format "
                              f"{version}); upgrade seegaan")
    extras = {k: doc[k] for k in CONFIG_EXTRAS if k in doc}
    cfg = ModelConfig.from_dict({k: v for k, v in doc.items() if k not in CONFIG_EXTRAS},
                                source=str(root / CONFIG))
    # Header first: provenance and every tensor's shape are checked before any module is
    # built or any tensor read, so a crafted config (w_dim = 10^6 with a matching hash)
    # fails here instead of asking for terabytes.
    shapes, meta = read_header(root / WEIGHTS)
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{root / WEIGHTS}: not a seegaan autoencoder weights file")
    if meta.get("config_sha256") != config_hash(cfg):
        raise CheckpointError(f"{root}: {CONFIG} does not match {WEIGHTS} (the weights were "
                              "written with a different model config)")
    if expected is not None:
        # Every mapping layer and every resolution owns at least one tensor: a config that
        # asks for more layers than the file has tensors is refused before even a
        # shapes-only model is built (which takes time per layer).
        if cfg.mapping_layers + cfg.n_res > len(shapes):
            raise CheckpointError(f"{root}: {CONFIG} asks for {cfg.mapping_layers} mapping "
                                  f"layers and {cfg.n_res} resolutions, but {WEIGHTS} holds "
                                  f"only {len(shapes)} tensors (tampered or mismatched)")
        try:
            needed = expected(cfg)
        except (RuntimeError, ValueError, OverflowError) as err:
            raise CheckpointError(f"{root / CONFIG}: model config cannot be built "
                                  f"({str(err).splitlines()[0] if str(err) else type(err).__name__})") from None
        check_header(needed, shapes, str(root / WEIGHTS))
    tensors, _ = load_tensors(root / WEIGHTS)
    return cfg, tensors, extras


def torch_load_weights(path: str | os.PathLike, label: str,
                       error: type[Exception] = CheckpointError) -> Any:
    """``torch.load(path, weights_only=True)`` with a one-line ``error`` on failure.

    Torch's own message for a refused pickle advises re-running with ``weights_only=False``,
    which would run any code the file carries; seegaan never passes that advice on. Its
    warnings (e.g. about the pickle protocol) are kept off stderr for the same one-line rule.
    """
    import pickle
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return torch.load(str(path), map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise error(f"{label}: file not found") from None
    except pickle.UnpicklingError:
        reason = "it holds Python objects besides tensors, and seegaan never unpickles those"
    except Exception as err:  # torch raises RuntimeError, KeyError, EOFError... for junk
        reason = f"not a torch.save file ({type(err).__name__})"
    raise error(f"{label}: not a plain state dict, refusing to unpickle it ({reason}); save "
                "model.state_dict() as .safetensors or with torch.save") from None
