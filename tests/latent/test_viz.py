"""The shared figure and animation helpers."""

from __future__ import annotations

import imageio.v2 as imageio
import numpy as np
import pytest

from seegaan.viz import (
    difference_strip,
    ffmpeg_available,
    format_labels,
    frame_strip,
    mask_insignificant,
    save_figure,
    save_gif,
    save_mp4,
    symmetric_limit,
    to_uint8,
)


def test_difference_strip_is_symmetric_with_one_colour_bar(tmp_path):
    diffs = np.zeros((3, 8, 8), dtype=np.float32)
    diffs[1, 2, 2], diffs[2, 5, 5] = 0.3, -0.7
    fig = difference_strip(diffs, format_labels([0, 0.5, 1], "t"), title="x")
    images = [ax.images[0] for ax in fig.axes if ax.images]
    assert len(images) == 3
    assert all(im.get_clim() == pytest.approx((-0.7, 0.7)) for im in images)
    assert images[0].get_cmap().name == "Spectral_r"
    assert len(fig.axes) == 4                       # three panels + the colour bar
    save_figure(fig, tmp_path / "d.png")
    assert imageio.imread(tmp_path / "d.png").ndim == 3
    fixed = difference_strip(diffs, vlim=0.5, background=np.zeros((8, 8)))
    assert [ax.images[-1].get_clim() for ax in fixed.axes if ax.images][0] == (-0.5, 0.5)


def test_frame_strip_wraps_and_labels(tmp_path):
    fig = frame_strip(np.zeros((12, 8, 8)), [f"f{i}" for i in range(12)], max_cols=5)
    panels = [ax for ax in fig.axes if ax.images]
    assert len(panels) == 12 and panels[11].get_title() == "f11"


def test_masks_limits_and_grey_levels():
    d = np.array([[0.2, -0.4], [0.1, 0.0]], dtype=np.float32)
    keep = np.array([[True, False], [True, True]])
    np.testing.assert_allclose(mask_insignificant(d, keep), [[0.2, 0.0], [0.1, 0.0]], rtol=1e-6)
    assert symmetric_limit(d) == np.float32(0.4) and symmetric_limit(np.zeros(3)) == 1e-3
    np.testing.assert_array_equal(to_uint8(np.array([-1.0, 0.0, 1.0, 2.0])), [0, 128, 255, 255])


def test_gif_bounces_and_mp4_is_optional(tmp_path):
    frames = np.linspace(-1, 1, 4)[:, None, None] * np.ones((4, 6, 6))
    save_gif(frames, tmp_path / "a.gif", fps=5)
    gif = imageio.mimread(tmp_path / "a.gif")
    assert len(gif) == 6                            # 0 1 2 3 2 1, then loops
    wrote = save_mp4(frames, tmp_path / "a.mp4")
    assert wrote == ffmpeg_available() == (tmp_path / "a.mp4").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == (["a.gif", "a.mp4"] if wrote else ["a.gif"])
