"""What the latent stage needs from an autoencoder, and batched decoding on top of it.

The latent stage codes against this small interface rather than a concrete class, so it can
be tested with a fake (a fixed linear decoder) and works with any model that offers it.
``seegaan.load_autoencoder`` returns an object of this shape.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch


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
    with torch.inference_mode(), _channels_last(ae, len(w)):
        for start in range(0, len(w), batch_size):
            x = ae.decode(w[start:start + batch_size].to(ae.device))
            out[start:start + len(x)] = x.reshape(len(x), ae.image_size, ae.image_size).float().cpu().numpy()
    return out


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
