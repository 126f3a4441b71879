"""Do the sequences show the truth? The generic scoring of a sequence against known factors.

Given a *readout* (something that reads a factor from an image, e.g. the virtual cohort's
oracle) and the true factor values of the rows a sequence was built from, each check
compares

- the readout's change of the factor from the first to the last frame (``change``), with a
  95% bootstrap interval over patients (the sequence rebuilt from resampled patients);
- the true effect over the same step (``true_effect``), with its interval from the same
  resamples: the difference of the factor's group means (qualitative), its linear slope on
  the feature times the frame range (quantitative), or the group difference times the last λ
  (local sequences, which move one image by λ group differences);
- ``ratio = change / true_effect`` against a **two-sided** tolerance band (an exaggerated
  effect fails as well as a missing one), and optionally Spearman's ρ along the frames.

Blur must not pass a check by itself: blurring an image moves a CNN readout (on the virtual
cohort, bone density and fat fall with blur). Every readout here is therefore
*sharpness-matched*: each frame is blurred until its high-frequency energy equals that of the
blurriest frame of the sequence (:func:`matched_readout`), so a sequence that only blurs reads
as no change. The blur-only control (:func:`blur_sequence`) checks that this works.

Besides the causal checks: off-target rows (the factors a feature is not about must change by
no more than their true association plus a band) and a pattern check (the end-to-end
subtraction against a true difference map, inside a mask). What is checked, with which
factors, lives with the data that knows them (``seegaan.validate``).

``truth.csv`` has one row per check: ``check, measured, target, pass`` first (what the report
shows), then the numbers behind them.

Example::

    boot = bootstrap_ends(ae, res, n_boot=100)
    row = score_sequence(chk, res, matched_readout(oracle.predict, res.frames, chk.factor), y,
                         boot=boot, predict=oracle.predict)
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from seegaan.latent.protocol import Autoencoder, decode_latents
from seegaan.latent.select import Selection
from seegaan.utils.fsio import atomic_dir, write_json

Predict = Callable[[np.ndarray], pd.DataFrame]


class Oracle(Protocol):
    def predict(self, images: Any) -> pd.DataFrame: ...


class SequenceLike(Protocol):
    """What the scorers read of a sequence (a SequenceResult, or the demo's reloaded one).

    Optional: ``mode`` ("global" | "local") and ``path`` (T, D), which a local sequence needs
    to be rebuilt for the bootstrap.
    """

    values:    np.ndarray   # (T,) t, feature value or λ of each frame
    frames:    np.ndarray   # (T, S, S) decoded frames
    diffs:     np.ndarray   # (T, S, S) frames − frame 0
    selection: Selection    # the rows the sequence was built from


@dataclass(frozen=True)
class TruthCheck:
    name:         str                        # the claim, in words
    sequence:     str                        # which sequence is scored (a feature, or a key)
    factor:       str                        # the readout's column; for a pattern check, what
                                             # the difference map shows
    sign:         int = +1                   # expected direction of the factor's change
    band:         tuple[float, float] = (0.7, 1.3)  # change / true effect must lie inside
    min_spearman: float | None = None        # monotone along the frames (signed ρ), at least
    min_pattern:  float | None = None        # set: a pattern check (correlation, at least)
    off_target:   tuple[str, ...] = ()       # factors the feature is not about (one row)
    off_tol:      float = 0.15               # |change − true| ≤ off_tol × factor's 5-95% range

    @property
    def is_pattern(self) -> bool:
        return self.min_pattern is not None


# The order of truth.csv: the report shows every column, the words first.
COLUMNS = ("check", "measured", "target", "pass", "sequence", "factor", "change", "change_lo",
           "change_hi", "true_effect", "true_lo", "true_hi", "ratio", "ratio_lo", "ratio_hi",
           "spearman", "pattern_correlation", "blur_ratio", "blur_pass", "raw_blur_ratio",
           "raw_blur_pass")


# -- sharpness-matched readout ----------------------------------------------------------------
def _unit(x: np.ndarray) -> np.ndarray:
    lo, hi = x.min(), x.max()
    return (x - lo) / max(hi - lo, 1e-6)


def high_frequency(x: np.ndarray) -> float:
    """Energy of the image above ~1 px scale (after min–max scaling, as the oracle sees it)."""
    from scipy.ndimage import gaussian_filter

    u = _unit(np.asarray(x, dtype=np.float64))
    return float(np.mean((u - gaussian_filter(u, 1.0, mode="nearest")) ** 2))


def blur_to(x: np.ndarray, target: float, max_sigma: float = 4.0, steps: int = 16) -> np.ndarray:
    """``x`` Gaussian-blurred (bisection on σ) until its high-frequency energy is ``target``."""
    from scipy.ndimage import gaussian_filter

    if high_frequency(x) <= target * 1.001:
        return x
    lo, hi = 0.0, max_sigma
    for _ in range(steps):
        mid = 0.5 * (lo + hi)
        if high_frequency(gaussian_filter(x, mid, mode="nearest")) > target:
            lo = mid
        else:
            hi = mid
    return gaussian_filter(x, hi, mode="nearest").astype(np.float32)


def match_sharpness(frames: np.ndarray) -> np.ndarray:
    """Every frame blurred to the high-frequency energy of the blurriest one."""
    frames = np.asarray(frames, dtype=np.float32)
    target = min(high_frequency(f) for f in frames)
    return np.stack([blur_to(f, target) for f in frames])


def readout(predict: Predict, frames: np.ndarray, factor: str) -> np.ndarray:
    """The readout's ``factor`` on each of ``(T, S, S)`` frames, as float64 (no matching)."""
    return predict(np.asarray(frames)[:, None].astype(np.float32))[factor].to_numpy(dtype=np.float64)


def matched_readout(predict: Predict, frames: np.ndarray, factors: str | Sequence[str]
                    ) -> np.ndarray | dict[str, np.ndarray]:
    """Readout after :func:`match_sharpness`: blur alone then reads as no change.

    One factor name gives its (T,) array; a list gives a dict of them.
    """
    df = predict(match_sharpness(frames)[:, None])
    if isinstance(factors, str):
        return df[factors].to_numpy(dtype=np.float64)
    return {f: df[f].to_numpy(dtype=np.float64) for f in factors}


def blur_sequence(frame: np.ndarray, frames: int = 10, sigma_max: float = 2.0) -> np.ndarray:
    """The negative control: ``frame`` blurred progressively, σ = 0 … ``sigma_max`` px."""
    from scipy.ndimage import gaussian_filter

    return np.stack([frame if s == 0 else gaussian_filter(frame, s, mode="nearest")
                     for s in np.linspace(0.0, sigma_max, frames)]).astype(np.float32)


# -- true effects and the bootstrap -------------------------------------------------------------
def _is_local(seq: SequenceLike) -> bool:
    return getattr(seq, "mode", "global") == "local"


def true_effect(seq: SequenceLike, y: np.ndarray, rows: np.ndarray | None = None) -> float:
    """The cohort's own change of a factor over the sequence's step.

    ``y`` is the factor on the rows of ``seq.selection`` (NaN where unknown); ``rows``
    (optional) resamples them. Qualitative: mean of the "to" group minus mean of the "from"
    group (times the last λ for a local sequence). Quantitative: the factor's linear slope on
    the feature times the range of the frames' feature values.

    Example::

        true_effect(res, table.meta["gt_ctr"].to_numpy()[res.selection.rows])
    """
    sel = seq.selection
    idx = np.arange(len(y)) if rows is None else rows
    y = np.asarray(y, dtype=np.float64)[idx]
    if sel.feature_type == "qualitative":
        is_to = sel.is_to[idx]
        diff = float(np.nanmean(y[is_to]) - np.nanmean(y[~is_to]))
        return diff * float(seq.values[-1] - seq.values[0]) if _is_local(seq) else diff
    x = sel.x[idx]
    ok = np.isfinite(x) & np.isfinite(y)
    slope = np.polyfit(x[ok], y[ok], 1)[0]
    return float(slope * (seq.values[-1] - seq.values[0]))


def _end_latents(seq: SequenceLike, rows: np.ndarray) -> np.ndarray:
    """The first and last latent of the sequence rebuilt from ``rows`` of its selection."""
    from seegaan.latent.paths import GroupMeanPath, LocalPath, RegressionPath

    sel = seq.selection
    if _is_local(seq):
        b = LocalPath(sel.w[rows], sel.is_to[rows], np.asarray(seq.path)[0], frames=2,
                      lambda_max=float(seq.values[-1]))
    elif sel.feature_type == "qualitative":
        b = GroupMeanPath(sel.w[rows], sel.is_to[rows], frames=2)
    else:
        b = RegressionPath(sel.x[rows], sel.w[rows], np.asarray(seq.values)[[0, -1]])
    return b.path()


@dataclass
class Bootstrap:
    """Resamples of a sequence's patients and the end frames each resample decodes to."""

    rows:   list[np.ndarray]                   # row indices into the selection, per resample
    frames: np.ndarray                         # (R, 2, S, S) first and last frame
    seed:   int = 0
    cache:  dict[str, np.ndarray] = field(default_factory=dict)
    _matched: np.ndarray | None = None         # the frames after match_sharpness, per pair

    def change(self, predict: Predict, factor: str) -> np.ndarray:
        """(R,) sharpness-matched change of ``factor`` from the first to the last frame."""
        if factor not in self.cache:
            if self._matched is None:
                self._matched = np.stack([match_sharpness(f) for f in self.frames])
            # One readout call for every resample's two ends.
            flat = self._matched.reshape(-1, 1, *self._matched.shape[2:])
            vals = predict(flat)[factor].to_numpy(dtype=np.float64).reshape(-1, 2)
            self.cache[factor] = vals[:, 1] - vals[:, 0]
        return self.cache[factor]


def bootstrap_ends(ae: Autoencoder, seq: SequenceLike, n_boot: int = 100, seed: int = 0,
                   batch_size: int = 256) -> Bootstrap:
    """Resample patients (with replacement; rows without a patient id are their own
    patient), rebuild the sequence's path from each resample and decode its two ends.

    Example::

        boot = bootstrap_ends(ae, res, n_boot=100)
        lo, hi = np.percentile(boot.change(oracle.predict, "gt_ctr"), [2.5, 97.5])
    """
    from seegaan.stats.blocks import group_ids

    sel = seq.selection
    groups = group_ids(sel.meta)
    groups = np.arange(len(sel.w)).astype(str) if groups is None else groups
    codes, uniq = pd.factorize(pd.Series(groups))
    members = [np.flatnonzero(codes == k) for k in range(len(uniq))]
    rng = np.random.default_rng(seed)
    rows, latents = [], []
    while len(rows) < n_boot:
        pick = rng.integers(0, len(members), len(members))
        r = np.concatenate([members[k] for k in pick])
        if sel.feature_type == "qualitative" and (sel.is_to[r].sum() < 1 or (~sel.is_to[r]).sum() < 1):
            continue                           # a resample without one of the groups
        if sel.feature_type == "quantitative" and np.ptp(sel.x[r]) == 0:
            continue
        rows.append(r)
        latents.append(_end_latents(seq, r))
    frames = decode_latents(ae, np.concatenate(latents), batch_size)
    return Bootstrap(rows, frames.reshape(n_boot, 2, *frames.shape[1:]), seed)


def _ci(values: np.ndarray) -> tuple[float, float]:
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if len(v) < 2:
        return float("nan"), float("nan")
    lo, hi = np.percentile(v, [2.5, 97.5])
    return float(lo), float(hi)


# -- rows ---------------------------------------------------------------------------------------
def _spearman(y: np.ndarray) -> float:
    from scipy.stats import spearmanr

    # Two frames always rank perfectly, and a flat readout has no order: neither is
    # evidence of a monotone change.
    if len(y) < 3 or np.ptp(y) == 0:
        return 0.0
    return float(spearmanr(np.arange(len(y)), y).statistic)


def _target_text(chk: TruthCheck) -> str:
    if chk.is_pattern:
        return f"correlation ≥ {chk.min_pattern:g}"
    lo, hi = chk.band
    parts = [f"{'rises' if chk.sign > 0 else 'falls'}; ratio {lo:g}–{hi:g}"]
    if chk.min_spearman is not None:
        parts.append(f"ρ ≥ {chk.min_spearman:g}")
    return "; ".join(parts)


def passes(chk: TruthCheck, change: float, truth: float, rho: float) -> bool:
    """Direction, ratio inside the band, and (if set) monotone enough."""
    ratio = change / truth if truth != 0 and np.isfinite(truth) else float("nan")
    ok = bool(np.sign(change) == chk.sign) and bool(np.isfinite(ratio)
                                                  and chk.band[0] <= ratio <= chk.band[1])
    if chk.min_spearman is not None:
        ok = ok and rho >= chk.min_spearman
    return ok


def score_sequence(chk: TruthCheck, seq: SequenceLike, measured: np.ndarray, y: np.ndarray,
                   boot: Bootstrap | None = None, predict: Predict | None = None
                   ) -> dict[str, Any]:
    """One row: the readout ``measured`` (factor per frame) against ``chk``.

    ``y`` is the true factor on the sequence's rows (see :func:`true_effect`); ``boot`` with
    ``predict`` adds 95% intervals for the change, the true effect and the ratio.

    Example::

        row = score_sequence(chk, res, matched_readout(oracle.predict, res.frames, chk.factor), y)
        row["pass"]   # "pass" | "fail"
    """
    truth = true_effect(seq, y)
    change = float(measured[-1] - measured[0])
    ratio = change / truth if truth != 0 and np.isfinite(truth) else float("nan")
    rho = _spearman(measured) * chk.sign
    row = {"check": chk.name, "sequence": chk.sequence, "factor": chk.factor,
           "target": _target_text(chk), "pass": "pass" if passes(chk, change, truth, rho) else "fail",
           "change": change, "true_effect": truth, "ratio": ratio, "spearman": rho}
    text = f"Δ {change:+.3g}"
    if boot is not None and predict is not None:
        changes = boot.change(predict, chk.factor)
        truths = np.array([true_effect(seq, y, r) for r in boot.rows])
        row["change_lo"], row["change_hi"] = _ci(changes)
        row["true_lo"], row["true_hi"] = _ci(truths)
        with np.errstate(divide="ignore", invalid="ignore"):
            row["ratio_lo"], row["ratio_hi"] = _ci(changes / truths)
        text += f" [{row['change_lo']:+.3g}, {row['change_hi']:+.3g}]"
        row["measured"] = (f"{text} vs true {truth:+.3g} [{row['true_lo']:+.3g}, "
                           f"{row['true_hi']:+.3g}]; ratio {ratio:.2f} [{row['ratio_lo']:.2f}, "
                           f"{row['ratio_hi']:.2f}]; ρ {rho:.2f}")
    else:
        row["measured"] = f"{text} (true {truth:+.3g}; ratio {ratio:.2f}; ρ {rho:.2f})"
    return row


def blur_control(chk: TruthCheck, seq: SequenceLike, predict: Predict, y: np.ndarray,
                 sigma_max: float = 2.0) -> dict[str, Any]:
    """The check applied to frame 0 blurred progressively (no latent change): it must fail.

    Returns the columns ``blur_ratio, blur_pass`` (sharpness-matched, as every check reads)
    and ``raw_blur_ratio, raw_blur_pass`` (plain readout: what a check without matching
    would conclude).
    """
    frames = blur_sequence(np.asarray(seq.frames)[0], len(seq.frames), sigma_max)
    truth = true_effect(seq, y)
    out = {}
    for key, vals in (("blur", matched_readout(predict, frames, chk.factor)),
                      ("raw_blur", readout(predict, frames, chk.factor))):
        change = float(vals[-1] - vals[0])
        out[f"{key}_ratio"] = change / truth if truth else float("nan")
        out[f"{key}_pass"] = "pass" if passes(chk, change, truth, _spearman(vals) * chk.sign) else "fail"
    return out


def factor_range(y: np.ndarray) -> float:
    """The 5th–95th percentile range of a factor (the scale of the off-target band)."""
    y = np.asarray(y, dtype=np.float64)
    y = y[np.isfinite(y)]
    return float(np.ptp(np.percentile(y, [5, 95]))) if len(y) else float("nan")


def off_target_row(chk: TruthCheck, seq: SequenceLike, readouts: dict[str, np.ndarray],
                   truths: dict[str, np.ndarray], ranges: dict[str, float],
                   name: str | None = None) -> dict[str, Any]:
    """One row: the factors in ``chk.off_target`` change as much as they truly differ
    (their association with the feature), give or take ``off_tol`` of their range.

    ``readouts``: factor -> (T,) readout; ``truths``: factor -> true values on the rows;
    ``ranges``: factor -> 5-95% range. The worst factor is named.
    """
    worst, worst_f, parts = -1.0, "", []
    for f in chk.off_target:
        change = float(readouts[f][-1] - readouts[f][0])
        excess = abs(change - true_effect(seq, truths[f])) / ranges[f]
        parts.append(f"{f} {excess:.0%}")
        if excess > worst:
            worst, worst_f = excess, f
    return {"check": name or f"{chk.name}: off-target factors stay put",
            "sequence": chk.sequence, "factor": ", ".join(chk.off_target),
            "measured": f"abs(Δ − true) / range: {', '.join(parts)} (worst {worst_f})",
            "target": f"each ≤ {chk.off_tol:.0%} of its range",
            "pass": "pass" if worst <= chk.off_tol else "fail", "change": worst}


def pattern_row(chk: TruthCheck, seq: SequenceLike, true_map: np.ndarray,
                mask: np.ndarray | None = None, boot: Bootstrap | None = None,
                where: str = "") -> dict[str, Any]:
    """One row: does the end-to-end subtraction look like ``true_map`` inside ``mask``?

    Example::

        row = pattern_row(chk, res, counterfactual_vendor_map, mask=body_mask(64))
    """
    mask = np.ones(true_map.shape, dtype=bool) if mask is None else np.asarray(mask, dtype=bool)

    def corr(d: np.ndarray) -> float:
        a, b = d[mask].ravel(), true_map[mask].ravel()
        # A map that is flat where it is scored shows no pattern at all.
        if np.std(a) == 0 or np.std(b) == 0:
            return 0.0
        return float(np.corrcoef(a, b)[0, 1])

    c = corr(np.asarray(seq.diffs)[-1])
    row = {"check": chk.name, "sequence": chk.sequence, "factor": chk.factor,
           "target": _target_text(chk), "pass": "pass" if c >= chk.min_pattern else "fail",
           "change": float(np.abs(np.asarray(seq.diffs)[-1][mask]).mean()),
           "true_effect": float(np.abs(true_map[mask]).mean()), "pattern_correlation": c}
    text = f"correlation {c:.2f}"
    if boot is not None:
        lo, hi = _ci([corr(f[1] - f[0]) for f in boot.frames])
        row["change_lo"], row["change_hi"] = lo, hi
        text += f" [{lo:.2f}, {hi:.2f}]"
    row["measured"] = text + (f" ({where})" if where else "")
    return row


def unavailable_row(chk: TruthCheck, why: str) -> dict[str, Any]:
    """A check that could not be scored: ``n/a`` (neither pass nor fail), with the reason."""
    return {"check": chk.name, "sequence": chk.sequence, "factor": chk.factor,
            "measured": why, "target": _target_text(chk), "pass": "n/a"}


def truth_table(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """The rows as truth.csv orders them (columns no row has are left out)."""
    df = pd.DataFrame(rows)
    return df.reindex(columns=[c for c in COLUMNS if c in df.columns])


def write_truth(df: pd.DataFrame, out_dir: str | os.PathLike,
                info: dict[str, Any] | None = None, overwrite: bool = False,
                header: Sequence[str] = ()) -> Path:
    """``truth.csv`` (the report's table), ``truth.md`` (``header`` lines, then the words)
    and ``truth.json`` (every number at full precision, plus ``info`` and the header)."""
    with atomic_dir(out_dir, overwrite=overwrite) as tmp:
        # Four significant digits: what the report shows; truth.json keeps the rest.
        df.to_csv(tmp / "truth.csv", index=False, float_format="%.4g")
        lines = [*header, *([""] if header else []),
                 "| check | measured | target | pass |", "|---|---|---|---|"]
        lines += ["| " + " | ".join(map(str, r)) + " |"
                  for r in df[["check", "measured", "target", "pass"]].itertuples(index=False)]
        (tmp / "truth.md").write_text("\n".join(lines) + "\n")
        # Through pandas' JSON so that missing numbers become null, which strict JSON
        # readers accept (json.dumps would write NaN).
        write_json(tmp / "truth.json", {"checks": json.loads(df.to_json(orient="records")),
                                        "header": list(header), **(info or {})})
    return Path(out_dir)


def main(argv: list[str] | None = None) -> int:
    """``python -m seegaan.latent.truth``: kept for old scripts; see seegaan.validate.checks."""
    from seegaan.validate.checks import main as validate_main

    return validate_main(argv)


if __name__ == "__main__":
    import sys

    sys.exit(main())
