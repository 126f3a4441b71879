"""What the latent stage needs from an autoencoder, and batched decoding on top of it.

The latent stage codes against this small interface rather than a concrete class, so it can
be tested with a fake (a fixed linear decoder) and works with any model that offers it.
``seegaan.load_autoencoder`` returns an object of this shape.
"""

from __future__ import annotations

import contextlib
import ctypes
import platform
from collections.abc import Iterator
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch

from seegaan.errors import InputError

# The latent stage decodes with the fused inference synthesis (seegaan.models.fastdecode) and
# glibc keeping freed memory; False restores the plain ``ae.decode`` path (the benchmark's
# reference). Frames agree to float rounding (tests/latent/test_fast_decode.py).
FAST_DECODE = True
# Frames per fused forward: beyond ~64 the 64² activations outgrow the caches and gain nothing.
FUSED_BATCH = 64


@runtime_checkable
class Autoencoder(Protocol):
    """``encode``: (N, 1, S, S) in [-1, 1] -> (N, w_dim); ``decode``: the inverse map,
    deterministic (fixed or no noise), so a latent always renders the same image."""

    w_dim: int
    image_size: int
    device: Any

    def encode(self, x: torch.Tensor) -> torch.Tensor: ...

    def decode(self, w: torch.Tensor) -> torch.Tensor: ...


def decode_latents(ae: Autoencoder, w: np.ndarray | torch.Tensor, batch_size: int = 256) -> np.ndarray:
    """Decode ``(M, D)`` latents in batches; returns float32 ``(M, S, S)`` on the CPU.

    Example::

        frames = decode_latents(ae, path)     # path: (T, 512) -> frames: (T, 64, 64)
    """
    w = np.asarray(w, dtype=np.float32)
    # A read-only array (e.g. a latent table from Parquet) would make torch warn on sharing.
    w = torch.as_tensor(w if w.flags.writeable else w.copy())
    out = np.empty((len(w), ae.image_size, ae.image_size), dtype=np.float32)
    fused = _fused(ae)
    if fused is not None:
        # Autoencoder.decode checks its input; the fused path must refuse the same latents.
        if w.ndim != 2 or w.shape[1] != ae.w_dim:
            raise InputError(f"w: expected shape (N, {ae.w_dim}), got {tuple(w.shape)}")
        bad = ~torch.isfinite(w).all(dim=1)
        if bad.any():
            raise InputError(f"w: row {int(bad.nonzero()[0])} holds NaN or infinite values")
        batch_size = min(batch_size, FUSED_BATCH)
    with torch.inference_mode(), _channels_last(ae, len(w)), _reuse_memory(len(w) > 1):
        for start in range(0, len(w), batch_size):
            chunk = w[start:start + batch_size]
            x = (ae.decode(chunk.to(ae.device)) if fused is None
                 else fused(ae.generator, chunk.to(ae.device, ae.dtype)))
            out[start:start + len(x)] = x.reshape(len(x), ae.image_size, ae.image_size).float().cpu().numpy()
    return out


def _fused(ae: Autoencoder):
    """The fused inference synthesis when ``ae`` is this project's autoencoder, else None.

    Only models whose ``decode(w)`` is ``generator(w, noise=None)`` qualify (the project's
    :class:`seegaan.models.autoencoder.Autoencoder`); any other object keeps its own decode.
    """
    if not FAST_DECODE:
        return None
    from seegaan.models.autoencoder import Autoencoder as SeegaanAutoencoder
    from seegaan.models.fastdecode import fused_synthesis, supports

    if type(ae) is not SeegaanAutoencoder or not supports(ae.generator):
        return None
    return fused_synthesis


@contextlib.contextmanager
def _reuse_memory(active: bool) -> Iterator[None]:
    """Let glibc keep freed memory in the heap while a decode runs, and give it back after.

    Every layer of a decode allocates activations of tens of MB. glibc serves such blocks with
    fresh ``mmap`` pages (or trims them off the heap when freed), so each allocation is
    zero-filled page by page by the kernel again: on the development CPU an out-of-place
    element-wise op on a (64, 32, 64, 64) tensor took 14 ms, in place 2 ms, and a whole decode
    1.4x more CPU time than with the memory kept (``benchmarks/permutation_speed.py``).
    Inside the block mmap is off and trimming is deferred; on exit the glibc defaults are set
    again (M_MMAP_MAX 65536, M_TRIM_THRESHOLD 128 KiB) and the kept memory is returned with
    ``malloc_trim``. No-op on other C libraries, for one frame, or when ``FAST_DECODE`` is off.
    """
    libc = _glibc() if (active and FAST_DECODE) else None
    if libc is None:
        yield
        return
    libc.mallopt(_M_MMAP_MAX, 0)
    libc.mallopt(_M_TRIM_THRESHOLD, 1 << 30)
    try:
        yield
    finally:
        libc.mallopt(_M_MMAP_MAX, 65536)
        libc.mallopt(_M_TRIM_THRESHOLD, 128 * 1024)
        libc.malloc_trim(0)


_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4          # glibc's mallopt parameter numbers
_LIBC: list = []


def _glibc():
    """glibc through ctypes, or None (another C library, or not Linux)."""
    if not _LIBC:
        lib = None
        if platform.system() == "Linux" and platform.libc_ver()[0] == "glibc":
            try:
                lib = ctypes.CDLL("libc.so.6")
                lib.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
                lib.malloc_trim.argtypes = [ctypes.c_size_t]
            except (OSError, AttributeError):
                lib = None
        _LIBC.append(lib)
    return _LIBC[0]


@contextlib.contextmanager
def _channels_last(ae: Autoencoder, n: int) -> Iterator[None]:
    """Run a large CPU decode with the generator's convolution weights in channels-last order.

    oneDNN then runs every synthesis convolution in NHWC, which decoded 1.6× more frames per
    CPU second than NCHW with the demo64 generator (benchmarks/permutation_speed.py). The
    values are the same; only the layout changes, and it is restored afterwards, so the
    caller's model is left as it was. Every decode of the latent stage uses it, so that the
    observed frames and the null frames come from the same arithmetic.
    """
    gen = getattr(ae, "generator", None)
    if not isinstance(gen, torch.nn.Module) or str(getattr(ae, "device", "cpu")) != "cpu":
        yield
        return
    gen.to(memory_format=torch.channels_last)
    try:
        yield
    finally:
        gen.to(memory_format=torch.contiguous_format)


def encode_images(ae: Autoencoder, x: np.ndarray | torch.Tensor, batch_size: int = 64) -> np.ndarray:
    """Encode ``(N, 1, S, S)`` images in [-1, 1] in batches; returns float32 ``(N, w_dim)``."""
    x = torch.as_tensor(np.asarray(x, dtype=np.float32)) if not torch.is_tensor(x) else x
    out = np.empty((len(x), ae.w_dim), dtype=np.float32)
    with torch.inference_mode():
        for start in range(0, len(x), batch_size):
            w = ae.encode(x[start:start + batch_size].to(ae.device))
            out[start:start + len(w)] = w.float().cpu().numpy()
    return out
