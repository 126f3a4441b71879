"""Animations of an image sequence: GIF always (imageio), MP4 when imageio-ffmpeg is present.

Frames go forward and then back (``bounce``), so a looping GIF shows the change without a
jump from the last frame to the first.

Example::

    save_gif(frames, "out/sequence.gif", fps=4)
    if ffmpeg_available():
        save_mp4(frames, "out/sequence.mp4")
"""

from __future__ import annotations

import importlib.util
import math
import os

import imageio.v2 as imageio
import numpy as np

from seegaan.errors import OptionError
from seegaan.utils.fsio import atomic_temp_path
from seegaan.viz.panels import to_uint8


def ffmpeg_available() -> bool:
    return importlib.util.find_spec("imageio_ffmpeg") is not None


def _check_fps(fps: float) -> None:
    # fps 0 divides by zero and a negative one reaches ffmpeg as a 27-line traceback.
    if not (math.isfinite(fps) and fps > 0):
        raise OptionError(f"fps {fps}: must be a positive finite number")


def _sequence(frames: np.ndarray, bounce: bool, upscale: int) -> list[np.ndarray]:
    images = to_uint8(frames)
    if upscale > 1:
        # Nearest-neighbour upscaling keeps 64×64 frames sharp in a browser.
        images = images.repeat(upscale, axis=1).repeat(upscale, axis=2)
    seq = list(images)
    if bounce and len(seq) > 2:
        seq += seq[-2:0:-1]
    return seq


def save_gif(frames: np.ndarray, path: str | os.PathLike, fps: float = 4.0,
             bounce: bool = True, upscale: int = 1) -> None:
    """Write ``(T, S, S)`` frames in [-1, 1] as a looping GIF (atomically)."""
    _check_fps(fps)
    tmp = atomic_temp_path(path)
    try:
        imageio.mimsave(tmp, _sequence(frames, bounce, upscale), format="GIF",
                        duration=1000.0 / fps, loop=0)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def save_mp4(frames: np.ndarray, path: str | os.PathLike, fps: float = 4.0,
             bounce: bool = True, upscale: int = 4) -> bool:
    """Write an H.264 MP4; returns False (and writes nothing) without imageio-ffmpeg."""
    _check_fps(fps)
    if not ffmpeg_available():
        return False
    seq = _sequence(frames, bounce, upscale)
    # Most H.264 encoders need even sides, and yuv420p for players to accept the file.
    h, w = seq[0].shape
    seq = [np.pad(f, ((0, h % 2), (0, w % 2)), mode="edge") for f in seq]
    # ffmpeg picks the container from the extension, so the temporary name must end in .mp4.
    placeholder = atomic_temp_path(path)
    placeholder.unlink()
    tmp = placeholder.with_name(placeholder.name + ".mp4")
    try:
        imageio.mimsave(tmp, seq, format="FFMPEG", fps=fps, codec="libx264",
                        pixelformat="yuv420p", macro_block_size=1)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return True
