"""seegaan.viz: frame strips, difference panels with colour bars, GIF/MP4 animations."""

from seegaan.viz.animate import ffmpeg_available, save_gif, save_mp4
from seegaan.viz.panels import (
    DIFF_CMAP,
    difference_strip,
    format_labels,
    frame_strip,
    mask_insignificant,
    save_figure,
    symmetric_limit,
    to_uint8,
)

__all__ = ["DIFF_CMAP", "difference_strip", "ffmpeg_available", "format_labels", "frame_strip",
           "mask_insignificant", "save_figure", "save_gif", "save_mp4", "symmetric_limit",
           "to_uint8"]
