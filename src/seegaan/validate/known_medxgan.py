"""medXGAN generators for the benchmark's models: the bundled one, fine-tuned against each.

medXGAN explains the classifier its generator was trained against, and the bundled generator
(``assets/medxgan64``) was trained against the demo's BNPP CNN, not against the benchmark's
models. For each benchmark model this module warm-starts the bundled generator and fine-tunes
it briefly against that model as the frozen C (:func:`seegaan.medxgan.finetune.finetune_generator`),
so medXGAN explains *that* model, as GVR's predictor is fitted to each model's scores.

The benchmark's models are regressors; C's positive class is "score above the median score
on ``n_films`` ordinary-cohort films", with temperature a tenth of the 10th-90th percentile
spread of those scores (the bundled C's 0.25 on log BNPP is about a tenth of its spread too),
so every model gets a binary task of the same difficulty whatever its scale.

Each generator is cached as a medXGAN checkpoint in ``models/<name>/medxgan/`` (its config
records C's weights sha256, the fine-tune options and the generated-class accuracy); a rerun
with ``--models`` loads it and costs nothing, and a cache made for other weights is redone.

Example::

    dirs, records = medxgan_generators(models, "bench/models", MedXGANFinetune())
    records["shortcut"]["class_acc"]
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from seegaan.medxgan.finetune import FinetuneConfig

FOLDER = "medxgan"


@dataclass
class MedXGANFinetune:
    finetune: FinetuneConfig = field(default_factory=FinetuneConfig)
    n_films:  int = 128       # ordinary-cohort films that set C's cut-off and the class prior
    seed:     int = 4242      # their subjects


def classifier_spec(scores: np.ndarray) -> Any:
    """C's positive class for a log-scale regressor: above the median score (see module doc)."""
    from seegaan.medxgan.config import ClassifierSpec

    med = float(np.median(scores))
    spread = float(np.quantile(scores, 0.9) - np.quantile(scores, 0.1))
    # A constant model (the randomised control can be nearly one) still gets a finite temperature.
    temp = max(spread / 10.0, 1e-3)
    return ClassifierSpec(output="log-threshold", threshold=math.exp(med), temperature=temp,
                          target="benchmark model score")


def _films(size: int, n: int, seed: int, version: int) -> torch.Tensor:
    from seegaan.cohort import sample_subjects
    from seegaan.validate.known_models import render_films

    return render_films(sample_subjects(n, seed=seed, version=version), size)


def medxgan_generators(models: dict[str, Any], cache_root: str | os.PathLike, cfg: MedXGANFinetune,
                       fallback_root: str | os.PathLike | None = None, echo=None,
                       cohort_version: int = 1
                       ) -> tuple[dict[str, str], dict[str, dict[str, Any]]]:
    """``({model: checkpoint dir}, {model: record})`` for every model, fine-tuning the ones
    whose cache is missing or was made for other weights.

    The cache goes to ``cache_root/<model>/medxgan``; when that folder cannot be written
    (a read-only ``--models``), to ``fallback_root/<model>``. The films that set C's cut-off
    come from cohort ``cohort_version``, the models' own.
    """
    from seegaan.medxgan.checkpoint import is_checkpoint, load_medxgan, write_checkpoint
    from seegaan.medxgan.classifier import PositiveClass, fingerprint
    from seegaan.medxgan.finetune import finetune_generator
    from seegaan.utils.fsio import atomic_dir, read_json

    say = echo or (lambda _m: None)
    G0, info0 = load_medxgan(None)
    size = int(info0["model"]["image_size"])
    films = None
    dirs: dict[str, str] = {}
    records: dict[str, dict[str, Any]] = {}
    for name, model in models.items():
        path = Path(cache_root) / name / FOLDER
        sha = fingerprint(model)
        if is_checkpoint(path):
            doc = read_json(path / "config.json")
            if (doc.get("classifier") or {}).get("sha256") == sha and doc.get("finetune") == _options(cfg):
                dirs[name], records[name] = str(path), {**doc.get("metrics", {}), "cached": True}
                continue
        if films is None:
            films = _films(size, cfg.n_films, cfg.seed, cohort_version)
        with torch.no_grad():
            scores = model.predict_scores(films)
        C = PositiveClass(model, classifier_spec(np.asarray(scores, dtype=np.float64)), size)
        G, rec = finetune_generator(G0, C, films, cfg.finetune)
        say(f"medxgan for {name}: fine-tuned {cfg.finetune.steps} steps in {rec['seconds']:.0f} s, "
            f"generated-class accuracy {rec['class_acc_before']:.2f} -> {rec['class_acc']:.2f}")
        classifier = {**C.describe(), "name": f"benchmark model {name}"}
        extra = {"p_pos": rec["p_pos"], "metrics": rec, "finetune": _options(cfg),
                 "warm_start": info0.get("path"),
                 "note": "the bundled generator fine-tuned against this model (no discriminator)"}
        for root in (path, None if fallback_root is None else Path(fallback_root) / name):
            if root is None:
                raise OSError(f"{path}: cannot write the medXGAN cache")
            try:
                with atomic_dir(root, overwrite=True) as tmp:
                    write_checkpoint(tmp, G.state_dict(), G.cfg, classifier, int(info0.get("step", 0))
                                     + cfg.finetune.steps, extra=extra)
            except OSError as err:
                say(f"medxgan for {name}: cannot cache in {root} ({err})")
                continue
            dirs[name], records[name] = str(root), {**rec, "cached": False}
            break
    return dirs, records


def _options(cfg: MedXGANFinetune) -> dict[str, Any]:
    from dataclasses import asdict

    return {"n_films": cfg.n_films, "seed": cfg.seed, **asdict(cfg.finetune)}
