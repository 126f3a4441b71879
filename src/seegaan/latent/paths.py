"""Latent paths: the curve through latent space that a sequence decodes, frame by frame.

Three kinds, one interface. Each builder holds the latents of the images that define the
path and their feature values, and offers

- ``values``: the (T,) value each frame stands for (t, the feature value, or λ);
- ``path()``: the observed path, (T, D);
- ``paths(perms)``: (B, T, D) paths rebuilt with the latent–feature pairing shuffled, where
  row ``b`` of ``perms`` says that feature value ``i`` is paired with latent row
  ``perms[b, i]``. This is what the permutation test refits.

Group means are weighted sums, so a batch of permutations is one matrix product.

Example::

    builder = GroupMeanPath(w, is_to, frames=10)
    path = builder.path()          # w̄_from at t = 0, w̄_to at t = 1
"""

from __future__ import annotations

from typing import Protocol

import numpy as np


class PathBuilder(Protocol):
    values: np.ndarray   # (T,) what each frame stands for
    n_rows: int          # latent rows whose pairing a permutation shuffles
    # Optional attribute ``fixed_start = True``: frame 0 does not depend on the pairing, so
    # the permutation test decodes it once instead of B times.

    def path(self) -> np.ndarray: ...

    def paths(self, perms: np.ndarray) -> np.ndarray: ...


def _group_weights(is_to: np.ndarray, perms: np.ndarray) -> np.ndarray:
    """(B, n) weights w such that ``weights @ W`` = w̄_to − w̄_from under each pairing.

    Pairing feature i with latent row p[i] puts latent row p[i] in the group of label i, so
    the weight of latent row j is that of label p⁻¹[j].
    """
    is_to = np.asarray(is_to, dtype=bool)
    n_to, n_from = int(is_to.sum()), int((~is_to).sum())
    per_label = np.where(is_to, 1.0 / n_to, -1.0 / n_from)
    weights = np.empty(perms.shape, dtype=np.float64)
    np.put_along_axis(weights, perms, np.broadcast_to(per_label, perms.shape), axis=1)
    return weights


def _mean_weights(mask: np.ndarray, perms: np.ndarray) -> np.ndarray:
    per_label = mask / mask.sum()
    weights = np.empty(perms.shape, dtype=np.float64)
    np.put_along_axis(weights, perms, np.broadcast_to(per_label, perms.shape), axis=1)
    return weights


class GroupMeanPath:
    """Global qualitative path: w(t) = (1 − t)·w̄_from + t·w̄_to, t on ``frames`` even steps."""

    def __init__(self,
                 w:      np.ndarray,   # (n, D) latents of both groups
                 is_to:  np.ndarray,   # (n,) bool, True for the "to" group
                 frames: int = 10,     # number of frames, >= 2
                 ) -> None:
        self.w = np.asarray(w, dtype=np.float64)
        self.is_to = np.asarray(is_to, dtype=bool)
        self.values = np.linspace(0.0, 1.0, frames)

    def _paths(self, perms: np.ndarray) -> np.ndarray:
        start = _mean_weights(~self.is_to, perms) @ self.w           # (B, D) w̄_from
        delta = _group_weights(self.is_to, perms) @ self.w           # (B, D) w̄_to − w̄_from
        t = self.values[None, :, None]
        # Written as a convex combination so that t = 1 hits w̄_to up to rounding only.
        end = start + delta
        return ((1.0 - t) * start[:, None, :] + t * end[:, None, :]).astype(np.float32)

    @property
    def n_rows(self) -> int:
        return len(self.w)

    def path(self) -> np.ndarray:
        path = self._paths(np.arange(len(self.w))[None])[0]
        # Exact end points: the frames at t = 0 and t = 1 are the group means themselves.
        path[0] = self.w[~self.is_to].mean(axis=0)
        path[-1] = self.w[self.is_to].mean(axis=0)
        return path

    def paths(self, perms: np.ndarray) -> np.ndarray:
        return self._paths(np.atleast_2d(perms))


class LocalPath:
    """Local path for one image: w(λ) = w_E + λ·(w̄_to − w̄_from), λ from 0 to ``lambda_max``.

    Frame 0 is ``w_E`` itself, so it decodes to the image's reconstruction. A permutation
    shuffles only the group labels that define the direction; ``w_E`` stays.
    """

    fixed_start = True  # frame 0 is the same under every permutation: decode it once

    def __init__(self,
                 w:          np.ndarray,   # (n, D) latents of both groups
                 is_to:      np.ndarray,   # (n,) bool, True for the "to" group
                 w_image:    np.ndarray,   # (D,) the image's stored latent w_E
                 frames:     int = 10,     # number of frames, >= 2
                 lambda_max: float = 1.0,  # last λ; 1 moves by the full group-mean difference
                 ) -> None:
        self.w = np.asarray(w, dtype=np.float64)
        self.is_to = np.asarray(is_to, dtype=bool)
        self.w_image = np.asarray(w_image, dtype=np.float32)
        self.values = np.linspace(0.0, float(lambda_max), frames)

    def _paths(self, perms: np.ndarray) -> np.ndarray:
        delta = _group_weights(self.is_to, perms) @ self.w           # (B, D)
        lam = self.values[None, :, None]
        out = (self.w_image.astype(np.float64)[None, None, :] + lam * delta[:, None, :])
        out = out.astype(np.float32)
        out[:, 0] = self.w_image                                     # bit-exact w_E at λ = 0
        return out

    @property
    def n_rows(self) -> int:
        return len(self.w)

    def path(self) -> np.ndarray:
        return self._paths(np.arange(len(self.w))[None])[0]

    def paths(self, perms: np.ndarray) -> np.ndarray:
        return self._paths(np.atleast_2d(perms))


class RegressionPath:
    """Global quantitative path: a smooth fit of every latent dimension on the feature,
    evaluated on ``grid`` (by default the 5th..95th percentile in ``frames`` steps).

    ``backend``: ``"pspline"`` (vectorised, all dimensions at once) or ``"pygam"``.
    """

    def __init__(self,
                 x:         np.ndarray,             # (n,) feature values
                 w:         np.ndarray,             # (n, D) latents
                 grid:      np.ndarray,             # (T,) feature values of the frames
                 backend:   str = "pspline",        # "pspline" | "pygam"
                 n_splines: int = 20,               # spline basis size
                 ) -> None:
        from seegaan.latent.regression import PSplinePath, PyGAMPath

        self.values = np.asarray(grid, dtype=np.float64)
        cls = {"pspline": PSplinePath, "pygam": PyGAMPath}[backend]
        self.fit = cls(x, w, self.values, n_splines=n_splines)
        self.n_rows = len(x)

    def path(self) -> np.ndarray:
        return self.fit.path()

    def paths(self, perms: np.ndarray) -> np.ndarray:
        return self.fit.paths(np.atleast_2d(perms))
