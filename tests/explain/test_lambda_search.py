"""The lambda search: tolerance met with forward calls only, unreachable targets reported."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from seegaan.errors import OptionError
from seegaan.explain.adapter import InputAdapter
from seegaan.explain.lambda_search import lambda_for_patient, search_lambda
from seegaan.explain.loading import TorchModel


@pytest.mark.parametrize("target", [5.3, 6.0, 7.9, 5.05])
@pytest.mark.parametrize("shape", ["linear", "saturating", "decreasing"])
def test_reaches_target_within_tolerance(target, shape):
    f = {"linear": lambda lam: 5.0 + 0.8 * lam,
         "saturating": lambda lam: 5.0 + 3.0 * math.tanh(lam),
         "decreasing": lambda lam: 5.0 - 0.3 * lam}[shape]
    if shape == "decreasing":
        target = 5.0 - (target - 5.0) / 10.0
    calls = []

    def counted(lam):
        calls.append(lam)
        return f(lam)

    res = search_lambda(counted, target, tol=0.01, lam_max=4.0)
    assert res.status == "reached", res.message
    assert abs(f(res.lam) - target) <= 0.01
    assert res.calls == len(calls) == len(res.trace)
    assert res.calls <= 60
    assert 0.0 <= res.lam <= 4.0
    # Near the first lambda in the band: the band's entry is at most a half band away.
    slope = abs(f(res.lam + 1e-6) - f(res.lam)) / 1e-6
    entry = [lam for lam in np.linspace(0, 4, 40001) if abs(f(lam) - target) <= 0.01][0]
    assert res.lam - entry <= 0.01 / slope + 1e-3


def test_unreachable_target_is_explicit():
    res = search_lambda(lambda lam: 5.0 + 3.0 * math.tanh(lam), 9.0, tol=0.01, lam_max=4.0)
    assert res.status == "unreachable" and not res.reached and res.lam is None
    assert "unreachable within λ_max=4" in res.message
    assert res.trace[-1][0] == 4.0  # it did try lambda_max itself
    assert res.calls == len(res.trace) <= 10


def test_wrong_direction_is_unreachable():
    res = search_lambda(lambda lam: 5.0 + lam, 4.0, lam_max=2.0)
    assert res.status == "unreachable"


def test_already_within_tolerance_costs_one_call():
    res = search_lambda(lambda lam: 6.004 + lam, 6.0)
    assert res.status == "reached" and res.lam == 0.0 and res.calls == 1


def test_step_function_does_not_converge():
    res = search_lambda(lambda lam: 5.0 if lam < 1.3 else 7.0, 6.0, max_calls=40)
    assert res.status == "no-convergence"
    assert res.lam is None and "jumps across" in res.message


def test_bad_options():
    with pytest.raises(OptionError):
        search_lambda(lambda lam: lam, 1.0, tol=0.0)


def test_patient_search_with_autoencoder_and_model(fake_ae, tiny_models_on_path):
    import explain_tiny_models as tm

    model = TorchModel("bright", tm.brightness(), InputAdapter(log_output=True), model_format="entry-point")
    w_e = np.zeros(fake_ae.w_dim, np.float32)
    direction = np.zeros(fake_ae.w_dim, np.float32)
    direction[0] = 1.0  # brightens the image, so log BNPP rises monotonically
    start = float(np.log(model.predict(fake_ae.decode(torch.from_numpy(w_e[None])))[0]))
    target = start + 0.5
    before = fake_ae.decodes
    res, frame = lambda_for_patient(model, fake_ae, w_e, direction, target, tol=0.01)
    assert res.reached
    assert abs(float(np.log(model.predict(frame)[0])) - target) <= 0.01
    # One decode per model call, plus the final frame: forward calls only.
    assert fake_ae.decodes - before == res.calls + 1
