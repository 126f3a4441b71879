"""Configuration dataclasses: the autoencoder's architecture presets and the training options.

A :class:`ModelConfig` is written as ``config.json`` beside every checkpoint, so a checkpoint
always loads from its own directory without repeating flags. A :class:`TrainConfig` is
written beside every run (``RUN_DIR/config.json``) together with the model config.

Presets (``PRESETS``):

- ``tiny``: 32x32, a few thousand parameters per layer, for tests;
- ``demo64``: 64x64, narrow widths chosen so that two CPU cores train it to good
  reconstructions in hours (the bundled demo checkpoint);
- ``paper256``: the paper's 256x256 widths (G 512/512/512/512/256/128/64 from 4 to 256,
  E and D 32 up to 512), w_dim 512, 8-layer mapping.

Example::

    from seegaan.config import get_preset
    cfg = get_preset("demo64")
    cfg.image_size, cfg.w_dim        # (64, 512)
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from typing import Any

from seegaan.errors import CheckpointError, OptionError


@dataclass(frozen=True)
class ModelConfig:
    """Architecture of encoder E, mapping M, generator G and discriminator D."""

    preset:          str                     # name of the preset this came from ("custom" otherwise)
    image_size:      int                     # output resolution, a power of two >= 8
    w_dim:           int = 512               # latent width (the paper's 512-d w)
    z_dim:           int = 512               # mapping input width
    mapping_layers:  int = 8                 # fully connected layers in M (paper: 8)
    mapping_lr_mul:  float = 0.01            # learning-rate multiplier of M (paper: 0.01)
    g_channels:      tuple[int, ...] = ()    # G widths at resolutions 4, 8, ..., image_size
    e_channels:      tuple[int, ...] = ()    # E widths at resolutions image_size, ..., 8, 4
    d_channels:      tuple[int, ...] = ()    # D widths at resolutions image_size, ..., 8, 4
    head_dim:        int = 512               # width of the FC layer in the E and D heads
    mbstd_group:     int = 4                 # minibatch-std group size (consecutive samples)
    image_channels:  int = 1                 # 1 for radiographs
    out_tanh:        bool = True             # squash G's output to [-1, 1] as the reference does
    mapping_linear_last: bool = False        # M ends with a linear layer (SEE-GAAN reference) not a leaky ReLU
    g_noise:         bool = True             # per-pixel noise inputs in G (False: ignored, deterministic)

    def __post_init__(self) -> None:
        # JSON gives lists; the dataclass is frozen and hashed, so store tuples.
        for name in ("g_channels", "e_channels", "d_channels"):
            object.__setattr__(self, name, tuple(int(c) for c in getattr(self, name)))
        self.validate()

    @property
    def n_res(self) -> int:
        """Number of resolutions from 4 to image_size."""
        return int(math.log2(self.image_size)) - 1

    @property
    def num_ws(self) -> int:
        """Number of style inputs G consumes (for style mixing)."""
        return 2 * int(math.log2(self.image_size)) - 2

    def validate(self) -> None:
        s = self.image_size
        if s < 8 or s & (s - 1):
            raise OptionError(f"image_size {s}: must be a power of two >= 8")
        for name in ("g_channels", "e_channels", "d_channels"):
            if len(getattr(self, name)) != self.n_res:
                raise OptionError(f"{name}: needs {self.n_res} widths for {s}x{s} "
                                  f"(resolutions 4..{s}), got {len(getattr(self, name))}")
        if self.mapping_layers < 1 or self.w_dim < 1 or self.z_dim < 1:
            raise OptionError("mapping_layers, w_dim and z_dim must be positive")

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        for name in ("g_channels", "e_channels", "d_channels"):
            d[name] = list(d[name])
        # Fields added later are written only when they differ from their default: older
        # checkpoints keep their config hash, and older seegaan reads default-architecture
        # configs.
        for name, default in LATER_FIELDS.items():
            if d[name] == default:
                del d[name]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any], source: str = "config") -> ModelConfig:
        """Build from a ``config.json`` mapping; unknown or missing fields are refused."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise CheckpointError(f"{source}: unknown model field(s) {', '.join(unknown)}")
        try:
            return cls(**d)
        except TypeError as err:
            raise CheckpointError(f"{source}: incomplete model config ({err})") from None
        except OptionError as err:
            raise CheckpointError(f"{source}: invalid model config ({err})") from None


# ModelConfig fields added after the first release, with the default that reproduces the
# older architecture.
LATER_FIELDS: dict[str, Any] = {"mapping_linear_last": False, "g_noise": True}


PRESETS: dict[str, ModelConfig] = {
    "tiny": ModelConfig(
        preset="tiny", image_size=32, w_dim=32, z_dim=32, mapping_layers=2,
        g_channels=(32, 32, 16, 8), e_channels=(8, 16, 32, 32), d_channels=(8, 16, 32, 32),
        head_dim=32, mbstd_group=2),
    # Narrow widths: CPU time goes to the high-resolution layers, and the inference weights
    # (E + M + G, float32) must stay under 25 MB to ship in the package (23.7 MB). w stays
    # 512-d and M keeps 8 layers as in the paper, so the latent analysis downstream works
    # in the paper's dimensionality.
    "demo64": ModelConfig(
        preset="demo64", image_size=64, w_dim=512, z_dim=512, mapping_layers=8,
        g_channels=(128, 128, 128, 64, 32), e_channels=(32, 64, 128, 128, 128),
        d_channels=(32, 64, 128, 128, 128), head_dim=512, mbstd_group=4),
    "paper256": ModelConfig(
        preset="paper256", image_size=256, w_dim=512, z_dim=512, mapping_layers=8,
        g_channels=(512, 512, 512, 512, 256, 128, 64),
        e_channels=(32, 64, 128, 256, 512, 512, 512),
        d_channels=(32, 64, 128, 256, 512, 512, 512), head_dim=512, mbstd_group=4),
}


def get_preset(name: str) -> ModelConfig:
    """The model config of a named preset (``tiny``, ``demo64``, ``paper256``)."""
    try:
        return PRESETS[name]
    except KeyError:
        raise OptionError(f"--preset {name!r}: unknown (choose from {', '.join(PRESETS)})") from None


@dataclass
class TrainConfig:
    """Training options; defaults are the paper's unless noted (see docs/training.md).

    Every field can be set from the command line: the common ones have their own flags,
    all of them through ``--config FILE.json|toml`` and ``--set key=value``.
    """

    steps:            int = 20000        # optimiser steps in total (a resumed run continues to this)
    batch:            int = 8            # total batch over all processes (paper: 4)
    lr:               float = 1e-3       # Adam learning rate, every network
    betas:            tuple[float, float] = (0.0, 0.99)  # Adam betas
    eps:              float = 1e-8       # Adam epsilon
    r1_gamma:         float = 10.0       # R1 penalty weight on real images
    reg_every:        int = 4            # lazy regularisation interval (R1 and latent moments)
    moment_weight:    float = 1.0        # latent-moment penalty weight
    ema_beta:         float = 0.999      # EMA decay of M, G, E (ramped up over the first steps)
    aug_p:            float = 0.2        # probability of augmenting each real image
    mix_p:            float = 0.9        # style-mixing probability in the fake branch
    rec_adv_weight:   float = 0.1        # adversarial weight in the reconstruction loss
    perceptual:       str = "auto"       # "vgg" (needs vgg_weights), "ssim" (weight-free), "none", "auto"
    vgg_weights:      str | None = None  # local torchvision vgg16 state dict
    vgg_weight:       float = 0.01       # weight of the VGG perceptual term (paper: 0.01)
    ssim_weight:      float = 0.2        # weight of the multi-scale (1 - SSIM) substitute
    fake_weight:      float = 0.5        # D loss weight of fakes
    recon_d_weight:   float = 0.5        # D loss weight of reconstructions
    hf_weight:        float = 0.0        # Laplacian-pyramid L1 between x_rec and x (weight-free detail term)
    fm_weight:        float = 0.0        # discriminator feature matching between x_rec and x
    seed:             int = 0            # everything random derives from (seed, step)
    log_every:        int = 50           # steps between metrics.jsonl loss lines
    sample_every:     int = 1000         # steps between sample grids
    ckpt_every:       int = 1000         # steps between last/ and state/ checkpoints
    val_every:        int = 1000         # steps between validation metrics (and best/ selection)
    val_images:       int = 256          # validation images used for MSE/SSIM/SWD
    best_by:          str = "auto"       # "auto" (fid if available, else ssim), "fid", "swd", "ssim", "mse"
    inception_weights: str | None = None  # local Inception weights for FID (optional)
    modconv:          str = "fast"       # "fast" or "grouped" modulated convolution
    threads:          int = 0            # torch threads per process (0: leave torch's default)
    init_from:        str | None = None  # warm start: inference checkpoint dir, or "demo" (bundled)
    extra:            dict[str, Any] = field(default_factory=dict)  # free-form notes kept in config.json

    def validate(self) -> None:
        if self.steps < 1:
            raise OptionError(f"--steps {self.steps}: must be at least 1")
        if self.batch < 1:
            raise OptionError(f"--batch {self.batch}: must be at least 1")
        if self.perceptual not in ("auto", "vgg", "ssim", "none"):
            raise OptionError(f"--perceptual {self.perceptual!r}: choose auto, vgg, ssim or none")
        if self.perceptual == "vgg" and not self.vgg_weights:
            raise OptionError("--perceptual vgg: needs --vgg-weights PATH (a local vgg16 state dict)")
        if self.best_by not in ("auto", "fid", "swd", "ssim", "mse"):
            raise OptionError(f"--best-by {self.best_by!r}: choose auto, fid, swd, ssim or mse")
        if self.best_by == "fid" and not self.inception_weights:
            raise OptionError("--best-by fid: needs --inception-weights PATH")
        if self.modconv not in ("fast", "grouped"):
            raise OptionError(f"--modconv {self.modconv!r}: choose fast or grouped")
        if not (self.hf_weight >= 0 and self.fm_weight >= 0):  # also refuses NaN
            raise OptionError("--hf-weight and --fm-weight must be 0 or more")
        for name in ("log_every", "sample_every", "ckpt_every", "val_every", "reg_every",
                     "val_images"):
            if getattr(self, name) < 1:
                raise OptionError(f"{name}: must be at least 1")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise OptionError(f"--lr {self.lr}: must be a positive finite number")
        for name in ("aug_p", "mix_p"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise OptionError(f"{name} {getattr(self, name)}: a probability, in [0, 1]")
        if not 0.0 <= self.ema_beta < 1.0:
            raise OptionError(f"ema_beta {self.ema_beta}: must be in [0, 1)")
        if not (math.isfinite(self.eps) and self.eps > 0):
            raise OptionError(f"eps {self.eps}: must be a positive finite number")
        if len(self.betas) != 2 or not all(0.0 <= b < 1.0 for b in self.betas):
            raise OptionError(f"betas {list(self.betas)}: two numbers in [0, 1)")
        for name in ("r1_gamma", "moment_weight", "rec_adv_weight", "vgg_weight", "ssim_weight",
                     "fake_weight", "recon_d_weight"):
            if not (math.isfinite(getattr(self, name)) and getattr(self, name) >= 0):
                raise OptionError(f"{name} {getattr(self, name)}: must not be negative")
        if self.threads < 0:
            raise OptionError(f"threads {self.threads}: must not be negative")

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["betas"] = list(d["betas"])
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any], source: str = "training config") -> TrainConfig:
        """The config ``d`` describes; an unknown key is an error (a typo must not be dropped)."""
        unknown = sorted(set(d) - set(train_fields()))
        if unknown:
            raise OptionError(f"{source}: unknown training option(s) {', '.join(unknown)} "
                              f"(known: {', '.join(train_fields())})")
        kept = {k: _coerce(k, v, source) for k, v in d.items()}
        return cls(**kept)

    def updated(self, changes: dict[str, Any], source: str) -> TrainConfig:
        """A copy with ``changes`` applied (checked like :meth:`from_dict`)."""
        return TrainConfig.from_dict({**self.to_dict(), **changes}, source=source)


def train_fields() -> list[str]:
    """Names of every :class:`TrainConfig` field, in declaration order."""
    return [f.name for f in dataclasses.fields(TrainConfig)]


def train_default(name: str) -> Any:
    """The default of one :class:`TrainConfig` field (what ``--help`` shows)."""
    return getattr(TrainConfig(), name)


def _coerce(name: str, value: Any, source: str) -> Any:
    """``value`` as the type of field ``name``'s default; strings (from ``--set``) are parsed."""
    default = train_default(name)
    optional = default is None
    try:
        if isinstance(value, str) and value.strip().lower() in ("none", "null") and optional:
            return None
        if isinstance(default, bool):
            if isinstance(value, str):
                if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
                    raise ValueError(value)
                return value.lower() in ("true", "1", "yes")
            return bool(value)
        if isinstance(default, int):
            if isinstance(value, float) and not value.is_integer():
                raise ValueError(value)
            return int(value)
        if isinstance(default, float):
            return float(value)
        if isinstance(default, tuple):
            items = value.split(",") if isinstance(value, str) else list(value)
            return tuple(float(v) for v in items)
        if isinstance(default, dict):
            if isinstance(value, str):
                value = json.loads(value)
            if not isinstance(value, dict):
                raise ValueError(value)
            return value
        if value is None and optional:
            return None
        return str(value)
    except (TypeError, ValueError):  # json.JSONDecodeError is a ValueError
        type_name = type(default).__name__ if default is not None else "str"
        raise OptionError(f"{source}: {name} = {value!r} is not a valid {type_name}") from None
