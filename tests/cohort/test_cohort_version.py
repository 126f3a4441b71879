"""Every reader of the oracle follows the films' cohort version, and a missing oracle of that
version fails in one line instead of silently reading version-2 films with the v1 oracle."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import seegaan.cohort.oracle as oracle_mod
from seegaan.cohort.oracle import TARGETS_V2, load_oracle
from seegaan.cohort.version import (
    ae_cohort_version,
    check_oracle,
    checkpoint_cohort_version,
    oracle_for,
    table_cohort_version,
)
from seegaan.config import get_preset
from seegaan.errors import CheckpointError
from seegaan.latent.store import LatentTable
from seegaan.models.autoencoder import Autoencoder, load_autoencoder


def tiny_checkpoint(path, train_config: dict | None = None, run_config: dict | None = None):
    """A random tiny checkpoint at ``path`` (``RUN/best`` layout when ``run_config``)."""
    Autoencoder(get_preset("tiny")).eval().save(path)
    if train_config is not None:
        (path / "train_config.json").write_text(json.dumps(train_config))
    if run_config is not None:
        (path.parent / "config.json").write_text(json.dumps(run_config))
    return path


def test_bundled_checkpoint_is_version_2():
    assert checkpoint_cohort_version(None) == 2 == load_autoencoder().cohort_version


def test_checkpoint_version_from_its_training_config(tmp_path):
    a = tiny_checkpoint(tmp_path / "a", train_config={"cohort_version": 2})
    b = tiny_checkpoint(tmp_path / "run" / "best",
                        run_config={"train": {"extra": {"cohort_version": 2}}})
    c = tiny_checkpoint(tmp_path / "c")  # records nothing: the original cohort
    assert [checkpoint_cohort_version(p) for p in (a, b, c)] == [2, 2, 1]
    assert load_autoencoder(a).cohort_version == 2 and ae_cohort_version(load_autoencoder(c)) == 1


def test_checkpoint_version_from_its_training_data(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "prepare.json").write_text(json.dumps({"cohort_version": 2}))
    ck = tiny_checkpoint(tmp_path / "run" / "last", run_config={"data_dir": str(data), "train": {}})
    assert checkpoint_cohort_version(ck) == 2


def test_table_version_from_info_or_its_dataset(tmp_path):
    w = np.zeros((1, 4), np.float32)
    meta = pd.DataFrame({"image_id": ["a"]})
    assert table_cohort_version(LatentTable(meta, w, {"cohort_version": 2})) == 2
    data = tmp_path / "d"
    data.mkdir()
    (data / "prepare.json").write_text(json.dumps({"cohort_version": 2}))
    assert table_cohort_version(LatentTable(meta, w, {"data_dir": str(data)})) == 2
    assert table_cohort_version(LatentTable(meta, w, {})) == 1


def test_missing_v2_oracle_fails_in_one_line(tmp_path, monkeypatch):
    monkeypatch.setitem(oracle_mod.ASSET_DIRS, 2, tmp_path / "absent")
    with pytest.raises(CheckpointError, match="version-2 oracle") as err:
        oracle_for(2)
    assert "\n" not in str(err.value)
    assert oracle_for(1).cfg.cohort_version == 1  # version 1 is unaffected


def test_oracle_for_reads_the_matching_asset_and_refuses_a_mismatch(tmp_path, monkeypatch,
                                                                    make_oracle):
    monkeypatch.setitem(oracle_mod.ASSET_DIRS, 2, make_oracle(tmp_path / "v2"))
    o = oracle_for(2, 64)
    assert o.cfg.cohort_version == 2 and list(o.predict(np.zeros((2, 1, 32, 32))).columns) == list(TARGETS_V2)
    with pytest.raises(CheckpointError, match="cohort version 1 films but the data are cohort version 2"):
        check_oracle(load_oracle(64), 2)
    with pytest.raises(CheckpointError, match="reads cohort version 2"):
        oracle_for(1, path=tmp_path / "v2")  # a given directory must match too


def test_truth_checks_refuse_the_wrong_oracle():
    from seegaan.validate.checks import evaluate_truth

    table = LatentTable(pd.DataFrame({"image_id": ["a"], "split": ["test"]}),
                        np.zeros((1, 4), np.float32), {"cohort_version": 2})
    with pytest.raises(CheckpointError, match="cohort version 2"):
        evaluate_truth(None, table, load_oracle(64), checks=())


def test_gvr_reads_the_autoencoders_cohort_with_its_oracle(tmp_path, monkeypatch, make_oracle):
    from seegaan.gvr.bias import prepare_test

    ae = Autoencoder(get_preset("tiny")).eval()
    assert prepare_test(ae, None, False).cfg.cohort_version == 1
    ae.cohort_version = 2
    monkeypatch.setitem(oracle_mod.ASSET_DIRS, 2, tmp_path / "absent")
    with pytest.raises(CheckpointError, match="version-2 oracle"):
        prepare_test(ae, None, False)
    monkeypatch.setitem(oracle_mod.ASSET_DIRS, 2, make_oracle(tmp_path / "v2"))
    assert prepare_test(ae, None, False).cfg.cohort_version == 2
    with pytest.raises(CheckpointError):
        prepare_test(ae, None, False, oracle=load_oracle(64))


def test_rendering_helpers_take_the_version():
    from seegaan.validate.checks import cohort_subjects
    from seegaan.validate.interventional import benchmark_subjects
    from seegaan.validate.known_models import shortcut_subjects

    assert {s.version for s in benchmark_subjects(3, version=2)} == {2}
    assert {s.version for s in benchmark_subjects(3)} == {1}
    assert {s.version for s in shortcut_subjects(4, 0, (0.9, 0.1), version=2)} == {2}
    assert {s.version for s in cohort_subjects(5, 0)} == {1}
    assert {s.version for s in cohort_subjects(5, 0, version=2)} == {2}


def test_benchmark_draws_its_films_from_the_autoencoders_cohort(tmp_path, monkeypatch):
    import seegaan.validate.known_models as km
    from seegaan.validate.benchmark import BenchmarkConfig, run_benchmark

    seen = []

    class Stop(Exception):
        pass

    def fake_train(out, cfg, **_kw):
        seen.append(cfg.cohort_version)
        raise Stop

    monkeypatch.setattr(km, "train_known_models", fake_train)
    ae = Autoencoder(get_preset("tiny")).eval()
    for version in (1, 2):
        ae.cohort_version = version
        cfg = BenchmarkConfig.make(quick=True)
        with pytest.raises(Stop):
            run_benchmark(tmp_path / f"b{version}", cfg, autoencoder=ae)
        assert cfg.cohort_version == version
    assert seen == [1, 2]
    cfg = BenchmarkConfig.make(quick=True)  # no autoencoder given: the bundled one's (2)
    with pytest.raises(Stop):
        run_benchmark(tmp_path / "b", cfg)
    assert cfg.cohort_version == 2
