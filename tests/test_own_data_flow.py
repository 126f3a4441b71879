"""The README's "your own radiographs" flow on 16 films, as a newcomer runs it.

No --split flag anywhere: `encode` takes every film because the test split is tiny (and
says so), later commands use the split the latent table holds, small groups are warned
about with their patient counts, and the report finds Table 1 through a *linked* dataset.
"""

from __future__ import annotations

import os
import re

import pandas as pd
import pytest

from seegaan.cli import main
from seegaan.models.autoencoder import DEMO_CHECKPOINT as _DEMO
from seegaan.utils.progress import set_quiet

DEMO_CHECKPOINT = str(_DEMO)


@pytest.fixture(scope="module")
def flow(tmp_path_factory):
    """Render 16 films, write a user-style CSV, and prepare them as the README says."""
    from seegaan.cohort import render_cohort

    set_quiet(True)
    root = tmp_path_factory.mktemp("own")
    films = root / "films"
    table = render_cohort(films, n=16, size=64, seed=3)
    # A user's own table: their column names, not the cohort's.
    csv = root / "table.csv"
    table.rename(columns={"image_id": "file", "patient_id": "mrn"})[
        ["file", "mrn", "age", "bnpp", "sex", "ahf"]].to_csv(csv, index=False)
    data = root / "data" / "mine64"
    assert main(["prepare", "--images", str(films / "images"), "--csv", str(csv),
                 "--out", str(data), "--size", "64", "--id-col", "file", "--patient-col", "mrn",
                 "--numeric", "age,bnpp", "--categorical", "sex,ahf", "--stratify", "ahf"]) == 0
    runs = root / "runs"
    runs.mkdir()
    yield root, data, runs
    set_quiet(False)


def test_readme_flow_without_split_flags(flow, capsys):
    root, data, runs = flow
    capsys.readouterr()
    latents = runs / "latents.parquet"
    assert main(["encode", DEMO_CHECKPOINT, str(data), "--out", str(latents)]) == 0
    cap = capsys.readouterr()
    n_test = int(re.search(r"test split has only (\d+) of 16", cap.err).group(1))
    assert n_test < 16 and "--split test" in cap.err
    assert "16 images" in cap.out and "split all" in cap.out

    # sequence: no --split, yet every film is used, and the small groups are named.
    assert main(["sequence", DEMO_CHECKPOINT, str(latents), "--feature", "sex", "--from", "F",
                 "--to", "M", "--permutations", "10", "--frames", "4",
                 "--out", str(runs / "seq" / "sex")]) == 0
    cap = capsys.readouterr()
    summary = pd.read_json(runs / "seq" / "sex" / "summary.json", typ="series")
    assert summary["split"] == "all" and sum(summary["groups"].values()) == 16
    warnings = [line for line in cap.err.splitlines() if line.startswith("warning:")]
    # One small-sample warning per group (B = 10 also draws the "B too small" warning).
    assert len([w for w in warnings if "patients" in w]) == 2, cap.err
    assert any("--permutations 10" in w for w in warnings), cap.err
    assert main(["sequence", DEMO_CHECKPOINT, str(latents), "--feature", "age",
                 "--permutations", "10", "--frames", "4", "--out", str(runs / "seq" / "age")]) == 0
    n_patients = pd.read_parquet(data / "index.parquet")["patient_id"].nunique()
    assert f"regression path rests on {n_patients} patients" in capsys.readouterr().err

    # The report follows a *linked* dataset (the README says "copy or link"), and takes
    # the global flag after the command.
    os.symlink(data, runs / "mine64", target_is_directory=True)
    assert main(["report", str(runs), "--quiet"]) == 0
    page = (runs / "report.html").read_text()
    assert 'id="data"' in page and "radiographs" in page and "mine64" in page
    assert "averaged over every image of the latent table (all splits)" in page
    assert "split test" not in page.split('id="global"')[1].split("</section>")[0]


def test_cnn_on_a_tiny_split_warns_instead_of_nan(flow, tmp_path, capsys):
    _, data, _ = flow
    assert main(["cnn", "train", str(data), "--out", str(tmp_path / "cnn"), "--epochs", "1",
                 "--batch-size", "4", "--threads", "1"]) == 0
    cap = capsys.readouterr()
    assert "warning:" in cap.err and "image" in cap.err
    metrics = pd.read_json(tmp_path / "cnn" / "metrics.json", typ="series")
    assert metrics["best_epoch"] == 1 and metrics["warnings"]
