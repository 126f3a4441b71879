"""The causal clinical model of cohort version 2 (equations in ``docs/cohort.md`` §3b).

What version 2 adds to version 1 (``clinical.py``), patient level::

    site          ~ Categorical(A 0.40, B 0.30, C 0.20, D 0.10); AHF prevalence differs by site
    eGFR          = clip(N(100 - 0.8 (age - 40)+ - 12 AHF, 15), 8, 130)   mL/min/1.73 m²
    shape model   thorax_width  = clip(N(1 + 0.03 male, 0.04), 0.85, 1.15)
                  thorax_height = clip(N(1 + 0.02 male, 0.035), 0.88, 1.12)
                  diaphragm_mm  = clip(N(0.35 (fat - 14), 8), -25, 25)     obesity raises the domes
                  heart_shift   = clip(N(0, 5), -15, 15)
    device        logit P = -3.4 + k AHF: k = 1.7 by default (P 3% vs 15%: CRT/ICD go with
                  heart failure), 3.4 with --shortcut (P 3% vs 50%); k is recorded
    log BNPP      = version 1's + 0.20 female - 0.012 (eGFR - 75)

Film level::

    AP portable   logit P = -2.2 + 2.4 AHF + 0.02 (age - 63); AP films have less inspiration
                  and more rotation
    vendor        from the site's equipment for PA films, from the mobile units for AP films
    L/R marker    present on 92% of films

Example::

    subjects = sample_subjects_v2(100, seed=0)
    subjects[0].ap, subjects[0].site, subjects[0].manufacturer
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from seegaan.cohort.clinical import film_fields, films_of, sample_patients
from seegaan.cohort.subject import Subject
from seegaan.cohort.vendors import PORTABLE_VENDORS, SITE_PROPORTIONS, SITE_VENDORS_PA, SITES

DEVICE_LOG_ODDS = 1.7  # default log odds ratio of a device given AHF (realistic confounder)
DEVICE_LOG_ODDS_SHORTCUT = 3.4  # with --shortcut
SITE_AHF_LOGIT = {"A": 0.35, "B": 0.0, "C": -0.2, "D": -0.6}  # tertiary centre ... community


def sample_patients_v2(n: int, seed: int, shortcut: bool = False,
                       device_log_odds: float | None = None) -> pd.DataFrame:
    """Version-1 patients plus site, eGFR, the shape model and the v2 device and BNPP terms.

    AHF is redrawn with the site's offset, then every AHF-driven factor follows it.
    """
    base = sample_patients(n, seed, shortcut=False)
    rng = np.random.default_rng(np.random.SeedSequence([seed, 21]))
    site = np.array(SITES)[rng.choice(len(SITES), size=n, p=SITE_PROPORTIONS)]
    age = base["age"].to_numpy()
    female = base["sex"].eq("F").to_numpy()
    male = ~female
    offset = np.array([SITE_AHF_LOGIT[s] for s in site])
    ahf = rng.random(n) < 1.0 / (1.0 + np.exp(-(-1.92 + 0.035 * (age - 63.0) + 0.25 * male + offset)))
    # Factors that follow AHF in version 1: re-draw them for the new AHF status.
    heart = np.clip(0.83 + 0.19 * ahf + 0.0025 * (age - 63.0) - 0.03 * female
                    + rng.normal(0.0, 0.055, n), 0.70, 1.40)
    has_eff = rng.random(n) < np.where(ahf, 0.60, 0.06)
    eff_r = has_eff * np.clip(rng.gamma(2.0, np.where(ahf, 14.0, 8.0)), 3.0, 90.0)
    eff_l = eff_r * (rng.random(n) < 0.7) * rng.uniform(0.3, 1.1, n)
    cong = np.where(ahf, rng.beta(4.0, 3.0, n), (rng.random(n) < 0.25) * rng.beta(1.2, 6.0, n))
    k = device_log_odds if device_log_odds is not None else (
        DEVICE_LOG_ODDS_SHORTCUT if shortcut else DEVICE_LOG_ODDS)
    device = rng.random(n) < 1.0 / (1.0 + np.exp(-(-3.4 + k * ahf)))
    egfr = np.clip(rng.normal(100.0 - 0.8 * np.clip(age - 40.0, 0, None) - 12.0 * ahf, 15.0), 8.0, 130.0)
    fat = base["fat_mm"].to_numpy()
    log_bnpp = (6.75 + 1.4 * ahf + 0.02 * (age - 63.0) + 8.0 * (heart - 0.86)
                - 0.035 * (fat - 14.0) + 0.20 * female - 0.012 * (egfr - 75.0)
                + rng.normal(0.0, 0.65, n))
    out = base.assign(
        site=site, ahf=ahf.astype(int), heart_scale=heart, effusion_r_mm=eff_r, effusion_l_mm=eff_l,
        congestion=cong, device=device.astype(int), log_bnpp=log_bnpp, egfr=egfr,
        thorax_width=np.clip(rng.normal(1.0 + 0.03 * male, 0.04), 0.85, 1.15),
        thorax_height=np.clip(rng.normal(1.0 + 0.02 * male, 0.035), 0.88, 1.12),
        diaphragm_mm=np.clip(rng.normal(0.35 * (fat - 14.0), 8.0), -25.0, 25.0),
        heart_shift_mm=np.clip(rng.normal(0.0, 5.0, n), -15.0, 15.0),
    )
    out.attrs["device_log_odds"] = float(k)
    return out


def _pick(rng, table: dict[str, float]) -> str:
    names = list(table)
    p = np.array([table[k] for k in names])
    return names[int(rng.choice(len(names), p=p / p.sum()))]


def sample_subjects_v2(n_images: int, seed: int = 0, shortcut: bool = False,
                       device_log_odds: float | None = None) -> list[Subject]:
    """Version-2 films: patients of :func:`sample_patients_v2` with 1 + Poisson(0.7) films each."""
    pats = sample_patients_v2(n_images, seed, shortcut, device_log_odds)
    rng = np.random.default_rng(np.random.SeedSequence([seed, 22]))
    out: list[Subject] = []
    for p, j, jit in films_of(pats, rng, n_images):
        ap = int(rng.random() < 1.0 / (1.0 + np.exp(-(-2.2 + 2.4 * p.ahf + 0.02 * (p.age - 63.0)))))
        vendor = _pick(rng, PORTABLE_VENDORS if ap else SITE_VENDORS_PA[p.site])
        inspiration = float(np.clip(rng.normal(0.95 if ap else 1.0, 0.04), 0.88, 1.10))
        out.append(Subject(
            **film_fields(p, j, jit, vendor, rotation_sd=3.5 if ap else 2.0, rotation_max=8.0),
            inspiration=inspiration, noise_seed=int(rng.integers(0, 2**62)),
            version=2, site=p.site, egfr=round(float(p.egfr), 1), ap=ap,
            lr_marker=int(rng.random() < 0.92),
            thorax_width=float(p.thorax_width), thorax_height=float(p.thorax_height),
            diaphragm_mm=float(p.diaphragm_mm), heart_shift_mm=float(p.heart_shift_mm),
        ))
    return out
