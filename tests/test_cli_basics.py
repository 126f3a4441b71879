"""The CLI shell: help lists every command, user errors are one line, output is atomic."""

from __future__ import annotations

import subprocess
import sys

import pytest

from seegaan.cli import COMMANDS, hoist_global_flags, main
from seegaan.errors import OutputExistsError, SeegaanError
from seegaan.utils.fsio import atomic_dir, write_json


def test_help_lists_every_command_in_pipeline_order_without_importing_torch():
    code = ("import sys; from seegaan.cli import main; rc = main(['--help']); "
            "print('TORCH', 'torch' in sys.modules, rc)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    out = res.stdout
    assert out.strip().endswith("TORCH False 0"), res.stderr[-2000:]
    listed = out.split("Commands (in pipeline order)")[1]
    positions = [listed.index(f"  {name} ") for name in COMMANDS]
    assert positions == sorted(positions)


def test_global_flags_work_after_the_command(tmp_path, capsys):
    missing = str(tmp_path / "nope")
    assert main(["report", missing, "--quiet"]) == 2           # accepted, then the usual error
    assert "run directory not found" in capsys.readouterr().err
    with pytest.raises(SeegaanError):                            # --debug after: full traceback
        main(["report", missing, "--debug"])
    assert hoist_global_flags(["sequence", "a", "--debug", "--", "--quiet"]) == \
        ["--debug", "sequence", "a", "--", "--quiet"]


def test_a_broken_command_module_fails_loudly(monkeypatch, capsys):
    monkeypatch.setitem(COMMANDS, "broken", ("seegaan.cli.no_such_module", "x", "broken"))
    assert main(["broken"]) == 1
    assert "ModuleNotFoundError" in capsys.readouterr().err


def test_atomic_dir_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out"
    with pytest.raises(RuntimeError):
        with atomic_dir(target) as tmp:
            (tmp / "half.txt").write_text("half")
            raise RuntimeError("boom")
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


def test_atomic_dir_refuses_existing_without_overwrite(tmp_path):
    target = tmp_path / "out"
    target.mkdir()
    (target / "mine.txt").write_text("keep me")
    with pytest.raises(OutputExistsError, match="already exists"):
        with atomic_dir(target):
            pass
    assert (target / "mine.txt").read_text() == "keep me"
    with atomic_dir(target, overwrite=True) as tmp:
        write_json(tmp / "new.json", {"a": 1})
    assert sorted(p.name for p in target.iterdir()) == ["new.json"]


def test_main_turns_unknown_command_into_nonzero_exit(capsys):
    assert main(["no-such-command"]) != 0
