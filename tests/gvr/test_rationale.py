"""The rationale search on a toy linear latent space, and the overlay colours."""

from __future__ import annotations

import math

import numpy as np
import pytest

from seegaan.gvr import RationaleConfig, find_rationale
from seegaan.gvr.overlay import overlay_rgb

from .conftest import linear_predictor

A = np.array([0.6, -0.3, 0.0, 0.8, 0.1, 0.0, -0.2, 0.4])


def test_moves_along_the_gradient_and_stops_at_the_cutoff():
    pred = linear_predictor(A, threshold=1.0)            # cut-off: log(1) = 0
    rng = np.random.default_rng(0)
    w0 = rng.normal(size=(5, len(A))).astype(np.float32)
    w0 += (2.0 - w0 @ A)[:, None] * A / (A @ A)           # every film starts at f = 2 (positive)
    res = find_rationale(pred, w0, pred.cutoff, RationaleConfig(beta=0.0, step=0.05))
    assert res.status == ["reached"] * 5
    assert np.allclose(res.end, pred.cutoff, atol=1e-4)  # on the cut-off, not past it
    assert (res.steps > 1).all()
    for path in res.paths:
        moves = np.diff(path, axis=0)
        cos = moves @ A / np.linalg.norm(moves, axis=1) / np.linalg.norm(A)
        assert np.allclose(cos, -1.0, atol=1e-4)          # straight down the gradient
    # The shortest move that lowers a·w by 2 has length 2/‖a‖.
    assert np.allclose(res.distance, 2.0 / np.linalg.norm(A), rtol=1e-3)


def test_inverse_direction_raises_the_prediction_to_the_target():
    pred = linear_predictor(A, threshold=1.0)
    w0 = np.zeros((1, len(A)), np.float32)
    res = find_rationale(pred, w0, math.log(4000.0) / 8, RationaleConfig(beta=0.0, step=0.05))
    assert res.status == ["reached"]
    assert res.end[0] == pytest.approx(math.log(4000.0) / 8, abs=1e-4)
    move = res.w[0] - res.w0[0]
    assert move @ A > 0


def test_proximity_term_keeps_the_move_smaller_as_beta_grows():
    pred = linear_predictor(A, threshold=1.0)
    w0 = np.zeros((1, len(A)), np.float32)
    dist, status = [], []
    for beta in (0.0, 0.1, 1.0, 10.0):
        res = find_rationale(pred, w0, -3.0, RationaleConfig(beta=beta, step=0.02))
        dist.append(float(res.distance[0]))
        status.append(res.status[0])
    assert all(b <= a + 1e-6 for a, b in zip(dist, dist[1:]))
    assert dist[-1] < 0.5 * dist[0]
    assert status[0] == "reached" and status[-1] == "not reached"
    # At the stall, the predictor's pull balances the penalty: ‖w − w₀‖ ≈ ‖a‖ r² / (2β).
    assert dist[-1] == pytest.approx(np.linalg.norm(A) / 20.0, rel=0.05)


def test_not_reached_carries_a_reason():
    pred = linear_predictor(A)
    res = find_rationale(pred, np.zeros(len(A), np.float32), -50.0,
                         RationaleConfig(beta=0.0, step=0.01, max_steps=5))
    assert res.status == ["not reached"] and "max_steps" in res.reason[0]
    assert res.steps[0] == 5


def test_overlay_colours_removed_orange_added_purple():
    original = np.zeros((8, 8), np.float32)
    start = np.zeros((8, 8), np.float32)
    end = start.copy()
    end[1, 1] = -0.6                                       # density removed
    end[6, 6] = +0.6                                       # density added
    rgb = overlay_rgb(original, start, end)
    r, g, b = rgb[1, 1]
    assert r > g > b and r > 0.8                          # orange
    r, g, b = rgb[6, 6]
    assert b > r > g and b > 0.7                          # purple
    assert np.allclose(rgb[3, 3], 0.5)                     # unchanged: the grey film
