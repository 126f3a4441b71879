"""`seegaan gvr` end to end on a tiny random autoencoder, the registry method, the bias scoring."""

from __future__ import annotations

import contextlib
import io
import json

import numpy as np
import pandas as pd
import pytest
import torch

from seegaan.cli import main
from seegaan.latent import save_latents

from .conftest import synthetic_table

W_DIM = 32  # the tiny preset's latent width


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A tiny (untrained) autoencoder checkpoint, a 32-d latent table and a fitted predictor."""
    from seegaan.config import get_preset
    from seegaan.models.autoencoder import Autoencoder

    root = tmp_path_factory.mktemp("gvr")
    torch.manual_seed(0)
    Autoencoder(get_preset("tiny")).save(root / "ckpt")
    table = synthetic_table(n=160, w_dim=W_DIM)
    save_latents(table.meta, table.w, root / "lat.parquet", {"image_size": 32})
    rc, _, err = run(["gvr", "fit", str(root / "lat.parquet"), "--target", "y", "--kind", "linear",
                      "--out", str(root / "pred")])
    assert rc == 0, err
    return root


def run(args: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(["--quiet", *args])
    return rc, out.getvalue(), err.getvalue()


def test_explain_writes_figures_and_standard_output(files, tmp_path):
    from seegaan.explain.methods import load_explanation, read_manifest

    out = tmp_path / "exp"
    rc, stdout, err = run(["gvr", "explain", str(files / "ckpt"), str(files / "lat.parquet"),
                           "--predictor", str(files / "pred"), "--cases", "tp,tn,fp,fn",
                           "--frames", "5", "--out", str(out)])
    assert rc == 0, err
    assert {"overlay.png", "sequence.png", "rationale.gif", "result.json", "manifest.json"} <= \
        {p.name for p in out.iterdir()}
    summary = json.loads((out / "result.json").read_text())
    manifest = read_manifest(out)
    assert manifest["methods"] == ["gvr"] and len(manifest["cases"]) == len(summary["cases"]) >= 2
    for case in summary["cases"]:
        r = case["rationale"]
        assert r["status"] == "reached" and r["steps"] >= 1 and r["beta"] == 0.5
        assert np.log(r["end_original"]) == pytest.approx(np.log(400.0), abs=1e-3)
        exp = load_explanation(out / case["folder"])
        assert exp.kind == "sequence" and exp.frames.shape[1:] == (32, 32)
        assert np.allclose(exp.map, exp.frames[-1] - exp.frames[0])
        # Positive calls are moved down to the cut-off, negative ones up.
        assert (exp.predictions[-1] - exp.predictions[0]) * (400.0 - exp.predictions[0]) > 0
    # The report finds the run and shows the overlay with its caption.
    from seegaan.report import build_report

    html = build_report(out).read_text()
    assert "Generative Visual Rationales" in html and "overlay.png" in html


def test_inverse_reaches_each_target(files, tmp_path):
    out = tmp_path / "inv"
    rc, _, err = run(["gvr", "explain", str(files / "ckpt"), str(files / "lat.parquet"),
                      "--predictor", str(files / "pred"), "--images", "im001", "--inverse",
                      "--targets", "250,1000,4000", "--out", str(out)])
    assert rc == 0, err
    case = json.loads((out / "result.json").read_text())["cases"][0]
    for target, rec in case["inverse"].items():
        assert rec["status"] == "reached"
        assert rec["end_original"] == pytest.approx(float(target), rel=1e-3)


@pytest.mark.parametrize("args, message", [
    (["--targets", "250,-1", "--inverse"], "must be positive on the log scale"),
    (["--targets", "250,x", "--inverse"], "--targets"),
    (["--images", "nobody"], "--images nobody: not in the latent table"),
    (["--cases", "tp,xx"], "--cases xx"),
    ([], "give exactly one of --images"),
])
def test_explain_bad_input_is_one_line(files, tmp_path, args, message):
    base = ["gvr", "explain", str(files / "ckpt"), str(files / "lat.parquet"),
            "--predictor", str(files / "pred"), "--out", str(tmp_path / "x")]
    if "--images" not in args and "--cases" not in args and args:
        args = args + ["--images", "im001"]
    rc, _, err = run(base + args)
    assert rc == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "x").exists()


def test_fit_and_width_errors_are_one_line(files, tmp_path):
    rc, _, err = run(["gvr", "fit", str(files / "lat.parquet"), "--target", "nope", "--out",
                      str(tmp_path / "p")])
    assert rc == 2 and "--target nope: no such column" in err and len(err.strip().splitlines()) == 1
    other = synthetic_table(n=60, w_dim=8)
    save_latents(other.meta, other.w, tmp_path / "lat8.parquet")
    rc, _, err = run(["gvr", "explain", str(files / "ckpt"), str(tmp_path / "lat8.parquet"),
                      "--predictor", str(files / "pred"), "--images", "im001", "--out",
                      str(tmp_path / "x")])
    assert rc == 2 and "fitted on 32-d latents but the latent table has 8-d" in err


def test_registry_method_fits_and_caches_a_predictor(files):
    import seegaan
    from seegaan.explain.methods import Case, Context, available, get_method

    ae = seegaan.load_autoencoder(files / "ckpt")
    table = synthetic_table(n=160, w_dim=W_DIM)
    ctx = Context(autoencoder=ae, table=table, target="y", threshold=400.0, log_scale=True,
                  options={"gvr": {"frames": 4}})
    assert "gvr" in available(ctx, kind="sequence")
    assert get_method("gvr").unavailable(Context()) == "needs an autoencoder checkpoint"
    m = get_method("gvr")
    case = Case("im003", image=ae.decode(table.w[3:4]), w=table.w[3])
    exp = m.run(case, ctx)
    pred = ctx.cache["gvr/predictor"]
    assert exp.kind == "sequence" and exp.status == "reached" and exp.frames.shape == (4, 32, 32)
    assert np.allclose(exp.pixel_map(), exp.frames[-1] - exp.frames[0])
    get_method("gvr").run(Case("im004", image=case.image, w=table.w[4]), ctx)
    assert ctx.cache["gvr/predictor"] is pred                # fitted once per run
    # A predictor given as a directory is loaded once and used instead.
    ctx2 = Context(autoencoder=ae, options={"gvr": {"predictor": str(files / "pred"), "frames": 3}})
    assert get_method("gvr").unavailable(ctx2) is None
    assert get_method("gvr").run(case, ctx2).frames.shape == (3, 32, 32)
    # Without a stored code the film is encoded first.
    exp2 = m.run(Case("enc", image=case.image), ctx)
    assert exp2.frames.shape == (4, 32, 32)


def test_bias_scoring_separates_and_can_fail():
    from seegaan.gvr.bias import BiasConfig, _score

    rng = np.random.default_rng(0)
    n = 200
    cols = ["gt_ctr", "gt_effusion", "gt_congestion", "gt_fat", "gt_device"]
    start = pd.DataFrame(np.ones((n, 5)), columns=cols)
    null = start + rng.normal(0, 0.001, (n, 5))
    correct = start.copy()
    correct["gt_ctr"] -= 0.05                                   # every rationale shrinks the heart
    overfit = start + rng.normal(0, 0.001, (n, 5))              # changes like random moves
    parts = {"start": start, "correct": correct, "overfitted": overfit, "null": null}

    class _R:
        status, steps = ["reached"] * n, np.ones(n)

    table = type("T", (), {"meta": pd.DataFrame({"image_id": [str(i) for i in range(n)]})})()
    _, rows, _ = _score(parts, np.arange(n), table, {"correct": _R, "overfitted": _R},
                        BiasConfig(bootstrap=200))
    heart = rows[0]
    assert heart["factor"] == "heart size" and heart["correct %"] == 100.0
    assert heart["overfitted %"] < 10.0                        # at chance: about half of 5% (signed)
    assert heart["paper correct %"] == 76.5 and rows[-1]["factor"] == "no CHF feature"
