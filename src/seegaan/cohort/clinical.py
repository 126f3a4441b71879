"""The causal clinical model behind the virtual cohort (equations in ``docs/cohort.md``).

Patient level (index i), in causal order::

    female_i      ~ Bernoulli(0.44)
    age_i         = clip(N(63, 16), 18, 98)
    logit P(AHF)  = -1.92 + 0.035 (age - 63) + 0.25 male
    heart_i       = clip(0.83 + 0.19 AHF + 0.0025 (age - 63) - 0.03 female + N(0, 0.055), 0.70, 1.40)
    fat_i (mm)    = clip(N(14 + 5 female - 0.05 (age - 63), 9), 0, 40)
    breast_i (mm) = female * clip(N(32 + 0.4 (fat - 14), 10), 8, 65)
    bmd_i         = clip(1.05 - 0.006 (age - 35)+ - 0.006 female (age - 50)+ + N(0, 0.07), 0.45, 1.3)
    effusion, congestion: mostly with AHF (see sample_patients)
    device_i      ~ Bernoulli(0.06), or with --shortcut Bernoulli(0.45 if AHF else 0.03)
    log BNPP_i    = 6.75 + 1.4 AHF + 0.02 (age - 63) + 8.0 (heart - 0.86) - 0.035 (fat - 14) + N(0, 0.7)

Film level (each patient has 1 + Poisson(0.7) films, ~1.7 on average): the manufacturer is
drawn from Table 1's proportions, BNPP varies by a factor exp(N(0, 0.25)) and is reported up
to the assay limit of 70,000 pg/mL, fluid and congestion vary a little, and the pose (size,
rotation, shift, inspiration) is redrawn.

Example::

    subjects = sample_subjects(n_images=100, seed=0)
    subjects[0].bnpp, subjects[0].heart_scale
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from seegaan.cohort.subject import Subject
from seegaan.cohort.vendors import NAMES as VENDOR_NAMES
from seegaan.cohort.vendors import PROPORTIONS
from seegaan.errors import OptionError

BNPP_MAX = 70_000.0  # reported upper limit of the NT-proBNP assay (after dilution), pg/mL
FILMS_EXTRA_MEAN = 0.7  # films per patient = 1 + Poisson(0.7): 1.7 on average, as in the paper


def _clip_normal(rng, mean, sd, lo, hi, size=None):
    return np.clip(rng.normal(mean, sd, size=size), lo, hi)


def sample_patients(n: int, seed: int, shortcut: bool = False) -> pd.DataFrame:
    """Draw ``n`` patients from the causal model (one row each, patient-level variables)."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 1]))
    female = rng.random(n) < 0.44
    age = _clip_normal(rng, 63.0, 16.0, 18.0, 98.0, n)
    male = ~female
    ahf = rng.random(n) < 1.0 / (1.0 + np.exp(-(-1.92 + 0.035 * (age - 63.0) + 0.25 * male)))
    heart = np.clip(0.83 + 0.19 * ahf + 0.0025 * (age - 63.0) - 0.03 * female
                    + rng.normal(0.0, 0.055, n), 0.70, 1.40)
    fat = np.clip(rng.normal(14.0 + 5.0 * female - 0.05 * (age - 63.0), 9.0), 0.0, 40.0)
    breast = female * np.clip(rng.normal(32.0 + 0.4 * (fat - 14.0), 10.0), 8.0, 65.0)
    bmd = np.clip(1.05 - 0.006 * np.clip(age - 35.0, 0, None)
                  - 0.006 * female * np.clip(age - 50.0, 0, None)
                  + rng.normal(0.0, 0.07, n), 0.45, 1.3)
    # Pleural fluid: common in AHF (60%), rare otherwise (6%); right-sided more often,
    # bilateral in 70% of cases.
    has_eff = rng.random(n) < np.where(ahf, 0.60, 0.06)
    eff_r = has_eff * np.clip(rng.gamma(2.0, np.where(ahf, 14.0, 8.0)), 3.0, 90.0)
    bilateral = rng.random(n) < 0.7
    eff_l = eff_r * bilateral * rng.uniform(0.3, 1.1, n)
    # Congestion: moderate to severe in AHF, mild in a quarter of the others.
    cong = np.where(ahf, rng.beta(4.0, 3.0, n),
                    (rng.random(n) < 0.25) * rng.beta(1.2, 6.0, n))
    p_dev = np.where(ahf, 0.45, 0.03) if shortcut else np.full(n, 0.06)
    device = rng.random(n) < p_dev
    log_bnpp = (6.75 + 1.4 * ahf + 0.02 * (age - 63.0) + 8.0 * (heart - 0.86)
                - 0.035 * (fat - 14.0) + rng.normal(0.0, 0.7, n))
    zoom = _clip_normal(rng, 1.0, 0.04, 0.88, 1.12, n)  # body size, patient level
    seeds = rng.integers(0, 2**62, size=(n, 2))
    return pd.DataFrame({
        "patient_id": [f"P{i + 1:05d}" for i in range(n)],
        "sex": np.where(female, "F", "M"), "age": age, "ahf": ahf.astype(int),
        "heart_scale": heart, "fat_mm": fat, "breast_mm": breast, "bmd": bmd,
        "effusion_r_mm": eff_r, "effusion_l_mm": eff_l, "congestion": cong,
        "device": device.astype(int), "log_bnpp": log_bnpp, "zoom": zoom,
        "deform_seed": seeds[:, 0], "device_seed": seeds[:, 1],
    })


def sample_subjects(n_images: int, seed: int = 0, shortcut: bool = False, version: int = 2,
                    device_log_odds: float | None = None) -> list[Subject]:
    """Draw patients and their films until ``n_images`` radiographs; one Subject per film.

    ``version`` 2 (the default) is the model of ``clinical_v2.py``; ``version=1`` reproduces
    the original cohort exactly. ``device_log_odds`` (version 2 only) sets how strongly a
    device goes with AHF; ``None`` takes the default, or the ``shortcut`` value.
    """
    if version == 2:
        from seegaan.cohort.clinical_v2 import sample_subjects_v2

        return sample_subjects_v2(n_images, seed, shortcut, device_log_odds)
    if version != 1:
        raise OptionError(f"--version {version}: choose 1 or 2")
    if device_log_odds is not None:
        raise OptionError("--device-log-odds: needs cohort version 2")
    pats = sample_patients(n_images, seed, shortcut)  # at most one patient per image
    rng = np.random.default_rng(np.random.SeedSequence([seed, 2]))
    out: list[Subject] = []
    for p, j, jit in films_of(pats, rng, n_images):
        vendor = VENDOR_NAMES[int(rng.choice(len(VENDOR_NAMES), p=PROPORTIONS))]
        inspiration = float(np.clip(rng.normal(1.0, 0.04), 0.88, 1.10))
        out.append(Subject(**film_fields(p, j, jit, vendor), inspiration=inspiration,
                           noise_seed=int(rng.integers(0, 2**62))))
    return out


def films_of(pats: pd.DataFrame, rng: np.random.Generator, n_images: int):
    """Yield ``(patient row, film index, jitter)`` for 1 + Poisson(0.7) films per patient,
    ``n_images`` in all. The jitter (8 normal draws) moves state and pose a little between a
    patient's films."""
    films = 1 + rng.poisson(FILMS_EXTRA_MEAN, size=len(pats))
    count = 0
    for p, k in zip(pats.itertuples(index=False), films):
        for j in range(int(k)):
            if count == n_images:
                return
            count += 1
            yield p, j, rng.normal(size=8)


def film_fields(p, j: int, jit: np.ndarray, vendor: str, rotation_sd: float = 2.0,
                rotation_max: float = 6.0) -> dict:
    """The Subject fields of film ``j`` of patient ``p`` (a sample_patients row) that every
    cohort version draws the same way, from the film's jitter ``jit`` (8 normal draws)."""
    return dict(
        image_id=f"{p.patient_id}_{j + 1}", patient_id=p.patient_id, sex=p.sex,
        age=round(float(p.age) + 0.1 * j, 2), ahf=int(p.ahf),
        bnpp=round(min(float(np.exp(p.log_bnpp + 0.25 * jit[0])), BNPP_MAX), 1),
        manufacturer=vendor,
        heart_scale=float(np.clip(p.heart_scale * np.exp(0.01 * jit[1]), 0.70, 1.40)),
        fat_mm=float(p.fat_mm), breast_mm=float(p.breast_mm), bmd=float(p.bmd),
        effusion_r_mm=float(p.effusion_r_mm * np.exp(0.2 * jit[2])),
        effusion_l_mm=float(p.effusion_l_mm * np.exp(0.2 * jit[2])),
        congestion=float(np.clip(p.congestion + 0.05 * jit[3] * (p.congestion > 0), 0, 1)),
        device=int(p.device),
        zoom=float(np.clip(p.zoom + 0.01 * jit[4], 0.85, 1.15)),
        rotation_deg=float(np.clip(rotation_sd * jit[5], -rotation_max, rotation_max)),
        shift_x=float(np.clip(0.02 * jit[6], -0.05, 0.05)),
        shift_y=float(np.clip(0.02 * jit[7], -0.05, 0.05)),
        deform_seed=int(p.deform_seed), device_seed=int(p.device_seed),
    )


def subjects_frame(subjects: list[Subject]) -> pd.DataFrame:
    """The clinical columns of ``cohort.csv`` (without ground truth) for a list of subjects.

    Version-2 films add ``site``, ``egfr`` and ``projection`` after ``device``.
    """
    df = pd.DataFrame({
        "image_id": [s.image_id for s in subjects],
        "patient_id": [s.patient_id for s in subjects],
        "sex": [s.sex for s in subjects], "age": [s.age for s in subjects],
        "ahf": [s.ahf for s in subjects], "bnpp": [s.bnpp for s in subjects],
        "manufacturer": [s.manufacturer for s in subjects],
        "device": [s.device for s in subjects],
    })
    if subjects and all(s.version == 2 for s in subjects):
        df["site"] = [s.site for s in subjects]
        df["egfr"] = [s.egfr for s in subjects]
        df["projection"] = ["AP" if s.ap else "PA" for s in subjects]
    return df
