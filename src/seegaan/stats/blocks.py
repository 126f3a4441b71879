"""Which shufflings are fair: image-level or patient-level (whole-block) permutations.

A permutation test is exact when, under the null, the data are *exchangeable* under the
shuffles it draws. Films of one patient are not exchangeable with films of other patients:
they share anatomy, so their latents are correlated. Shuffling single images then breaks
that dependence in the null but not in the observed pairing, and the null is too narrow
(anti-conservative; ``benchmarks/calibration.py`` measures how much).

The fix follows the *exchangeability blocks* of Winkler et al. (2014, "Permutation
inference for the general linear model", NeuroImage 92:381-397) and their multi-level
follow-up (Winkler et al. 2015, NeuroImage 123:253-268): each patient is a block, and the
test shuffles **whole blocks**, so a patient's films move together and keep their
within-patient order. Whole blocks can only be swapped with blocks of the same size (a
patient with three films cannot trade places with one who has a single film without
changing group sizes), so blocks are permuted within classes of equal size. The null this
tests is: the feature's values of a patient, as a block, are unrelated to that patient's
images. It holds for a patient-level feature (sex, AHF) and for a film-level feature that
varies within a patient (age at the film, BNPP, vendor), because the feature's within-patient
pattern travels with it. What it does not test is a purely within-patient effect (that
would need within-block shuffles, which assume the films of one patient are exchangeable,
e.g. no time trend).

Example::

    perm = Permuter(len(rows), groups=meta["patient_id"], scheme="patients", seed=0)
    perms = perm.draw(100)        # (100, n): feature value i paired with latent row perms[b, i]
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from seegaan.errors import InputError, OptionError

PERMUTE_CHOICES = ("auto", "images", "patients")
GROUP_COLUMN = "patient_id"


def resolve_scheme(scheme: str, has_groups: bool) -> str:
    """``auto`` -> ``patients`` when patient ids exist, else ``images``."""
    if scheme not in PERMUTE_CHOICES:
        raise OptionError(f"--permute {scheme}: choose from {', '.join(PERMUTE_CHOICES)}")
    if scheme == "auto":
        return "patients" if has_groups else "images"
    if scheme == "patients" and not has_groups:
        raise InputError(f"--permute patients: the latent table has no '{GROUP_COLUMN}' column "
                         "(use --permute images, and read docs/sequences.md on what it assumes)")
    return scheme


def group_ids(meta: pd.DataFrame) -> np.ndarray | None:
    """The patient id of each row, or None when the table has none (or every id is missing)."""
    if GROUP_COLUMN not in meta.columns:
        return None
    col = meta[GROUP_COLUMN]
    if col.isna().all():
        return None
    # A row without a patient id is its own patient: the safe reading (it cannot be
    # assumed to share a block with anything).
    ids = col.astype(object).where(col.notna(), None).to_numpy()
    return np.array([f"\0row{i}" if v is None else str(v) for i, v in enumerate(ids)], dtype=object)


class Permuter:
    """Draws the permutations of a test, image-level or whole-block (patient-level)."""

    def __init__(self,
                 n:      int,                      # rows whose pairing is shuffled
                 groups: np.ndarray | None = None, # (n,) block (patient) of each row
                 scheme: str = "images",           # images | patients
                 seed:   int = 0,
                 ) -> None:
        if scheme not in ("images", "patients"):
            raise OptionError(f"--permute {scheme}: choose from images, patients")
        if scheme == "patients" and groups is None:
            raise InputError("--permute patients: no patient ids for the rows")
        self.n, self.scheme = int(n), scheme
        self.rng = np.random.default_rng(seed)
        self.classes: list[np.ndarray] = []        # per block size: (blocks, size) row matrix
        if scheme == "patients":
            groups = np.asarray(groups)
            if len(groups) != n:
                raise InputError(f"{len(groups)} patient ids for {n} rows")
            codes, first = pd.factorize(pd.Series(groups), sort=False)
            rows_of = [np.flatnonzero(codes == k) for k in range(len(first))]
            by_size: dict[int, list[np.ndarray]] = {}
            for r in rows_of:
                by_size.setdefault(len(r), []).append(r)
            self.classes = [np.stack(v) for _, v in sorted(by_size.items())]

    def draw(self, k: int) -> np.ndarray:
        """``(k, n)`` int permutations; row b pairs feature value i with latent row [b, i].

        Draws continue the same random stream, so drawing 10 then 10 equals drawing 20.
        """
        if self.scheme == "images":
            return np.stack([self.rng.permutation(self.n) for _ in range(k)]) if k else \
                np.empty((0, self.n), dtype=np.int64)
        out = np.empty((k, self.n), dtype=np.int64)
        for b in range(k):
            for rows in self.classes:
                # Block i's films take the places of block π(i)'s films, film for film.
                out[b, rows] = rows[self.rng.permutation(len(rows))]
        return out

    def log_count(self) -> float:
        """log of the number of distinct permutations this scheme can draw."""
        if self.scheme == "images":
            return math.lgamma(self.n + 1)
        return float(sum(math.lgamma(len(r) + 1) for r in self.classes))

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"scheme": self.scheme, "rows": self.n}
        if self.scheme == "patients":
            sizes = {int(r.shape[1]): int(r.shape[0]) for r in self.classes}
            out.update(patients=int(sum(sizes.values())), patients_by_films=sizes,
                       exchangeability="whole patients (all their films) are exchangeable "
                                       "with patients who have the same number of films")
        else:
            out["exchangeability"] = "single images are exchangeable (assumes one film per " \
                                     "patient, or films of one patient as unrelated as any two)"
        return out


def feature_level(values: np.ndarray, groups: np.ndarray | None) -> str:
    """``patient`` when the feature is constant within every patient, else ``film``."""
    if groups is None:
        return "film"
    g = pd.factorize(pd.Series(groups))[0]
    v = pd.factorize(pd.Series(values).astype(str))[0]
    pairs = np.unique(np.stack([g, v], axis=1), axis=0)
    return "patient" if len(pairs) == g.max() + 1 else "film"
