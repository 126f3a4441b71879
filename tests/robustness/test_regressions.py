"""One regression test (at least) per defect of the bad-input audit, numbered as in the audit.

The corpus (test_bad_inputs.py) checks that bad input ends in one clean line; these tests
check the mechanisms behind it: what is kept, what is locked, what is cleaned, what never
runs, and what the Python API raises.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tomllib
import torch

from seegaan.errors import CheckpointError, InputError, OptionError, OutputExistsError
from seegaan.utils.fsio import atomic_dir

REPO = Path(__file__).resolve().parents[2]
SRC = REPO / "src"


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(SRC)}


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return "\nState:\tZ" not in state  # a zombie has finished


# -- 1. non-finite values never become a result ----------------------------------------------

def test_load_latents_refuses_nan_naming_row_and_column(world, tmp_path):
    import pyarrow.parquet as pq

    from seegaan.latent.store import load_latents

    df = pq.read_table(world.latents).to_pandas()
    df.loc[3, "w_3"] = np.nan
    df.to_parquet(tmp_path / "lat.parquet", index=False)
    with pytest.raises(InputError, match=r"row 3 \(image_id c003\), column w_3 is nan"):
        load_latents(tmp_path / "lat.parquet")


def test_save_latents_refuses_nonfinite(world, tmp_path):
    from seegaan.latent.store import load_latents, save_latents

    t = load_latents(world.latents)
    w = t.w.copy()
    w[0, 0] = np.inf
    with pytest.raises(InputError, match="column w_0 is inf"):
        save_latents(t.meta, w, tmp_path / "x.parquet")
    assert not any(tmp_path.iterdir())


def test_decoder_refuses_nonfinite_latents(world):
    # w + λ·d with λ = inf reaches the decoder as inf/NaN: an error, not NaN frames.
    w = np.zeros((2, world.ae.w_dim), np.float32)
    w[1, 4] = np.inf
    with pytest.raises(InputError, match="row 1 holds NaN or infinite"):
        world.ae.decode(w)
    with pytest.raises(InputError, match="NaN or infinite"):
        world.ae.encode(np.full((1, 1, 32, 32), np.nan, np.float32))


def test_prepared_index_with_inf_is_refused(world, tmp_path):
    from seegaan.data.prepared import PreparedDataset

    data = shutil.copytree(world.data, tmp_path / "data")
    idx = pd.read_parquet(data / "index.parquet")
    idx.loc[2, "bnpp"] = np.inf
    idx.to_parquet(data / "index.parquet", index=False)
    with pytest.raises(InputError, match="row 2 .* column bnpp is inf"):
        PreparedDataset(data)


def test_finite_option_type_rejects_nan_inf_and_bounds():
    import click

    from seegaan.cli.options import POSITIVE, FiniteFloat

    for bad in ("nan", "inf", "-inf", "0", "-2"):
        with pytest.raises(click.BadParameter):
            POSITIVE.convert(bad, None, None)
    assert POSITIVE.convert("0.5", None, None) == 0.5
    with pytest.raises(click.BadParameter):
        FiniteFloat(min=0, max=1, max_open=True).convert("1", None, None)


# -- 2. nothing is replaced without --overwrite; concurrent runs are refused -----------------

def test_atomic_dir_never_replaces_a_folder_that_appears_during_the_run(tmp_path):
    target = tmp_path / "out"
    with pytest.raises(OutputExistsError, match="appeared during the run"):
        with atomic_dir(target) as tmp:
            (tmp / "result.txt").write_text("new")
            target.mkdir()   # the user (or another tool) creates it meanwhile
            (target / "important.txt").write_text("keep me")
    assert (target / "important.txt").read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]   # no temp, no lock left


def test_atomic_dir_never_replaces_an_empty_folder_either(tmp_path):
    # os.rename silently replaces an empty directory; the no-replace rename must not.
    target = tmp_path / "out"
    with pytest.raises(OutputExistsError):
        with atomic_dir(target) as tmp:
            (tmp / "a").write_text("a")
            target.mkdir()
    assert target.is_dir() and not any(target.iterdir())


def test_second_run_on_same_out_is_refused_naming_the_holder(world, tmp_path):
    from seegaan.cli import main
    from seegaan.utils.fsio import output_lock

    out = tmp_path / "seq"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\nfrom seegaan.utils.fsio import output_lock\n"
         f"with output_lock({str(out)!r}):\n    print('ready', flush=True)\n    time.sleep(30)"],
        stdout=subprocess.PIPE, text=True, env=_env())
    try:
        assert holder.stdout.readline().strip() == "ready"
        from contextlib import redirect_stderr
        from io import StringIO

        err = StringIO()
        with redirect_stderr(err):
            code = main(["sequence", str(world.ckpt), str(world.latents), "--feature", "ahf",
                         "--split", "all", "--permutations", "0", "--out", str(out)])
        assert code == 2
        assert f"pid {holder.pid}" in err.getvalue() and err.getvalue().count("\n") == 1
        assert not out.exists()
    finally:
        holder.kill()
        holder.wait()
    # A killed holder releases its lock (kernel flock): the next run may proceed.
    with output_lock(out):
        pass


def test_output_lock_is_reentrant_and_leaves_nothing(tmp_path):
    from seegaan.utils.fsio import output_lock


    with output_lock(tmp_path / "x"):
        with output_lock(tmp_path / "x"):
            assert (tmp_path / ".x.lock").read_text() == str(os.getpid())
    assert not any(tmp_path.iterdir())


def test_demo_does_not_force_overwrite(monkeypatch, tmp_path):
    import seegaan.demo as demo_mod
    from seegaan.demo import DemoConfig, stages

    seen = {}

    def fake_atomic_dir(path, overwrite=False):
        seen["overwrite"] = overwrite
        raise RuntimeError("stop here")

    monkeypatch.setattr(demo_mod, "atomic_dir", fake_atomic_dir)
    monkeypatch.setattr(stages, "load_checkpoint", lambda cfg: None)
    with pytest.raises(RuntimeError, match="stop here"):
        demo_mod.run_demo(DemoConfig.make(str(tmp_path / "d"), quick=True))
    assert seen["overwrite"] is False


# -- 3. an output can never be, or contain, an input -----------------------------------------

def test_check_not_input(tmp_path):
    from seegaan.utils.fsio import check_not_input


    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "lat.parquet").write_bytes(b"x")
    with pytest.raises(OptionError, match="is an input"):
        check_not_input(tmp_path / "a" / "lat.parquet", [tmp_path / "a" / "lat.parquet"])
    with pytest.raises(OptionError, match="contains the input"):
        check_not_input(tmp_path, [tmp_path / "a" / "lat.parquet"])
    check_not_input(tmp_path / "b", [tmp_path / "a" / "lat.parquet", "txrv:densenet", None])


# -- 5. checkpoint config checked against the safetensors header first -----------------------

def test_crafted_wide_config_fails_on_the_header_without_building_a_real_model(
        world, tmp_path, monkeypatch):
    from robustness_makers import crafted_wide_checkpoint

    import seegaan.models.autoencoder as ae_mod

    ckpt = crafted_wide_checkpoint(world, tmp_path)
    built = []
    real_init = ae_mod.Autoencoder.__init__

    def spy(self, cfg, *a, **k):
        built.append((cfg.w_dim, torch.empty(0).device.type))
        real_init(self, cfg, *a, **k)

    monkeypatch.setattr(ae_mod.Autoencoder, "__init__", spy)
    t0 = time.perf_counter()
    with pytest.raises(CheckpointError, match=r"the config needs \(1000000, 32\)"):
        ae_mod.load_autoencoder(ckpt)
    assert time.perf_counter() - t0 < 20
    assert built == [(10**6, "meta")]   # only the shapes-only model, nothing allocated


@pytest.mark.parametrize("preset", ["tiny", "demo64", "paper256"])
def test_shapes_only_model_matches_the_real_one(preset):
    from seegaan.config import get_preset
    from seegaan.models.autoencoder import Autoencoder, _ShapesOnly

    cfg = get_preset(preset)
    with _ShapesOnly():
        meta = Autoencoder(cfg).state_dict()
    real = Autoencoder(cfg).state_dict()
    assert list(meta) == list(real)
    for k, t in real.items():
        assert (meta[k].shape, meta[k].dtype, meta[k].device.type) == (t.shape, t.dtype, "meta"), k


def test_header_reader_refuses_a_header_claiming_more_than_the_file(tmp_path):
    from seegaan.models.checkpoint import read_header

    header = json.dumps({"t": {"dtype": "F32", "shape": [10**6, 10**6],
                               "data_offsets": [0, 4 * 10**12]}}).encode()
    path = tmp_path / "w.safetensors"
    path.write_bytes(len(header).to_bytes(8, "little") + header + b"\0" * 16)
    with pytest.raises(CheckpointError, match="does not match the bytes"):
        read_header(path)


# -- 6. torch floor and never suggesting weights_only=False ----------------------------------

def test_torch_floor_is_at_least_2_10_with_the_reason():
    text = (REPO / "pyproject.toml").read_text()
    deps = tomllib.loads(text)["project"]["dependencies"]
    floor = next(d for d in deps if d.startswith("torch>="))
    major, minor = (int(v) for v in re.match(r"torch>=(\d+)\.(\d+)", floor).groups())
    assert (major, minor) >= (2, 10)
    assert "CVE-2025-32434" in text and "CVE-2026-24747" in text
    tv = next(d for d in deps if d.startswith("torchvision>="))
    assert tuple(int(v) for v in re.match(r"torchvision>=(\d+)\.(\d+)", tv).groups()) >= (0, 25)


def test_no_message_suggests_weights_only_false(tmp_path):
    from robustness_makers import Evil, pickle_file, torch_zip_pickle

    from seegaan.models.checkpoint import torch_load_weights

    files = [pickle_file(tmp_path / "a.pt", tmp_path / "PWNED"),
             torch_zip_pickle(tmp_path / "b.pt", tmp_path / "PWNED"),
             tmp_path / "c.pt"]
    files[2].write_bytes(b"junk" * 10)
    for f in files:
        with pytest.raises(OptionError) as exc:
            torch_load_weights(f, str(f), OptionError)
        assert "weights_only" not in str(exc.value) and "\n" not in str(exc.value)
    assert not (tmp_path / "PWNED").exists()
    assert Evil  # imported for pickling
    for py in SRC.rglob("*.py"):
        assert "weights_only=False" not in py.read_text() or py.name == "checkpoint.py", py


# -- 7. written files follow the umask -------------------------------------------------------

@pytest.mark.parametrize("umask", [0o022, 0o002])
def test_safetensors_files_follow_the_umask(world, tmp_path, umask):
    old = os.umask(umask)
    try:
        world.ae.save(tmp_path / "ckpt")
    finally:
        os.umask(old)
    for name in ("model.safetensors", "config.json"):
        assert (tmp_path / "ckpt" / name).stat().st_mode & 0o777 == 0o666 & ~umask, name
    assert (tmp_path / "ckpt").stat().st_mode & 0o777 == 0o777 & ~umask


# -- 8. typed errors in the Python API, one line in the CLI ----------------------------------

def test_api_raises_typed_errors(world, tmp_path):
    from robustness_makers import png_bomb

    import seegaan
    from seegaan.config import TrainConfig
    from seegaan.data.readers import read_image
    from seegaan.utils.device import resolve_device
    from seegaan.viz.animate import save_gif
    from seegaan.viz.panels import difference_strip

    with pytest.raises(OptionError):
        seegaan.load_autoencoder(world.ckpt, device="banana")
    with pytest.raises(OptionError):
        resolve_device("cuda:7")
    with pytest.raises(InputError, match="decompression bomb"):
        read_image(png_bomb(tmp_path / "bomb.png"))
    with pytest.raises(OptionError, match="fps"):
        save_gif(np.zeros((2, 8, 8)), tmp_path / "a.gif", fps=0)
    with pytest.raises(OptionError, match="vlim"):
        difference_strip(np.zeros((2, 8, 8)), ["a", "b"], vlim=-1)
    cfg = TrainConfig()
    cfg.lr = math.nan
    with pytest.raises(OptionError, match="--lr"):
        cfg.validate()
    assert not list(tmp_path.glob("*.gif")) and not list(tmp_path.glob(".*"))


def test_environment_oserrors_are_user_errors(world, tmp_path, monkeypatch, run_cli_fn):
    import seegaan.train.loop as loop

    def refuse(*a, **k):
        raise PermissionError(13, "Permission denied", str(tmp_path / "ro" / "run"))

    monkeypatch.setattr(loop, "train", refuse)
    res = run_cli_fn(["train", world.data, "--out", tmp_path / "ro" / "run", "--preset", "tiny"])
    assert res.code == 2
    assert res.stderr == f"error: {tmp_path / 'ro' / 'run'}: Permission denied\n"


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_read_only_train_out_is_refused(world, tmp_path, run_cli_fn):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        res = run_cli_fn(["train", world.data, "--out", ro / "run", "--preset", "tiny"])
    finally:
        ro.chmod(0o700)
    assert res.code == 2 and res.stderr.count("\n") == 1


def test_skip_bad_skips_a_decompression_bomb(world, tmp_path):
    from robustness_makers import collection, png_bomb

    from seegaan.data.prepare import PrepareOptions, prepare, resolve_spec

    images, csv = collection(world, tmp_path, {"bomb.png": png_bomb})
    spec = resolve_spec(csv, images, "none", id_col="image_id", patient_col="patient_id",
                        numeric=["age", "bnpp"], categorical=["ahf"])
    res = prepare(images, csv, tmp_path / "out",
                  spec, PrepareOptions(size=32, workers=1, skip_bad=True, split="0.5,0.25,0.25"))
    assert res.n_images == 6
    skipped = pd.read_csv(tmp_path / "out" / "skipped.csv")
    assert skipped["reason"].str.contains("decompression bomb").any()


# -- 9. leftovers of killed runs -------------------------------------------------------------

def test_stale_temp_folders_of_dead_runs_are_cleaned(tmp_path):
    from seegaan.utils.fsio import clean_stale_temps


    dead, live = _dead_pid(), os.getpid()
    stale = tmp_path / f".out.{dead}.abcd1234.tmp"
    stale.mkdir()
    (stale / "images.npy").write_bytes(b"\0" * 1000)
    mine = tmp_path / f".out.{live}.efgh5678.tmp"
    mine.mkdir()
    other = tmp_path / f".other.{dead}.x.tmp"
    other.mkdir()
    with atomic_dir(tmp_path / "out") as tmp:
        (tmp / "ok").write_text("1")
    assert not stale.exists()            # dead owner: removed
    assert mine.exists()                 # a live process's: kept
    assert other.exists()                # another output's: not ours to touch
    assert clean_stale_temps(tmp_path / "other") == [other]


WORKER_SCRIPT = """
import multiprocessing as mp, os, time
from concurrent.futures import ProcessPoolExecutor
from seegaan.data.transform import die_with_parent

def pid(_):
    time.sleep(0.05)
    return os.getpid()

if __name__ == "__main__":
    pool = ProcessPoolExecutor(2, mp_context=mp.get_context("fork"),
                               initializer=die_with_parent, initargs=(os.getpid(),))
    print(" ".join(str(p) for p in set(pool.map(pid, range(8)))), flush=True)
    time.sleep(60)
"""


def test_pool_workers_die_with_their_parent(tmp_path):
    script = tmp_path / "pool.py"
    script.write_text(WORKER_SCRIPT)
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True,
                              env=_env(), start_new_session=True)
    workers = [int(p) for p in parent.stdout.readline().split()]
    assert workers
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    deadline = time.time() + 10
    while time.time() < deadline and any(_alive(p) for p in workers):
        time.sleep(0.1)
    alive = [p for p in workers if _alive(p)]
    for p in alive:   # clean up before failing
        os.kill(p, signal.SIGKILL)
    assert not alive, f"orphan workers {alive}"


# -- 10. smaller ones ------------------------------------------------------------------------

def test_report_on_an_interrupted_demo_warns_incomplete(world, tmp_path, run_cli_fn):
    run = tmp_path / "run"
    shutil.copytree(world.data, run / "data")
    (run / "demo.json").write_text(json.dumps({"quick": True, "timings_s": {"1 cohort": 1.0}}))
    res = run_cli_fn(["report", run])
    assert res.code == 0
    assert res.stderr.startswith("warning: ") and "incomplete" in res.stderr
    assert "Incomplete run" in (run / "report.html").read_text()
    done = tmp_path / "done"
    shutil.copytree(world.data, done / "data")
    (done / "demo.json").write_text(json.dumps({"timings_s": {"total": 9.0}}))
    res = run_cli_fn(["report", done])
    assert res.code == 0 and res.stderr == ""
    assert "Incomplete run" not in (done / "report.html").read_text()


def test_duplicate_image_id_is_an_error(world):
    from seegaan.latent.select import find_image
    from seegaan.latent.store import load_latents

    t = load_latents(world.latents)
    meta = pd.concat([t.meta, t.meta.iloc[[1]]], ignore_index=True)
    dup = type(t)(meta, np.concatenate([t.w, t.w[[1]]]), t.info)
    with pytest.raises(InputError, match="2 rows"):
        find_image(dup, "c001")


def test_atomic_dir_gives_private_files_the_umask_mode(tmp_path):
    # Writers such as safetensors.save_file make 0600 files whatever the umask; anything
    # that comes out of atomic_dir follows the umask (here 022 -> 0644).
    old = os.umask(0o022)
    try:
        with atomic_dir(tmp_path / "out") as tmp:
            (tmp / "w.bin").write_bytes(b"x")
            os.chmod(tmp / "w.bin", 0o600)
    finally:
        os.umask(old)
    assert (tmp_path / "out" / "w.bin").stat().st_mode & 0o777 == 0o644
