"""Latent predictors: scores that can fail, exact round trips, one-line errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from seegaan.errors import CheckpointError, InputError, OptionError, OutputExistsError
from seegaan.gvr import PredictorConfig, fit_predictor, load_predictor, save_predictor
from seegaan.gvr.explain import parse_targets, target_goals
from seegaan.gvr.predictor import check_latent_width

from .conftest import synthetic_table


@pytest.mark.parametrize("kind", ["linear", "mlp"])
def test_fit_scores_signal_and_not_noise(kind):
    cfg = PredictorConfig(target="y", architecture=kind, threshold=float(np.exp(6.0)), epochs=150, lr=1e-2)
    _, rep = fit_predictor(synthetic_table(), cfg)
    assert rep["heldout"]["n"] > 30 and rep["n_fit"] > 150
    assert rep["heldout"]["r2"] > 0.6 and rep["heldout"]["auc"] > 0.85
    _, noise = fit_predictor(synthetic_table(signal=False, seed=1), cfg)
    assert noise["heldout"]["r2"] < 0.1 and abs(noise["heldout"]["auc"] - 0.5) < 0.2


def test_logistic_for_a_binary_column():
    pred, rep = fit_predictor(synthetic_table(), PredictorConfig(target="label", architecture="linear"))
    assert pred.task == "classification" and pred.threshold == 0.5 and pred.cutoff == 0.0
    assert rep["heldout"]["auc"] > 0.85
    with pytest.raises(OptionError, match="between 0 and 1"):
        pred.scale(1.5)


def test_overfitted_mlp_memorises_a_small_subset():
    table = synthetic_table()
    rows = np.zeros(len(table.meta), bool)
    rows[:20] = True
    cfg = PredictorConfig(target="y", architecture="mlp", hidden=64, weight_decay=0.0,
                          early_stopping=False, epochs=300, lr=1e-2)
    _, rep = fit_predictor(table, cfg, rows=rows)
    assert rep["n_fit"] == 20 and rep["fit"]["r2"] > 0.99
    assert rep["heldout"]["r2"] < rep["fit"]["r2"] - 0.3


def test_save_load_round_trip_is_exact_and_not_pickled(tmp_path):
    table = synthetic_table()
    pred, _ = fit_predictor(table, PredictorConfig(target="y", architecture="mlp", epochs=20))
    save_predictor(pred, tmp_path / "p")
    assert sorted(p.name for p in (tmp_path / "p").iterdir()) == ["model.safetensors", "predictor.json"]
    record = json.loads((tmp_path / "p" / "predictor.json").read_text())
    assert record["w_dim"] == 16 and record["architecture"] == "mlp" and "heldout" in record["report"]
    again = load_predictor(tmp_path / "p")
    assert np.array_equal(again.predict(table.w), pred.predict(table.w))
    assert again.cutoff == pred.cutoff and float(again.spread) == float(pred.spread)
    with pytest.raises(OutputExistsError):
        save_predictor(pred, tmp_path / "p")                 # no silent overwrite


def test_bad_inputs_give_one_line_errors(tmp_path):
    table = synthetic_table()
    with pytest.raises(InputError, match="--target nope: no such column") as err:
        fit_predictor(table, PredictorConfig(target="nope"))
    assert "\n" not in str(err.value)
    with pytest.raises(InputError, match="no such column|only 0 numeric"):
        fit_predictor(table, PredictorConfig(target="name"))
    pred, _ = fit_predictor(table, PredictorConfig(target="y"))
    with pytest.raises(InputError, match="16-d latents but the latent table has 32-d"):
        check_latent_width(pred, 32)
    with pytest.raises(OptionError, match="must be positive on the log scale"):
        target_goals(pred, parse_targets("250,0"))
    with pytest.raises(OptionError, match="--targets"):
        parse_targets("250,abc")
    with pytest.raises(CheckpointError, match="not a GVR predictor"):
        load_predictor(tmp_path)
    with pytest.raises(OptionError, match="--architecture"):
        fit_predictor(table, PredictorConfig(target="y", architecture="forest"))
