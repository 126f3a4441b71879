"""The trained autoencoder as users see it: ``encode`` images to w, ``decode`` w to images.

Example::

    import seegaan
    ae = seegaan.load_autoencoder("runs/demo/best")     # or no path: the bundled demo
    w = ae.encode(images)              # (N, 1, 64, 64) in [-1, 1] -> (N, 512)
    x = ae.decode(w)                   # deterministic: noise is off at inference
    x2 = ae.decode(w, grad=True)       # keep the graph, e.g. for gradients w.r.t. w
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from torch import nn

from seegaan.config import ModelConfig
from seegaan.errors import CheckpointError, InputError
from seegaan.models.checkpoint import check_state, read_inference_dir, write_inference_dir
from seegaan.models.encoder import Encoder
from seegaan.models.generator import Generator
from seegaan.models.mapping import MappingNetwork

DEMO_CHECKPOINT = Path(__file__).resolve().parent.parent / "assets" / "demo64"


class Autoencoder(nn.Module):
    """Encoder E, mapping M and generator G (the EMA weights when loaded from a checkpoint)."""

    def __init__(self,
                 cfg:         ModelConfig,     # architecture
                 impl:        str = "fast",    # modulated-conv implementation
                 batch_size:  int = 64,        # chunk size for encode/decode of many images
                 ) -> None:
        super().__init__()
        self.cfg = cfg
        self.encoder = Encoder(cfg)
        self.mapping = MappingNetwork(cfg)
        self.generator = Generator(cfg, impl=impl)
        self.batch_size = batch_size
        self.step: int | None = None
        # The virtual-cohort version it was trained on (1: the original cohort); the loader
        # reads it from the checkpoint's training config, so the oracle can follow it.
        self.cohort_version: int = 1
        self.eval()

    # -- properties of the contract -------------------------------------------------------
    @property
    def w_dim(self) -> int:
        return self.cfg.w_dim

    @property
    def image_size(self) -> int:
        return self.cfg.image_size

    @property
    def device(self) -> torch.device:
        return self.generator.const.device

    @property
    def dtype(self) -> torch.dtype:
        return self.generator.const.dtype

    # -- input conventions ----------------------------------------------------------------
    def _images(self, x) -> torch.Tensor:
        if isinstance(x, np.ndarray):
            x = torch.from_numpy(np.ascontiguousarray(x))
        if not isinstance(x, torch.Tensor):
            raise InputError(f"images: expected a tensor or array, got {type(x).__name__}")
        if x.ndim == 3:
            x = x[:, None]
        s = self.image_size
        if x.ndim != 4 or tuple(x.shape[1:]) != (self.cfg.image_channels, s, s):
            raise InputError(f"images: expected shape (N, {self.cfg.image_channels}, {s}, {s}), "
                             f"got {tuple(x.shape)}")
        x = x.to(self.device, self.dtype)
        if not torch.isfinite(x).all():
            raise InputError("images: hold NaN or infinite values")
        if x.numel() and (x.min() < -1.001 or x.max() > 1.001):
            raise InputError(f"images: values must lie in [-1, 1], got [{x.min():.3g}, {x.max():.3g}]")
        return x

    def _latents(self, w) -> torch.Tensor:
        if isinstance(w, np.ndarray):
            w = torch.from_numpy(np.ascontiguousarray(w))
        if not isinstance(w, torch.Tensor):
            raise InputError(f"w: expected a tensor or array, got {type(w).__name__}")
        if w.ndim == 1:
            w = w[None]
        if w.ndim != 2 or w.shape[1] != self.w_dim:
            raise InputError(f"w: expected shape (N, {self.w_dim}), got {tuple(w.shape)}")
        w = w.to(self.device, self.dtype)
        if not torch.isfinite(w).all():
            # e.g. a latent read from a damaged table, or w + λ·d with an infinite λ
            bad = int((~torch.isfinite(w)).any(dim=1).nonzero()[0])
            raise InputError(f"w: row {bad} holds NaN or infinite values")
        return w

    def _chunked(self, fn, x: torch.Tensor, grad: bool) -> torch.Tensor:
        with torch.set_grad_enabled(grad):
            if grad or len(x) <= self.batch_size:
                return fn(x).float()
            return torch.cat([fn(c).float() for c in x.split(self.batch_size)])

    # -- public API -----------------------------------------------------------------------
    def encode(self, x, grad: bool = False) -> torch.Tensor:
        """Images ``(N, 1, S, S)`` in [-1, 1] -> latents ``(N, w_dim)``."""
        return self._chunked(self.encoder, self._images(x), grad)

    def decode(self, w, grad: bool = False) -> torch.Tensor:
        """Latents ``(N, w_dim)`` -> images ``(N, 1, S, S)``; deterministic (noise off)."""
        return self._chunked(lambda v: self.generator(v, noise=None), self._latents(w), grad)

    def reconstruct(self, x, grad: bool = False) -> torch.Tensor:
        """``decode(encode(x))``."""
        return self._chunked(lambda v: self.generator(self.encoder(v), noise=None), self._images(x), grad)

    def sample(self, n: int, seed: int = 0) -> torch.Tensor:
        """``n`` random images from the mapping network, reproducible from ``seed``."""
        g = torch.Generator().manual_seed(seed)
        z = torch.randn(n, self.cfg.z_dim, generator=g).to(self.device, self.dtype)
        return self._chunked(lambda v: self.generator(self.mapping(v), noise=None), z, False)

    def save(self, path: str | os.PathLike, overwrite: bool = False) -> Path:
        """Write this autoencoder as an inference checkpoint directory."""
        from seegaan.utils.fsio import atomic_dir

        with atomic_dir(path, overwrite=overwrite) as tmp:
            write_inference_dir(tmp, self.state_dict(), self.cfg, step=self.step)
        return Path(path)


class _ShapesOnly(torch.overrides.TorchFunctionMode):
    """Build a model whose parameters are empty meta tensors: right shapes, no memory.

    ``torch.device("meta")`` alone would do, but on the meta device ``randn`` and ``div``
    run Python reference implementations whose first use imports torch's compiler stack
    (seconds). Model construction uses only factories and scaling, so those are answered
    here directly with empty meta tensors of the right shape and dtype.
    """

    _FACTORIES = {torch.randn, torch.rand, torch.zeros, torch.ones, torch.empty, torch.full}
    _SCALING = {torch.div, torch.mul, torch.Tensor.div, torch.Tensor.mul,
                torch.Tensor.__truediv__, torch.Tensor.__mul__, torch.Tensor.__rmul__}

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = dict(kwargs or {})
        if func in self._FACTORIES:
            size = args[0] if len(args) == 1 and isinstance(args[0], (tuple, list)) else args
            if func is torch.full:
                size = args[0]
            dtype = kwargs.get("dtype") or (torch.get_default_dtype()
                                            if func is not torch.full or
                                            isinstance(args[1], float) else torch.int64)
            return torch.empty(tuple(size), dtype=dtype, device="meta")
        if func in self._SCALING:
            shapes = [tuple(a.shape) for a in args if isinstance(a, torch.Tensor)]
            ref = next(a for a in args if isinstance(a, torch.Tensor))
            # numpy's broadcast: torch's imports its reference implementations too
            return torch.empty(np.broadcast_shapes(*shapes), dtype=ref.dtype, device="meta")
        return func(*args, **kwargs)


def load_autoencoder(path: str | os.PathLike | None = None, device: str | torch.device = "cpu",
                     impl: str = "fast") -> Autoencoder:
    """Load an inference checkpoint directory; ``None`` loads the bundled demo checkpoint.

    Never unpickles: weights are safetensors, the architecture comes from ``config.json``, and
    names, shapes and dtypes are checked before loading.

    Example::

        ae = load_autoencoder("runs/demo/best", device="cpu")
    """
    if path is None:
        path = DEMO_CHECKPOINT
        if not (Path(path) / "model.safetensors").is_file():
            raise CheckpointError(f"{path}: the bundled demo checkpoint is not in this install; "
                                  "train one with `seegaan train DATA_DIR --out RUN_DIR` and load "
                                  "RUN_DIR/best")
    from seegaan.utils.device import resolve_device

    device = resolve_device(device, option="device")
    def expected(cfg: ModelConfig) -> dict[str, torch.Tensor]:
        with _ShapesOnly():  # parameter shapes only: nothing is allocated
            return Autoencoder(cfg, impl=impl).state_dict()

    cfg, tensors, extras = read_inference_dir(path, expected=expected)
    ae = Autoencoder(cfg, impl=impl)
    check_state(ae.state_dict(), tensors, str(Path(path) / "model.safetensors"))
    ae.load_state_dict(tensors, strict=True)
    ae.step = extras.get("step")
    try:
        from seegaan.cohort.version import checkpoint_cohort_version
    except ImportError:  # an install without the virtual cohort: nothing to follow
        pass
    else:
        ae.cohort_version = checkpoint_cohort_version(path)
    return ae.to(device).eval().requires_grad_(False)
