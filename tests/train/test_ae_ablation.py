"""benchmarks/ae_ablation.py refuses bad invocations in one line before any training."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from .conftest import make_data

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "ae_ablation.py"


@pytest.fixture(scope="module")
def ablation():
    spec = importlib.util.spec_from_file_location("ae_ablation", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_every_arm_builds_its_configs(ablation):
    for arm in ablation.ARMS:
        model_cfg, cfg = ablation.arm_configs(arm, steps=3, batch=4, seed=0)
        assert cfg.extra["cohort_version"] == 2 and model_cfg.preset == f"demo64-{arm}"


@pytest.mark.parametrize("args, words", [
    (["--train", "hf"], "needs --run"),                       # the long run needs its folder
    (["--train", "nope", "--run", "r"], "needs --run DIR and one of"),
    ([], "--out is required"),
    (["--out", "o", "--arms", "base,nope"], "unknown arm"),
])
def test_bad_options_exit_2(ablation, tmp_path, capsys, args, words):
    with pytest.raises(SystemExit) as e:
        ablation.main([str(tmp_path), *args])
    assert e.value.code == 2 and words in capsys.readouterr().err


def test_long_run_needs_no_out_and_v1_data_is_refused(ablation, tmp_path, monkeypatch):
    data = make_data(tmp_path / "d")  # plain data: no cohort_version 2
    with pytest.raises(SystemExit, match="not a prepared cohort-v2 dataset"):
        ablation.main([data, "--train", "hf", "--run", str(tmp_path / "run")])
    info = json.loads((tmp_path / "d" / "prepare.json").read_text())
    (tmp_path / "d" / "prepare.json").write_text(json.dumps({**info, "cohort_version": 2}))
    import seegaan.cohort.oracle as oracle_mod

    monkeypatch.setitem(oracle_mod.ASSET_DIRS, 2, tmp_path / "absent")
    with pytest.raises(SystemExit, match="version-2 oracle"):  # before any arm trains
        ablation.main([data, "--out", str(tmp_path / "abl")])
    assert not (tmp_path / "abl").exists()


def test_choose_needs_a_gain_beyond_noise(ablation):
    import numpy as np

    rng = np.random.default_rng(0)
    truth = rng.normal(size=250)

    def arm(noise_sd, ssim=0.84, seed=1):
        g = np.random.default_rng(seed)
        return {"ssim": ssim, "_bmd": (truth, truth + g.normal(scale=noise_sd, size=250))}

    rows = {"base": arm(2.0, seed=1), "lucky": arm(2.0, seed=2), "better": arm(0.7, seed=3),
            "blurry": arm(0.3, ssim=0.70, seed=4)}
    best, gains = ablation.choose(rows, n_boot=300)
    assert best == "better"                      # a real gain with equal SSIM
    assert gains["lucky"][1] < 0 < gains["lucky"][2]   # same recipe: CI spans zero
    assert gains["blurry"][1] > 0                # a gain, but bought with SSIM: not chosen
    rows.pop("better")
    assert ablation.choose(rows, n_boot=300)[0] == "base"  # nothing beyond noise: keep base
