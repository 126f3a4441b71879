"""Copy a training run's checkpoint into the package as the bundled demo checkpoint.

The bundled checkpoint (``src/seegaan/assets/demo64/``) is what ``seegaan demo``, the
benchmark and every example load when no checkpoint is named. This tool writes it from a run
directory, atomically (a temporary folder, then a rename), with what the report and the
cohort-version lookup read:

- ``config.json`` + ``model.safetensors``: the run's ``best/`` (or ``--which last``)
  inference weights, re-written under the preset name ``demo64``. An ablation arm's preset
  (``demo64-hf``) names a training choice, not another architecture; the tool checks that
  the architecture is exactly ``demo64``'s before renaming;
- ``train_config.json``: the run's ``config.json`` (it records ``cohort_version``);
- ``metrics.jsonl``: the run's training log (the report's training summary).

Usage::

    python tools/ship_demo_checkpoint.py ~/.cache/seegaan-runs/ae_v2/run \\
        --note "cohort v2, hf arm, warm start from the v1 checkpoint (step 10,500)"

The weights are about 24 MB; commit a new version at most twice a session (every committed
version stays in git history).
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
from pathlib import Path

from seegaan.config import get_preset
from seegaan.models.autoencoder import DEMO_CHECKPOINT, load_autoencoder
from seegaan.models.checkpoint import write_inference_dir
from seegaan.utils.fsio import atomic_dir


def ship(run: Path, dest: Path, which: str = "best", note: str = "") -> Path:
    ae = load_autoencoder(run / which)
    demo = get_preset("demo64")
    if dataclasses.replace(ae.cfg, preset=demo.preset) != demo:
        raise SystemExit(f"{run / which}: not the demo64 architecture; the bundled checkpoint "
                         "must be one")
    cfg = dataclasses.replace(ae.cfg, preset=demo.preset)
    full_note = f"{which} of {run.name} at step {ae.step}" + (f"; {note}" if note else "")
    with atomic_dir(dest, overwrite=True) as tmp:
        write_inference_dir(tmp, ae.state_dict(), cfg, step=ae.step, note=full_note)
        shutil.copyfile(run / "config.json", tmp / "train_config.json")
        shutil.copyfile(run / "metrics.jsonl", tmp / "metrics.jsonl")
    return dest


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path, help="training run directory (holds best/, last/, config.json)")
    ap.add_argument("--which", choices=("best", "last"), default="best")
    ap.add_argument("--dest", type=Path, default=Path(DEMO_CHECKPOINT))
    ap.add_argument("--note", default="", help="what the checkpoint is, kept in its config.json")
    args = ap.parse_args()
    out = ship(args.run, args.dest, args.which, args.note)
    ae = load_autoencoder(out)
    print(f"{out}: step {ae.step}, cohort version {ae.cohort_version}")


if __name__ == "__main__":
    main()
