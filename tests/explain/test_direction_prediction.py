"""``--direction prediction``: the local direction joins the model's class means, not the truth's.

On the fixture the two directions differ (the model errs on some patients), so the local
sequences of the two runs must differ too; the direction is recorded in the summary.
"""

from __future__ import annotations

import json

import numpy as np

from seegaan.explain.adapter import InputAdapter
from seegaan.explain.attribution import AttributionSettings
from seegaan.explain.loading import load_model
from seegaan.explain.methods import load_explanation, read_manifest
from seegaan.explain.pipeline import ExplainConfig, explain

CFG = dict(frames=4, permutations=0, max_calls=30, attributions=())


def test_prediction_direction_changes_the_local_sequences(tmp_path, cohort, fake_ae,
                                                          tiny_models_on_path):
    model = load_model("explain_tiny_models:brightness", InputAdapter(log_output=True))
    frames = {}
    for direction in ("truth", "prediction"):
        out = tmp_path / direction
        explain("fake", cohort["latents"], out, model=model,
                config=ExplainConfig(direction=direction, **CFG),
                attribution_settings=AttributionSettings(), autoencoder=fake_ae)
        summary = json.loads((out / "summary.json").read_text())
        assert summary["config"]["direction"] == direction
        man = read_manifest(out)
        tp = next(c for c in man["cases"] if c["category"] == "TP")
        frames[direction] = load_explanation(out / tp["folder"] / "seegaan_local").frames
    # Same patient, same λ grid: frame 0 (its reconstruction) agrees, the path does not.
    np.testing.assert_allclose(frames["truth"][0], frames["prediction"][0], atol=1e-6)
    assert np.abs(frames["truth"][-1] - frames["prediction"][-1]).max() > 1e-3


def test_cli_accepts_direction_prediction(tmp_path, cohort, tiny_models_on_path, monkeypatch,
                                          fake_ae, capsys):
    import seegaan
    from seegaan.cli import main

    monkeypatch.setattr(seegaan, "load_autoencoder", lambda *a, **k: fake_ae)
    out = tmp_path / "cli"
    rc = main(["explain", "fake", str(cohort["latents"]), "--model",
               "explain_tiny_models:brightness", "--log-output", "--direction", "prediction",
               "--frames", "3", "--permutations", "0", "--attributions", "none",
               "--out", str(out)])
    assert rc == 0, capsys.readouterr().err
    assert json.loads((out / "summary.json").read_text())["config"]["direction"] == "prediction"
