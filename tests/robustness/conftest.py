"""A small world of valid inputs (images, CSV, prepared data, checkpoint, latent table),
built once per session, from which each bad-input case makes its one bad thing.

Everything is tiny (32 px, the ``tiny`` preset, 24 images) so the whole corpus runs in
seconds on a CPU. The world is never written to by a case; the corpus checks that too.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from seegaan.utils.progress import set_quiet

REPO = Path(__file__).resolve().parents[2]
# The shared makers of bad inputs are imported by name (importlib mode has no packages).
sys.path.insert(0, str(Path(__file__).parent))


@contextlib.contextmanager
def quiet():
    """No progress bars (they would be stderr lines) for the duration of the block."""
    import seegaan.utils.progress as prog

    before = prog._QUIET
    set_quiet(True)
    try:
        yield
    finally:
        set_quiet(before)


def _images(root: Path, n: int, size: int = 40) -> tuple[Path, Path]:
    rng = np.random.default_rng(0)
    images = root / "images"
    images.mkdir(parents=True)
    rows = []
    for i in range(n):
        Image.fromarray((rng.random((size, size)) * 255).astype(np.uint8)).save(images / f"c{i:03d}.png")
        rows.append({"image_id": f"c{i:03d}", "patient_id": f"p{i // 2:03d}", "age": 30.0 + i,
                     "ahf": i % 2, "bnpp": float(100 + 37 * i), "file": f"c{i:03d}.png"})
    csv = root / "table.csv"
    pd.DataFrame(rows).to_csv(csv, index=False)
    return images, csv


@pytest.fixture(scope="session")
def world(tmp_path_factory) -> SimpleNamespace:
    """Valid inputs: images/ + table.csv, data/ (prepared, 32 px), ckpt/ (tiny preset,
    random weights), latents.parquet (the test split encoded, plus all splits as 'all')."""
    from seegaan.config import get_preset
    from seegaan.data.prepare import PrepareOptions, prepare, resolve_spec
    from seegaan.latent.encode import encode_to_file
    from seegaan.models.autoencoder import Autoencoder

    root = tmp_path_factory.mktemp("world")
    images, csv = _images(root, 24)
    spec = resolve_spec(csv, images, "none", id_col="image_id", patient_col="patient_id",
                        numeric=["age", "bnpp"], categorical=["ahf"])
    with quiet():
        prepare(images, csv, root / "data", spec,
                PrepareOptions(size=32, workers=1, split="0.5,0.25,0.25", seed=0))
        torch.manual_seed(0)
        ae = Autoencoder(get_preset("tiny"))
        ae.save(root / "ckpt")
        encode_to_file(ae, root / "data", root / "latents.parquet", split="all",
                       checkpoint=str(root / "ckpt"))
    return SimpleNamespace(root=root, images=images, csv=csv, data=root / "data",
                           ckpt=root / "ckpt", latents=root / "latents.parquet", ae=ae)


def tree(*roots: Path) -> dict[str, tuple[int, int]]:
    """Every file and folder under ``roots`` with (size, mtime_ns): what a run may not change."""
    out = {}
    for root in roots:
        for dirpath, dirnames, filenames in os.walk(root):
            for name in dirnames + filenames:
                p = Path(dirpath) / name
                with contextlib.suppress(FileNotFoundError):
                    st = p.lstat()
                    out[str(p)] = (st.st_size if p.is_file() else 0, st.st_mtime_ns)
    return out


def top_level(path: Path) -> set[str]:
    return set(os.listdir(path))


@dataclass
class Outcome:
    code: int
    stdout: str
    stderr: str


def run_cli(args: list[str]) -> Outcome:
    """Run ``seegaan ARGS`` in this process; warnings count as stderr lines, as they would be."""
    from seegaan.cli import main

    out, err = io.StringIO(), io.StringIO()
    with warnings.catch_warnings(record=True) as caught, quiet(), \
            contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        warnings.simplefilter("always")
        try:
            code = main([str(a) for a in args])
        except SystemExit as exc:  # never expected: main returns its status
            code = exc.code if isinstance(exc.code, int) else 1
    text = err.getvalue()
    for w in caught:
        text += f"{w.filename}:{w.lineno}: {w.category.__name__}: {w.message}\n"
    return Outcome(code, out.getvalue(), text)


# -- corpus tally, printed at the end of the run ---------------------------------------------
_TALLY: dict[str, str] = {}   # case id -> "clean" | "traceback" | "exit0" | "other"


@pytest.fixture
def tally():
    return _TALLY


def pytest_terminal_summary(terminalreporter):
    if not _TALLY:
        return
    kinds = list(_TALLY.values())
    terminalreporter.write_line(
        f"bad-input corpus: {len(kinds)} cases, {kinds.count('clean')} clean errors, "
        f"{kinds.count('traceback')} tracebacks, {kinds.count('exit0')} wrong results with "
        f"exit 0, {kinds.count('other')} other failures")


@pytest.fixture
def run_cli_fn():
    return run_cli


@pytest.fixture
def tree_fn():
    return tree
