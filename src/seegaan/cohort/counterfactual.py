"""True counterfactuals: the same subject, same pose, same noise, one factor changed.

Example::

    cf = counterfactual(subject, size=128, heart_scale="+10%")
    cf.gt_before["gt_ctr"], cf.gt_after["gt_ctr"]
    cf.diff          # the real difference map an explanation should reproduce

    for f in FACTORS.values():                       # every factor, at its documented size
        cf = counterfactual(subject, 64, **{f.name: f.change})
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from seegaan.cohort.render import ground_truth, render_image
from seegaan.cohort.subject import FACTORS as FIELDS
from seegaan.cohort.subject import Subject
from seegaan.errors import OptionError


@dataclass(frozen=True)
class Factor:
    """One factor a counterfactual can change, with its documented change size."""

    name: str  # keyword of counterfactual()
    gt: str  # the gt_* column it drives
    change: float | str  # documented one-factor change ("+15%", "+30", "toggle", ...)
    value_type: str  # "continuous" or "switch" (0/1; "toggle" turns it on or off)
    versions: tuple[int, ...]  # cohort versions that render it
    meaning: str


# The table callers iterate over to render a subject with one factor changed. The sizes are
# clinically visible changes of about one population SD (or a switch).
FACTORS: dict[str, Factor] = {f.name: f for f in (
    Factor("heart_scale", "gt_ctr", "+15%", "continuous", (1, 2), "heart size (LV-predominant in v2)"),
    Factor("fat_mm", "gt_fat", "+15", "continuous", (1, 2), "subcutaneous fat shell, mm"),
    Factor("breast_mm", "gt_breast", "+25", "continuous", (1, 2), "breast tissue, mm (women)"),
    Factor("bmd", "gt_bmd", "-0.3", "continuous", (1, 2), "bone mineral density"),
    Factor("effusion_mm", "gt_effusion", "+30", "continuous", (1, 2), "pleural fluid, both sides, mm"),
    Factor("congestion", "gt_congestion", "+0.5", "continuous", (1, 2), "venous congestion / oedema"),
    Factor("device", "gt_device", "toggle", "switch", (1, 2), "pacemaker/ICD with leads"),
    Factor("ap", "gt_ap", "toggle", "switch", (2,), "AP portable instead of PA"),
    Factor("lr_marker", "gt_lr_marker", "toggle", "switch", (2,), "lead L marker"),
    Factor("thorax_width", "gt_thorax_width", "+6%", "continuous", (2,), "shape: chest width"),
    Factor("thorax_height", "gt_thorax_height", "+5%", "continuous", (2,), "shape: chest height"),
    Factor("diaphragm_mm", "gt_diaphragm", "+15", "continuous", (2,), "shape: dome elevation, mm"),
    Factor("heart_shift_mm", "gt_heart_shift", "+8", "continuous", (2,), "shape: heart position, mm"),
)}
SWITCHES = {k for k, f in FACTORS.items() if f.value_type == "switch"}


@dataclass
class Counterfactual:
    before: np.ndarray  # float32 (S, S) in [0, 1]
    after: np.ndarray
    subject: Subject  # the changed subject
    gt_before: dict[str, float]
    gt_after: dict[str, float]

    @property
    def diff(self) -> np.ndarray:
        return self.after - self.before


def _new_value(name: str, old: float, change: float | str) -> float:
    """``change`` is an absolute value, or a string: "+10%", "-5%", "+5", "-0.1", "x1.2", "toggle"."""
    if not isinstance(change, str):
        return float(change)
    text = change.strip()
    if text == "toggle":
        if name not in SWITCHES:
            raise OptionError(f"{name}={change!r}: only switches toggle ({', '.join(sorted(SWITCHES))})")
        return 1.0 - float(old)
    try:
        if text.endswith("%"):
            return old * (1.0 + float(text[:-1]) / 100.0)
        if text[:1] in "xX*":
            return old * float(text[1:])
        if text[:1] in "+-":
            return old + float(text)
        return float(text)
    except ValueError:
        raise OptionError(f"{name}={change!r}: expected a number, '+10%', '+5' or 'x1.2'") from None


def counterfactual(subject: Subject, size: int = 256, **changes: float | str) -> Counterfactual:
    """Render ``subject`` before and after changing the named factors (see ``FACTORS``).

    ``effusion_mm`` changes both sides together. Switches (``device``, ``ap``, ``lr_marker``)
    take 0, 1 or "toggle". Version-2 factors need a version-2 subject.
    """
    new = {}
    for name, change in changes.items():
        if name == "effusion_mm":
            for side in ("effusion_r_mm", "effusion_l_mm"):
                new[side] = _new_value(name, getattr(subject, side), change)
            continue
        if name not in FIELDS:
            allowed = ", ".join(sorted({*FIELDS, "effusion_mm"}))
            raise OptionError(f"{name}: not a factor (choose from {allowed})")
        if subject.version not in FACTORS[name].versions:
            raise OptionError(f"{name}: needs a cohort-version-2 subject (Subject(version=2))")
        new[name] = _new_value(name, getattr(subject, name), change)
    for name in SWITCHES & set(new):
        new[name] = int(round(min(max(new[name], 0.0), 1.0)))
    after = dataclasses.replace(subject, **new)
    return Counterfactual(before=render_image(subject, size), after=render_image(after, size),
                          subject=after, gt_before=ground_truth(subject),
                          gt_after=ground_truth(after))
