"""Training options: --dry-run makes the run's checks, --config/--set reach every field."""

from __future__ import annotations

import json

import pytest

from seegaan.cli import main
from seegaan.config import TrainConfig, train_fields
from seegaan.errors import OptionError

from .conftest import FAST


def _resolved(out: str) -> dict:
    """The JSON block that --dry-run prints before its summary line."""
    return json.loads(out[:out.rindex("}") + 1])


def test_dry_run_prints_resolved_config_and_writes_nothing(data32, tmp_path, capsys):
    run = tmp_path / "r"
    assert main(["train", data32, "--out", str(run), *FAST, "--steps", "7",
                 "--set", "r1_gamma=2.5", "--set", "betas=0.1,0.9", "--dry-run"]) == 0
    out = capsys.readouterr().out
    cfg = _resolved(out)
    assert cfg["train"]["steps"] == 7 and cfg["train"]["r1_gamma"] == 2.5
    assert cfg["train"]["betas"] == [0.1, 0.9]
    assert cfg["model"]["preset"] == "tiny"
    assert "every check of the run passed" in out
    assert not run.exists()


def test_dry_run_names_init_from_when_its_size_does_not_fit(data32, tmp_path, capsys):
    # The bundled checkpoint is 64 px; --preset tiny (32 px) fits the data, but a warm start
    # keeps the checkpoint's architecture. The dry run must fail exactly as the run would.
    for extra in (["--dry-run"], []):
        rc = main(["train", data32, "--out", str(tmp_path / "r"), *FAST, "--init-from", "demo",
                   *extra])
        err = capsys.readouterr().err.strip()
        assert rc == 2, err
        assert "--init-from demo" in err and "64x64" in err and len(err.splitlines()) == 1, err
        assert "pick another --preset" not in err


def test_dry_run_refuses_an_existing_run_dir(data32, tmp_path, capsys):
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "x").write_text("mine")
    assert main(["train", data32, "--out", str(tmp_path / "busy"), *FAST, "--dry-run"]) == 2
    assert "already exists" in capsys.readouterr().err


def test_set_and_config_file_reach_every_field_and_reject_unknown_keys(data32, tmp_path, capsys):
    path = tmp_path / "opts.json"
    path.write_text(json.dumps({"ema_beta": 0.99, "mix_p": 0.5, "steps": 11}))
    toml = tmp_path / "opts.toml"
    toml.write_text("aug_p = 0.0\nreg_every = 8\n")
    base = ["train", data32, "--out", str(tmp_path / "r"), *FAST, "--dry-run"]
    assert main([*base, "--config", str(path), "--set", "steps=12"]) == 0
    cfg = _resolved(capsys.readouterr().out)["train"]
    assert (cfg["ema_beta"], cfg["mix_p"], cfg["steps"]) == (0.99, 0.5, 12)  # --set beats the file
    assert main([*base, "--config", str(toml)]) == 0
    cfg = _resolved(capsys.readouterr().out)["train"]
    assert (cfg["aug_p"], cfg["reg_every"]) == (0.0, 8)

    bad = [(["--set", "r1_gama=3"], "unknown training option"),
           (["--set", "ema_beta=1.5"], "ema_beta 1.5"),
           (["--set", "reg_every=two"], "not a valid int"),
           (["--set", "noequals"], "expected KEY=VALUE")]
    path.write_text(json.dumps({"ema_bta": 0.9}))
    bad.append((["--config", str(path)], "unknown training option(s) ema_bta"))
    for args, message in bad:
        assert main([*base, *args]) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1, err


def test_from_dict_rejects_unknown_keys_and_round_trips():
    cfg = TrainConfig(steps=5, betas=(0.2, 0.9), r1_gamma=1.0)
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(OptionError, match="unknown training option"):
        TrainConfig.from_dict({**cfg.to_dict(), "stpes": 3})
    # Every field is settable from text (what --set passes).
    for name in train_fields():
        value = getattr(TrainConfig(), name)
        text = ("none" if value is None else ",".join(map(str, value))
                if isinstance(value, tuple) else json.dumps(value) if isinstance(value, dict)
                else str(value))
        assert TrainConfig().updated({name: text}, "--set") == TrainConfig()


def test_help_shows_the_config_defaults(capsys):
    from seegaan.config import train_default

    assert main(["train", "--help"]) == 0
    out = " ".join(capsys.readouterr().out.split("Options:")[1].split())
    for flag, name in (("--steps", "steps"), ("--batch", "batch"), ("--lr", "lr"),
                       ("--val-every", "val_every")):
        assert f"[default: {train_default(name)}]" in out.split(f"{flag} ", 1)[1][:200], flag
