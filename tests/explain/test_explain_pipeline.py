"""`seegaan explain` end to end on a fake autoencoder and a tiny monotone model, plus its errors."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from seegaan.cli import main
from seegaan.errors import OptionError
from seegaan.explain.adapter import InputAdapter
from seegaan.explain.attribution import AttributionSettings
from seegaan.explain.loading import load_model
from seegaan.explain.methods import load_explanation, read_manifest
from seegaan.explain.pipeline import ExplainConfig, explain

FAST = AttributionSettings(ig_steps=6, sg_samples=3, batch_size=4)
CFG = dict(frames=4, permutations=5, max_calls=40)


def _model():
    return load_model("explain_tiny_models:brightness", InputAdapter(log_output=True))


def test_explain_end_to_end(tmp_path, cohort, fake_ae, tiny_models_on_path):
    out = tmp_path / "exp"
    lines: list[str] = []
    s = explain("fake", cohort["latents"], out, model=_model(), config=ExplainConfig(**CFG),
                attribution_settings=FAST, autoencoder=fake_ae, echo=lines.append)
    for name in ("summary.json", "manifest.json", "fig6.png", "global_side_by_side.png",
                 "global_truth/summary.json", "global_prediction/summary.json"):
        assert (out / name).is_file(), name
    on_disk = json.loads((out / "summary.json").read_text())
    assert on_disk["predictions"]["n"] == 30 and 0.0 <= on_disk["predictions"]["auc"] <= 1.0
    assert set(on_disk["cases"]) == {"TP", "TN", "FP", "FN"}
    man = read_manifest(out)
    by_cat = {c["category"]: c for c in man["cases"]}
    pixel = ["saliency", "gradcam", "ig", "smoothgrad", "occlusion"]
    assert man["global"]["truth"]["dir"] == "global_truth"
    for cat, case in by_cat.items():
        assert case["image_id"] == on_disk["cases"][cat]["image_id"]
        for m in pixel:
            exp = load_explanation(out / case["folder"] / m)
            assert exp.status == "ok" and exp.map.shape == (16, 16)
    # The fixture is built so that the model makes every kind of call, and the monotone
    # model can always be pushed to the truth: every case exists, every λ search succeeds.
    assert set(by_cat) == {"TP", "TN", "FP", "FN"}
    for cat in ("TP", "TN"):
        if cat in by_cat:
            exp = load_explanation(out / by_cat[cat]["folder"] / "seegaan_local")
            assert exp.frames.shape == (4, 16, 16) and exp.steps[0] == 0.0
    searched = [c for c in ("FP", "FN") if c in by_cat]
    assert searched, "the fixture is built to give the model some errors"
    for cat in searched:
        exp = load_explanation(out / by_cat[cat]["folder"] / "seegaan_lambda")
        lam = exp.scalars
        # The progress line names the λ reached, and never prints "λ=None".
        assert any(line.strip().startswith(f"{cat}: reached at λ=") for line in lines), lines
        assert lam["calls"] >= 1 and lam["calls"] == len(lam["trace"])
        assert exp.status == "reached", exp.message
        assert lam["lam"] > 0
        if exp.status == "reached":
            # Truth is reached on the log scale within the tolerance.
            assert abs(np.log(lam["prediction_at_lambda"]) - np.log(by_cat[cat]["truth"])) <= 0.0101
    assert on_disk["attributions"]["methods"] == pixel
    # Categories were decided at the 400 threshold on the split's truth and predictions.
    assert sum(on_disk["categories"].values()) == 30
    assert s["cases"] == on_disk["cases"]
    assert not any("λ=None" in line for line in lines)


def test_explain_with_prediction_csv_only(tmp_path, cohort, fake_ae):
    ids = cohort["index"]["image_id"]
    rng = np.random.default_rng(3)
    preds = pd.DataFrame({"image_id": ids, "score": cohort["index"]["bnpp"] * np.exp(rng.normal(0, 0.8, len(ids)))})
    preds.to_csv(tmp_path / "p.csv", index=False)
    s = explain("fake", cohort["latents"], tmp_path / "exp", predictions_csv=tmp_path / "p.csv",
                config=ExplainConfig(**CFG), autoencoder=fake_ae)
    assert s["model"] is None and s["predictions"]["source"].startswith("csv:")
    assert s["attributions"]["methods"] == []
    for c in read_manifest(tmp_path / "exp")["cases"]:
        if c["category"] in ("FP", "FN"):
            assert c["methods"]["seegaan_lambda"] == "skipped"


def test_chosen_images_must_match_their_category(tmp_path, cohort, fake_ae, tiny_models_on_path):
    picks = ("im030", "im031", "im032", "im033")
    with pytest.raises(OptionError, match="--images im03"):
        explain("fake", cohort["latents"], tmp_path / "exp", model=_model(),
                config=ExplainConfig(images=picks, **CFG), autoencoder=fake_ae)
    assert not (tmp_path / "exp").exists()


@pytest.mark.parametrize("threshold,word", [(1e9, "no positive"), (1e-3, "no negative")])
def test_threshold_without_both_classes_is_one_line(tmp_path, cohort, capsys, threshold, word,
                                                    tiny_models_on_path):
    code = main(["--quiet", "explain", "fake-ckpt", str(cohort["latents"]), "--model",
                 "explain_tiny_models:brightness", "--log-output", "--threshold", str(threshold),
                 "--out", str(tmp_path / "exp")])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.startswith("error: --threshold") and word in err and "\n" not in err
    assert not (tmp_path / "exp").exists()


def test_cli_errors_are_one_line(tmp_path, cohort, capsys, tiny_models_on_path):
    (tmp_path / "junk.pt").write_bytes(b"garbage")
    cases = [
        (["--model", str(tmp_path / "junk.pt")], "does not load as TorchScript"),
        (["--model", "explain_tiny_models:small_cnn", "--output", "5"], "output index 5 is out of range"),
        (["--model", "explain_tiny_models:nan_model"], "returned NaN"),
    ]
    for extra, text in cases:
        code = main(["explain", "fake-ckpt", str(cohort["latents"]), "--out", str(tmp_path / "e"),
                     *extra])
        lines = capsys.readouterr().err.strip().splitlines()
        errors = [ln for ln in lines if ln.startswith("error:")]
        assert code == 2, lines
        assert len(errors) == 1 and text in errors[0], lines


def test_onnx_model_explains_without_gradients(tmp_path, cohort, fake_ae, capsys, tiny_models_on_path):
    pytest.importorskip("onnxruntime")
    import warnings

    import explain_tiny_models as tm
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(tm.brightness().eval(), cohort["images"][:2], str(tmp_path / "b.onnx"),
                          dynamo=False, input_names=["x"], output_names=["y"],
                          dynamic_axes={"x": {0: "n"}})
    # Asked for explicitly, gradients are refused on one line before any work is done.
    code = main(["--quiet", "explain", "fake", str(cohort["latents"]), "--model", str(tmp_path / "b.onnx"),
                 "--log-output", "--attributions", "saliency", "--out", str(tmp_path / "e1")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err[-1].startswith("error:") and "ONNX models give predictions only" in err[-1]
    # By default the maps are skipped and the lambda search still runs, forward only.
    model = load_model(tmp_path / "b.onnx", InputAdapter(log_output=True))
    s = explain("fake", cohort["latents"], tmp_path / "e2", model=model, config=ExplainConfig(**CFG),
                autoencoder=fake_ae)
    # Gradient maps are skipped; Occlusion (forward only) and the λ search still run.
    assert s["attributions"]["methods"] == ["occlusion"]
    assert "predictions only" in s["attributions"]["skipped_reason"]
    man = read_manifest(tmp_path / "e2")
    calls = [load_explanation(tmp_path / "e2" / c["folder"] / "seegaan_lambda").scalars.get("calls", 0)
             for c in man["cases"] if c["category"] in ("FP", "FN")]
    assert any(n > 0 for n in calls)


def test_oracle_measures_both_global_sequences(tmp_path, cohort, fake_ae, monkeypatch,
                                               tiny_models_on_path):
    import seegaan.cohort.oracle as oracle_mod

    class FakeOracle:  # heart size follows brightness, fat its opposite
        def predict(self, images):
            b = np.asarray(images).mean(axis=(1, 2, 3))
            return pd.DataFrame({"gt_ctr": 0.5 + 0.1 * b, "gt_fat": 10 - 5 * b})

    monkeypatch.setattr(oracle_mod, "load_oracle", lambda size=None, path=None, version=1: FakeOracle())
    s = explain("fake", cohort["latents"], tmp_path / "exp", model=_model(),
                config=ExplainConfig(oracle=True, attributions=(), **CFG), autoencoder=fake_ae)
    for key in ("truth", "prediction"):
        o = s["oracle"][key]
        assert o["available"] and set(o) >= {"gt_ctr", "gt_fat", "heart_enlarges"}
        assert o["heart_enlarges"] == (o["gt_ctr"]["change"] > 0)
