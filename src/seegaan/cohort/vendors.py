"""The eight manufacturers of SEE-GAAN's Table 1, each with its own image processing.

Real vendors differ in tube/detector (beam hardness, noise), in the look-up table that
turns log exposure into grey levels, in edge/detail enhancement and in how they mask the
collimated border. These profiles are invented but plausible; what matters for the study is
that the vendor is visible in the image, as it is in real data, so it can act as a nuisance.

Every step is a fixed function of the log image (no per-image histogram windowing), so a
change of one anatomical factor changes only the pixels near it.
"""

from __future__ import annotations

from dataclasses import dataclass

# Table 1 of the SEE-GAAN paper: radiographs per manufacturer (26,667 in all).
TABLE1_COUNTS = {"Carestream": 9650, "GE": 9526, "Swissray": 3627, "Agfa": 1683, "Thales": 1234,
                 "Siemens": 589, "Canon": 323, "Varian": 35}


@dataclass(frozen=True)
class Vendor:
    name: str
    scatter: float  # scatter-to-primary fraction reaching the detector (grid quality)
    centre: float  # log exposure shown as mid grey (logistic, film-like characteristic curve)
    width: float  # log-exposure scale of the curve: smaller = more contrast
    gamma: float  # exponent after the curve (>1 darkens the mid-greys)
    equalise: float  # dynamic-range compression (MUSICA-like): share of the low-pass removed
    edge: float  # unsharp-mask gain
    edge_mm: float  # unsharp-mask radius, millimetres
    noise: float  # quantum-noise standard deviation at mid grey (display units 0..1)
    border: str  # "none", "black", "white", "round": how the collimated edge looks
    border_frac: float  # border width as a fraction of the image side


VENDORS: dict[str, Vendor] = {v.name: v for v in (
    #      name          scat  centre width gamma equal edge  edge_mm noise  border  frac
    Vendor("Carestream", 0.25, 2.95, 0.50, 1.00, 0.25, 0.40, 2.5, 0.008, "none", 0.0),
    Vendor("GE",         0.20, 3.00, 0.46, 1.10, 0.30, 0.60, 1.5, 0.006, "black", 0.025),
    Vendor("Swissray",   0.35, 2.85, 0.58, 0.90, 0.15, 0.25, 3.5, 0.012, "white", 0.04),
    Vendor("Agfa",       0.22, 3.00, 0.46, 1.00, 0.40, 0.50, 2.0, 0.008, "none", 0.0),
    Vendor("Thales",     0.30, 3.05, 0.54, 1.20, 0.20, 0.35, 2.5, 0.014, "black", 0.015),
    Vendor("Siemens",    0.24, 2.95, 0.48, 1.05, 0.30, 0.40, 2.0, 0.009, "round", 0.06),
    Vendor("Canon",      0.20, 2.90, 0.44, 0.95, 0.35, 0.70, 1.0, 0.008, "white", 0.02),
    Vendor("Varian",     0.40, 2.80, 0.62, 0.90, 0.10, 0.15, 3.0, 0.016, "none", 0.0),
)}

NAMES = tuple(TABLE1_COUNTS)
PROPORTIONS = tuple(c / sum(TABLE1_COUNTS.values()) for c in TABLE1_COUNTS.values())


# --------------------------------------------------------------------------------------
# Cohort version 2: vendors differ inside the body, not by the border.
@dataclass(frozen=True)
class VendorV2:
    name: str
    scatter: float  # scatter-to-primary after the grid
    centre: float  # log exposure shown as mid grey
    width: float  # log-exposure scale of the logistic curve (smaller = more contrast)
    toe: float  # extra lift of the darkest greys (lungs): 0 = pure logistic
    gamma: float  # exponent after the curve
    equalise: float  # dynamic-range compression share (low-pass 15 mm)
    edge: float  # fine unsharp-mask gain (radius edge_mm)
    edge_mm: float
    detail: float  # medium-scale (8 mm) contrast enhancement gain
    noise: float  # noise SD at mid grey (display units)
    grain_mm: float  # noise correlation length: 0 = white, larger = blotchier texture


VENDORS_V2: dict[str, VendorV2] = {v.name: v for v in (
    #        name          scat  centre width toe   gamma equal edge  e_mm detail noise  grain
    VendorV2("Carestream", 0.10, 2.85, 0.50, 0.00, 1.00, 0.45, 0.45, 1.5, 0.30, 0.010, 0.0),
    VendorV2("GE",         0.08, 2.95, 0.44, 0.05, 1.15, 0.50, 0.70, 1.0, 0.15, 0.008, 0.6),
    VendorV2("Swissray",   0.14, 2.90, 0.56, 0.06, 0.95, 0.30, 0.20, 2.5, 0.45, 0.010, 0.9),
    VendorV2("Agfa",       0.09, 2.90, 0.48, 0.00, 1.05, 0.60, 0.55, 1.5, 0.50, 0.009, 0.4),
    VendorV2("Thales",     0.12, 3.00, 0.55, 0.05, 1.25, 0.35, 0.30, 2.0, 0.20, 0.012, 1.2),
    VendorV2("Siemens",    0.10, 2.85, 0.46, 0.03, 1.05, 0.45, 0.40, 1.2, 0.35, 0.010, 0.8),
    VendorV2("Canon",      0.08, 2.80, 0.42, 0.00, 0.95, 0.50, 0.85, 0.8, 0.15, 0.009, 0.3),
    VendorV2("Varian",     0.16, 2.90, 0.56, 0.06, 0.95, 0.25, 0.15, 3.0, 0.10, 0.012, 1.2),
)}

# Sites and their equipment. Each site buys from few vendors; AP portable films come from
# the mobile units, whatever the site. The overall mix stays close to Table 1.
SITES = ("A", "B", "C", "D")
SITE_PROPORTIONS = (0.40, 0.30, 0.20, 0.10)
SITE_VENDORS_PA: dict[str, dict[str, float]] = {
    "A": {"Carestream": 0.55, "GE": 0.30, "Agfa": 0.10, "Canon": 0.05},
    "B": {"GE": 0.55, "Swissray": 0.30, "Thales": 0.15},
    "C": {"Swissray": 0.35, "Carestream": 0.35, "Thales": 0.15, "Agfa": 0.10, "Varian": 0.05},
    "D": {"Siemens": 0.35, "Agfa": 0.35, "Canon": 0.20, "GE": 0.10},
}
PORTABLE_VENDORS: dict[str, float] = {"Carestream": 0.50, "GE": 0.40, "Siemens": 0.10}
