"""Exponential moving average of the encoder, mapping and generator weights."""

from __future__ import annotations

import torch
from torch import nn


def ema_beta(step: int, beta: float) -> float:
    """Decay ramped from ~0 to ``beta`` over the first steps.

    Early weights are random; averaging them in with 0.999 from step 0 would make the EMA
    model useless for thousands of steps, which matters in short CPU runs.
    """
    return min(beta, (1.0 + step) / (10.0 + step))


@torch.no_grad()
def update_ema(ema: nn.Module, live: nn.Module, beta: float) -> None:
    """``ema = beta * ema + (1 - beta) * live`` for matching parameters."""
    for pe, pl in zip(ema.parameters(), live.parameters()):
        pe.lerp_(pl.detach(), 1.0 - beta)
