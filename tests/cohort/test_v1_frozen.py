"""Cohort version 1 renders byte-identically to the code before version 2 existed.

The hashes were recorded from the version-1 code (commit 3cba660) before any version-2
change: SHA-256 over (file name + PNG bytes) of every image, and of ``cohort.csv``.
"""

from __future__ import annotations

import hashlib

import pytest
from click.testing import CliRunner

from seegaan.cli import cli

FROZEN = {  # (n, size, seed, shortcut): (images, cohort.csv)
    (6, 64, 0, False): ("27e8fd8f0834422c4d311c412d66b06602a1ec9579fb3b5c96c59d1d9dee9246",
                        "9dfc9b7c834676a8b65d9a12b185f13c144525b89b5def130d510d473c425f3b"),
    (5, 96, 3, True): ("5ce7576eb97a590c3a2cd06ea44c6f45512f3bd4150fd419704850eac4a611f0",
                       "0183b44cdb9b985cb868c8f26b7df3c27ed2815cf434690010c33e73950b86fe"),
}


@pytest.mark.parametrize("key", list(FROZEN))
def test_version_1_is_byte_identical(key, tmp_path):
    n, size, seed, shortcut = key
    out = tmp_path / "c"
    args = ["cohort", str(out), "--n", str(n), "--size", str(size), "--seed", str(seed),
            "--version", "1", "--workers", "1"] + (["--shortcut"] if shortcut else [])
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output
    h = hashlib.sha256()
    for p in sorted((out / "images").glob("*.png")):
        h.update(p.name.encode())
        h.update(p.read_bytes())
    assert h.hexdigest() == FROZEN[key][0]
    assert hashlib.sha256((out / "cohort.csv").read_bytes()).hexdigest() == FROZEN[key][1]


def test_hash_changes_when_the_image_changes(tmp_path):
    """The check can fail: version 2 of the same seed gives other bytes."""
    out = tmp_path / "c"
    res = CliRunner().invoke(cli, ["cohort", str(out), "--n", "6", "--size", "64", "--workers", "1"])
    assert res.exit_code == 0, res.output
    h = hashlib.sha256()
    for p in sorted((out / "images").glob("*.png")):
        h.update(p.name.encode())
        h.update(p.read_bytes())
    assert h.hexdigest() != FROZEN[(6, 64, 0, False)][0]


def test_version_1_subject_render_is_frozen():
    """A bare Subject is version 1, and its image did not change (recorded at 3cba660)."""
    from seegaan.cohort import Subject, render_image

    s = Subject(heart_scale=1.2, device=1, effusion_r_mm=30, congestion=0.5, breast_mm=30,
                sex="F", manufacturer="GE")
    digest = hashlib.sha256(render_image(s, 64).tobytes()).hexdigest()
    assert digest == "ee7c7abc0c67bffb92183d020e1238edd2c4041ec2d7de924238a0fdbebb3af0"
