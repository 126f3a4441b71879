"""Image processing for ``seegaan prepare``: square fit, bicubic resize, per-image [-1, 1].

Order matters and is chosen for speed and exactness:

1. centre-crop to a square at full resolution (``fit="crop"``, the default), or keep the
   whole image and pad later (``fit="pad"``);
2. bicubic resize with Pillow, which filters over the whole footprint of each output pixel
   (antialiased), so a 3000-pixel radiograph does not alias when shrunk to 256;
3. optional percentile clipping, on the small image where percentiles are cheap;
4. per-image min-max to [-1, 1] (the paper's normalisation), done last so that bicubic
   overshoot can never push a pixel outside [-1, 1];
5. for ``fit="pad"``, pad the short side with -1 (black), centred.

Example::

    x = fit_and_normalise(read_image("scan.png"), size=256)   # float32 (256, 256) in [-1, 1]
"""

from __future__ import annotations

import os

import numpy as np
from PIL import Image

from seegaan.errors import InputError, OptionError

FITS = ("crop", "pad")


def centre_crop_square(img: np.ndarray) -> np.ndarray:
    """The largest centred square of ``img``.

    Example::

        centre_crop_square(np.zeros((300, 200))).shape      # (200, 200)
    """
    h, w = img.shape
    s = min(h, w)
    top, left = (h - s) // 2, (w - s) // 2
    return img[top:top + s, left:left + s]


def resize_bicubic(img: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bicubic (antialiased) resize of a float image, in float32 throughout.

    Example::

        resize_bicubic(np.random.rand(512, 512), 64, 64).shape     # (64, 64)
    """
    if img.shape == (height, width):
        return img.astype(np.float32, copy=True)
    pil = Image.fromarray(np.ascontiguousarray(img, dtype=np.float32))  # mode "F"
    return np.asarray(pil.resize((width, height), Image.Resampling.BICUBIC), dtype=np.float32)


def minmax_unit(img: np.ndarray, name: str = "image") -> np.ndarray:
    """Map an image to [-1, 1] by its own minimum and maximum (the paper's normalisation).

    A constant image has no contrast to map; it is rejected rather than silently turned
    into a flat grey that would look like data.

    Example::

        minmax_unit(np.array([[0., 5.], [10., 10.]]))   # [[-1, 0], [1, 1]]
    """
    img = np.asarray(img, dtype=np.float32)
    lo, hi = img.min(), img.max()
    if not hi > lo:
        raise InputError(f"{name}: image is constant (every pixel = {float(lo):g}); "
                         "nothing to normalise")
    # All in float32 and dividing by the same (hi - lo): the extremes land on -1 and 1 exactly.
    out = (img - lo) / (hi - lo)
    out *= np.float32(2.0)
    out -= np.float32(1.0)
    return np.clip(out, -1.0, 1.0, out=out)


def fit_and_normalise(img: np.ndarray, size: int, fit: str = "crop",
                      clip_percentiles: tuple[float, float] | None = None,
                      name: str = "image") -> np.ndarray:
    """Turn a raw 2-D radiograph into a ``size × size`` float32 image in [-1, 1].

    ``fit`` is ``"crop"`` (centre crop to square, keep the middle) or ``"pad"`` (keep the
    whole image, pad the short side with -1). ``clip_percentiles=(0.5, 99.5)`` clips the
    extreme pixels before min-max so that a burned-in label or a collimator edge does not
    eat the contrast. ``name`` is used in error messages.

    Example::

        x = fit_and_normalise(raw, 256, fit="pad", clip_percentiles=(0.5, 99.5))
    """
    if fit not in FITS:
        raise OptionError(f"--fit {fit!r}: choose one of {', '.join(FITS)}")
    if fit == "crop":
        small = resize_bicubic(centre_crop_square(img), size, size)
    else:
        h, w = img.shape
        scale = size / max(h, w)
        nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
        small = resize_bicubic(img, nh, nw)
    if clip_percentiles is not None:
        lo, hi = np.percentile(small, clip_percentiles)
        small = np.clip(small, lo, hi)
    small = minmax_unit(small, name)
    if small.shape != (size, size):
        out = np.full((size, size), -1.0, dtype=np.float32)
        top, left = (size - small.shape[0]) // 2, (size - small.shape[1]) // 2
        out[top:top + small.shape[0], left:left + small.shape[1]] = small
        small = out
    return small


def load_fitted(path: str, size: int, fit: str = "crop",
                clip_percentiles: tuple[float, float] | None = None) -> np.ndarray:
    """Read one file and return it as stored in ``images.npy``: uint16 ``(size, size)``.

    This is the unit of work of the decoding pool; it imports nothing heavy (no torch), so
    worker processes start quickly.

    Example::

        codes = load_fitted("scan.dcm", 256)       # uint16, v -> v / 65535 * 2 - 1
    """
    from seegaan.data.readers import read_image

    x = fit_and_normalise(read_image(path), size, fit, clip_percentiles, name=str(path))
    # Same code as seegaan.data.prepared.to_uint16, inlined to keep torch out of workers.
    return np.rint(np.clip((x + 1.0) * 0.5, 0.0, 1.0) * 65535.0).astype(np.uint16)


def decode_chunk(items: list[tuple[int, str]], size: int, fit: str,
                 clip: tuple[float, float] | None) -> list[tuple[int, np.ndarray | None, str]]:
    """Pool task: decode a few ``(row, path)`` items; a bad file becomes its message.

    It lives here, not in :mod:`seegaan.data.prepare`, so that unpickling it in a worker
    imports only numpy, Pillow and pydicom.
    """
    out = []
    for i, path in items:
        try:
            out.append((i, load_fitted(path, size, fit, clip), ""))
        except InputError as err:
            out.append((i, None, str(err)))
    return out


def die_with_parent(parent_pid: int) -> None:
    """Pool initializer: end this worker when the process that started it dies.

    A pool's workers are normally stopped by their parent; after a kill -9 of the parent
    nobody does, and they would live on as orphans holding memory. On Linux the kernel
    sends them SIGKILL when the parent goes (PR_SET_PDEATHSIG); if the parent died before
    this line ran, the worker stops at once.
    """
    import ctypes
    import signal
    import sys

    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            PR_SET_PDEATHSIG = 1
            libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent_pid:
        os._exit(1)
