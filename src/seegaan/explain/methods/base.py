"""The one interface every explanation method implements, and the files it writes.

A *method* turns one case (a film, its latent code, what the model says about it) into an
:class:`Explanation`: a pixel map (attribution methods: vanilla gradient, Grad-CAM, IG, ...),
a sequence of frames (generative methods: SEE-GAAN, GVR, medXGAN), or both (medXGAN's
latent integrated gradients comes with its sequence). Everything downstream (the Fig. 6
figure, the report, the demo, the viewer, the benchmark) reads explanations through
:func:`load_explanation` and the run's ``manifest.json``, never through a method's own
private files, so a new method is one file plus one registry line.

On disk, one explanation is one folder::

    cases/<image_id>/<method>/result.json    name, kind, status, scalars, shapes
    cases/<image_id>/<method>/map.npy        float32 (H, W), when the method gives a map
    cases/<image_id>/<method>/frames.npz     frames (T, H, W), steps (T,), predictions (T,)

Example::

    from seegaan.explain.methods import get_method
    exp = get_method("gradcam").run(case, ctx)
    save_explanation(exp, out / "cases" / case.image_id / exp.method)
"""

from __future__ import annotations

import json
import os
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from seegaan.errors import InputError
from seegaan.utils.renamed import upgrade_keys

ATTRIBUTION = "attribution"
SEQUENCE = "sequence"
KINDS = (ATTRIBUTION, SEQUENCE)

MANIFEST = "manifest.json"
MANIFEST_VERSION = 1


@dataclass
class Case:
    """One film to explain, and what is known about it."""

    image_id:   str
    image:      torch.Tensor                  # (1, 1, S, S) in [-1, 1], the film itself
    w:          np.ndarray | None = None      # its encoded latent code (w_dim,), when encoded
    category:   str | None = None             # TP / TN / FP / FN, or None
    truth:      float | None = None           # ground-truth target value (original units)
    prediction: float | None = None           # the model's prediction (original units)
    meta:       dict[str, Any] = field(default_factory=dict)  # the case's clinical row
    direction:  np.ndarray | None = None      # latent direction (w_dim,) a sequence moves along


@dataclass
class Context:
    """What every method may use; a method takes what it needs and says when something is missing.

    ``cache`` is shared by all methods and cases of one run (e.g. a latent direction computed
    once from the latent table); ``options`` holds per-method settings keyed by method name.
    """

    model:       Any = None                   # seegaan.explain.ExplainableModel, or None
    autoencoder: Any = None                   # seegaan.models.Autoencoder, or None
    table:       Any = None                   # seegaan.latent.LatentTable, or None
    target:      str = "bnpp"
    threshold:   float = 400.0                # positive means target > threshold
    log_scale:   bool = True                  # targets/predictions compared on the log scale
    seed:        int = 0
    options:     dict[str, dict[str, Any]] = field(default_factory=dict)
    cache:       dict[str, Any] = field(default_factory=dict)

    def option(self, method: str, key: str, default: Any) -> Any:
        return self.options.get(method, {}).get(key, default)


@dataclass
class Explanation:
    """A method's output for one case. At least one of ``map`` and ``frames`` is set
    (unless ``status`` says why not)."""

    method:      str
    kind:        str
    map:         np.ndarray | None = None     # float32 (H, W); sign kept where the method has one
    frames:      np.ndarray | None = None     # float32 (T, H, W), frame 0 the start
    steps:       np.ndarray | None = None     # (T,) the lambda / alpha / t value of each frame
    step_name:   str = "lambda"
    predictions: np.ndarray | None = None     # (T,) the model's prediction on each frame
    scalars:     dict[str, Any] = field(default_factory=dict)  # model calls, lambda, ...
    status:      str = "ok"                   # ok | reached | unreachable | skipped | failed ...
    message:     str = ""

    @property
    def difference(self) -> np.ndarray | None:
        """Last frame minus first: what the sequence changes, as a pixel map."""
        if self.frames is None or len(self.frames) < 2:
            return None
        return self.frames[-1] - self.frames[0]

    def pixel_map(self) -> np.ndarray | None:
        """The map a pixel-level metric scores: the method's own map, else the difference."""
        return self.map if self.map is not None else self.difference


class Method(ABC):
    """Base class of every explanation method (one subclass per file in this package).

    Subclasses set the class attributes and implement :meth:`run`. :meth:`unavailable`
    returns a reason (one line) when the method cannot run in ``ctx`` (no model, a model
    without gradients, no autoencoder ...), else None.
    """

    name:            ClassVar[str]
    title:           ClassVar[str]
    # Named option sets the benchmark also scores as separate rows, "name+variant"
    # (e.g. SEE-GAAN's residual-preserving frames).
    variants:        ClassVar[dict[str, dict[str, Any]]] = {}
    kind:            ClassVar[str] = ATTRIBUTION
    needs_model:     ClassVar[bool] = True
    needs_gradients: ClassVar[bool] = False
    needs_autoencoder: ClassVar[bool] = False

    def unavailable(self, ctx: Context) -> str | None:
        if self.needs_model and ctx.model is None:
            return "needs a model (--model)"
        if self.needs_gradients and ctx.model is not None and not ctx.model.supports_gradients:
            return f"needs gradients; {ctx.model.name} gives predictions only"
        if self.needs_autoencoder and ctx.autoencoder is None:
            return "needs an autoencoder checkpoint"
        return None

    @abstractmethod
    def run(self, case: Case, ctx: Context) -> Explanation:
        """Explain one case."""

    def explanation(self, **kwargs: Any) -> Explanation:
        return Explanation(method=self.name, kind=self.kind, **kwargs)


# -- files ------------------------------------------------------------------------------------

def save_explanation(exp: Explanation, folder: str | os.PathLike) -> Path:
    """Write one explanation into ``folder`` (created); returns the folder."""
    from seegaan.utils.fsio import write_json

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    record: dict[str, Any] = {"method": exp.method, "kind": exp.kind, "status": exp.status,
                              "message": exp.message, "step_name": exp.step_name,
                              "scalars": _jsonable(exp.scalars), "files": {}}
    if exp.map is not None:
        np.save(folder / "map.npy", np.asarray(exp.map, dtype=np.float32))
        record["files"]["map"] = "map.npy"
        record["map_shape"] = list(np.shape(exp.map))
    if exp.frames is not None:
        arrays = {"frames": np.asarray(exp.frames, dtype=np.float32)}
        if exp.steps is not None:
            arrays["steps"] = np.asarray(exp.steps, dtype=np.float64)
        if exp.predictions is not None:
            arrays["predictions"] = np.asarray(exp.predictions, dtype=np.float64)
        np.savez_compressed(folder / "frames.npz", **arrays)
        record["files"]["frames"] = "frames.npz"
        record["frames_shape"] = list(np.shape(exp.frames))
    write_json(folder / "result.json", record)
    return folder


def load_explanation(folder: str | os.PathLike) -> Explanation:
    """Read what :func:`save_explanation` wrote."""
    folder = Path(folder)
    path = folder / "result.json"
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise InputError(f"{path}: not a readable explanation result ({err})") from None
    exp = Explanation(method=record["method"], kind=record["kind"], status=record.get("status", "ok"),
                      message=record.get("message", ""), step_name=record.get("step_name", "lambda"),
                      scalars=record.get("scalars", {}))
    files = record.get("files", {})
    if "map" in files:
        exp.map = np.load(folder / files["map"], allow_pickle=False)
    if "frames" in files:
        with np.load(folder / files["frames"], allow_pickle=False) as z:
            exp.frames = z["frames"]
            exp.steps = z["steps"] if "steps" in z else None
            exp.predictions = z["predictions"] if "predictions" in z else None
    return exp


def case_folder(root: str | os.PathLike, image_id: str, method: str) -> Path:
    return Path(root) / "cases" / _safe_name(image_id) / method


def write_manifest(root: str | os.PathLike, cases: list[dict[str, Any]], methods: list[str],
                   extra: dict[str, Any] | None = None) -> Path:
    """``root/manifest.json``: the cases (id, category, truth, prediction, folder) and methods."""
    from seegaan.utils.fsio import write_json

    record = {"format": "seegaan-explanations", "version": MANIFEST_VERSION,
              "methods": methods, "cases": cases, **(extra or {})}
    path = Path(root) / MANIFEST
    write_json(path, _jsonable(record))
    return path


def read_manifest(root: str | os.PathLike) -> dict[str, Any]:
    path = Path(root) / MANIFEST
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise InputError(f"{path}: not a readable explanation manifest ({err})") from None
    if record.get("format") != "seegaan-explanations":
        raise InputError(f"{path}: not a seegaan explanation manifest")
    # Manifests written before the rename say "log".
    return upgrade_keys(record, log="log_scale")


def _safe_name(image_id: str) -> str:
    # Image ids come from user tables; never let one name a path outside cases/.
    s = "".join(c if (c.isalnum() or c in "-_.") else "_" for c in str(image_id))
    return s.lstrip(".") or "_"


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return _jsonable(x.tolist())
    if isinstance(x, (np.floating, float)):
        v = float(x)
        return v if np.isfinite(v) else None
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, np.bool_):
        return bool(x)
    return x
