"""True counterfactuals: the same subject, same pose, same noise, one factor changed.

Example::

    cf = counterfactual(subject, size=128, heart_scale="+10%")
    cf.gt_before["gt_ctr"], cf.gt_after["gt_ctr"]
    cf.diff          # the real difference map an explanation should reproduce
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from seegaan.cohort.render import ground_truth, render_image
from seegaan.cohort.subject import FACTORS, Subject
from seegaan.errors import OptionError


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
    """``change`` is an absolute value, or a string: "+10%", "-5%", "+5", "-0.1", "x1.2"."""
    if not isinstance(change, str):
        return float(change)
    text = change.strip()
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

    ``effusion_mm`` changes both sides together.
    """
    new = {}
    for name, change in changes.items():
        if name == "effusion_mm":
            for side in ("effusion_r_mm", "effusion_l_mm"):
                new[side] = _new_value(name, getattr(subject, side), change)
            continue
        if name not in FACTORS:
            allowed = ", ".join(sorted({*FACTORS, "effusion_mm"}))
            raise OptionError(f"{name}: not a factor (choose from {allowed})")
        new[name] = _new_value(name, getattr(subject, name), change)
    if "device" in new:
        new["device"] = int(round(new["device"]))
    after = dataclasses.replace(subject, **new)
    return Counterfactual(before=render_image(subject, size), after=render_image(after, size),
                          subject=after, gt_before=ground_truth(subject),
                          gt_after=ground_truth(after))
