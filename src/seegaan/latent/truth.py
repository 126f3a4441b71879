"""Do the sequences show the truth? Measure them with the virtual cohort's oracle.

On the virtual cohort every image has known generating factors (``gt_ctr`` heart size,
``gt_breast``, ``gt_bmd``, ...), and the oracle reads them back from any image, decoded
frames included. So a sequence can be scored against what really differs in the cohort:

- the oracle's change of the factor from the first to the last frame (``change``);
- the true effect over the same step (``true_effect``): the difference of the factor's mean
  between the two groups (qualitative features), or its linear slope on the feature times
  the frame range (quantitative features), both over the rows the sequence was built from;
- ``ratio = change / true_effect`` (1: the sequence shows the whole true effect) and the
  Spearman correlation of the factor with the frame index (``spearman``, signed so that the
  expected direction is positive).

A check passes when the change has the expected sign and, where the check sets them, the
ratio and ρ reach their targets. Image processing (the vendor) is not a body factor, so its
check is a pattern check: the correlation between the sequence's end-to-end subtraction and
the true difference map of the two groups.

This module holds the scoring shared by every caller (:class:`TruthCheck`,
:func:`score_sequence`, :func:`pattern_row`, :func:`write_truth`) and the standalone scorer
of a latent table's global sequences (:func:`evaluate_truth`, :data:`DEFAULT_CHECKS`). The
demo's stage 10 (``seegaan.demo.truth``) scores its figures' sequences with the same pieces.
``truth.csv`` has one row per check: ``check, measured, target, pass`` first (what the
report shows), then the numbers behind them.

Example::

    from seegaan.cohort.oracle import load_oracle
    table = load_latents("latents.parquet")
    ae = seegaan.load_autoencoder()
    df = evaluate_truth(ae, table, load_oracle(ae.image_size))
    write_truth(df, "runs/demo/truth")

or ``python -m seegaan.latent.truth CHECKPOINT|demo LATENTS --out DIR``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from seegaan.errors import InputError
from seegaan.latent.protocol import Autoencoder, decode_latents
from seegaan.latent.select import Selection
from seegaan.latent.sequence import global_sequence
from seegaan.latent.store import LatentTable
from seegaan.utils.fsio import atomic_dir, write_json


class Oracle(Protocol):
    def predict(self, images: Any) -> pd.DataFrame: ...


class SequenceLike(Protocol):
    """What the scorers read of a sequence (a SequenceResult, or the demo's reloaded one)."""

    values:    np.ndarray   # (T,) t, feature value or λ of each frame
    frames:    np.ndarray   # (T, S, S) decoded frames
    diffs:     np.ndarray   # (T, S, S) frames − frame 0
    selection: Selection    # the rows the sequence was built from


@dataclass(frozen=True)
class TruthCheck:
    name:         str                  # the claim, in words
    sequence:     str                  # the sequence scored: a latent-table feature here, a
                                       # key of the demo's sequences in seegaan.demo.truth
    factor:       str                  # gt_* column the oracle reads; for a pattern check,
                                       # what the difference map shows
    sign:         int = +1             # expected direction of the factor's change (+1 / −1)
    min_ratio:    float | None = None  # end-to-end change / true effect, at least
    min_spearman: float | None = None  # monotone along the frames (signed ρ), at least
    min_pattern:  float | None = None  # set: a pattern check; correlation of the subtraction
                                       # with the true difference map, at least

    @property
    def is_pattern(self) -> bool:
        return self.min_pattern is not None


DEFAULT_CHECKS = (
    TruthCheck("AHF− → AHF+ enlarges the heart", "ahf", "gt_ctr", +1,
               min_ratio=0.7, min_spearman=0.9),
    TruthCheck("F → M reduces breast tissue", "sex", "gt_breast", -1),
    TruthCheck("age lowers bone density", "age", "gt_bmd", -1),
    TruthCheck("Carestream → GE changes the vendor processing", "manufacturer",
               "image processing", min_pattern=0.5),
)
# The groups each feature's global sequence goes between; (None, None) lets the sequence
# decide (a regression path for a numeric feature, the only two levels otherwise).
DEFAULT_LEVELS: dict[str, tuple[str | None, str | None]] = {
    "ahf": ("0", "1"), "sex": ("F", "M"), "age": (None, None),
    "manufacturer": ("Carestream", "GE"),
}
# The order of truth.csv: the report shows every column, the words first.
COLUMNS = ("check", "measured", "target", "pass", "sequence", "factor", "change", "true_effect",
           "ratio", "spearman", "pattern_correlation")


def _spearman(y: np.ndarray) -> float:
    from scipy.stats import spearmanr

    # Two frames always rank perfectly, and a flat readout has no order: neither is
    # evidence of a monotone change.
    if len(y) < 3 or np.ptp(y) == 0:
        return 0.0
    return float(spearmanr(np.arange(len(y)), y).statistic)


def readout(predict: Callable[[np.ndarray], pd.DataFrame], frames: np.ndarray,
            factor: str) -> np.ndarray:
    """The oracle's ``factor`` on each of a sequence's ``(T, S, S)`` frames, as float64."""
    return predict(frames[:, None].astype(np.float32))[factor].to_numpy(dtype=np.float64)


def true_effect(seq: SequenceLike, y: np.ndarray) -> float:
    """The cohort's own change of a factor over the sequence's step.

    ``y`` is the factor on the rows of ``seq.selection`` (NaN where unknown). Qualitative:
    mean of the "to" group minus mean of the "from" group. Quantitative: the factor's linear
    slope on the feature times the range of the frames' feature values.

    Example::

        true_effect(res, table.meta["gt_ctr"].to_numpy()[res.selection.rows])
    """
    sel = seq.selection
    y = np.asarray(y, dtype=np.float64)
    if sel.kind == "qualitative":
        return float(np.nanmean(y[sel.is_to]) - np.nanmean(y[~sel.is_to]))
    ok = np.isfinite(sel.x) & np.isfinite(y)
    slope = np.polyfit(sel.x[ok], y[ok], 1)[0]
    return float(slope * (seq.values[-1] - seq.values[0]))


def _target_text(chk: TruthCheck) -> str:
    if chk.is_pattern:
        return f"correlation ≥ {chk.min_pattern:g}"
    parts = ["rises" if chk.sign > 0 else "falls"]
    if chk.min_ratio is not None:
        parts.append(f"ratio ≥ {chk.min_ratio:g}")
    if chk.min_spearman is not None:
        parts.append(f"ρ ≥ {chk.min_spearman:g}")
    return "; ".join(parts)


def score_sequence(chk: TruthCheck, seq: SequenceLike, measured: np.ndarray,
                   y: np.ndarray) -> dict[str, Any]:
    """One row: the oracle's readout ``measured`` (factor per frame) against ``chk``.

    ``y`` is the true factor on the sequence's rows (see :func:`true_effect`).

    Example::

        row = score_sequence(chk, res, readout(oracle.predict, res.frames, chk.factor), y)
        row["pass"]   # "pass" | "fail"
    """
    truth = true_effect(seq, y)
    change = float(measured[-1] - measured[0])
    ratio = change / truth if truth != 0 and np.isfinite(truth) else float("nan")
    rho = _spearman(measured) * chk.sign
    ok = [bool(np.sign(change) == chk.sign)]
    if chk.min_ratio is not None:
        ok.append(bool(np.isfinite(ratio) and ratio >= chk.min_ratio))
    if chk.min_spearman is not None:
        ok.append(rho >= chk.min_spearman)
    return {"check": chk.name, "sequence": chk.sequence, "factor": chk.factor,
            "measured": f"Δ {change:+.3g} (true {truth:+.3g}; ratio {ratio:.2f}; ρ {rho:.2f})",
            "target": _target_text(chk), "pass": "pass" if all(ok) else "fail",
            "change": change, "true_effect": truth, "ratio": ratio, "spearman": rho}


def pattern_row(chk: TruthCheck, seq: SequenceLike, true_map: np.ndarray) -> dict[str, Any]:
    """One row: does the end-to-end subtraction look like ``true_map``, the groups' difference?

    Example::

        row = pattern_row(chk, res, ge_mean - carestream_mean)
    """
    corr = float(np.corrcoef(seq.diffs[-1].ravel(), true_map.ravel())[0, 1])
    return {"check": chk.name, "sequence": chk.sequence, "factor": chk.factor,
            "measured": f"correlation {corr:.2f}", "target": _target_text(chk),
            "pass": "pass" if corr >= chk.min_pattern else "fail",
            "change": float(np.abs(seq.diffs[-1]).mean()),
            "true_effect": float(np.abs(true_map).mean()), "ratio": float("nan"),
            "spearman": float("nan"), "pattern_correlation": corr}


def unavailable_row(chk: TruthCheck, why: str) -> dict[str, Any]:
    """A check that could not be scored: ``n/a`` (neither pass nor fail), with the reason."""
    return {"check": chk.name, "sequence": chk.sequence, "factor": chk.factor,
            "measured": why, "target": _target_text(chk), "pass": "n/a"}


def truth_table(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """The rows as truth.csv orders them (columns no row has are left out)."""
    df = pd.DataFrame(rows)
    return df.reindex(columns=[c for c in COLUMNS if c in df.columns])


class _TrueFactors:
    """Ground-truth factor values of the table's rows: table columns, else oracle on images."""

    def __init__(self, table: LatentTable, oracle: Oracle, data_dir: str | os.PathLike | None):
        self.table, self.oracle = table, oracle
        self.data_dir = data_dir or table.info.get("data_dir")
        self._from_images: pd.DataFrame | None = None

    def column(self, factor: str, rows: np.ndarray) -> np.ndarray:
        if factor in self.table.meta.columns:
            return self.table.meta[factor].to_numpy(dtype=np.float64)[rows]
        if self._from_images is None:
            self._from_images = self._read_images()
        if factor not in self._from_images.columns:
            raise InputError(f"oracle: reports no '{factor}' (it has "
                             f"{', '.join(self._from_images.columns)})")
        return self._from_images[factor].to_numpy(dtype=np.float64)[rows]

    def _read_images(self) -> pd.DataFrame:
        from seegaan.data.prepared import PreparedDataset

        if not self.data_dir:
            raise InputError("latent table: no gt_* columns and no data_dir to read the real "
                             "images from (pass --data-dir)")
        ds = PreparedDataset(self.data_dir)
        pos = pd.Series(np.arange(len(ds.index)), index=ds.index["image_id"].astype(str))
        ids = self.table.meta["image_id"].astype(str)
        missing = ~ids.isin(pos.index)
        if missing.any():
            raise InputError(f"{self.data_dir}: image {ids[missing].iloc[0]} of the latent "
                             "table is not in this dataset")
        out = []
        where = pos[ids].to_numpy()
        for start in range(0, len(where), 256):
            images = ds.load_images(where[start:start + 256]).numpy()
            out.append(self.oracle.predict(images).reset_index(drop=True))
        return pd.concat(out, ignore_index=True)


def evaluate_truth(ae: Autoencoder, table: LatentTable, oracle: Oracle,
                   split:    str = "test",                 # rows defining groups / regression
                   frames:   int = 10,                     # frames per sequence
                   checks:   tuple[TruthCheck, ...] = DEFAULT_CHECKS,  # sequence = feature
                   levels:   dict[str, tuple[str | None, str | None]] = DEFAULT_LEVELS,
                   data_dir: str | os.PathLike | None = None,  # real images, if no gt_* columns
                   ) -> pd.DataFrame:
    """One row per check on the table's global sequences (see :data:`COLUMNS`).

    Each check's ``sequence`` names a feature of the table; its global sequence goes
    between ``levels[feature]``. Checks whose feature is not in the table are ``n/a``, not
    failed. A pattern check compares with the difference of the groups' mean reconstructions.
    """
    truth = _TrueFactors(table, oracle, data_dir)
    seqs: dict[str, Any] = {}   # one sequence per feature, however many checks read it
    rows = []
    for chk in checks:
        if chk.sequence not in table.meta.columns:
            rows.append(unavailable_row(chk, "skipped: feature not in the latent table"))
            continue
        if chk.sequence not in seqs:
            lo, hi = levels.get(chk.sequence, (None, None))
            seqs[chk.sequence] = global_sequence(ae, table, chk.sequence, from_level=lo,
                                                 to_level=hi, frames=frames, split=split,
                                                 permutations=0)
        seq = seqs[chk.sequence]
        sel = seq.selection
        if chk.is_pattern:
            # Reconstructions, not the real images: the sequence can only show what the
            # autoencoder keeps, and the table need not come with its images.
            recon = decode_latents(ae, sel.w)
            rows.append(pattern_row(chk, seq, recon[sel.is_to].mean(axis=0)
                                    - recon[~sel.is_to].mean(axis=0)))
            continue
        measured = readout(oracle.predict, seq.frames, chk.factor)
        rows.append(score_sequence(chk, seq, measured, truth.column(chk.factor, sel.rows)))
    return truth_table(rows)


def write_truth(df: pd.DataFrame, out_dir: str | os.PathLike,
                info: dict[str, Any] | None = None, overwrite: bool = False) -> Path:
    """``truth.csv`` (the report's table), ``truth.md`` (the words, for notes) and
    ``truth.json`` (every number at full precision, plus ``info``)."""
    with atomic_dir(out_dir, overwrite=overwrite) as tmp:
        # Four significant digits: what the report shows; truth.json keeps the rest.
        df.to_csv(tmp / "truth.csv", index=False, float_format="%.4g")
        lines = ["| check | measured | target | pass |", "|---|---|---|---|"]
        lines += ["| " + " | ".join(map(str, r)) + " |"
                  for r in df[["check", "measured", "target", "pass"]].itertuples(index=False)]
        (tmp / "truth.md").write_text("\n".join(lines) + "\n")
        # Through pandas' JSON so that missing numbers become null, which strict JSON
        # readers accept (json.dumps would write NaN).
        write_json(tmp / "truth.json", {"checks": json.loads(df.to_json(orient="records")),
                                        **(info or {})})
    return Path(out_dir)


def main(argv: list[str] | None = None) -> int:
    """``python -m seegaan.latent.truth CHECKPOINT LATENTS --out DIR``: score the sequences."""
    import seegaan
    from seegaan.errors import SeegaanError
    from seegaan.latent.store import load_latents

    ap = argparse.ArgumentParser(prog="python -m seegaan.latent.truth", description=__doc__.split("\n")[0])
    ap.add_argument("checkpoint", help="checkpoint directory, or 'demo' for the bundled one")
    ap.add_argument("latents")
    ap.add_argument("--out", required=True)
    ap.add_argument("--data-dir", default=None, help="prepared dataset, if the table lacks gt_*")
    ap.add_argument("--split", default="test")
    ap.add_argument("--frames", type=int, default=10)
    ap.add_argument("--overwrite", action="store_true")
    args = ap.parse_args(argv)
    try:
        from seegaan.cohort.oracle import load_oracle
    except ImportError as err:
        print(f"error: the cohort oracle is not available in this install ({err})", file=sys.stderr)
        return 1
    checkpoint = None if args.checkpoint == "demo" else args.checkpoint
    try:
        ae = seegaan.load_autoencoder(checkpoint)
        table = load_latents(args.latents)
        df = evaluate_truth(ae, table, load_oracle(ae.image_size), args.split, args.frames,
                            data_dir=args.data_dir)
        write_truth(df, args.out,
                    {"checkpoint": args.checkpoint, "latents": args.latents,
                     "split": args.split, "frames": args.frames}, overwrite=args.overwrite)
    except SeegaanError as err:
        print(f"error: {err}", file=sys.stderr)
        return err.exit_code
    print(df.to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
