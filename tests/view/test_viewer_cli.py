"""`seegaan view` on the command line: the missing-extra message, the URL line, the warning
for a non-local address."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request

import pytest

from seegaan.cli import main


def test_without_the_extra_it_says_what_to_install(monkeypatch, capsys, tiny_run):
    monkeypatch.setitem(sys.modules, "uvicorn", None)   # as if it were not installed
    ckpt, lat, _ = tiny_run
    assert main(["view", str(ckpt), str(lat)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "pip install 'seegaan[viewer]'" in err


def test_help_lists_the_options(capsys):
    assert main(["view", "--help"]) == 0
    out = capsys.readouterr().out
    for opt in ("--model", "--benchmark", "--port", "--host"):
        assert opt in out


def test_bad_latents_is_one_line(tmp_path, capsys, tiny_run):
    pytest.importorskip("uvicorn")
    ckpt, _, _ = tiny_run
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"not parquet")
    assert main(["view", str(ckpt), str(bad), "--port", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "bad.parquet" in err


def test_cli_prints_the_url_and_warns_off_localhost(tiny_run):
    """The real command in a subprocess: listens on all addresses, warns, and answers."""
    pytest.importorskip("uvicorn")
    ckpt, lat, _ = tiny_run
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "seegaan", "view", str(ckpt), str(lat),
                             "--port", "0", "--host", "0.0.0.0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = proc.stdout.readline().strip()
        assert line.startswith("seegaan view: http://127.0.0.1:"), line
        url = line.split()[2]
        with urllib.request.urlopen(url + "api/info", timeout=60) as res:
            assert res.status == 200
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    assert "warning: listening on 0.0.0.0" in err
    assert "Traceback" not in err
