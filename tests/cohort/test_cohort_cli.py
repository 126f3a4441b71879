"""`seegaan cohort`: the folder it writes, its determinism, and one-line errors."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from seegaan.cli import main

CONTRACT = ["image_id", "patient_id", "sex", "age", "ahf", "bnpp", "manufacturer", "device",
            "gt_ctr", "gt_fat", "gt_breast", "gt_bmd", "gt_effusion", "gt_congestion", "gt_device"]


def _run(args, capsys):
    rc = main(args)
    return rc, capsys.readouterr()


def test_cohort_writes_contract_folder(tmp_path, capsys):
    out = tmp_path / "c"
    rc, _ = _run(["--quiet", "cohort", str(out), "--n", "12", "--size", "32", "--seed", "3",
                  "--workers", "1"], capsys)
    assert rc == 0
    df = pd.read_csv(out / "cohort.csv")
    assert list(df.columns[: len(CONTRACT) - 7]) == CONTRACT[:8]
    assert set(CONTRACT) <= set(df.columns)
    assert len(df) == 12 and df["image_id"].is_unique
    assert set(df["sex"]) <= {"F", "M"} and set(df["ahf"]) <= {0, 1}
    for image_id in df["image_id"]:
        im = Image.open(out / "images" / f"{image_id}.png")
        assert im.size == (32, 32) and im.mode.startswith("I;16")
    meta = json.loads((out / "cohort.json").read_text())
    assert meta["options"] == {"n": 12, "size": 32, "seed": 3, "shortcut": False,
                               "device_log_odds": 1.7}
    assert meta["cohort_version"] == 2
    assert {"site", "egfr", "projection", "gt_ap", "gt_lr_marker"} <= set(df.columns)


def test_same_seed_identical_whatever_the_workers(tmp_path, capsys):
    a, b = tmp_path / "a", tmp_path / "b"
    assert _run(["--quiet", "cohort", str(a), "--n", "40", "--size", "24", "--workers", "1"], capsys)[0] == 0
    assert _run(["--quiet", "cohort", str(b), "--n", "40", "--size", "24", "--workers", "2"], capsys)[0] == 0
    assert (a / "cohort.csv").read_bytes() == (b / "cohort.csv").read_bytes()
    for p in sorted((a / "images").iterdir()):
        assert np.array_equal(np.array(Image.open(p)), np.array(Image.open(b / "images" / p.name)))


@pytest.mark.parametrize("args, needle", [
    (["--n", "0"], "--n"),
    (["--size", "7"], "--size"),
    (["--n", "-3"], "--n"),
])
def test_bad_options_one_line(tmp_path, capsys, args, needle):
    rc, cap = _run(["cohort", str(tmp_path / "x"), *args], capsys)
    assert rc != 0
    lines = cap.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and needle in lines[0]
    assert not (tmp_path / "x").exists()


def test_unwritable_and_existing_out_dir(tmp_path, capsys):
    blocker = tmp_path / "file.txt"
    blocker.write_text("not a folder")
    rc, cap = _run(["cohort", str(blocker / "out"), "--n", "2", "--size", "16"], capsys)
    assert rc != 0 and len(cap.err.strip().splitlines()) == 1 and "cannot write" in cap.err
    out = tmp_path / "exists"
    out.mkdir()
    rc, cap = _run(["cohort", str(out), "--n", "2", "--size", "16"], capsys)
    assert rc != 0 and "already exists" in cap.err and len(cap.err.strip().splitlines()) == 1


def test_cohort_then_prepare(tmp_path, capsys):
    out = tmp_path / "c"
    assert _run(["--quiet", "cohort", str(out), "--n", "20", "--size", "32", "--workers", "1"], capsys)[0] == 0
    data = tmp_path / "d"
    rc, cap = _run(["--quiet", "prepare", "--images", str(out / "images"), "--csv",
                    str(out / "cohort.csv"), "--out", str(data), "--size", "32"], capsys)
    assert rc == 0, cap.err
    prep = json.loads((data / "prepare.json").read_text())
    assert prep["n_images"] == 20
    assert "gt_ctr" in prep["features"] and "bnpp" in prep["features"]
