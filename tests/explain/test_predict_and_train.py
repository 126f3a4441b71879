"""`seegaan predict` (model or CSV -> column) and `seegaan cnn train` (a loadable CNN directory)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from seegaan.cli import main
from seegaan.errors import InputError, OptionError
from seegaan.explain.adapter import InputAdapter
from seegaan.explain.loading import load_model
from seegaan.explain.predict import merge_predictions_csv, predict_dataset, predict_latents
from seegaan.explain.train_cnn import CNNTrainConfig, train_cnn
from seegaan.latent.store import load_latents


def test_predict_latents_matches_direct_call(cohort, tiny_models_on_path):
    model = load_model("explain_tiny_models:brightness", InputAdapter(log_output=True))
    table = predict_latents(model, cohort["latents"], column="pred")
    with torch.no_grad():
        direct = np.exp(model.module(cohort["images"])[:, 0].numpy())
    np.testing.assert_allclose(table.meta["pred"], direct, rtol=1e-5)
    assert table.info["predictions"]["pred"]["model_format"] == "entry-point"
    with pytest.raises(OptionError, match="already has it"):
        predict_latents(model, table, column="pred")


def test_predict_cli_table_and_dataset(tmp_path, cohort, capsys, tiny_models_on_path):
    args = ["explain_tiny_models:brightness", "--log-output"]
    assert main(["predict", *args, str(cohort["latents"])]) == 0
    assert "prediction" in load_latents(cohort["latents"]).meta.columns
    out = tmp_path / "preds.csv"
    assert main(["predict", *args, str(cohort["data_dir"]), "--out", str(out), "--split", "test"]) == 0
    df = pd.read_csv(out)
    assert len(df) == 30 and set(df.columns) >= {"image_id", "split", "prediction"}
    # A CSV from "any algorithm" merges into the latent table as its own column.
    df.rename(columns={"prediction": "other"})[["image_id", "other"]].to_csv(tmp_path / "o.csv", index=False)
    code = main(["predict", str(tmp_path / "o.csv"), str(cohort["latents"]), "--column", "rf"])
    err = capsys.readouterr().err
    assert code == 2 and "no prediction for image im000" in err  # only the test split was predicted


def test_predict_dataset_and_csv_merge(tmp_path, cohort, tiny_models_on_path):
    model = load_model("explain_tiny_models:brightness", InputAdapter(log_output=True))
    df = predict_dataset(model, cohort["data_dir"])
    df[["image_id", "prediction"]].to_csv(tmp_path / "p.csv", index=False)
    table = merge_predictions_csv(load_latents(cohort["latents"]), tmp_path / "p.csv")
    np.testing.assert_allclose(table.meta["prediction"], df["prediction"])
    pd.DataFrame({"image_id": ["im000"], "prediction": ["abc"]}).to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(InputError, match="row 2, column prediction"):
        merge_predictions_csv(load_latents(cohort["latents"]), tmp_path / "bad.csv")


def test_cnn_train_writes_a_self_describing_directory(tmp_path, cohort):
    cfg = CNNTrainConfig(arch="resnet10", epochs=1, batch_size=10, shortcut_check=True)
    m = train_cnn(cohort["data_dir"], tmp_path / "cnn", cfg)
    d = tmp_path / "cnn"
    for name in ("model.pt", "model.safetensors", "config.json", "metrics.json", "history.jsonl"):
        assert (d / name).is_file(), name
    config = json.loads((d / "config.json").read_text())
    assert config["format"] == "seegaan-cnn" and config["input_adapter"]["log_output"] is True
    assert set(m["test"]) >= {"r2", "auc", "n"} and m["test"]["n"] == 30
    on_off = m["shortcut"]["device_on_off"]
    assert on_off["n"] == 64 and on_off["device_dy_ci_low"] <= on_off["device_dy_mean"] <= on_off["device_dy_ci_high"]
    # The directory loads with no flags; its TorchScript twin is checked in test_adapters.
    assert load_model(d).predict(cohort["images"][:4]).shape == (4,)


def test_cnn_train_cli_checks(tmp_path, cohort, capsys):
    assert main(["cnn", "train", str(cohort["data_dir"]), "--out", str(tmp_path / "c"), "--dry-run"]) == 0
    assert "20 train" in capsys.readouterr().out
    code = main(["cnn", "train", str(cohort["data_dir"]), "--out", str(tmp_path / "c"),
                 "--target", "nope"])
    assert code == 2 and "--target nope" in capsys.readouterr().err
