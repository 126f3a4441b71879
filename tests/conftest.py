"""Fixtures shared across test folders."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch


@pytest.fixture
def make_oracle():
    """``make_oracle(path, version=2)``: a random-weight oracle directory in the shipped
    format, written instantly (no rendering), for tests of who reads which oracle."""
    from safetensors.torch import save_file

    from seegaan.cohort.oracle import TARGETS, TARGETS_V2, OracleConfig, OracleNet

    def make(path, version: int = 2):
        targets = TARGETS_V2 if version == 2 else TARGETS
        cfg = OracleConfig(targets=targets, mean=[0.0] * len(targets), std=[1.0] * len(targets),
                           cohort_version=version, widths=(4, 4, 4, 4))
        torch.manual_seed(0)
        net = OracleNet(cfg)
        path.mkdir(parents=True)
        save_file({k: v.contiguous() for k, v in net.state_dict().items()},
                  str(path / "model.safetensors"))
        (path / "config.json").write_text(json.dumps(dataclasses.asdict(cfg)))
        return path

    return make
