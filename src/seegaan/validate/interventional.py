"""Interventional truth: the same subject rendered with one factor changed, and what it does.

The virtual cohort (:mod:`seegaan.cohort`) renders a subject from its recipe, pose and noise
seeds included, so changing one field and rendering again is a true counterfactual. For each
benchmark subject and each factor of :data:`INTERVENTIONS` this module renders the subject
with the factor at a *low* and at a *high* value (the same values for every subject) and
derives

- the factor's **true difference map** ``high − low`` and its **region** (pixels where the
  difference exceeds a quarter of its largest magnitude);
- a model's **true reliance profile**: ``Δŷ_f = f(high) − f(low)`` for every factor f,
  the model's output on one counterfactual minus the other.

The size of each change is fixed and documented in :data:`INTERVENTIONS`: the cohort's 10th
to 90th percentile for continuous factors (computed from the clinical model, see
:func:`factor_values`), absent → present for the device, 0 → the 90th percentile of acute
heart failure patients for pleural effusion, and Carestream → GE for the vendor's processing.
To add a factor (e.g. one the cohort gains), add one :class:`Intervention` to the tuple.

Example::

    subjects = benchmark_subjects(50, seed=1000)
    truths = subject_truths(subjects, size=64)
    dy = reliance_profile(model.score, truths)          # (n_subjects, n_factors)
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from seegaan.cohort import Subject, render_image, sample_subjects
from seegaan.data.transform import minmax_unit

# A pixel belongs to a factor's region when |difference| >= this share of its largest |difference|.
REGION_SHARE = 0.25


@dataclass(frozen=True)
class Intervention:
    """One factor and the fixed change the benchmark makes to it."""

    name:    str                         # short name used in tables ("heart", "device", ...)
    fields:  tuple[str, ...]             # Subject fields set together (both effusion sides)
    low:     float | str | None = None   # value before (None: from ``quantiles``)
    high:    float | str | None = None   # value after
    quantiles: tuple[float, float] | None = None  # cohort percentiles giving low/high
    among:   str | None = None           # "F" or "ahf": percentiles among women / AHF patients
    oracle:  str | None = None           # the oracle's readout of this factor (None: none)
    text:    str = ""                    # the change in words, for tables and docs


# THE factor list of the benchmark; everything else reads it.
INTERVENTIONS: tuple[Intervention, ...] = (
    Intervention("heart", ("heart_scale",), quantiles=(0.1, 0.9), oracle="gt_ctr",
                 text="heart size, cohort 10th → 90th percentile"),
    Intervention("fat", ("fat_mm",), quantiles=(0.1, 0.9), oracle="gt_fat",
                 text="chest-wall fat, cohort 10th → 90th percentile"),
    Intervention("breast", ("breast_mm",), low=0.0, quantiles=(0.0, 0.9), among="F",
                 oracle="gt_breast", text="breast tissue, none → 90th percentile of women"),
    Intervention("bone", ("bmd",), quantiles=(0.1, 0.9), oracle="gt_bmd",
                 text="bone mineral density, cohort 10th → 90th percentile"),
    Intervention("effusion", ("effusion_r_mm", "effusion_l_mm"), low=0.0, quantiles=(0.0, 0.9),
                 among="ahf", oracle="gt_effusion",
                 text="pleural effusion both sides, none → 90th percentile of AHF patients"),
    Intervention("congestion", ("congestion",), low=0.0, quantiles=(0.0, 0.9), among="ahf",
                 oracle="gt_congestion", text="congestion, none → 90th percentile of AHF patients"),
    Intervention("device", ("device",), low=0, high=1, oracle="gt_device",
                 text="pacemaker, absent → present"),
    Intervention("vendor", ("manufacturer",), low="Carestream", high="GE",
                 text="vendor processing, Carestream → GE"),
)
FACTOR_NAMES = tuple(i.name for i in INTERVENTIONS)


@functools.lru_cache(maxsize=1)
def factor_values(n: int = 20000, seed: int = 12345) -> dict[str, tuple[float | str, float | str]]:
    """``{factor: (low, high)}``: the fixed values of every intervention.

    Percentiles come from ``n`` patients of the cohort's clinical model (a fixed seed, so the
    values never change between runs).
    """
    from seegaan.cohort.clinical import sample_patients

    pats = sample_patients(n, seed)
    out: dict[str, tuple[float | str, float | str]] = {}
    for iv in INTERVENTIONS:
        low, high = iv.low, iv.high
        if iv.quantiles is not None:
            sel = pats
            if iv.among == "F":
                sel = pats[pats["sex"] == "F"]
            elif iv.among == "ahf":
                sel = pats[pats["ahf"] == 1]
            v = sel[iv.fields[0]].to_numpy(dtype=np.float64)
            q_lo, q_hi = np.quantile(v, iv.quantiles)
            low = float(q_lo) if low is None else low
            high = float(q_hi) if high is None else high
        out[iv.name] = (low, high)
    return out


def set_factor(subject: Subject, iv: Intervention, value: float | str) -> Subject:
    """``subject`` with the intervention's field(s) at ``value`` (pose and seeds unchanged).

    Breast tissue is drawn from ``breast_mm`` whatever the recorded sex: the intervention is
    on the tissue, so the sex field stays as it is.
    """
    return subject.replace(**{f: value for f in iv.fields})


def to_input(img01: np.ndarray) -> np.ndarray:
    """A [0, 1] render as a model input: min–max to [-1, 1], as ``seegaan prepare`` does."""
    return minmax_unit(np.asarray(img01, dtype=np.float64)).astype(np.float32)


def render(subject: Subject, size: int) -> np.ndarray:
    return to_input(render_image(subject, size))


def benchmark_subjects(n: int, seed: int = 1000, version: int = 1) -> list[Subject]:
    """``n`` subjects of the ordinary cohort (cohort ``version``), each wearing a pacemaker.

    The device is on in every explained film so that a method *can* point at it; its
    intervention (absent → present) measures whether the model uses it.
    """
    subs = sample_subjects(n, seed=seed, version=version)
    return [s.replace(device=1) for s in subs]


@dataclass
class SubjectTruth:
    """One subject's film and its interventional truth (arrays at the benchmark size)."""

    subject: Subject
    image:   np.ndarray        # (S, S) the film explained, in [-1, 1]
    low:     np.ndarray        # (F, S, S) each factor at its low value
    high:    np.ndarray        # (F, S, S) each factor at its high value

    @property
    def diffs(self) -> np.ndarray:
        """(F, S, S) true difference maps, high − low."""
        return self.high - self.low

    @property
    def regions(self) -> np.ndarray:
        """(F, S, S) boolean: where each factor's difference is at least REGION_SHARE of its peak."""
        a = np.abs(self.diffs)
        peak = a.reshape(len(a), -1).max(axis=1)[:, None, None]
        return (a >= REGION_SHARE * peak) & (peak > 0)


def subject_truth(subject: Subject, size: int) -> SubjectTruth:
    vals = factor_values()
    low = np.stack([render(set_factor(subject, iv, vals[iv.name][0]), size) for iv in INTERVENTIONS])
    high = np.stack([render(set_factor(subject, iv, vals[iv.name][1]), size) for iv in INTERVENTIONS])
    return SubjectTruth(subject, render(subject, size), low, high)


def subject_truths(subjects: list[Subject], size: int) -> list[SubjectTruth]:
    """:func:`subject_truth` for every subject (1 + 2 × F renders each; ~0.1 s at 64 px)."""
    from seegaan.utils.progress import progress

    return [subject_truth(s, size) for s in progress(subjects, desc="counterfactuals", unit="subject")]


@torch.no_grad()
def reliance_profile(model_fn: Callable[[torch.Tensor], torch.Tensor],
                     truths: list[SubjectTruth]) -> np.ndarray:
    """``(n_subjects, n_factors)`` true Δŷ = f(high) − f(low), on the model's own scale."""
    out = np.zeros((len(truths), len(INTERVENTIONS)))
    for i, t in enumerate(truths):
        x = torch.from_numpy(np.concatenate([t.low, t.high])[:, None])
        s = model_fn(x).double().cpu().numpy()
        out[i] = s[len(INTERVENTIONS):] - s[:len(INTERVENTIONS)]
    return out


@torch.no_grad()
def device_reliance(model_fn: Callable[[torch.Tensor], torch.Tensor], size: int, n: int = 64,
                    seed: int = 4321, version: int = 1) -> dict[str, float]:
    """The model's device on/off Δŷ over ``n`` fresh subjects (same pose and noise).

    This replaces a residual gap between device strata: a model that uses the device
    *properly* has no residual gap, so the gap cannot show reliance; switching the device
    on and off in the same film can. Returns the mean, its bootstrap 95% CI and the mean |Δŷ|.
    """
    from seegaan.validate.metrics import bootstrap_ci

    subs = sample_subjects(n, seed=seed, version=version)  # the model's own cohort version
    on = np.stack([render(s.replace(device=1), size) for s in subs])
    off = np.stack([render(s.replace(device=0), size) for s in subs])
    d = (model_fn(torch.from_numpy(on[:, None])) - model_fn(torch.from_numpy(off[:, None])))
    d = d.double().cpu().numpy()
    mean, lo, hi = bootstrap_ci(d, seed=seed)
    return {"n": n, "device_dy_mean": mean, "device_dy_ci_low": lo, "device_dy_ci_high": hi,
            "device_dy_mean_abs": float(np.abs(d).mean())}
