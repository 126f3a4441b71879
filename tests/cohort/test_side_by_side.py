"""The real-vs-virtual sheet and its layout measures (docs/cohort.md, "side by side")."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from seegaan.cohort.grid import film_stats, side_by_side_sheet


def synthetic_film(dome: float, size: int = 128) -> np.ndarray:
    """Bright body, two dark lungs from 15% of the height down to ``dome``, bright below."""
    x = np.full((size, size), 0.8)
    x[:, :4] = x[:, -4:] = 0.0  # black border outside the body
    top, bottom = int(0.15 * size), int(dome * size)
    for a, b in ((0.15, 0.45), (0.55, 0.85)):
        x[top:bottom, int(a * size):int(b * size)] = 0.2
    return x


def test_dome_and_lung_share_follow_the_lungs():
    high, low = film_stats(synthetic_film(0.55)), film_stats(synthetic_film(0.8))
    assert abs(high["dome"] - 0.55) < 0.04 and abs(low["dome"] - 0.8) < 0.04
    assert low["lung_share"] > high["lung_share"] > 0.1
    # A film without structure has no fine detail; ribs (stripes) add it.
    flat = synthetic_film(0.7)
    ribs = flat.copy()
    ribs[::6] += 0.1
    assert film_stats(ribs)["detail"] > film_stats(flat)["detail"] + 1


def test_sheet_has_a_real_row_over_a_virtual_row(tmp_path):
    real = [synthetic_film(0.7, 96) * 1000, synthetic_film(0.75, 80)]  # any range and size
    means = side_by_side_sheet(real, tmp_path / "s.png", tile=64)
    img = Image.open(tmp_path / "s.png")
    assert img.size[0] == 2 * 64 and img.size[1] > 2 * 64
    assert abs(means["real"]["dome"] - 0.725) < 0.05
    assert set(means["virtual"]) == {"lung_share", "dome", "detail"}
    with pytest.raises(ValueError):
        side_by_side_sheet([], tmp_path / "e.png")
