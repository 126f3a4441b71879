"""The demo's configuration: one dataclass, saved as ``demo.json`` in the run directory.

Two sizes share the same stages. ``full`` is sized so that the whole study takes about 3.5
minutes on two CPU cores with the bundled checkpoint; ``quick`` keeps every stage but shrinks
the cohort, the permutation count, the frame count and the CNN training, for CI.

Example::

    cfg = DemoConfig.make(out="runs/demo", quick=True)
    cfg.n_images, cfg.permutations          # (600, 20)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seegaan.errors import OptionError

# Autoencoder preset trained by --train at each image size.
TRAIN_PRESETS = {32: "tiny", 64: "demo64", 256: "paper256"}


@dataclass
class DemoConfig:
    """Everything the demo does; the sizes differ between the full and the quick run."""

    out:           str                   # run directory (created atomically)
    size:          int = 64              # image side in pixels; must match the checkpoint
    quick:         bool = False          # reduced run for CI (every stage still runs)
    train:         bool = False          # train a new autoencoder instead of loading one
    checkpoint:    str | None = None     # checkpoint directory (None: the bundled demo64)
    cohort_version: int = 0              # virtual cohort rendered; 0: the checkpoint's own
                                         # (its training config; 1 when it records none or
                                         # with --train), set by run_demo
    seed:          int = 0               # cohort, split, permutations, CNN
    # -- sizes (set by make() from `quick`) --------------------------------------------------
    n_images:      int = 3000            # radiographs rendered
    split:         tuple[float, float, float] = (0.65, 0.1, 0.25)  # train/val/test radiographs
    frames:        int = 8               # frames per sequence
    permutations:  int = 100             # B of every permutation test (paper: 100)
    alpha:         float = 0.05          # per-pixel significance level (paper: no correction)
    correction:    str = "none"          # none | fdr | maxt
    local_lambda_max: float = 1.0        # last λ of the local sequences (1 = full group shift)
    cnn_arch:      str = "resnet10"      # reference BNPP CNN
    cnn_epochs:    int = 4               # its training epochs
    cnn_max_train: int | None = 1200     # cap on its training images (None: the whole train split)
    bnpp_threshold: float = 400.0        # pg/mL; elevated BNPP (the paper's cut-off)
    train_steps:   int = 3000            # autoencoder steps with --train
    train_batch:   int = 8               # autoencoder batch with --train
    threads:       int = 0               # torch threads (0: torch's default)
    per_figure_range: bool = False       # each subtraction map its own colour range (default:
                                         # one range shared within Fig. 3 and within Fig. 4)

    @classmethod
    def make(cls, out: str | Path, *, quick: bool = False, **options: Any) -> DemoConfig:
        """The full or quick configuration, with any field overridden by ``options``."""
        sizes: dict[str, Any] = {}
        if quick:
            sizes = dict(n_images=600, split=(0.6, 0.15, 0.25), frames=6, permutations=20,
                         cnn_epochs=2, cnn_max_train=300, train_steps=40)
        given = {k: v for k, v in options.items() if v is not None}
        cfg = cls(out=str(out), quick=quick, **{**sizes, **given})
        cfg.check()
        return cfg

    def check(self) -> None:
        """One-line errors for inconsistent options, before any work starts."""
        if self.size < 16 or self.size & (self.size - 1):
            raise OptionError(f"--size {self.size}: must be a power of two of at least 16")
        if self.train and self.checkpoint:
            raise OptionError("--train and --checkpoint: choose one (train a new autoencoder, "
                              "or load an existing one)")
        if self.train and self.size not in TRAIN_PRESETS:
            raise OptionError(f"--size {self.size} with --train: no autoencoder preset at this "
                              f"size (choose {', '.join(map(str, TRAIN_PRESETS))})")
        if self.n_images < 100:
            raise OptionError(f"n_images {self.n_images}: the study needs at least 100 radiographs")
        if self.frames < 3:
            raise OptionError(f"frames {self.frames}: need at least 3")
        if self.permutations < 1:
            raise OptionError(f"permutations {self.permutations}: need at least 1")
        if self.train_steps < 1:
            raise OptionError(f"--train-steps {self.train_steps}: must be at least 1")
        if self.cohort_version not in (0, 1, 2):
            raise OptionError(f"cohort_version {self.cohort_version}: choose 1 or 2 (0: the "
                              "checkpoint's)")

    @property
    def train_preset(self) -> str:
        return TRAIN_PRESETS.get(self.size, "custom")

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["split"] = list(d["split"])
        return d
