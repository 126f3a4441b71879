"""The demo's ten stages, one function each, sharing a :class:`DemoRun`.

Each stage reads what earlier stages left in ``run.root`` (or kept on ``run``) and writes
its own sub-folder through the public API of the stage it calls::

    cohort/        1  virtual cohort (+ contact_sheet.png)
    data/          2  prepared dataset, patient split, Table 1
    autoencoder/   3  the checkpoint used (its metrics, reconstructions; a training run with --train)
    latents.parquet 4 test-split latents
    fig3_global/   5  global sequences: sex, age, AHF, manufacturer
    fig4_local/    6  local sequences of one healthy young woman: sex, age, AHF
    cnn/           7  reference BNPP CNN
    fig5_6_explain/ 8-9  BNPP vs predicted-BNPP sequences; TP/TN/FP/FN, attributions, λ search
    truth/         10 ground-truth check (truth.csv)
    gvr/           11 GVR of the four Fig. 6 films, inverse GVR, bias test
    medxgan/       12 medXGAN on the four Fig. 6 films (bundled checkpoint)
    benchmark/     13 every explanation method scored on interventional truth
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from seegaan.demo.config import DemoConfig
from seegaan.errors import CheckpointError, InputError

CLINICAL_NUMERIC = ("age", "bnpp")
CLINICAL_CATEGORICAL = ("sex", "ahf", "manufacturer", "device")
BUNDLED = "bundled demo64 checkpoint"

# (key, feature, from, to, folder) of Fig. 3's global sequences.
GLOBAL_SEQUENCES = (
    ("global/sex", "sex", "F", "M", "sex_F_to_M"),
    ("global/age", "age", None, None, "age"),
    ("global/ahf", "ahf", "0", "1", "ahf_0_to_1"),
    ("global/manufacturer", "manufacturer", "Carestream", "GE", "manufacturer_Carestream_to_GE"),
)
# Fig. 4's local sequences, all starting from the same woman.
LOCAL_SEQUENCES = (
    ("local/sex", "sex", "F", "M", "sex_F_to_M"),
    ("local/age", "age_group", "young", "old", "age_young_to_old"),
    ("local/ahf", "ahf", "0", "1", "ahf_0_to_1"),
)


@dataclass
class DemoRun:
    """State shared by the stages: the config, where to write, and what earlier stages made."""

    cfg: DemoConfig
    root: Path                                 # the (temporary) run directory being written
    final: Path                                # where it will be once complete
    say: Callable[[str], None]                 # one progress line
    ae: Any = None                             # the autoencoder
    checkpoint: str = BUNDLED                  # what was loaded, for the record
    table: Any = None                          # LatentTable of the test split
    subject: str | None = None                 # image_id of Fig. 4's patient
    sequences: dict[str, Any] = field(default_factory=dict)  # key -> SequenceResult
    explain_summary: dict[str, Any] | None = None
    timings: dict[str, float] = field(default_factory=dict)
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def data_dir(self) -> Path:
        return self.root / "data"


# -- 1 --------------------------------------------------------------------------------------
def render_cohort_stage(run: DemoRun) -> None:
    """Render the virtual cohort and a contact sheet of it."""
    from PIL import Image

    from seegaan.cohort import render_cohort
    from seegaan.demo.sheets import contact_sheet

    cfg = run.cfg
    out = run.root / "cohort"
    # The cohort the checkpoint was trained on (resolve_cohort_version): the bundled demo64
    # checkpoint records version 1, a version-2 checkpoint switches the whole demo to v2.
    table = render_cohort(out, n=cfg.n_images, size=cfg.size, seed=cfg.seed,
                          version=cfg.cohort_version or 1)
    run.say(f"      {len(table)} radiographs of {table['patient_id'].nunique()} patients, "
            f"AHF {table['ahf'].mean():.0%}, female {(table['sex'] == 'F').mean():.0%}")

    def read(image_id: str) -> np.ndarray:
        arr = np.asarray(Image.open(out / "images" / f"{image_id}.png"), dtype=np.float32)
        return arr / 65535.0 * 2.0 - 1.0

    class _Lazy:  # read only the PNGs the sheet shows
        def __getitem__(self, rows):
            return np.stack([read(table["image_id"].iloc[i]) for i in rows])

    contact_sheet(_Lazy(), table, out / "contact_sheet.png", seed=cfg.seed)


# -- 2 --------------------------------------------------------------------------------------
def prepare_stage(run: DemoRun) -> None:
    """Prepare the cohort: resize/normalise, patient-level split, Table 1."""
    from seegaan.data.prepare import PrepareOptions, prepare, resolve_spec

    cfg = run.cfg
    images, csv = run.root / "cohort" / "images", run.root / "cohort" / "cohort.csv"
    opts = PrepareOptions(size=cfg.size, split=cfg.split, seed=cfg.seed,
                          workers=max(1, min(os.cpu_count() or 1, 8)))
    # Only the clinical variables, as a real study would have them (and as the paper's
    # Table 1 shows); the ground truth stays in cohort.csv for stage 10.
    spec = resolve_spec(csv, images, "seegaan-cohort", numeric=CLINICAL_NUMERIC,
                        categorical=CLINICAL_CATEGORICAL)
    res = prepare(images, csv, run.data_dir, spec=spec, options=opts)
    run.say("      " + res.summary().splitlines()[0].split(" -> ")[0])


# -- 3 --------------------------------------------------------------------------------------
def autoencoder_stage(run: DemoRun) -> None:
    """Load the bundled (or given) checkpoint, or train one; show its reconstructions."""
    import seegaan

    cfg = run.cfg
    out = run.root / "autoencoder"
    if cfg.train:
        ckpt = _train_autoencoder(run, out)
        run.checkpoint = f"trained here ({cfg.train_preset}, {cfg.train_steps} steps)"
        run.ae = seegaan.load_autoencoder(ckpt)
    else:
        run.ae = run.ae or load_checkpoint(cfg)
        run.checkpoint = str(Path(cfg.checkpoint).absolute()) if cfg.checkpoint else BUNDLED
        out.mkdir()
        src = Path(cfg.checkpoint) if cfg.checkpoint else _bundled_dir()
        # The checkpoint's own training log, so the report can show its loss curves. Its
        # config.json is kept beside it (the report reads the training options from there).
        for name in ("metrics.jsonl", "config.json", "train_config.json"):
            if (src / name).is_file():
                shutil.copy2(src / name, out / name)
        if not (src / "metrics.jsonl").is_file():
            run.notes["autoencoder"] = "the checkpoint has no metrics.jsonl (no training curves)"
    _reconstructions(run, out / "reconstructions.png")
    run.say(f"      {run.checkpoint}: {run.ae.image_size}x{run.ae.image_size} px, "
            f"w_dim {run.ae.w_dim}")


def load_checkpoint(cfg: DemoConfig) -> Any:
    """The autoencoder of ``--checkpoint`` (or the bundled one), checked against ``--size``."""
    import seegaan

    ae = seegaan.load_autoencoder(cfg.checkpoint)
    if int(ae.image_size) != cfg.size:
        name = cfg.checkpoint or BUNDLED
        raise CheckpointError(f"--checkpoint {name}: trained at {ae.image_size}x{ae.image_size} "
                              f"px but --size is {cfg.size} (pass --size {ae.image_size})")
    return ae


def resolve_cohort_version(cfg: DemoConfig, ae: Any) -> int:
    """Set ``cfg.cohort_version`` (when 0) to the checkpoint's own (``--train``: 1), and fail
    now, in one line, when the oracle of that version is not installed."""
    if not cfg.cohort_version:
        from seegaan.cohort.version import ae_cohort_version

        cfg.cohort_version = 1 if ae is None else ae_cohort_version(ae)
    if cfg.cohort_version != 1:
        from seegaan.cohort.version import oracle_for

        oracle_for(cfg.cohort_version)  # a missing oracle raises CheckpointError in one line
    return cfg.cohort_version


def _bundled_dir() -> Path:
    from seegaan.models.autoencoder import DEMO_CHECKPOINT

    return Path(DEMO_CHECKPOINT)


def _train_autoencoder(run: DemoRun, out: Path) -> Path:
    from seegaan.config import TrainConfig, get_preset
    from seegaan.train.loop import train

    cfg = run.cfg
    steps = cfg.train_steps
    tcfg = TrainConfig(steps=steps, batch=cfg.train_batch, seed=cfg.seed,
                       log_every=max(1, min(50, steps // 10)), sample_every=steps,
                       ckpt_every=steps, val_every=steps, val_images=64,
                       threads=cfg.threads)
    train(run.data_dir, out, get_preset(cfg.train_preset), tcfg, device="cpu")
    # The full optimiser state is only for resuming, which the demo never does.
    shutil.rmtree(out / "state", ignore_errors=True)
    for name in ("best", "last"):
        if (out / name / "model.safetensors").is_file():
            return out / name
    raise CheckpointError(f"{out}: training wrote no checkpoint")


def _reconstructions(run: DemoRun, path: Path, n: int = 8) -> None:
    import torch

    from seegaan.data.prepared import PreparedDataset
    from seegaan.demo.sheets import reconstruction_grid

    ds = PreparedDataset(run.data_dir, split="test")
    pos = np.arange(min(n, len(ds)))
    x = ds.load_images(pos)
    with torch.no_grad():
        rec = run.ae.reconstruct(x).float().cpu().numpy()[:, 0]
    reconstruction_grid(x.numpy()[:, 0], rec, ds.index["image_id"].astype(str).iloc[pos].tolist(), path)


# -- 4 --------------------------------------------------------------------------------------
def encode_stage(run: DemoRun) -> None:
    """Encode the test split; add the age groups that Fig. 4's local age sequence needs."""
    from seegaan.latent import LatentTable, encode_dataset, save_latents

    table = encode_dataset(run.ae, run.data_dir, split="test", checkpoint=run.checkpoint)
    meta = table.meta.copy()
    # The cohort's ground truth (gt_*) rides along in the latent table for stage 10.
    gt = pd.read_csv(run.root / "cohort" / "cohort.csv", dtype={"image_id": str})
    gt = gt[["image_id"] + [c for c in gt.columns if c.startswith("gt_")]]
    meta = meta.merge(gt, on="image_id", how="left", validate="1:1")
    # A local sequence moves one image between two groups, so age needs groups: the lowest
    # and highest thirds of the test split (the middle third is left out, as missing).
    lo, hi = np.percentile(meta["age"].to_numpy(dtype=float), [100 / 3, 200 / 3])
    meta["age_group"] = np.where(meta["age"] <= lo, "young",
                                 np.where(meta["age"] >= hi, "old", None))
    info = dict(table.info, features={**table.info.get("features", {}), "age_group": "categorical"},
                age_groups={"young": f"age <= {lo:.1f}", "old": f"age >= {hi:.1f}"})
    run.table = LatentTable(meta, table.w, info)
    # On disk, record the data folder's final location (this one is renamed at the end).
    save_latents(meta, table.w, run.root / "latents.parquet",
                 dict(info, data_dir=str(run.final / "data")))
    run.say(f"      {len(meta)} test images -> {table.w.shape[1]}-d latents")


# -- 5 --------------------------------------------------------------------------------------
def _test_options(cfg: DemoConfig) -> dict[str, Any]:
    return dict(frames=cfg.frames, split="test", permutations=cfg.permutations,
                alpha=cfg.alpha, correction=cfg.correction, seed=cfg.seed)


def global_stage(run: DemoRun) -> None:
    """Fig. 3: global sequences for sex, age, AHF and manufacturer, permutation-tested."""
    from seegaan.latent import global_sequence

    done = []
    for key, feature, src, dst, folder in GLOBAL_SEQUENCES:
        run.say(f"      {feature}" + (f": {src} -> {dst}" if src else " (regression path)"))
        res = global_sequence(run.ae, run.table, feature, from_level=src, to_level=dst,
                              **_test_options(run.cfg))
        done.append((res, run.root / "fig3_global" / folder))
        run.sequences[key] = res
    _write_figure(run, done)


def _write_figure(run: DemoRun, done: list[tuple[Any, Path]]) -> None:
    """Write one figure's sequences with one colour range (the largest change among them),
    so their magnitudes compare; ``--per-figure-range`` gives each its own."""
    from seegaan.latent import write_sequence
    from seegaan.viz import symmetric_limit

    vlim = None if run.cfg.per_figure_range else max(symmetric_limit(r.diffs) for r, _ in done)
    for res, path in done:
        write_sequence(res, path, vlim=vlim, mp4=False)


# -- 6 --------------------------------------------------------------------------------------
def pick_subject(meta: pd.DataFrame, threshold: float) -> str:
    """Fig. 4's patient: the youngest woman of the test split without AHF and with normal BNPP.

    Falls back to any woman, then to anyone, so a small cohort still has a subject.
    """
    test = meta[meta["split"].astype(str) == "test"] if "split" in meta.columns else meta
    for mask in ((test["sex"] == "F") & (test["ahf"] == 0) & (test["bnpp"] <= threshold),
                 (test["sex"] == "F") & (test["ahf"] == 0),
                 test["sex"] == "F",
                 np.ones(len(test), dtype=bool)):
        hits = test[np.asarray(mask, dtype=bool)]
        if len(hits):
            return str(hits.sort_values("age").iloc[0]["image_id"])
    raise InputError("latent table: no test images to pick a Fig. 4 subject from")


def local_stage(run: DemoRun) -> None:
    """Fig. 4: one healthy young woman, pushed towards male, old and AHF+."""
    from seegaan.latent import local_sequence

    cfg = run.cfg
    run.subject = pick_subject(run.table.meta, cfg.bnpp_threshold)
    row = run.table.meta.set_index(run.table.meta["image_id"].astype(str)).loc[run.subject]
    run.say(f"      subject {run.subject}: {row['sex']}, {row['age']:.0f} y, AHF {row['ahf']}, "
            f"BNPP {row['bnpp']:.0f}")
    done = []
    for key, feature, src, dst, folder in LOCAL_SEQUENCES:
        run.say(f"      {feature}: {src} -> {dst}")
        res = local_sequence(run.ae, run.table, feature, run.subject, from_level=src,
                             to_level=dst, lambda_max=cfg.local_lambda_max,
                             **_test_options(cfg))
        done.append((res, run.root / "fig4_local" / folder))
        run.sequences[key] = res
    _write_figure(run, done)


# -- 7 --------------------------------------------------------------------------------------
def cnn_stage(run: DemoRun) -> None:
    """Train the reference CNN regressing log BNPP (the model Figs. 5-6 explain)."""
    from seegaan.explain.train_cnn import CNNTrainConfig, train_cnn

    cfg = run.cfg
    ccfg = CNNTrainConfig(target="bnpp", log_scale=True, threshold=cfg.bnpp_threshold, arch=cfg.cnn_arch,
                          epochs=cfg.cnn_epochs, max_train=cfg.cnn_max_train, seed=cfg.seed,
                          threads=cfg.threads or None)
    m = train_cnn(run.data_dir, run.root / "cnn", ccfg, echo=lambda line: run.say("      " + line))
    run.say(f"      test R² {m['test']['r2']:.3f}, AUC (BNPP > {cfg.bnpp_threshold:g}) "
            f"{m['test']['auc']:.3f}")


# -- 8 and 9 ----------------------------------------------------------------------------------
def explain_stage(run: DemoRun, announce: Callable[[int, str], None]) -> None:
    """Figs. 5 and 6 in one `seegaan explain` run.

    The explain pipeline makes the global BNPP / predicted-BNPP sequences (stage 8) and then
    the four patients (stage 9) in one atomic output folder, so stage 9 is announced when the
    pipeline reports its first per-patient step.
    """
    from seegaan.explain import ExplainConfig, explain, load_model
    from seegaan.explain.methods import read_manifest

    cfg = run.cfg
    state = {"stage": 8}

    def on_step(name: str) -> None:
        # The pipeline names each step as it starts; its per-case step is the demo's stage 9.
        if name == "cases" and state["stage"] == 8:
            state["stage"] = 9
            run.timings["8 BNPP sequences"] = time.perf_counter() - run.notes.pop("_t8")
            run.notes["_t9"] = time.perf_counter()
            announce(9, "TP/TN/FP/FN explanations, attribution maps, λ search (Fig. 6)")

    run.notes["_t8"] = time.perf_counter()
    ecfg = ExplainConfig(target="bnpp", threshold=cfg.bnpp_threshold, log_scale=True, split="test",
                         frames=cfg.frames, permutations=cfg.permutations, alpha=cfg.alpha,
                         correction=cfg.correction, local_lambda_max=cfg.local_lambda_max,
                         seed=cfg.seed)
    model = load_model(run.root / "cnn")
    out = run.root / "fig5_6_explain"
    run.explain_summary = explain(run.checkpoint, run.table, out, model=model,
                                  data_dir=run.data_dir, config=ecfg, autoencoder=run.ae,
                                  echo=lambda line: run.say("      " + line.strip()), on_step=on_step)
    if state["stage"] == 8:  # no per-case step ran: still close stage 9
        announce(9, "TP/TN/FP/FN explanations (no cases found)")
        run.timings["8 BNPP sequences"] = time.perf_counter() - run.notes.pop("_t8")
    else:
        run.timings["9 TP/TN/FP/FN"] = time.perf_counter() - run.notes.pop("_t9")
    # The global sequences are kept by the explain folder; its manifest names the latent-table
    # column each one regressed on, so the truth check selects the same rows.
    man = read_manifest(out)
    values = {"truth": np.asarray(run.table.meta[man["global"]["truth"]["column"]], dtype=float),
              "prediction": np.exp(_log_predictions(run, model))}
    for key in ("truth", "prediction"):
        g = man["global"][key]
        v = np.log(values[key]) if man["log_scale"] else values[key]
        run.sequences[f"explain/{key}"] = _reload_sequence(run, out / g["dir"], g["feature"], v)


def _reload_sequence(run: DemoRun, seq_dir: Path, feature: str, values: np.ndarray) -> Any:
    """A light stand-in for a SequenceResult from SEQ_DIR: frames, values and the rows used."""
    from seegaan.latent import LatentTable, select_rows

    with np.load(seq_dir / "result.npz") as z:
        frames, diffs, grid = z["frames"], z["diffs"], z["values"]
    meta = run.table.meta.copy()
    meta[feature] = values
    sel = select_rows(LatentTable(meta, run.table.w, run.table.info), feature, "test", "quantitative")
    return _Reloaded(feature, frames, diffs, grid, sel)


def _log_predictions(run: DemoRun, model: Any) -> np.ndarray:
    """The CNN's log BNPP for every row of the latent table (cheap: one pass, no decoding)."""
    from seegaan.explain.predict import TableImages

    src = TableImages(run.table, run.data_dir)
    n = len(run.table.meta)
    pred = np.concatenate([model.predict(src.load(slice(i, i + 256)), batch_size=256)
                           for i in range(0, n, 256)])
    return np.log(np.clip(pred, 1e-6, None))


@dataclass
class _Reloaded:
    feature: str
    frames: np.ndarray
    diffs: np.ndarray
    values: np.ndarray
    selection: Any


# -- 10 -------------------------------------------------------------------------------------
def truth_stage(run: DemoRun) -> pd.DataFrame:
    """Score every sequence against the cohort's true effects (``truth/truth.csv``)."""
    from seegaan.demo.truth import run_truth

    return run_truth(run)


STAGES: tuple[tuple[str, str], ...] = (
    ("cohort", "Render the virtual cohort"),
    ("prepare", "Prepare: patient split and Table 1"),
    ("autoencoder", "Autoencoder checkpoint"),
    ("encode", "Encode the test split"),
    ("global", "Global sequences: sex, age, AHF, manufacturer (Fig. 3)"),
    ("local", "Local sequences for one healthy young woman (Fig. 4)"),
    ("cnn", "Train the reference BNPP CNN"),
    ("explain", "Global sequences for BNPP and predicted BNPP (Fig. 5)"),
    ("", ""),  # stage 9 is announced from inside the explain run
    ("truth", "Ground-truth check and report"),
    ("gvr", "GVR: the four Fig. 6 films, inverse GVR, bias test"),
    ("medxgan", "medXGAN on the Fig. 6 cases (bundled checkpoint)"),
    ("benchmark", "Methods compared on the truth (benchmark)"),
)
N_STAGES = len(STAGES)


def record(run: DemoRun) -> dict[str, Any]:
    """What ``demo.json`` holds: every option, what was used, and how long each stage took."""
    from seegaan import __version__

    return {**run.cfg.to_dict(), "checkpoint_used": run.checkpoint, "subject": run.subject,
            "seegaan_version": __version__,
            "timings_s": {k: round(v, 1) for k, v in run.timings.items()},
            **{k: v for k, v in run.notes.items() if not k.startswith("_")}}

