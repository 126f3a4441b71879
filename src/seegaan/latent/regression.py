"""Smooth regression of every latent dimension on one quantitative feature, all at once.

SEE-GAAN's quantitative sequences need, for each of the D latent dimensions, a smooth curve
w_d(x) fitted on (feature, latent) pairs and evaluated along a grid of feature values. The
paper fitted one pyGAM model per dimension; a permutation test then needs ~100 refits of all
512, which a per-dimension loop makes slow. Here every dimension shares one basis, so the
whole job is linear algebra with many right-hand sides:

- basis: cubic B-splines on equally spaced knots over the feature's range (Eilers & Marx
  P-splines, the same family pyGAM uses), with a second-difference penalty on the
  coefficients (its null space is the straight lines, so heavy smoothing tends to linear
  regression, never to a constant);
- per dimension, the penalty weight is chosen by generalised cross-validation (GCV) over a
  log grid, as pyGAM's ``gridsearch`` does;
- the trick that makes the grid cheap: with ``BᵀB = RᵀR`` and ``R⁻ᵀ P R⁻¹ = U diag(s) Uᵀ``
  (equivalently, the generalised eigenvectors V = R⁻¹U of ``P v = s BᵀB v``),
  ``Q = B R⁻¹ U`` has orthonormal columns and the smoother for penalty λ is
  ``Q diag(1 / (1 + λ s)) Qᵀ``. Projecting once, ``Z = Qᵀ Y``, gives the residual sum of
  squares and the effective degrees of freedom of every λ and every dimension in closed form.
  A permutation only reorders rows, so refits reuse ``Q`` and cost one projection each.

Example::

    fit = PSplinePath(age, w, grid)             # w: (n, 512), grid: (T,)
    path = fit.path()                           # (T, 512) latent path along the grid
    null = fit.paths(perms)                     # (B, T, 512) with the pairing shuffled
"""

from __future__ import annotations

import numpy as np
from scipy.interpolate import BSpline
from scipy.linalg import eigh

from seegaan.errors import OptionError

DEFAULT_LAMBDAS = np.logspace(-4, 6, 41)  # wider than pyGAM's default 1e-3..1e3: GCV picks
DEFAULT_SPLINES = 20                       # same basis size as pyGAM's default s(0)


def bspline_basis(x: np.ndarray, lo: float, hi: float, n_splines: int, degree: int = 3) -> np.ndarray:
    """Design matrix ``(len(x), n_splines)`` of B-splines on equally spaced knots over [lo, hi]."""
    n_seg = n_splines - degree
    if n_seg < 1:
        raise OptionError(f"n_splines={n_splines}: need at least {degree + 1} splines")
    step = (hi - lo) / n_seg
    knots = lo + step * np.arange(-degree, n_seg + degree + 1)
    # Rounding can put the last knot a hair below hi (or a value a hair outside); the basis
    # is only defined between the boundary knots, so clamp to them.
    x = np.clip(np.asarray(x, dtype=np.float64), knots[degree], knots[-degree - 1])
    return BSpline.design_matrix(x, knots, degree).toarray()


def difference_penalty(n_splines: int, order: int = 2) -> np.ndarray:
    d = np.diff(np.eye(n_splines), n=order, axis=0)
    return d.T @ d


class PSplinePath:
    """P-spline regression of all latent dimensions on ``x``, evaluated on ``grid``.

    ``x``: (n,) feature values; ``w``: (n, D) latents; ``grid``: (T,) values inside the
    range of ``x``. ``lambdas``: penalty weights searched by GCV, per dimension.
    """

    def __init__(self,
                 x:          np.ndarray,                # (n,) feature, finite, not constant
                 w:          np.ndarray,                # (n, D) latents paired with x
                 grid:       np.ndarray,                # (T,) where to evaluate the fits
                 n_splines:  int = DEFAULT_SPLINES,     # basis size, >= 4
                 lambdas:    np.ndarray = DEFAULT_LAMBDAS,  # penalty grid for GCV, > 0
                 ) -> None:
        x = np.asarray(x, dtype=np.float64)
        self.w = np.asarray(w, dtype=np.float64)
        self.grid = np.asarray(grid, dtype=np.float64)
        lo, hi = float(x.min()), float(x.max())
        if not hi > lo:
            raise OptionError("feature is constant: nothing to regress on")
        n = len(x)
        # Too few points for the basis would leave GCV's denominator at zero.
        self.n_splines = int(min(n_splines, max(4, n // 2)))
        basis = bspline_basis(x, lo, hi, self.n_splines)
        basis_grid = bspline_basis(self.grid, lo, hi, self.n_splines)
        gram = basis.T @ basis
        gram += np.eye(len(gram)) * 1e-10 * np.trace(gram) / len(gram)  # empty knot spans
        # Generalised eigenproblem P v = s G v with Vᵀ G V = I: V = R⁻¹U of the module notes,
        # in one LAPACK call (and far cheaper than triangular solves for these tiny matrices).
        s, v = eigh(difference_penalty(self.n_splines), gram)
        s = np.clip(s, 0.0, None)                                # rounding below the null space
        self.q = basis @ v                                       # (n, K), orthonormal columns
        self.q_grid = basis_grid @ v                             # (T, K)
        self.lambdas = np.asarray(lambdas, dtype=np.float64)
        self.shrink = 1.0 / (1.0 + self.lambdas[:, None] * s[None, :])   # (L, K)
        edf = self.shrink.sum(axis=1)                                     # (L,)
        self._gcv_den = (n - np.minimum(edf, n - 1e-3)) ** 2
        self._keep = 1.0 - (1.0 - self.shrink) ** 2                       # (L, K)
        self._y2 = (self.w ** 2).sum(axis=0)                              # (D,), permutation-invariant
        self.n = n

    def _fit(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Paths and chosen λ indices from projections ``z``: (B, K, D)."""
        # RSS(λ, d) = ‖y_d‖² − Σ_k (1 − (1 − f_k)²) z_kd²   (f = shrink factors of λ)
        rss = self._y2[None, None, :] - np.einsum("lk,bkd->bld", self._keep, z * z)
        gcv = self.n * np.maximum(rss, 0.0) / self._gcv_den[None, :, None]
        best = np.argmin(gcv, axis=1)                            # (B, D)
        f = self.shrink[best]                                    # (B, D, K)
        coef = np.transpose(f, (0, 2, 1)) * z                    # (B, K, D)
        return np.einsum("tk,bkd->btd", self.q_grid, coef), best

    def path(self) -> np.ndarray:
        """The fitted latent path ``(T, D)`` on the observed pairing."""
        paths, self.chosen = self._fit((self.q.T @ self.w)[None])
        self.chosen = self.chosen[0]
        return paths[0].astype(np.float32)

    def paths(self, perms: np.ndarray, chunk: int = 16) -> np.ndarray:
        """Paths ``(B, T, D)`` refitted with the feature reordered by each row of ``perms``."""
        perms = np.atleast_2d(perms)
        out = np.empty((len(perms), len(self.grid), self.w.shape[1]), dtype=np.float32)
        k = self.q.shape[1]
        for start in range(0, len(perms), chunk):
            p = perms[start:start + chunk]
            # Feature i is paired with latent row p[i]: Z = Σ_i Q[i]ᵀ W[p[i]] = Σ_j Q[p⁻¹[j]]ᵀ W[j].
            # Reordering the small Q instead of W turns the chunk into one large matrix product.
            q_perm = self.q[np.argsort(p, axis=1)]                       # (c, n, K)
            z = (np.transpose(q_perm, (0, 2, 1)).reshape(-1, self.n) @ self.w).reshape(len(p), k, -1)
            out[start:start + len(p)] = self._fit(z)[0]
        return out


class PyGAMPath:
    """The same path with one pyGAM ``LinearGAM`` per latent dimension (the paper's tool).

    Slow (one GCV grid search per dimension and per refit); kept for fidelity checks and for
    users who want the paper's exact fitting code. Needs ``pip install pygam``.
    """

    def __init__(self, x: np.ndarray, w: np.ndarray, grid: np.ndarray,
                 n_splines: int = DEFAULT_SPLINES, lambdas: np.ndarray | None = None) -> None:
        try:
            import pygam  # noqa: F401
        except ImportError:
            raise OptionError("--backend pygam: pyGAM is not installed "
                              "(pip install 'seegaan[gam]')") from None
        self.x = np.asarray(x, dtype=np.float64)
        if not self.x.max() > self.x.min():
            raise OptionError("feature is constant: nothing to regress on")
        self.w = np.asarray(w, dtype=np.float64)
        self.grid = np.asarray(grid, dtype=np.float64)
        self.n_splines = int(min(n_splines, max(4, len(self.x) // 2)))
        self.lambdas = np.logspace(-3, 3, 11) if lambdas is None else np.asarray(lambdas)

    def _fit(self, x: np.ndarray) -> np.ndarray:
        from pygam import LinearGAM, s

        out = np.empty((len(self.grid), self.w.shape[1]), dtype=np.float32)
        for d in range(self.w.shape[1]):
            gam = LinearGAM(s(0, n_splines=self.n_splines, spline_order=3))
            gam.gridsearch(x[:, None], self.w[:, d], lam=self.lambdas, progress=False)
            out[:, d] = gam.predict(self.grid[:, None])
        return out

    def path(self) -> np.ndarray:
        return self._fit(self.x)

    def paths(self, perms: np.ndarray) -> np.ndarray:
        from seegaan.utils.progress import progress

        # Shuffle latents against the feature: latent row p[i] is paired with x[i].
        inv = np.argsort(np.atleast_2d(perms), axis=1)
        # Minutes per refit at 512 dimensions: show progress over the refits.
        return np.stack([self._fit(self.x[q]) for q in progress(inv, desc="pyGAM refits", unit="fit")])
