"""medXGAN configurations: the generator's shape and the training options, as dataclasses.

Both are saved with every run (``config.json``) and inside every checkpoint, so a checkpoint
loads from its own directory with no flags.

Example::

    model = MedXGANModelConfig.preset(64)      # z1 100, z2 10, 64 x 64
    train = MedXGANTrainConfig(steps=4000, batch=32)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from seegaan.errors import OptionError

# DCGAN-like channel ladders from the 4 x 4 seed up to the image (one entry per resolution).
# The 64 preset is half DCGAN's width so that it trains on a shared two-core CPU; the
# discriminator mirrors the generator (reversed ladder).
PRESET_CHANNELS = {
    64:  (128, 64, 32, 16),             # 4 -> 8 -> 16 -> 32 -> 64
    128: (512, 256, 128, 64, 32),       # the paper's X-ray resolution
    256: (512, 256, 128, 64, 32, 16),
}


@dataclass
class MedXGANModelConfig:
    image_size: int = 64                           # side of G's output (power of two, >= 16)
    z1_dim:     int = 100                          # anatomy code (paper, X-ray: 100)
    z2_dim:     int = 10                           # class code; 0 = negative (paper, X-ray: 10)
    g_channels: tuple[int, ...] = PRESET_CHANNELS[64]  # G channels at 4, 8, ... image_size/2
    d_channels: tuple[int, ...] = (16, 32, 64, 128)    # D channels at image_size/2, /4, ... 4
    image_channels: int = 1                        # grey radiographs
    z2_norm_input: bool = True                     # G also sees |z2| (see networks.py)

    @classmethod
    def preset(cls, size: int, **changes: Any) -> MedXGANModelConfig:
        if size not in PRESET_CHANNELS:
            raise OptionError(f"--size {size}: no medXGAN preset (choose from "
                              f"{', '.join(map(str, PRESET_CHANNELS))})")
        g = PRESET_CHANNELS[size]
        cfg = cls(image_size=size, g_channels=g, d_channels=tuple(reversed(g)), **changes)
        cfg.check()
        return cfg

    def check(self) -> None:
        n = len(self.g_channels)
        if self.image_size < 16 or self.image_size & (self.image_size - 1):
            raise OptionError(f"medXGAN image_size {self.image_size}: need a power of two >= 16")
        if 4 * 2 ** n != self.image_size:
            raise OptionError(f"medXGAN g_channels {list(self.g_channels)}: {n} stages make "
                              f"{4 * 2 ** n}-pixel images, not {self.image_size}")
        if len(self.d_channels) != n:
            raise OptionError(f"medXGAN d_channels: need {n} entries like g_channels")
        if self.z1_dim < 1 or self.z2_dim < 1:
            raise OptionError("medXGAN z1_dim and z2_dim must be at least 1")

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["g_channels"], d["d_channels"] = list(self.g_channels), list(self.d_channels)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> MedXGANModelConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise OptionError(f"medXGAN model config: unknown key(s) {', '.join(unknown)}")
        d = dict(d)
        for k in ("g_channels", "d_channels"):
            if k in d:
                d[k] = tuple(int(c) for c in d[k])
        cfg = cls(**d)
        cfg.check()
        return cfg


@dataclass
class ClassifierSpec:
    """How the frozen model C's output becomes one positive-class logit (see classifier.py)."""

    output:      str = "auto"         # auto | logit | probability | log-threshold | threshold
    threshold:   float | None = None  # positive above this, in the target's units (e.g. 400 pg/mL)
    temperature: float = 0.25         # logit = (score - threshold) / temperature, on the model scale
    target:      str | None = None    # name of the thresholded quantity (e.g. "bnpp"), for the record

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class MedXGANTrainConfig:
    steps:        int = 4000          # generator updates
    batch:        int = 16            # global batch (divided over torchrun processes)
    lr:           float = 2e-4        # Adam, both networks
    betas:        tuple[float, float] = (0.0, 0.99)
    r1_gamma:     float = 1.0         # R1 on real images, every reg_every steps
    reg_every:    int = 4
    cls_weight:   float = 1.0         # weight of C's cross-entropy in G's loss
    ema_beta:     float = 0.999       # EMA of G (the checkpoint's weights)
    seed:         int = 0
    log_every:    int = 50
    val_every:    int = 250           # generated-class accuracy + SWD on the EMA generator
    ckpt_every:   int = 250           # resumable state + last/
    val_samples:  int = 256           # generated films per validation (half positive)
    threads:      int = 0             # torch CPU threads (0: torch's default)
    classifier:   ClassifierSpec = field(default_factory=ClassifierSpec)

    def check(self) -> None:
        if self.steps < 1 or self.batch < 2:
            raise OptionError("--steps must be >= 1 and --batch >= 2")
        if self.val_samples < 2 or self.val_samples % 2:
            raise OptionError(f"val_samples {self.val_samples}: need an even number >= 2")

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["betas"] = list(self.betas)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> MedXGANTrainConfig:
        d = dict(d)
        d["classifier"] = ClassifierSpec(**d.get("classifier", {}))
        d["betas"] = tuple(d.get("betas", (0.0, 0.99)))
        return cls(**d)
