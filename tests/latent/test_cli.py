"""`seegaan encode` / `seegaan sequence` end to end with the fake autoencoder, and every
promised error: one line, exit code 2, and no SEQ_DIR left behind."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import seegaan.cli.latent as cli_latent
from seegaan.cli import main
from seegaan.data.prepared import write_prepared
from seegaan.latent.store import load_latents, save_latents


@pytest.fixture
def setup(tmp_path, fake_ae, monkeypatch, table_factory):
    ae = fake_ae(w_dim=8, image_size=16)
    monkeypatch.setattr(cli_latent, "_load", lambda checkpoint, device: ae)
    table = table_factory(n=40, w_dim=8, seed=1, split_test=0.8)
    meta = table.meta.copy()
    meta.loc[3, "age"] = np.nan                       # missing values are dropped and counted
    meta.loc[5, "manufacturer"] = None
    meta["const"] = 3.0
    meta["rare"] = np.where(np.arange(40) == 0, "one", "many")
    meta.loc[[0, 3, 5], "split"] = "test"
    path = tmp_path / "latents.parquet"
    save_latents(meta, table.w, path, {"image_size": 16})
    return tmp_path, path, ae


def _run(capsys, *args):
    rc = main([str(a) for a in args])
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


def test_encode_command_writes_a_latent_table(tmp_path, fake_ae, monkeypatch, capsys):
    ae = fake_ae(w_dim=5, image_size=8)
    monkeypatch.setattr(cli_latent, "_load", lambda checkpoint, device: ae)
    n = 7
    images = ae.decode(np.random.default_rng(0).normal(size=(n, 5)).astype(np.float32)).numpy()[:, 0]
    index = pd.DataFrame({"image_id": [f"x{i}" for i in range(n)], "patient_id": ["p"] * n,
                          "split": ["test"] * 4 + ["val"] * 3, "source_path": [""] * n,
                          "sex": list("FMFMFMF")})
    write_prepared(tmp_path / "data", images, index, {"sex": "categorical"})
    out = tmp_path / "lat.parquet"
    rc, stdout, err = _run(capsys, "encode", "ckpt", tmp_path / "data", "--out", out,
                           "--split", "all", "--batch-size", "3")
    assert rc == 0, err
    assert "7 images" in stdout
    table = load_latents(out)
    assert table.w.shape == (7, 5) and "sex" in table.meta and "_row" not in table.meta
    rc, _, err = _run(capsys, "encode", "ckpt", tmp_path / "data", "--out", out)
    assert rc == 2 and "already exists" in err


def test_sequence_command_writes_every_artefact(setup, capsys):
    tmp, lat, _ = setup
    out = tmp / "seq"
    rc, stdout, err = _run(capsys, "sequence", "ckpt", lat, "--feature", "manufacturer",
                           "--from", "Carestream", "--to", "GE", "--frames", "4",
                           "--permutations", "19", "--correction", "fdr", "--seed", "7", "--out", out)
    assert rc == 0, err
    assert stdout.startswith("sequence: ")
    names = {p.name for p in out.iterdir()}
    assert {"sequence.png", "subtraction.png", "significant.png", "sequence.gif",
            "result.npz", "summary.json"} <= names
    s = json.loads((out / "summary.json").read_text())
    assert s["feature"] == "manufacturer" and s["mode"] == "global" and s["seed"] == 7
    assert set(s["groups"]) == {"Carestream", "GE"} and s["n_missing_excluded"] == 1
    assert len(s["values"]) == 4 and s["permutations"] == 19 and s["correction"] == "fdr"
    assert "total_s" in s["timings_s"] and s["options"]["checkpoint"] == "ckpt"
    with np.load(out / "result.npz") as npz:
        for key in ("frames", "diffs", "pvalues", "path", "values"):
            assert key in npz.files
        assert npz["frames"].shape == (4, 16, 16) and npz["path"].shape == (4, 8)
        assert np.all(npz["pvalues"] >= 1 / 20)


def test_quantitative_and_local_commands(setup, capsys):
    tmp, lat, _ = setup
    rc, _, err = _run(capsys, "sequence", "ckpt", lat, "--feature", "age", "--frames", "3",
                      "--permutations", "9", "--out", tmp / "age")
    assert rc == 0, err
    s = json.loads((tmp / "age" / "summary.json").read_text())
    assert s["feature_type"] == "quantitative" and s["n_missing_excluded"] == 1
    ages = load_latents(lat).meta.query("split == 'test'")["age"].dropna()
    assert s["values"][0] == pytest.approx(np.percentile(ages, 5))
    assert s["values"][-1] == pytest.approx(np.percentile(ages, 95))
    rc, _, err = _run(capsys, "sequence", "ckpt", lat, "--feature", "ahf", "--from", "0", "--to", "1",
                      "--image", "img002", "--lambda-max", "2", "--frames", "3",
                      "--permutations", "0", "--out", tmp / "local")
    assert rc == 0, err
    s = json.loads((tmp / "local" / "summary.json").read_text())
    assert s["mode"] == "local" and s["image_id"] == "img002" and s["values"] == [0, 1, 2]
    assert not (tmp / "local" / "significant.png").exists()


ERRORS = [
    (["--feature", "nope"], "--feature nope: no such column"),
    (["--feature", "rare", "--from", "one", "--to", "many"], "--from one: level of 'rare' has 1 image"),
    (["--feature", "ahf", "--from", "0", "--to", "7"], "--to 7: no such level"),
    (["--feature", "const"], "--feature const: constant"),
    (["--feature", "ahf", "--image", "ghost"], "--image ghost: no such image_id"),
    (["--feature", "ahf", "--permutations", "0", "--alpha", "0.05"], "--alpha: has no effect"),
    (["--feature", "manufacturer", "--from", "GE", "--to", "Carestream", "--backend", "pygam",
      "--kind", "quantitative"], "--from/--to: only for qualitative"),
]


@pytest.mark.parametrize("args,message", ERRORS)
def test_errors_are_one_line_and_leave_no_output(setup, capsys, args, message):
    tmp, lat, _ = setup
    out = tmp / "seq_err"
    rc, stdout, err = _run(capsys, "sequence", "ckpt", lat, "--out", out, *args)
    assert rc == 2
    assert err.startswith("error: ") and message in err and err.count("\n") == 1
    assert not out.exists() and not any(p.name.startswith(".seq_err") for p in tmp.iterdir())


def test_checkpoint_latent_size_mismatch(setup, capsys, fake_ae, monkeypatch):
    tmp, lat, _ = setup
    monkeypatch.setattr(cli_latent, "_load", lambda checkpoint, device: fake_ae(w_dim=4, image_size=16))
    rc, _, err = _run(capsys, "sequence", "ckpt", lat, "--feature", "ahf", "--out", tmp / "s")
    assert rc == 2 and "ckpt: latent size 4 does not match the latent table's 8" in err
    assert not (tmp / "s").exists()


def test_encode_rejects_a_checkpoint_of_another_image_size(tmp_path, fake_ae, monkeypatch, capsys):
    monkeypatch.setattr(cli_latent, "_load", lambda checkpoint, device: fake_ae(w_dim=4, image_size=12))
    images = np.zeros((3, 8, 8), dtype=np.float32)
    index = pd.DataFrame({"image_id": ["a", "b", "c"], "patient_id": "p", "split": "test",
                          "source_path": ""})
    write_prepared(tmp_path / "data", images, index, {})
    rc, _, err = _run(capsys, "encode", "ckpt", tmp_path / "data", "--out", tmp_path / "l.parquet")
    assert rc == 2 and "ckpt: image size 12 does not match the dataset's 8" in err
    assert not (tmp_path / "l.parquet").exists()


def test_sequence_records_the_permutation_scheme_and_refuses_huge_runs(setup, capsys):
    tmp, lat, _ = setup
    out = tmp / "seq_perm"
    rc, stdout, err = _run(capsys, "sequence", "ckpt", lat, "--feature", "ahf", "--out", out,
                           "--permutations", "19", "--frames", "3")
    assert rc == 0, err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["permute"] == "patients"          # the table has patient ids
    assert "ON AVERAGE" in summary["pvalue_meaning"]
    assert "patients permuted" in stdout and "maxt" in stdout
    rc, _, err = _run(capsys, "sequence", "ckpt", lat, "--feature", "ahf", "--out", tmp / "s2",
                      "--permutations", "19", "--frames", "3", "--permute", "images")
    assert rc == 0 and json.loads((tmp / "s2" / "summary.json").read_text())["permute"] == "images"
    # B too small: said before the run, on stderr.
    rc, _, err = _run(capsys, "sequence", "ckpt", lat, "--feature", "ahf", "--out", tmp / "s3",
                      "--permutations", "9", "--frames", "3")
    assert rc == 0 and "warning: --permutations 9" in err
    # A run that cannot fit: one typed line, exit 2, nothing written.
    rc, _, err = _run(capsys, "sequence", "ckpt", lat, "--feature", "ahf", "--out", tmp / "s4",
                      "--frames", str(10**9))
    assert rc == 2 and err.count("\n") == 1 and "memory" in err and "Traceback" not in err
    assert not (tmp / "s4").exists()
