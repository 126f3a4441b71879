"""The lambda search: how far must a misclassified patient move for the model to be right?

For a false positive or false negative, SEE-GAAN moves the patient's latent along the
direction between the class means, ``w(lambda) = w_E + lambda * (w_desired - w_current)``,
and asks for the smallest lambda at which the model's prediction on ``G(w(lambda))`` equals
the patient's true value to within ``tol`` (0.01 in log BNPP in the paper).

The search uses forward calls only, so it works for any model (ONNX, a web service, a
random forest on pixels): it doubles lambda until the prediction crosses the target, then
bisects the bracket. To land near the *first* lambda inside the tolerance band rather than
anywhere in it, it aims at the near half of the band (``target -+ tol/2`` with tolerance
``tol/2``), which still guarantees ``|f(lambda) - target| <= tol``.

Example::

    res = search_lambda(lambda lam: predict(decode(w_e + lam * d)), target=np.log(120.0))
    res.status, res.lam, res.calls        # "reached", 0.84, 11

    # or, with the autoencoder and model wired up:
    res = lambda_for_patient(model, ae, w_e, direction, target=np.log(120.0))
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch

from seegaan.errors import ModelError, OptionError

REACHED = "reached"
UNREACHABLE = "unreachable"
NO_CONVERGENCE = "no-convergence"


@dataclass
class LambdaResult:
    status:    str                 # reached | unreachable | no-convergence
    lam:       float | None        # the lambda found (None unless reached)
    value:     float               # f at lam, or at the lambda that came closest
    target:    float
    tol:       float
    lam_max:   float
    calls:     int                 # forward calls made (one decode + one model call each)
    message:   str
    trace:     list[tuple[float, float]] = field(default_factory=list)  # (lambda, f) in call order

    @property
    def reached(self) -> bool:
        return self.status == REACHED

    @property
    def display_lambda(self) -> float:
        """The lambda worth showing: the one found, else lambda_max (how far the search went)
        when unreachable, else the closest lambda tried."""
        if self.lam is not None:
            return self.lam
        if self.status == UNREACHABLE:
            return self.lam_max
        return min(self.trace, key=lambda t: abs(t[1] - self.target))[0] if self.trace else 0.0

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["trace"] = [[float(a), float(b)] for a, b in self.trace]
        return d


def search_lambda(f: Callable[[float], float], target: float, *, tol: float = 0.01,
                  lam_max: float = 4.0, lam_start: float = 0.125, max_calls: int = 60,
                  lam_eps: float = 1e-6) -> LambdaResult:
    """Smallest lambda in [0, lam_max] with ``|f(lambda) - target| <= tol``, by bracketing then bisection.

    ``f`` is any scalar function of lambda, evaluated only forward. The bracket doubles
    lambda from ``lam_start``, so a target crossed more than once is found at its first
    crossing on that grid. Returns ``status="unreachable"`` with an explicit message when f
    never reaches the target on [0, lam_max], and ``"no-convergence"`` when f jumps over the
    band (a discontinuous model) or ``max_calls`` runs out.
    """
    if not (tol > 0 and lam_max > 0 and 0 < lam_start <= lam_max and max_calls >= 2):
        raise OptionError(f"lambda search: need tol > 0, 0 < lam_start <= lam_max and max_calls >= 2 "
                          f"(got tol={tol}, lam_start={lam_start}, lam_max={lam_max}, max_calls={max_calls})")
    trace: list[tuple[float, float]] = []

    def call(lam: float) -> float:
        v = float(f(lam))
        trace.append((lam, v))
        return v

    def result(status: str, lam: float | None, value: float, message: str) -> LambdaResult:
        return LambdaResult(status, lam, value, float(target), tol, lam_max, len(trace), message,
                            trace)

    v0 = call(0.0)
    if not math.isfinite(v0):
        return result(NO_CONVERGENCE, None, v0, "model output is not finite at λ=0")
    if abs(v0 - target) <= tol:
        return result(REACHED, 0.0, v0, "already within tolerance at λ=0")
    side = 1.0 if v0 > target else -1.0
    aim, aim_tol = target + side * tol / 2.0, tol / 2.0  # the near half of the band

    def closest() -> tuple[float, float]:
        return min(trace, key=lambda t: abs(t[1] - target))

    # 1. Bracket: double lambda until f is on the other side of `aim` (or inside the band).
    lo, hi = 0.0, None
    lam = lam_start
    while len(trace) < max_calls:
        v = call(lam)
        if not math.isfinite(v):
            return result(NO_CONVERGENCE, None, v, f"model output is not finite at λ={lam:g}")
        if abs(v - aim) <= aim_tol:
            return result(REACHED, lam, v, f"reached at λ={lam:g} while bracketing")
        if (v - aim) * side < 0:
            hi = lam
            break
        lo = lam
        if lam >= lam_max:
            break
        lam = min(2.0 * lam, lam_max)
    if hi is None:
        best_lam, best_v = closest()
        if len(trace) >= max_calls and lo < lam_max:
            return result(NO_CONVERGENCE, None, best_v,
                          f"ran out of calls ({max_calls}) before λ_max={lam_max:g}")
        return result(UNREACHABLE, None, best_v,
                      f"unreachable within λ_max={lam_max:g}: prediction moved from {v0:.4g} "
                      f"(λ=0) to {trace[-1][1]:.4g} (λ={lam_max:g}), target {target:.4g}; "
                      f"closest {best_v:.4g} at λ={best_lam:g}")

    # 2. Bisect the bracket [lo, hi]: f(lo) is on the start side of `aim`, f(hi) beyond it.
    while len(trace) < max_calls and hi - lo > lam_eps:
        mid = 0.5 * (lo + hi)
        v = call(mid)
        if not math.isfinite(v):
            return result(NO_CONVERGENCE, None, v, f"model output is not finite at λ={mid:g}")
        if abs(v - aim) <= aim_tol:
            return result(REACHED, mid, v, f"reached at λ={mid:.6g}")
        if (v - aim) * side > 0:
            lo = mid
        else:
            hi = mid
    # Accept a point already inside the full band if the near half was never hit exactly.
    inside = [(lam_, v_) for lam_, v_ in trace if abs(v_ - target) <= tol]
    if inside:
        lam_, v_ = min(inside)
        return result(REACHED, lam_, v_, f"reached at λ={lam_:.6g}")
    best_lam, best_v = closest()
    why = ("the prediction jumps across the target" if hi - lo <= lam_eps
           else f"ran out of calls ({max_calls})")
    return result(NO_CONVERGENCE, None, best_v,
                  f"no convergence between λ={lo:.6g} and {hi:.6g}: {why}; closest "
                  f"{best_v:.4g} at λ={best_lam:g}, target {target:.4g}")


def lambda_for_patient(model, autoencoder, w_e: np.ndarray | torch.Tensor,
                       direction: np.ndarray | torch.Tensor, target: float, *,
                       log_scale: bool = True, **kwargs: Any) -> tuple[LambdaResult, torch.Tensor]:
    """Run :func:`search_lambda` for one patient; returns the result and ``G(w(lambda))``.

    ``model`` is an :class:`~seegaan.explain.loading.ExplainableModel`; ``target`` is on the
    comparison scale (log of the true value when ``log_scale``). The frame returned is the
    decoded image at ``res.display_lambda``: the lambda found, or lambda_max when the target
    is unreachable (showing where the search gave up).
    """
    # Copies: the caller's arrays may be read-only views of a memory-mapped table.
    w_e = torch.tensor(np.asarray(w_e, dtype=np.float32)).reshape(1, -1)
    d = torch.tensor(np.asarray(direction, dtype=np.float32)).reshape(1, -1)
    w_e, d = w_e.to(autoencoder.device), d.to(autoencoder.device)

    def f(lam: float) -> float:
        with torch.no_grad():
            image = autoencoder.decode(w_e + lam * d).float().cpu()
        return float(comparison_scale(model.predict(image), log_scale, model.name)[0])

    res = search_lambda(f, target, **kwargs)
    lam = res.display_lambda
    with torch.no_grad():
        frame = autoencoder.decode(w_e + lam * d).float().cpu()
    return res, frame


def comparison_scale(pred: np.ndarray, log_scale: bool, name: str = "model") -> np.ndarray:
    """Predictions in target units -> the scale the tolerance is measured on (log or linear)."""
    pred = np.asarray(pred, dtype=np.float64)
    if not log_scale:
        return pred
    if (pred <= 0).any():
        raise ModelError(f"{name}: prediction {pred[pred <= 0][0]:.4g} is not positive, so it has "
                         "no log; pass --no-log or a model whose output is on the log scale")
    return np.log(pred)
