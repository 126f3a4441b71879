"""The bad-input corpus: every case must end in one clean line, exit status 2, and no trace.

Each case builds one bad thing (a file, a table, an option) next to the valid inputs of the
session's small world and runs the command in-process. For every case the test asserts:

- exit status 2 (a user error, never 0 and never 1, the status of a bug);
- exactly one line on stderr (warnings count), and no traceback;
- nothing created or changed: the case's folder, the world and the repository root are
  exactly as before (no partial output, no leftover temporary folder or lock file).

Python-API cases assert the typed :class:`~seegaan.errors.SeegaanError` subclass instead.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from robustness_makers import (
    Evil,
    ckpt_copy,
    collection,
    corrupt_index,
    crafted_wide_checkpoint,
    dicom_without_pixels,
    dup_row,
    edit_config,
    hold_lock,
    latent_frame,
    npy_bytes,
    out_contains_input,
    out_is_input,
    parent,
    pickle_file,
    png_bomb,
    preds_csv,
    prep,
    release,
    seq,
    set_cell,
    torch_zip_pickle,
    truncate,
    truncate_npy,
    write,
    write_frame,
)

REPO = Path(__file__).resolve().parents[2]


# -- the CLI cases: id -> (world, tmp) -> argv ------------------------------------------------
# A case may return (argv, cleanup) when it holds something (a lock) during the run.

CLI_CASES: dict[str, Callable] = {
    # 1. non-finite values
    "latent-nan-w3": lambda w, t: seq(w, t, latents=write_frame(
        set_cell(latent_frame(w), 3, "w_3", np.nan), t / "lat.parquet")),
    "latent-inf-w0": lambda w, t: seq(w, t, latents=write_frame(
        set_cell(latent_frame(w), 0, "w_0", np.inf), t / "lat.parquet")),
    "latent-inf-feature": lambda w, t: seq(w, t, "--kind", "quantitative", "--feature", "age",
                                           latents=write_frame(set_cell(latent_frame(w), 5, "age", -np.inf),
                                                               t / "lat.parquet")),
    "lambda-max-inf": lambda w, t: seq(w, t, "--image", "c001", "--from", "0", "--to", "1",
                                       "--lambda-max", "inf"),
    "lambda-max-nan": lambda w, t: seq(w, t, "--image", "c001", "--from", "0", "--to", "1",
                                       "--lambda-max", "nan"),
    "vlim-nan": lambda w, t: seq(w, t, "--vlim", "nan"),
    "range-nan": lambda w, t: seq(w, t, "--feature", "age", "--range", "nan", "95"),
    "alpha-nan": lambda w, t: seq(w, t, "--alpha", "nan"),
    "csv-inf": lambda w, t: prep(*collection(w, t, rows=lambda d: set_cell(d, 2, "age", "inf")), t / "out"),
    "csv-minus-inf": lambda w, t: prep(*collection(w, t, rows=lambda d: set_cell(d, 1, "bnpp", "-inf")), t / "out"),
    "csv-infinity-word": lambda w, t: prep(*collection(w, t, rows=lambda d: set_cell(d, 1, "age", "Infinity")), t / "out"),
    "train-lr-nan": lambda w, t: ["train", w.data, "--out", t / "run", "--preset", "tiny", "--steps", "1", "--lr", "nan"],
    "cnn-lr-nan": lambda w, t: ["cnn", "train", w.data, "--out", t / "cnn", "--lr", "nan"],
    "explain-threshold-inf": lambda w, t: ["explain", w.ckpt, w.latents, "--out", t / "exp",
                                           "--threshold", "inf"],
    # 3. an output that is, or contains, an input
    "out-is-input-table": lambda w, t: out_is_input(w, t),
    "out-contains-input": lambda w, t: out_contains_input(w, t),
    "encode-out-is-data": lambda w, t: ["encode", w.ckpt, shutil.copytree(w.data, t / "data"),
                                        "--out", t / "data", "--overwrite"],
    "prepare-out-is-images": lambda w, t: prep(*collection(w, t), t / "imgs", "--overwrite"),
    "prepare-out-contains-csv": lambda w, t: prep(*collection(w, t), t, "--overwrite"),
    # 2. concurrent runs: refused by the lock, naming the holder
    "sequence-out-locked": lambda w, t: (seq(w, t), hold_lock(t / "seq")),
    "predict-in-place-locked": lambda w, t: (
        ["predict", preds_csv(w, t), shutil.copy(w.latents, t / "lat.parquet"), "--column", "rf"],
        hold_lock(t / "lat.parquet")),
    # 5./6. checkpoints and weights: tampered, truncated, pickled
    "ckpt-wide-config": lambda w, t: seq(w, t, ckpt=crafted_wide_checkpoint(w, t)),
    "ckpt-format-version-abc": lambda w, t: seq(w, t, ckpt=edit_config(ckpt_copy(w, t), format_version="abc")),
    "ckpt-config-not-json": lambda w, t: seq(w, t, ckpt=parent(write(ckpt_copy(w, t) / "config.json", b"{oops"))),
    "ckpt-weights-pickle": lambda w, t: seq(w, t, ckpt=parent(pickle_file(
        ckpt_copy(w, t) / "model.safetensors", t / "PWNED"))),
    "ckpt-weights-torch-zip": lambda w, t: seq(w, t, ckpt=parent(torch_zip_pickle(
        ckpt_copy(w, t) / "model.safetensors", t / "PWNED"))),
    "ckpt-weights-zero-bytes": lambda w, t: seq(w, t, ckpt=parent(write(
        ckpt_copy(w, t) / "model.safetensors", b""))),
    "ckpt-weights-truncated": lambda w, t: seq(w, t, ckpt=parent(truncate(
        ckpt_copy(w, t) / "model.safetensors"))),
    "ckpt-missing": lambda w, t: seq(w, t, ckpt=t / "nowhere"),
    "weights-pickle": lambda w, t: ["predict", "torchvision.models:resnet18", w.data, "--out",
                                    t / "p.csv", "--weights", pickle_file(t / "evil.pt", t / "PWNED")],
    "weights-torch-zip": lambda w, t: ["predict", "torchvision.models:resnet18", w.data, "--out",
                                       t / "p.csv", "--weights", torch_zip_pickle(t / "evil.pt", t / "PWNED")],
    "vgg-weights-pickle": lambda w, t: ["train", w.data, "--out", t / "run", "--preset", "tiny",
                                        "--steps", "1", "--perceptual", "vgg", "--vgg-weights",
                                        torch_zip_pickle(t / "vgg.pt", t / "PWNED")],
    # 8. typed one-line errors
    "vlim-negative": lambda w, t: seq(w, t, "--vlim", "-1"),
    "fps-zero": lambda w, t: seq(w, t, "--fps", "0"),
    "fps-negative": lambda w, t: seq(w, t, "--fps", "-2"),
    "device-banana": lambda w, t: seq(w, t, "--device", "banana"),
    "device-missing-gpu": lambda w, t: seq(w, t, "--device", "cuda:7"),
    "train-device-banana": lambda w, t: ["train", w.data, "--out", t / "run", "--preset", "tiny",
                                         "--steps", "1", "--device", "banana"],
    "index-parquet-corrupt": lambda w, t: ["encode", w.ckpt, corrupt_index(w, t), "--out", t / "l.parquet"],
    "images-npy-truncated": lambda w, t: ["encode", w.ckpt, truncate_npy(w, t), "--out", t / "l.parquet"],
    "image-bomb": lambda w, t: prep(*collection(w, t, {"bomb.png": png_bomb}), t / "out"),
    # 10. smaller ones
    "image-id-duplicated": lambda w, t: seq(w, t, "--image", "c001", "--from", "0", "--to", "1",
                                            latents=write_frame(dup_row(w, "c001"), t / "lat.parquet")),
    "path-col-absolute": lambda w, t: prep(*collection(w, t, rows=lambda d: set_cell(
        d, 0, "file", str(w.images / "c000.png"))), t / "out", "--path-col", "file"),
    "path-col-dotdot": lambda w, t: prep(*collection(w, t, rows=lambda d: set_cell(
        d, 0, "file", "../../etc/passwd")), t / "out", "--path-col", "file"),
    # images: corrupt, empty, truncated, DICOM without pixels
    "image-corrupt": lambda w, t: prep(*collection(w, t, {"junk.png": lambda p: p.write_bytes(
        np.random.default_rng(1).bytes(3000))}), t / "out"),
    "image-zero-bytes": lambda w, t: prep(*collection(w, t, {"empty.png": lambda p: p.write_bytes(b"")}), t / "out"),
    "image-truncated-png": lambda w, t: prep(*collection(w, t, {"half.png": lambda p: p.write_bytes(
        (w.images / "c000.png").read_bytes()[:400])}), t / "out"),
    "image-truncated-npy": lambda w, t: prep(*collection(w, t, {"half.npy": lambda p: p.write_bytes(
        npy_bytes()[:100])}), t / "out"),
    "image-npy-object": lambda w, t: prep(*collection(w, t, {"obj.npy": lambda p: np.save(
        p, np.array([Evil(t / "PWNED")], dtype=object), allow_pickle=True)}), t / "out"),
    "dicom-no-pixels": lambda w, t: prep(*collection(w, t, {"nopix.dcm": dicom_without_pixels}), t / "out"),
    # bad CSVs
    "csv-zero-bytes": lambda w, t: prep(collection(w, t)[0], write(t / "e.csv", b""), t / "out"),
    "csv-binary": lambda w, t: prep(collection(w, t)[0], write(t / "b.csv", b"\xff\xfe\x00\x81" * 50), t / "out"),
    "csv-malformed": lambda w, t: prep(collection(w, t)[0], write(
        t / "m.csv", b"image_id,patient_id,age\nc000,p0,1,2,3,4\n\"c001,p1\n"), t / "out"),
    "csv-no-patient-column": lambda w, t: prep(*collection(w, t, rows=lambda d: d.drop(columns="patient_id")), t / "out"),
    "csv-duplicate-id": lambda w, t: prep(*collection(w, t, rows=lambda d: set_cell(d, 1, "image_id", "c000")), t / "out"),
    "csv-text-in-numeric": lambda w, t: prep(*collection(w, t, rows=lambda d: set_cell(d, 3, "age", "sixty")), t / "out"),
    # latent tables
    "latent-corrupt": lambda w, t: seq(w, t, latents=write(t / "l.parquet", b"PAR1" + b"\x00" * 64)),
    "latent-zero-bytes": lambda w, t: seq(w, t, latents=write(t / "l.parquet", b"")),
    "image-id-unknown": lambda w, t: seq(w, t, "--image", "nobody", "--from", "0", "--to", "1"),
    "feature-unknown-nested-out": lambda w, t: seq(w, t, "--feature", "nosuch", "--out",
                                                   t / "new" / "deep" / "seq"),
}


@pytest.mark.parametrize("case", list(CLI_CASES))
def test_cli_case_fails_cleanly(case, world, tmp_path, tally, run_cli_fn, tree_fn):
    made = CLI_CASES[case](world, tmp_path)
    held = None
    if isinstance(made, tuple):
        made, held = made
    before = tree_fn(world.root, tmp_path)
    repo_before = set(p.name for p in REPO.iterdir())
    try:
        res = run_cli_fn(made)
    finally:
        if held is not None:
            release(held)
            before.pop(str(held[1]), None)
    after = tree_fn(world.root, tmp_path)
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    kind = ("exit0" if res.code == 0 else "traceback" if "Traceback" in res.stderr
            else "clean" if res.code == 2 and len(lines) == 1 and before == after else "other")
    tally[case] = kind
    assert res.code == 2, f"exit {res.code}; stderr: {res.stderr}"
    assert "Traceback" not in res.stderr
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith("error: "), lines[0]
    assert "weights_only" not in res.stderr   # never advise unsafe loading
    assert not (tmp_path / "PWNED").exists(), "a pickle ran code"
    assert before == after, (f"files changed: +{sorted(set(after) - set(before))} "
                             f"-{sorted(set(before) - set(after))}")
    assert set(p.name for p in REPO.iterdir()) == repo_before
