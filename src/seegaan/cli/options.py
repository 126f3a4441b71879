"""Option types shared by the commands: numbers that must be finite (and in range).

``click``'s ``float`` accepts ``nan`` and ``inf``; a NaN ``--lambda-max`` or ``--vlim`` then
flows into the computation and comes out as a plausible-looking result. These types refuse
them at the boundary with a one-line usage error (exit 2).

Example::

    @click.option("--vlim", type=FiniteFloat(min=0, min_open=True), default=None)
"""

from __future__ import annotations

import math

import click


class FiniteFloat(click.ParamType):
    """A finite float, optionally bounded below / above (open or closed bounds)."""

    name = "float"

    def __init__(self,
                 min:       float | None = None,   # lower bound, or None
                 max:       float | None = None,   # upper bound, or None
                 min_open:  bool = False,          # True: value must be > min
                 max_open:  bool = False,          # True: value must be < max
                 ) -> None:
        self.min, self.max, self.min_open, self.max_open = min, max, min_open, max_open

    def convert(self, value, param, ctx):
        if isinstance(value, float) and math.isfinite(value):
            x = value
        else:
            try:
                x = float(value)
            except (TypeError, ValueError):
                self.fail(f"{value!r} is not a number", param, ctx)
        if not math.isfinite(x):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        if self.min is not None and (x < self.min or (self.min_open and x == self.min)):
            self.fail(f"{value!r} must be {'>' if self.min_open else '>='} {self.min:g}", param, ctx)
        if self.max is not None and (x > self.max or (self.max_open and x == self.max)):
            self.fail(f"{value!r} must be {'<' if self.max_open else '<='} {self.max:g}", param, ctx)
        return x


FINITE = FiniteFloat()
POSITIVE = FiniteFloat(min=0, min_open=True)
