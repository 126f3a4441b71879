"""SEE-GAAN sequences: decode a latent path, subtract frame 0, test every pixel by permutation.

Three entry points, all returning a :class:`SequenceResult` that :func:`write_sequence`
turns into ``SEQ_DIR`` (figures, GIF/MP4, ``result.npz``, ``summary.json``):

- :func:`global_sequence` for a qualitative feature (group means, linearly interpolated) or a
  quantitative one (regression path on a 5th..95th percentile grid);
- :func:`local_sequence` for one image, pushed along w̄_to − w̄_from by λ;
- :func:`permutation_test` for any path builder (see :mod:`seegaan.latent.paths`).

The permutation test: each permutation shuffles the latent–feature pairing, rebuilds the
path, decodes it and takes its subtractions; the observed subtractions are compared pixel by
pixel. When the table has patient ids, whole patients are shuffled (``permute="patients"``,
see :mod:`seegaan.stats.blocks` for why and what it assumes); ``"images"`` shuffles single
films. Permuted paths are decoded in large batches and the null maps are streamed into
running counts (:class:`seegaan.stats.NullStream`), so memory does not grow with B.

Example::

    table = load_latents("latents.parquet")
    ae = seegaan.load_autoencoder("runs/ae/best")
    res = global_sequence(ae, table, "ahf", from_level="0", to_level="1", permutations=100)
    write_sequence(res, "out/ahf")
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from seegaan.errors import CheckpointError, OptionError
from seegaan.latent.budget import check_budget, estimate_sequence
from seegaan.latent.paths import GroupMeanPath, LocalPath, PathBuilder, RegressionPath
from seegaan.latent.protocol import Autoencoder, decode_latents
from seegaan.latent.select import Selection, find_image, select_rows
from seegaan.latent.store import LatentTable
from seegaan.stats.blocks import Permuter, feature_level, group_ids, resolve_scheme
from seegaan.stats.permutation import CORRECTIONS, NullStream, power_notes
from seegaan.units import base_name, frame_value_labels, original_scale, unit_of, value_text
from seegaan.utils.fsio import atomic_dir, write_json
from seegaan.utils.progress import progress
from seegaan.utils.renamed import renamed_keywords

DEFAULT_ALPHA = 0.05
BACKENDS = ("pspline", "pygam")
# Written into every summary.json beside the maps (issue: one null map can look significant).
PVALUE_MEANING = ("per-pixel p = share of permuted maps at least as extreme; with correction "
                  "'none' about alpha of null pixels light up ON AVERAGE over many null maps, "
                  "but one null map can light up far more; use --correction maxt for a claim "
                  "about a single map (docs/sequences.md)")


@dataclass
class PermutationResult:
    pvalues: np.ndarray            # (T, S, S) per-pixel two-sided p, uncorrected
    adjusted: np.ndarray           # (T, S, S) after the correction (== pvalues for "none")
    significant: np.ndarray        # (T, S, S) bool: adjusted ≤ alpha
    n_permutations: int
    alpha: float
    correction: str
    seed: int
    permute: str = "images"        # images | patients (whole-block)
    exchangeability: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)   # warnings about the test's power


@dataclass
class SequenceResult:
    mode: str                      # "global" | "local"
    feature: str
    feature_type: str              # "qualitative" | "quantitative"
    values: np.ndarray             # (T,) t, feature value, or λ of each frame
    value_name: str                # "t", the feature name, or "λ"
    path: np.ndarray               # (T, D) latent path
    frames: np.ndarray             # (T, S, S) decoded frames in [-1, 1]
    diffs: np.ndarray              # (T, S, S) frames − frame 0
    selection: Selection
    test: PermutationResult | None = None
    image_id: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    unit: str | None = None        # the feature's unit for labels (None: looked up by name)

    @property
    def labels(self) -> list[str]:
        if self.value_name == "λ":
            return [f"λ={v:.2f}" for v in self.values]
        if self.value_name == "t":
            return [f"t={v:.2f}" for v in self.values]
        # In the feature's own units: log_bnpp 4.47 is labelled bnpp=87.4 pg/mL.
        return frame_value_labels(self.values, self.value_name, self.unit)

    @property
    def title(self) -> str:
        sel = self.selection
        if self.feature_type == "qualitative":
            a, b = sel.levels
            text = f"{self.feature}: {a} (n={sel.groups[a]}) → {b} (n={sel.groups[b]})"
        else:
            name, v, unit = original_scale(self.feature, self.values, self.unit)
            text = (f"{name}: {value_text(v[0], unit)} → {value_text(v[-1], unit)} "
                    f"(n={sel.groups['all']})")
        if self.mode == "local":
            text = f"image {self.image_id}, " + text
        return f"{text}, split {sel.split}"

    @property
    def masked_diffs(self) -> np.ndarray | None:
        if self.test is None:
            return None
        return np.where(self.test.significant, self.diffs, 0.0).astype(np.float32)

    def summary(self) -> dict[str, Any]:
        sel = self.selection
        out: dict[str, Any] = {
            "mode": self.mode, "feature": self.feature, "feature_type": self.feature_type,
            "title": self.title, "split": sel.split,
            "groups": sel.groups, "n_images": int(sum(sel.groups.values())),
            "n_missing_excluded": sel.n_missing,
            "from": sel.levels[0] if sel.levels else None,
            "to": sel.levels[1] if sel.levels else None,
            "values": [float(v) for v in self.values], "value_name": self.value_name,
            "unit": self.unit or unit_of(base_name(self.value_name)),
            "frames": len(self.values),
            "permutations": self.test.n_permutations if self.test else 0,
            "alpha": self.test.alpha if self.test else None,
            "correction": self.test.correction if self.test else None,
            "permute": self.test.permute if self.test else None,
            "exchangeability": self.test.exchangeability if self.test else None,
            "warnings": self.test.notes if self.test else [],
            "seed": self.options.get("seed"),
            "decode": "deterministic (noise injection switched off)",
            "options": self.options, "timings_s": self.timings,
        }
        if self.image_id is not None:
            out["image_id"] = self.image_id
        if self.test is not None:
            tested = self.test.significant[1:]
            out["significant_fraction"] = [float(m.mean()) for m in self.test.significant]
            out["significant_fraction_overall"] = float(tested.mean()) if tested.size else 0.0
            out["min_pvalue"] = float(self.test.pvalues[1:].min()) if tested.size else 1.0
            out["pvalue_meaning"] = PVALUE_MEANING
        out["max_abs_diff"] = float(np.abs(self.diffs).max())
        return out


def check_compatible(ae: Autoencoder, table: LatentTable, checkpoint: str | None = None) -> None:
    """Fail when the checkpoint cannot decode this table's latents."""
    name = checkpoint or "checkpoint"
    if int(ae.w_dim) != table.w_dim:
        raise CheckpointError(f"{name}: latent size {ae.w_dim} does not match the latent "
                              f"table's {table.w_dim} (encode the data with this checkpoint)")
    size = table.info.get("image_size")
    if size is not None and int(size) != int(ae.image_size):
        raise CheckpointError(f"{name}: image size {ae.image_size} does not match the latent "
                              f"table's {size} (encode the data with this checkpoint)")


def check_test_options(permutations: int, alpha: float | None, correction: str) -> float:
    if permutations < 0:
        raise OptionError(f"--permutations {permutations}: must be 0 or more")
    if permutations == 0 and alpha is not None:
        raise OptionError("--alpha: has no effect with --permutations 0 (no test is run); "
                          "drop --alpha or ask for permutations")
    if correction not in CORRECTIONS:
        raise OptionError(f"--correction {correction}: choose from {', '.join(CORRECTIONS)}")
    alpha = DEFAULT_ALPHA if alpha is None else float(alpha)
    if not 0.0 < alpha < 1.0:
        raise OptionError(f"--alpha {alpha}: must be between 0 and 1")
    return alpha


def permutation_test(ae: Autoencoder,
                     builder:      PathBuilder,          # rebuilds the path for a pairing
                     diffs:        np.ndarray,           # (T, S, S) observed frames − frame 0
                     n_rows:       int | None = None,    # rows whose pairing is shuffled (default: builder's)
                     permutations: int = 100,            # B, >= 1
                     alpha:        float = DEFAULT_ALPHA,
                     correction:   str = "none",         # none | fdr | maxt
                     seed:         int = 0,
                     batch_size:   int = 256,            # frames per decoder call
                     groups:       np.ndarray | None = None,  # (n_rows,) patient of each row
                     permute:      str = "auto",         # auto | images | patients
                     ) -> PermutationResult:
    """Per-pixel permutation p-values of the subtractions ``diffs`` (frame 0 is not tested).

    ``groups`` (patient ids) with ``permute`` ``auto`` or ``patients`` shuffles whole
    patients between patients with as many films (:class:`seegaan.stats.Permuter`).

    Example::

        b = GroupMeanPath(w, is_to, frames=10)
        frames = decode_latents(ae, b.path())
        res = permutation_test(ae, b, frames - frames[0], permutations=100)
    """
    if permutations < 1:
        raise OptionError(f"--permutations {permutations}: must be at least 1 for a test")
    n_rows = builder.n_rows if n_rows is None else n_rows
    scheme = resolve_scheme(permute, groups is not None)
    permuter = Permuter(n_rows, groups if scheme == "patients" else None, scheme, seed)
    n_frames = len(diffs)
    tested = np.zeros(diffs.shape, dtype=bool)
    tested[1:] = True
    notes = power_notes(permutations, alpha, correction, int(tested.sum()))
    if permuter.log_count() < np.log(permutations + 1):
        notes.append(f"--permute {scheme}: only about {np.exp(permuter.log_count()):.0f} "
                     f"distinct permutations exist for these rows, fewer than B = "
                     f"{permutations}; p-values repeat permutations")
    null = NullStream(diffs, tested, correction, permutations)
    # A local path starts at w_E whatever the pairing: decode frame 0 once, not B times.
    first = 1 if getattr(builder, "fixed_start", False) else 0
    start_frame = None
    if first:
        start_frame = decode_latents(ae, builder.path()[:1], batch_size)[0]
    per_chunk = max(1, batch_size // (n_frames - first))
    chunks = range(0, permutations, per_chunk)
    try:
        for start in progress(chunks, desc="permutations", total=len(chunks), unit="batch"):
            p = permuter.draw(min(per_chunk, permutations - start))
            paths = builder.paths(p)[:, first:]                        # (b, T or T-1, D)
            frames = decode_latents(ae, paths.reshape(-1, paths.shape[-1]), batch_size)
            frames = frames.reshape(len(p), n_frames - first, *frames.shape[1:])
            if first:
                batch = np.empty((len(p),) + diffs.shape, dtype=np.float32)
                batch[:, 0] = 0.0
                batch[:, 1:] = frames - start_frame
            else:
                batch = frames - frames[:, :1]
            null.add(batch)
        raw, adjusted = null.finish()
    finally:
        null.close()
    return PermutationResult(raw.astype(np.float32), adjusted.astype(np.float32),
                             adjusted <= alpha, permutations, alpha, correction, seed,
                             scheme, permuter.describe(), notes)


def check_memory(ae: Autoencoder, frames: int, rows: int, permutations: int, batch_size: int,
                 correction: str) -> None:
    """Refuse a run that does not fit in this machine's memory (or the maxt spool on disk)."""
    check_budget(estimate_sequence(frames, int(ae.image_size), int(ae.w_dim), rows,
                                   permutations, batch_size, correction))


def _run(ae: Autoencoder, table: LatentTable, sel: Selection, builder: PathBuilder, mode: str,
         value_name: str, options: dict[str, Any], permutations: int, alpha: float,
         correction: str, seed: int, batch_size: int, t_start: float,
         image_id: str | None = None, permute: str = "auto") -> SequenceResult:
    timings = {"select_s": time.perf_counter() - t_start}
    t0 = time.perf_counter()
    path = builder.path()
    timings["path_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    frames = decode_latents(ae, path, batch_size)
    timings["decode_s"] = time.perf_counter() - t0
    diffs = frames - frames[:1]
    test = None
    if permutations > 0:
        t0 = time.perf_counter()
        groups = group_ids(sel.meta)
        test = permutation_test(ae, builder, diffs, len(sel.w), permutations, alpha, correction,
                                seed, batch_size, groups, permute)
        values = sel.is_to if sel.feature_type == "qualitative" else sel.x
        test.exchangeability["feature_level"] = feature_level(values, groups)
        timings["permutations_s"] = time.perf_counter() - t0
    timings["total_s"] = time.perf_counter() - t_start
    options = dict(options, permutations=permutations, alpha=alpha if permutations else None,
                   correction=correction, seed=seed, batch_size=batch_size,
                   permute=test.permute if test else None)
    return SequenceResult(mode, sel.feature, sel.feature_type, np.asarray(builder.values, dtype=np.float64),
                          value_name, path, frames, diffs, sel, test, image_id, options,
                          {k: round(v, 4) for k, v in timings.items()})


@renamed_keywords(kind="feature_type")
def global_sequence(ae: Autoencoder, table: LatentTable, feature: str, *,
                    from_level:   str | None = None,        # qualitative start level
                    to_level:     str | None = None,        # qualitative end level
                    frames:       int = 10,                 # frames in the sequence, >= 2
                    split:        str = "test",             # test | val | train | all
                    feature_type: str = "auto",             # auto | qualitative | quantitative
                    percentiles:  tuple[float, float] = (5.0, 95.0),  # quantitative grid range
                    backend:      str = "pspline",          # pspline | pygam (quantitative)
                    permutations: int = 100,                # B; 0 skips the test
                    alpha:        float | None = None,      # default 0.05 (only with a test)
                    correction:   str = "none",             # none | fdr | maxt
                    seed:         int = 0,                  # permutation seed
                    batch_size:   int = 256,                # frames per decoder call
                    permute:      str = "auto",             # auto | images | patients
                    ) -> SequenceResult:
    """A global sequence for ``feature`` over the images of ``split``.

    Qualitative: w(t) = (1 − t)·w̄_from + t·w̄_to for t on ``frames`` even steps in [0, 1].
    Quantitative: P-spline (or pyGAM) fit of each latent dimension on the feature, evaluated
    on ``frames`` evenly spaced values from the 5th to the 95th percentile.

    Example::

        res = global_sequence(ae, table, "age", permutations=100, correction="fdr")
    """
    t_start = time.perf_counter()
    alpha = check_test_options(permutations, alpha, correction)
    if frames < 2:
        raise OptionError(f"--frames {frames}: need at least 2")
    resolve_scheme(permute, True)
    check_memory(ae, frames, len(table.w), permutations, batch_size, correction)
    if backend not in BACKENDS:
        raise OptionError(f"--backend {backend}: choose from {', '.join(BACKENDS)}")
    lo, hi = percentiles
    if not 0.0 <= lo < hi <= 100.0:
        raise OptionError(f"--range {lo} {hi}: need 0 <= low < high <= 100")
    sel = select_rows(table, feature, split, feature_type, from_level, to_level)
    check_compatible(ae, table)
    options: dict[str, Any] = {"frames": frames, "split": split, "feature_type": sel.feature_type}
    if sel.feature_type == "qualitative":
        builder: PathBuilder = GroupMeanPath(sel.w, sel.is_to, frames)
        value_name = "t"
    else:
        grid = np.linspace(*np.percentile(sel.x, [lo, hi]), frames)
        builder = RegressionPath(sel.x, sel.w, grid, backend=backend)
        value_name = feature
        options.update(percentiles=[lo, hi], backend=backend)
    return _run(ae, table, sel, builder, "global", value_name, options, permutations, alpha,
                correction, seed, batch_size, t_start, permute=permute)


def local_sequence(ae: Autoencoder, table: LatentTable, feature: str, image_id: str, *,
                   from_level:   str | None = None,
                   to_level:     str | None = None,
                   frames:       int = 10,
                   lambda_max:   float = 1.0,             # last λ (> 0)
                   split:        str = "test",
                   permutations: int = 100,
                   alpha:        float | None = None,
                   correction:   str = "none",
                   seed:         int = 0,
                   batch_size:   int = 256,
                   permute:      str = "auto",
                   ) -> SequenceResult:
    """A local sequence: image ``image_id``'s latent w_E moved by λ·(w̄_to − w̄_from).

    Frame 0 (λ = 0) decodes w_E, i.e. it is the image's reconstruction. The group means come
    from the rows of ``split``; the image itself may be in any split.

    Example::

        res = local_sequence(ae, table, "ahf", "p0042", from_level="0", to_level="1")
    """
    t_start = time.perf_counter()
    alpha = check_test_options(permutations, alpha, correction)
    if frames < 2:
        raise OptionError(f"--frames {frames}: need at least 2")
    resolve_scheme(permute, True)
    check_memory(ae, frames, len(table.w), permutations, batch_size, correction)
    if not lambda_max > 0:
        raise OptionError(f"--lambda-max {lambda_max}: must be positive")
    row = find_image(table, image_id)
    sel = select_rows(table, feature, split, "qualitative", from_level, to_level)
    check_compatible(ae, table)
    builder = LocalPath(sel.w, sel.is_to, table.w[row], frames, lambda_max)
    options = {"frames": frames, "split": split, "feature_type": "qualitative", "lambda_max": lambda_max}
    return _run(ae, table, sel, builder, "local", "λ", options, permutations, alpha,
                correction, seed, batch_size, t_start, image_id=str(image_id), permute=permute)


def write_sequence(result: SequenceResult, out_dir: str | os.PathLike, overwrite: bool = False,
                   vlim: float | None = None, fps: float = 4.0, mp4: bool = True) -> Path:
    """Write ``SEQ_DIR`` atomically: figures, GIF (+ MP4), ``result.npz``, ``summary.json``.

    ``vlim``: colour range ±vlim of the subtraction maps (default: the largest |difference|;
    0.5 reproduces the reference figures).
    """
    from seegaan.viz import (
        difference_strip,
        frame_strip,
        save_figure,
        save_gif,
        save_mp4,
        symmetric_limit,
    )

    t0 = time.perf_counter()
    vlim = symmetric_limit(result.diffs) if vlim is None else float(vlim)
    labels = result.labels
    out_dir = Path(out_dir)
    with atomic_dir(out_dir, overwrite=overwrite) as tmp:
        save_figure(frame_strip(result.frames, labels, title=result.title), tmp / "sequence.png")
        save_figure(difference_strip(result.diffs, labels, vlim=vlim,
                                     title=f"{result.title}: frame − frame 0",
                                     cbar_label="difference ([-1, 1] scale)"),
                    tmp / "subtraction.png")
        arrays = {"frames": result.frames, "diffs": result.diffs, "path": result.path,
                  "values": result.values}
        if result.test is not None:
            t = result.test
            corr = "" if t.correction == "none" else f", {t.correction}"
            save_figure(difference_strip(result.masked_diffs, labels, vlim=vlim,
                                         title=f"{result.title}: p ≤ {t.alpha}{corr} "
                                               f"({t.n_permutations} permutations of "
                                               f"{t.permute})",
                                         cbar_label="significant difference"),
                        tmp / "significant.png")
            arrays.update(pvalues=t.pvalues, pvalues_adjusted=t.adjusted,
                          significant=t.significant, masked_diffs=result.masked_diffs)
        else:
            arrays["pvalues"] = np.full(result.diffs.shape, np.nan, dtype=np.float32)
        save_gif(result.frames, tmp / "sequence.gif", fps=fps)
        wrote_mp4 = mp4 and save_mp4(result.frames, tmp / "sequence.mp4", fps=fps)
        np.savez_compressed(tmp / "result.npz", **arrays)
        summary = result.summary()
        summary["vlim"] = vlim
        summary["files"] = sorted(p.name for p in tmp.iterdir()) + ["summary.json"]
        summary["mp4"] = bool(wrote_mp4)
        summary["timings_s"] = dict(summary["timings_s"], write_s=round(time.perf_counter() - t0, 4))
        write_json(tmp / "summary.json", summary)
    return out_dir
