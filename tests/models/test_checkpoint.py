"""Checkpoints: exact round trip, and refusal of pickles, tampered and mismatched files."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

import seegaan
from seegaan.config import get_preset
from seegaan.errors import CheckpointError
from seegaan.models.autoencoder import Autoencoder, load_autoencoder

TINY = get_preset("tiny")


@pytest.fixture()
def ckpt(tmp_path):
    torch.manual_seed(0)
    ae = Autoencoder(TINY)
    ae.step = 7
    ae.save(tmp_path / "ck")
    return ae, tmp_path / "ck"


def test_round_trip_is_exact(ckpt):
    ae, path = ckpt
    back = seegaan.load_autoencoder(path)
    a, b = ae.state_dict(), back.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    w = torch.randn(3, TINY.w_dim)
    assert torch.equal(ae.decode(w), back.decode(w))
    assert back.step == 7 and back.image_size == 32 and back.w_dim == TINY.w_dim
    assert back.device == torch.device("cpu")
    cfg = json.loads((path / "config.json").read_text())
    assert cfg["preset"] == "tiny" and cfg["image_size"] == 32 and cfg["w_dim"] == TINY.w_dim


def test_pickle_is_refused(ckpt):
    _, path = ckpt
    tensors = {k: v.clone() for k, v in load_file(path / "model.safetensors").items()}
    torch.save(tensors, path / "model.safetensors")
    with pytest.raises(CheckpointError, match="pickle"):
        load_autoencoder(path)


def test_tampered_shape_is_refused(ckpt):
    _, path = ckpt
    f = path / "model.safetensors"
    with safe_open(str(f), framework="pt") as fh:
        meta = fh.metadata()
    t = {k: v.clone() for k, v in load_file(f).items()}  # detach from the file's memory map
    t["generator.const"] = torch.zeros(1, 5, 4, 4)
    save_file(t, str(f), metadata=meta)
    with pytest.raises(CheckpointError, match="generator.const has shape"):
        load_autoencoder(path)


def test_mismatched_config_is_refused(ckpt):
    _, path = ckpt
    cfg = json.loads((path / "config.json").read_text())
    cfg["g_channels"] = [16, 16, 16, 8]
    (path / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match="does not match"):
        load_autoencoder(path)


def test_garbage_and_missing_are_refused(ckpt, tmp_path):
    _, path = ckpt
    (path / "model.safetensors").write_bytes(b"not a tensor file at all")
    with pytest.raises(CheckpointError, match="not a safetensors"):
        load_autoencoder(path)
    with pytest.raises(CheckpointError, match="not found"):
        load_autoencoder(tmp_path / "nowhere")
