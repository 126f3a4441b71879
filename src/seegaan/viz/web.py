"""Small images for web pages: one frame or one map as PNG bytes, a sequence as GIF bytes.

The report's sliders and the live viewer show single 64²–256² panels, not matplotlib
figures, so they need pixels only: grey frames on the [-1, 1] scale, signed differences in
the same reversed-Spectral colours as the figures (red brighter, blue darker, pale yellow
no change, symmetric range), and attribution maps as a heat scale. Encoding goes through
Pillow in memory; nothing touches the disk.

Example::

    png = grey_png(frame)                         # bytes of an 8-bit grey PNG
    url = data_url(diverging_png(diff, vlim=0.5)) # "data:image/png;base64,..."
"""

from __future__ import annotations

import base64
import functools
import io

import numpy as np
from PIL import Image

from seegaan.viz.panels import DIFF_CMAP, symmetric_limit, to_uint8


@functools.lru_cache(maxsize=4)
def _lut(name: str) -> np.ndarray:
    """A 256-entry RGB lookup table of a matplotlib colour map (built once)."""
    from matplotlib import colormaps

    return (colormaps[name](np.linspace(0.0, 1.0, 256))[:, :3] * 255.0).round().astype(np.uint8)


def _png(arr: np.ndarray, upscale: int = 1) -> bytes:
    im = Image.fromarray(arr)
    if upscale > 1:
        # Nearest neighbour: a 64² frame stays crisp instead of blurred by the browser.
        im = im.resize((im.width * upscale, im.height * upscale), Image.Resampling.NEAREST)
    buf = io.BytesIO()
    im.save(buf, format="PNG", compress_level=1)  # speed over size: these are tiny anyway
    return buf.getvalue()


def grey_png(image: np.ndarray, upscale: int = 1) -> bytes:
    """A [-1, 1] image as an 8-bit grey PNG."""
    return _png(to_uint8(np.asarray(image)), upscale)


def diverging_png(diff: np.ndarray, vlim: float | None = None, upscale: int = 1) -> bytes:
    """A signed map in reversed Spectral over ±``vlim`` (default: its own largest |value|)."""
    d = np.asarray(diff, dtype=np.float32)
    v = symmetric_limit(d) if vlim is None else max(float(vlim), 1e-6)
    idx = np.rint((np.clip(d / v, -1.0, 1.0) + 1.0) * 127.5).astype(np.uint8)
    return _png(_lut(DIFF_CMAP)[idx], upscale)


def heat_png(attribution: np.ndarray, upscale: int = 1) -> bytes:
    """An attribution map: signed maps in the diverging colours, non-negative ones in 'magma'."""
    a = np.nan_to_num(np.asarray(attribution, dtype=np.float32))
    if (a < 0).any():
        return diverging_png(a, upscale=upscale)
    top = float(a.max()) or 1.0
    idx = np.rint(np.clip(a / top, 0.0, 1.0) * 255.0).astype(np.uint8)
    return _png(_lut("magma")[idx], upscale)


def gif_bytes(frames: np.ndarray, fps: float = 6.0, upscale: int = 1, bounce: bool = True) -> bytes:
    """A looping grey GIF of ``frames`` (T, S, S) in [-1, 1] (played forth and back when ``bounce``)."""
    seq = list(to_uint8(np.asarray(frames)))
    if bounce and len(seq) > 2:
        seq = seq + seq[-2:0:-1]
    ims = [Image.fromarray(f) for f in seq]
    if upscale > 1:
        ims = [im.resize((im.width * upscale, im.height * upscale), Image.Resampling.NEAREST)
               for im in ims]
    buf = io.BytesIO()
    ims[0].save(buf, format="GIF", save_all=True, append_images=ims[1:],
                duration=max(20, int(1000 / fps)), loop=0)
    return buf.getvalue()


def data_url(png: bytes, mime: str = "image/png") -> str:
    """``data:`` URL of encoded image bytes, for embedding in HTML or JSON."""
    return f"data:{mime};base64," + base64.b64encode(png).decode("ascii")
