"""The rationale search: move a latent code until the predictor changes its mind.

For a film encoded as w₀, gradient steps on

    J(w) = s · f(w) + β · ‖w − w₀‖² / r²

where f is the latent predictor, s = +1 to lower the prediction (GVR: "what would this film
look like healthy?") and −1 to raise it (inverse GVR), and r is the latents' mean distance
from their centre (stored in the predictor), so β is unit-free: β = 1 makes a move of one
typical latent spread cost one unit of prediction (one e-fold of BNPP on the log scale).

**[decision]** Each step has a fixed length (``step`` · r) along −∇J, halved whenever J would
rise; the search stops when f crosses the goal, and the last step is cut back (bisection) so
that the end point sits on the goal. With β > 0 the proximity term eventually balances the
predictor: the search then stalls and the status says "not reached". A linear predictor is
moved along its own gradient direction, in straight steps.

Many films are searched at once (one row each), so the bias test's hundred rationales cost
about as much as one.

Example::

    res = find_rationale(pred, w0, goal=pred.cutoff)               # healthy
    res = find_rationale(pred, w0, goal=pred.scale(4000.0))        # inverse GVR to 4000
    res.status, res.steps, res.start, res.end                      # per row
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch

from seegaan.errors import OptionError

REACHED, NOT_REACHED = "reached", "not reached"


@dataclass
class RationaleConfig:
    beta:      float = 0.5     # proximity weight β (unit-free, see the module docstring); >= 0
    step:      float = 0.002   # step length as a share of the latent spread r
    max_steps: int = 2000      # accepted steps at most
    min_step:  float = 1 / 256 # give up ("stalled") when halving makes a step shorter than this share of `step`
    keep_path: bool = True     # record every accepted step (figures, GIF); off for bulk runs

    def check(self) -> None:
        if not (self.beta >= 0 and np.isfinite(self.beta)):
            raise OptionError(f"--beta {self.beta:g}: must be zero or positive")
        if not self.step > 0 or self.max_steps < 1 or not 0 < self.min_step <= 1:
            raise OptionError("--step must be positive, --max-steps at least 1, min_step in (0, 1]")


@dataclass
class Rationale:
    """The result for a batch of films (arrays have one entry per film)."""

    w0:     np.ndarray              # (B, D) start codes
    w:      np.ndarray              # (B, D) end codes
    goal:   np.ndarray              # (B,) goal on the predictor's axis
    start:  np.ndarray              # (B,) prediction at w0 (predictor's axis)
    end:    np.ndarray              # (B,) prediction at the end
    steps:  np.ndarray              # (B,) accepted steps
    status: list[str]               # reached | not reached
    reason: list[str]               # why not (empty when reached)
    beta:   float
    config: dict[str, Any] = field(default_factory=dict)
    paths:  list[np.ndarray] | None = None  # per film (T_i, D), w0 first, end last

    @property
    def distance(self) -> np.ndarray:
        """‖w − w₀‖ per film."""
        return np.linalg.norm(self.w - self.w0, axis=1)

    def path_frames(self, i: int, n: int) -> tuple[np.ndarray, np.ndarray]:
        """``n`` codes evenly spaced (by step) along film ``i``'s path, and their step numbers."""
        if self.paths is None:
            raise OptionError("this rationale was searched with keep_path=False")
        p = self.paths[i]
        idx = np.unique(np.round(np.linspace(0, len(p) - 1, max(2, n))).astype(int))
        return p[idx], idx

    def record(self, i: int, predictor=None) -> dict[str, Any]:
        """Film ``i`` as a JSON-ready dict (original units too when ``predictor`` is given)."""
        out = {"status": self.status[i], "steps": int(self.steps[i]), "beta": self.beta,
               "goal": float(self.goal[i]), "start": float(self.start[i]), "end": float(self.end[i]),
               "distance": float(self.distance[i]),
               "distance_per_spread": float(self.distance[i] / self.config.get("spread", 1.0))}
        if self.reason[i]:
            out["reason"] = self.reason[i]
        if predictor is not None:
            out["start_original"] = float(predictor.original(self.start[i]))
            out["end_original"] = float(predictor.original(self.end[i]))
            out["goal_original"] = float(predictor.original(self.goal[i]))
        return out


def find_rationale(predictor, w0: np.ndarray | torch.Tensor, goal: float | np.ndarray,
                   config: RationaleConfig | None = None) -> Rationale:
    """Search every row of ``w0`` (shape (D,) or (B, D)) towards ``goal`` (predictor axis)."""
    cfg = config or RationaleConfig()
    cfg.check()
    w0_t = torch.as_tensor(np.asarray(w0, dtype=np.float32))
    if w0_t.ndim == 1:
        w0_t = w0_t[None]
    if w0_t.ndim != 2 or w0_t.shape[1] != predictor.w_dim:
        raise OptionError(f"w0: expected shape (B, {predictor.w_dim}), got {tuple(w0_t.shape)}")
    b = len(w0_t)
    goal_t = torch.as_tensor(np.broadcast_to(np.asarray(goal, dtype=np.float64), (b,)).copy())
    r = float(predictor.spread)
    with torch.no_grad():
        f0 = predictor(w0_t).double()
    sign = torch.where(goal_t < f0, 1.0, -1.0).double()  # +1: lower the prediction

    def crossed(f: torch.Tensor) -> torch.Tensor:
        return sign * (f - goal_t) <= 0

    def objective(w: torch.Tensor, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        f = predictor(w).double()
        j = sign[idx] * f + cfg.beta * (w - w0_t[idx]).double().pow(2).sum(1) / r**2
        return j, f

    w = w0_t.clone()
    eta = torch.full((b,), cfg.step * r, dtype=torch.float64)
    active = ~crossed(f0)
    steps = torch.zeros(b, dtype=torch.long)
    reason = [""] * b
    paths = [[w0_t[i].numpy().copy()] for i in range(b)] if cfg.keep_path else None
    f_cur = f0.clone()
    shortest = cfg.step * r * cfg.min_step
    while active.any():
        idx = torch.nonzero(active).flatten()
        wa = w[idx].clone().requires_grad_(True)
        j, _ = objective(wa, idx)
        (g,) = torch.autograd.grad(j.sum(), wa)
        g, j = g.double(), j.detach()
        norm = g.norm(dim=1)
        flat = norm < 1e-12
        w_new = (wa.detach().double() - (eta[idx] / norm.clamp_min(1e-12))[:, None] * g).float()
        with torch.no_grad():
            j_new, f_new = objective(w_new, idx)
        better = (j_new < j) & ~flat
        hit = better & (sign[idx] * (f_new - goal_t[idx]) <= 0)
        if hit.any():  # cut the last step back so that it ends on the goal
            h = idx[hit]
            w_new[hit], f_new[hit] = _bisect(predictor, w[h], w_new[hit], goal_t[h], sign[h])
        for pos, k in enumerate(idx.tolist()):
            if flat[pos]:
                active[k], reason[k] = False, f"stalled: zero gradient after {int(steps[k])} steps"
            elif better[pos]:
                w[k], f_cur[k] = w_new[pos], f_new[pos]
                steps[k] += 1
                if paths is not None:
                    paths[k].append(w[k].numpy().copy())
                if hit[pos]:
                    active[k] = False
                elif steps[k] >= cfg.max_steps:
                    active[k], reason[k] = False, f"max_steps={cfg.max_steps} used up"
            else:
                eta[k] /= 2
                if eta[k] < shortest:
                    active[k] = False
                    reason[k] = (f"stalled after {int(steps[k])} steps: the proximity term "
                                 f"(β={cfg.beta:g}) balances the predictor before the goal")
    reached = crossed(f_cur)
    status = [REACHED if bool(reached[i]) else NOT_REACHED for i in range(b)]
    return Rationale(w0=w0_t.numpy(), w=w.numpy(), goal=goal_t.numpy(), start=f0.numpy(),
                     end=f_cur.numpy(), steps=steps.numpy(), status=status,
                     reason=["" if bool(reached[i]) else reason[i] for i in range(b)],
                     beta=cfg.beta, config={**asdict(cfg), "spread": r},
                     paths=[np.stack(p) for p in paths] if paths is not None else None)


def _bisect(predictor, a: torch.Tensor, b: torch.Tensor, goal: torch.Tensor, sign: torch.Tensor,
            iters: int = 50) -> tuple[torch.Tensor, torch.Tensor]:
    """Points on the segments a→b where the prediction meets ``goal`` (b has crossed, a not)."""
    lo = torch.zeros(len(a), dtype=torch.float64)
    hi = torch.ones(len(a), dtype=torch.float64)
    with torch.no_grad():
        for _ in range(iters):
            mid = (lo + hi) / 2
            f = predictor((a.double() + mid[:, None] * (b.double() - a.double())).float()).double()
            over = sign * (f - goal) <= 0
            hi = torch.where(over, mid, hi)
            lo = torch.where(over, lo, mid)
            if (hi - lo).max() < 1e-9:
                break
        w = (a.double() + hi[:, None] * (b.double() - a.double())).float()
        f = predictor(w).double()
    return w, f
