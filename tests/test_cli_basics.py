"""The CLI shell: help lists every command, user errors are one line, output is atomic."""

from __future__ import annotations

import pytest

from seegaan.cli import COMMANDS, main
from seegaan.errors import OutputExistsError
from seegaan.utils.fsio import atomic_dir, write_json


def test_help_lists_every_command(capsys):
    with pytest.raises(SystemExit) as exc:
        from seegaan.cli import cli

        cli.main(args=["--help"], prog_name="seegaan")
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for name in COMMANDS:
        assert name in out


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
