"""Find the artefacts of a run directory, whatever produced them.

A run directory may be the demo's (everything), or a user's own folder holding any mix of
prepared datasets, training runs, sequence and explanation outputs. Each artefact is
recognised by the files its stage always writes, so the report needs no manifest and shows
a section only for what exists.
"""

from __future__ import annotations

import fnmatch
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def _find(root: Path, pattern: str) -> list[Path]:
    """Files under ``root`` matching ``pattern``, following symbolic links (sorted).

    ``Path.rglob`` does not follow links before Python 3.13, but users are told to *link*
    their prepared dataset into the run folder; a directory reached twice through links is
    read once, so a link loop cannot hang the report.
    """
    found, seen = [], set()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        real = os.path.realpath(dirpath)
        if real in seen:
            dirnames[:] = []
            continue
        seen.add(real)
        dirnames.sort()
        found += [Path(dirpath) / f for f in filenames if fnmatch.fnmatch(f, pattern)]
    return sorted(found)


def _skip(path: Path, root: Path) -> bool:
    # Temporary outputs of an interrupted command start with a dot; never report them.
    return any(part.startswith(".") for part in path.relative_to(root).parts)


@dataclass
class Dataset:
    path: Path
    info: dict[str, Any]
    table1: pd.DataFrame | None


@dataclass
class TrainingRun:
    path: Path
    metrics: list[dict[str, Any]]
    config: dict[str, Any]
    images: list[Path]


@dataclass
class Sequence:
    path: Path
    summary: dict[str, Any]
    images: dict[str, Path]          # role (sequence, subtraction, significant, gif) -> file

    @property
    def mode(self) -> str:
        return str(self.summary.get("mode", "global"))


@dataclass
class Explanation:
    path: Path
    summary: dict[str, Any]
    figures: list[Path]
    sequences: list[Sequence] = field(default_factory=list)
    manifest: dict[str, Any] = field(default_factory=dict)  # the run's manifest.json


@dataclass
class Artefacts:
    root: Path
    config: dict[str, Any] = field(default_factory=dict)
    cohort: list[tuple[Path, dict[str, Any], list[Path]]] = field(default_factory=list)
    datasets: list[Dataset] = field(default_factory=list)
    training: list[TrainingRun] = field(default_factory=list)
    sequences: list[Sequence] = field(default_factory=list)
    cnns: list[tuple[Path, dict[str, Any]]] = field(default_factory=list)
    explanations: list[Explanation] = field(default_factory=list)
    truth: pd.DataFrame | None = None

    @property
    def empty(self) -> bool:
        return not (self.cohort or self.datasets or self.training or self.sequences
                    or self.cnns or self.explanations or self.truth is not None)


SEQUENCE_FILES = {"sequence": "sequence.png", "subtraction": "subtraction.png",
                  "significant": "significant.png", "gif": "sequence.gif"}


def _sequence(path: Path) -> Sequence:
    images = {role: path / name for role, name in SEQUENCE_FILES.items() if (path / name).is_file()}
    return Sequence(path, _read_json(path / "summary.json"), images)


def discover(root: str | Path) -> Artefacts:
    """Scan ``root`` recursively and classify what each stage left there."""
    root = Path(root)
    art = Artefacts(root=root)
    for name in ("demo.json", "config.json"):
        if (root / name).is_file():
            art.config = _read_json(root / name)
            break

    # An explanation run is a folder with a seegaan-explanations manifest.json.
    explain_dirs: set[Path] = set()
    for manifest in sorted(_find(root, "manifest.json")):
        if not _skip(manifest, root) and _read_json(manifest).get("format") == "seegaan-explanations":
            explain_dirs.add(manifest.parent)

    for meta in sorted(_find(root, "cohort.json")):
        if not _skip(meta, root):
            grids = sorted(p for p in meta.parent.glob("*.png"))
            art.cohort.append((meta.parent, _read_json(meta), grids))

    for prep in sorted(_find(root, "prepare.json")):
        if _skip(prep, root):
            continue
        t1 = prep.parent / "table1.csv"
        table = pd.read_csv(t1) if t1.is_file() else None
        art.datasets.append(Dataset(prep.parent, _read_json(prep), table))

    for metrics in sorted(_find(root, "metrics.jsonl")):
        if _skip(metrics, root) or "assets" in metrics.parts:
            continue
        run = metrics.parent
        rows = []
        for line in metrics.read_text().splitlines():
            line = line.strip()
            if line:
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError:
                    continue  # a line cut by an interrupted write; the rest is still good
        # A bundled checkpoint keeps its run's options as train_config.json (its config.json
        # is the architecture the loader needs); a training run has them in config.json.
        cfg = _read_json(run / "train_config.json") or _read_json(run / "config.json")
        samples = sorted(p for p in _find(run, "*.png") if not _skip(p, root))
        art.training.append(TrainingRun(run, rows, cfg, samples))

    for summary in sorted(_find(root, "summary.json")):
        if _skip(summary, root):
            continue
        seq_dir = summary.parent
        if (seq_dir / "sequence.png").is_file() and seq_dir not in explain_dirs:
            seq = _sequence(seq_dir)
            parent_explain = next((e for e in explain_dirs if e in seq_dir.parents), None)
            if parent_explain is None:
                art.sequences.append(seq)

    for exp_dir in sorted(explain_dirs):
        figures = sorted(p for p in exp_dir.glob("*.png"))
        nested = [_sequence(s.parent) for s in sorted(_find(exp_dir, "summary.json"))
                  if s.parent != exp_dir and (s.parent / "sequence.png").is_file()]
        art.explanations.append(Explanation(exp_dir, _read_json(exp_dir / "summary.json"),
                                            figures, nested, _read_json(exp_dir / "manifest.json")))

    for cfg in sorted(_find(root, "config.json")):
        if _skip(cfg, root):
            continue
        data = _read_json(cfg)
        # `seegaan cnn train` writes its input adapter into config.json (an autoencoder's
        # config.json has none); older CNN folders are known by their TorchScript model.pt.
        if "input_adapter" in data or (cfg.parent / "model.pt").is_file():
            art.cnns.append((cfg.parent, data))

    for name in ("truth.csv",):
        hits = [p for p in sorted(_find(root, name)) if not _skip(p, root)]
        if hits:
            art.truth = pd.read_csv(hits[0])
    return art


def incomplete_reason(root: str | Path) -> str | None:
    """Why ``root`` looks like an interrupted run, or None.

    ``seegaan demo`` writes ``demo.json`` first (options only) and again at the very end
    with the total time; a demo folder without that total stopped part-way (e.g. a
    leftover temporary folder after kill -9), so a report of it shows only some stages.
    """
    root = Path(root)
    if (root / "demo.json").is_file():
        doc = _read_json(root / "demo.json")
        if "total" not in (doc.get("timings_s") or {}):
            done = [k for k in (doc.get("timings_s") or {})]
            return (f"{root} is an interrupted demo run (finished stages: "
                    f"{', '.join(done) if done else 'none'}); its report is incomplete")
    return None
