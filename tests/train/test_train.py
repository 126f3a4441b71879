"""Training: outputs, exact resume, Ctrl-C, one-line errors, 2-process gloo run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file

import seegaan
from seegaan.cli import main
from seegaan.train import loop

from .conftest import FAST, make_data


def state(run) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in load_file(f"{run}/state/model.safetensors").items()}


def same(a: dict, b: dict) -> float:
    """Largest absolute difference between two state dicts with the same keys."""
    assert a.keys() == b.keys()
    return max((a[k] - b[k]).abs().max().item() for k in a)


@pytest.fixture(scope="module")
def full_run(data32, tmp_path_factory):
    run = tmp_path_factory.mktemp("runs") / "full"
    assert main(["train", data32, "--out", str(run), *FAST, "--steps", "6"]) == 0
    return run


def test_run_outputs(full_run):
    lines = [json.loads(x) for x in (full_run / "metrics.jsonl").read_text().splitlines()]
    val = [r for r in lines if r.get("phase") == "val"]
    assert [r["step"] for r in val] == [3, 6]
    assert {"val_mse", "val_ssim", "swd"} <= set(val[0])
    assert any("r1" in r and "moment" in r for r in lines if r.get("phase") == "train")
    assert sorted(p.name for p in (full_run / "samples").iterdir()) == ["step0000003.png", "step0000006.png"]
    ae = seegaan.load_autoencoder(full_run / "last")
    assert ae.step == 6 and ae.image_size == 32
    assert seegaan.load_autoencoder(full_run / "best").step in (3, 6)
    cfg = json.loads((full_run / "config.json").read_text())
    assert cfg["model"]["preset"] == "tiny" and cfg["train"]["steps"] == 6


def test_resume_equals_uninterrupted(full_run, data32, tmp_path):
    run = tmp_path / "split"
    assert main(["train", data32, "--out", str(run), *FAST, "--steps", "3"]) == 0
    assert main(["train", data32, "--out", str(run), *FAST, "--steps", "6", "--resume"]) == 0
    assert same(state(run), state(full_run)) == 0.0
    steps = [json.loads(x)["step"] for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert steps == sorted(steps)  # nothing duplicated after the resume point


def test_ctrl_c_leaves_resumable_state(full_run, data32, tmp_path, monkeypatch):
    run = tmp_path / "interrupted"
    real_step = loop.Trainer.train_step

    def step_then_interrupt(self, step):
        out = real_step(self, step)
        if step == 1:
            signal.raise_signal(signal.SIGINT)  # as if the user pressed Ctrl-C mid-step
        return out

    monkeypatch.setattr(loop.Trainer, "train_step", step_then_interrupt)
    assert main(["train", data32, "--out", str(run), *FAST, "--steps", "6"]) == 130
    assert json.loads((run / "state" / "state.json").read_text())["step"] == 2
    monkeypatch.setattr(loop.Trainer, "train_step", real_step)
    assert main(["train", data32, "--out", str(run), *FAST, "--steps", "6", "--resume"]) == 0
    assert same(state(run), state(full_run)) == 0.0


def test_one_line_errors(data32, tmp_path, capsys):
    cases = [
        ([str(tmp_path / "missing")], "not found"),
        ([make_data(tmp_path / "noval", splits=("train", "test"))], "split val has no images"),
        ([data32, "--preset", "demo64"], "images are 32x32 but --preset demo64 needs 64x64"),
    ]
    for args, message in cases:
        rc = main(["train", *args, "--out", str(tmp_path / "r")])
        err = capsys.readouterr().err.strip()
        assert rc == 2 and message in err and len(err.splitlines()) == 1, err
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "x").write_text("mine")
    assert main(["train", data32, "--out", str(tmp_path / "busy"), *FAST, "--steps", "1"]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["train", data32, "--out", str(tmp_path / "none"), *FAST, "--resume"]) == 2
    assert "nothing to resume" in capsys.readouterr().err


def test_two_process_gloo_matches_single_process(data32, tmp_path):
    opts = [*FAST, "--steps", "4"]
    single = tmp_path / "single"
    assert main(["train", data32, "--out", str(single), *opts]) == 0
    env = {**os.environ, "SEEGAAN_NO_PROGRESS": "1", "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           "-m", "seegaan", "train", data32, "--out", str(tmp_path / "ddp"), *opts, "--device", "cpu"]
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    assert res.returncode == 0, res.stderr[-3000:]
    cfg = json.loads((tmp_path / "ddp" / "config.json").read_text())
    assert cfg["world_size"] == 2
    assert same(state(tmp_path / "ddp"), state(single)) < 1e-4


def test_warm_start_from_checkpoint(full_run, data32, tmp_path, capsys):
    from safetensors.torch import load_file as load

    from seegaan.config import TrainConfig, get_preset

    ckpt = load(str(full_run / "last" / "model.safetensors"))
    # --preset says demo64; the checkpoint's architecture (tiny) wins, as with --resume.
    cfg = TrainConfig(batch=4, steps=3, val_images=4, threads=1, init_from=str(full_run / "last"))
    tr = loop.Trainer(data32, tmp_path / "warm_obj", get_preset("demo64"), cfg)
    assert tr.model_cfg.preset == "tiny"
    assert same(tr.ema.state_dict(), ckpt) == 0.0
    live = {k: v for k, v in tr.nets.state_dict().items() if not k.startswith("discriminator.")}
    assert same(live, ckpt) == 0.0
    # Full EMA decay from step 0: three steps move the EMA weights by at most 3 x 0.001 of
    # the live change, far less than the live weights themselves move.
    for s in range(3):
        tr.train_step(s)
    ema_move = same(tr.ema.state_dict(), ckpt)
    live_now = {k: v for k, v in tr.nets.state_dict().items() if not k.startswith("discriminator.")}
    assert 0 < ema_move < 0.01 * same(live_now, ckpt)

    run = tmp_path / "warm"
    assert main(["train", data32, "--out", str(run), *FAST, "--steps", "3",
                 "--init-from", str(full_run / "last")]) == 0
    assert json.loads((run / "config.json").read_text())["train"]["init_from"] == str(full_run / "last")
    assert seegaan.load_autoencoder(run / "last").step == 3
    capsys.readouterr()
    for args, message in [(["--init-from", str(tmp_path / "nope")], "--init-from"),
                          (["--init-from", str(full_run / "last"), "--resume"], "pass one of them")]:
        rc = main(["train", data32, "--out", str(run), *FAST, "--steps", "6", *args])
        err = capsys.readouterr().err.strip()
        assert rc == 2 and message in err and len(err.splitlines()) == 1, err


def test_run_records_the_cohort_version_its_checkpoints_report(tmp_path):
    """A run on a version-2 prepared cohort records it; its checkpoints then load as
    version 2, so the demo and the oracle follow them. Plain data records none (version 1)."""
    data = make_data(tmp_path / "d")
    info = json.loads((tmp_path / "d" / "prepare.json").read_text())
    (tmp_path / "d" / "prepare.json").write_text(json.dumps({**info, "cohort_version": 2}))
    run = tmp_path / "run"
    assert main(["train", data, "--out", str(run), *FAST, "--steps", "1"]) == 0
    assert json.loads((run / "config.json").read_text())["cohort_version"] == 2
    assert seegaan.load_autoencoder(run / "last").cohort_version == 2
    plain = tmp_path / "plain"
    assert main(["train", make_data(tmp_path / "p"), "--out", str(plain), *FAST, "--steps", "1"]) == 0
    assert "cohort_version" not in json.loads((plain / "config.json").read_text())
    assert seegaan.load_autoencoder(plain / "last").cohort_version == 1
