"""The `log` / `kind` renames: one meaning per name, old names still accepted for a release."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from seegaan.utils.renamed import artefact_type, renamed_keywords, upgrade_keys


def test_old_keyword_works_with_a_deprecation_warning_and_both_is_an_error():
    @renamed_keywords(log="echo")
    def f(*, echo=None):
        return echo

    with pytest.warns(DeprecationWarning, match="log= is deprecated, use echo="):
        assert f(log=print) is print
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert f(echo=len) is len                        # the new name warns nothing
    with pytest.raises(TypeError, match="pass echo= only"):
        f(log=print, echo=print)


def test_config_dataclasses_take_the_old_field_names():
    from seegaan.explain.pipeline import ExplainConfig
    from seegaan.explain.train_cnn import CNNTrainConfig
    from seegaan.gvr.predictor import PredictorConfig

    with pytest.warns(DeprecationWarning):
        p = PredictorConfig(kind="mlp", log=False)
    assert (p.architecture, p.log_scale) == ("mlp", False)
    with pytest.warns(DeprecationWarning):
        assert ExplainConfig(log=False).log_scale is False
    with pytest.warns(DeprecationWarning):
        assert CNNTrainConfig(log=False).log_scale is False
    # asdict() and the saved configs carry only the new names
    from dataclasses import asdict
    assert "log" not in asdict(p) and "kind" not in asdict(p)


def test_files_written_before_the_rename_still_load(tmp_path):
    from seegaan.explain.methods import read_manifest, write_manifest
    from seegaan.gvr import PredictorConfig, fit_predictor, load_predictor, save_predictor

    from .gvr.conftest import synthetic_table

    table = synthetic_table()
    pred, _ = fit_predictor(table, PredictorConfig(target="y", epochs=5))
    save_predictor(pred, tmp_path / "p")
    path = tmp_path / "p" / "predictor.json"
    rec = json.loads(path.read_text())
    rec["kind"], rec["log"] = rec.pop("architecture"), rec.pop("log_scale")   # the old layout
    path.write_text(json.dumps(rec))
    old = load_predictor(tmp_path / "p")
    assert old.architecture == "linear" and old.log_scale is True
    assert np.array_equal(old.predict(table.w), pred.predict(table.w))

    write_manifest(tmp_path, [], [], extra={"log": False})
    assert read_manifest(tmp_path)["log_scale"] is False


def test_artefact_type_reads_both_keys_and_upgrade_keys_keeps_new_values():
    assert artefact_type({"artefact": "benchmark"}) == "benchmark"
    assert artefact_type({"kind": "gvr"}) == "gvr"
    assert artefact_type({"method": "x"}) is None
    assert upgrade_keys({"log": True, "log_scale": False}, log="log_scale") == {"log": True, "log_scale": False}
    assert upgrade_keys({"log": True}, log="log_scale") == {"log_scale": True}


@pytest.mark.parametrize(("command", "old", "new", "value", "param"), [
    ("sequence", "--kind", "--feature-type", "quantitative", "feature_type"),
    ("gvr-fit", "--kind", "--architecture", "mlp", "architecture"),
])
def test_old_cli_flag_and_new_flag_set_the_same_parameter(command, old, new, value, param):
    from seegaan.cli.gvr import fit
    from seegaan.cli.latent import sequence

    cmd = {"sequence": sequence, "gvr-fit": fit}[command]
    args = ["a", "b"] if command == "sequence" else ["a"]
    args += ["--out", "o"] + (["--feature", "f"] if command == "sequence" else [])
    got = [cmd.make_context(command, [*args, flag, value]).params[param] for flag in (old, new)]
    assert got == [value, value]
    assert cmd.make_context(command, args).params[param] != value       # the flag is what set it
