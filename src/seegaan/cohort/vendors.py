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
