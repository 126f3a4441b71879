"""medXGAN at scale: two torchrun processes (gloo, CPU) and the 128 / 256 presets."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file

from seegaan.cli import main
from seegaan.medxgan.classifier import PositiveClass
from seegaan.medxgan.config import ClassifierSpec, MedXGANModelConfig, MedXGANTrainConfig
from seegaan.medxgan.train import MedXGANTrainer

from .conftest import TinyModel, blob_data, scripted_classifier, tiny_net


def _state(run) -> dict[str, torch.Tensor]:
    return load_file(f"{run}/state/model.safetensors")


def test_two_process_gloo_matches_single_process(tmp_path):
    """`torchrun --nproc_per_node=2 -m seegaan medxgan train` = the one-process run, and only
    rank 0 writes (one line per logged step, one set of samples)."""
    data = blob_data(tmp_path / "d64", size=64, n=24, n_val=4, n_test=4)
    ts = scripted_classifier(tmp_path / "c.pt")
    opts = ["--classifier", ts, "--input-size", "64", "--score-as", "logit", "--steps", "3",
            "--batch", "4", "--val-every", "2", "--ckpt-every", "2", "--threads", "1"]
    single = tmp_path / "single"
    assert main(["medxgan", "train", data, "--out", str(single), *opts]) == 0
    env = {**os.environ, "SEEGAAN_NO_PROGRESS": "1", "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([p for p in sys.path if p])}
    ddp = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           "-m", "seegaan", "medxgan", "train", data, "--out", str(ddp), *opts, "--device", "cpu"]
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    assert res.returncode == 0, res.stderr[-3000:]
    assert json.loads((ddp / "config.json").read_text())["world_size"] == 2
    a, b = _state(single), _state(ddp)
    assert a.keys() == b.keys()
    diff = max((a[k] - b[k]).abs().max().item() for k in a)
    assert diff < 1e-4, diff
    lines = [json.loads(x) for x in (ddp / "metrics.jsonl").read_text().splitlines()]
    one = [json.loads(x) for x in (single / "metrics.jsonl").read_text().splitlines()]
    assert [(r["step"], r["phase"]) for r in lines] == [(r["step"], r["phase"]) for r in one]
    assert sorted(p.name for p in (ddp / "samples").iterdir()) == \
        sorted(p.name for p in (single / "samples").iterdir())
    assert res.stdout.count("trained to step 3") == 1      # rank 0 alone reports


def test_two_process_state_differs_from_a_shorter_run(tmp_path):
    """The check above can fail: a run one step shorter has another state."""
    data = blob_data(tmp_path / "d64", size=64, n=24, n_val=4, n_test=4)
    ts = scripted_classifier(tmp_path / "c.pt")
    base = ["--classifier", ts, "--input-size", "64", "--score-as", "logit", "--batch", "4",
            "--val-every", "2", "--ckpt-every", "2", "--threads", "1"]
    assert main(["medxgan", "train", data, "--out", str(tmp_path / "a"), *base, "--steps", "2"]) == 0
    assert main(["medxgan", "train", data, "--out", str(tmp_path / "b"), *base, "--steps", "3"]) == 0
    a, b = _state(tmp_path / "a"), _state(tmp_path / "b")
    assert max((a[k] - b[k]).abs().max().item() for k in a) > 1e-4


@pytest.mark.parametrize("size", [128, 256])
def test_large_presets_take_a_training_step(tmp_path, size):
    data = blob_data(tmp_path / f"d{size}", size=size, n=8, n_val=2, n_test=2)
    C = PositiveClass(TinyModel(tiny_net(), size=size), ClassifierSpec(output="logit"), size)
    model_cfg = MedXGANModelConfig.preset(size)
    cfg = MedXGANTrainConfig(steps=1, batch=2, val_samples=2, threads=1)
    tr = MedXGANTrainer(data, tmp_path / "run", model_cfg, cfg, C)
    z1, z2 = torch.randn(2, 100), torch.randn(2, 10)
    with torch.no_grad():
        assert tr.G(z1, z2).shape == (2, 1, size, size)
        assert tr.D(tr.G(z1, z2)).shape == (2,)
    before = {k: v.clone() for k, v in tr.G.state_dict().items()}
    stats = tr.train_step(0)
    assert all(torch.isfinite(torch.tensor(v)) for v in stats.values())
    assert any(not torch.equal(before[k], v) for k, v in tr.G.state_dict().items())


@pytest.mark.parametrize("size", [128, 256])
def test_dry_run_checks_and_writes_nothing(tmp_path, size, capsys):
    data = blob_data(tmp_path / f"d{size}", size=size, n=8, n_val=2, n_test=2)
    ts = scripted_classifier(tmp_path / "c.pt")
    run = tmp_path / "run"
    rc = main(["medxgan", "train", data, "--size", str(size), "--classifier", ts, "--input-size",
               str(size), "--score-as", "logit", "--batch", "2", "--out", str(run), "--dry-run"])
    out = capsys.readouterr().out
    assert rc == 0 and "every check of the run passed" in out
    info = json.loads(out[:out.rindex("}") + 1])
    assert info["model"]["image_size"] == size and info["params"]["G"] > 1e6
    assert info["flops"]["step_estimate"] > info["flops"]["g_forward"] > 0
    assert not run.exists()
    # A dry run fails as the run would: the classifier's input size must match G's.
    rc = main(["medxgan", "train", data, "--size", "64", "--classifier", ts, "--input-size",
               str(size), "--score-as", "logit", "--out", str(run), "--dry-run"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and not run.exists(), err
