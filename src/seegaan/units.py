"""How a sequence's frame values are shown to a reader: in the feature's own units.

A right-skewed lab value such as BNPP is regressed on its natural log (the latent-table
column ``log_bnpp``), so a sequence's values are log units (4.47 … 10.4). Nobody reads BNPP
that way, so every label a person sees (frame titles in the PNGs, the figure title, the
report slider's readout) undoes the log and adds the unit: ``bnpp=87.4 pg/mL``. The numbers
stored in ``summary.json`` and ``result.npz`` stay on the scale the sequence was built on.

Example::

    frame_value_labels([4.47, 10.4], "log_bnpp")    # ['bnpp=87.4 pg/mL', 'bnpp=32,900 pg/mL']
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

LOG_PREFIX = "log_"   # the explain pipeline's name for a log-scale column (log_bnpp)

# Units of the columns the project knows. BNP and NT-proBNP are reported in pg/mL.
UNITS = {"bnpp": "pg/mL", "bnp": "pg/mL", "ntprobnp": "pg/mL", "nt_probnp": "pg/mL"}


def unit_of(name: str) -> str | None:
    """The unit of a column (``bnpp`` -> ``pg/mL``), or None when the project does not know it."""
    return UNITS.get(str(name).lower())


def base_name(name: str) -> str:
    """``log_bnpp`` -> ``bnpp``; other names unchanged."""
    name = str(name)
    return name[len(LOG_PREFIX):] if name.startswith(LOG_PREFIX) and len(name) > len(LOG_PREFIX) else name


def original_scale(name: str, values: Sequence[float] | np.ndarray,
                   unit: str | None = None) -> tuple[str, np.ndarray, str | None]:
    """``(name, values, unit)`` on the feature's own scale: a ``log_`` column is exponentiated."""
    v = np.asarray(values, dtype=np.float64)
    base = base_name(name)
    if base != str(name):
        v = np.exp(v)
    return base, v, unit or unit_of(base)


def format_value(v: float) -> str:
    """Three significant figures, with thousands separators (87.4, 1,230, 32,900)."""
    v = float(v)
    if not math.isfinite(v):
        return str(v)
    r = float(f"{v:.3g}")        # rounded first: 999.5 becomes 1,000, not 1e+03
    return f"{r:,.0f}" if abs(r) >= 100 else f"{r:.3g}"


def value_text(v: float, unit: str | None) -> str:
    return format_value(v) + (f" {unit}" if unit else "")


def frame_value_labels(values: Sequence[float] | np.ndarray, value_name: str,
                       unit: str | None = None, sep: str = "=") -> list[str]:
    """One label per frame of a sequence along a feature, in the feature's own units."""
    name, v, unit = original_scale(value_name, values, unit)
    return [f"{name}{sep}{value_text(x, unit)}" for x in v]
