"""Truth checks of sequences on the virtual cohort: the one place that knows its factors.

The generic scoring (bands, bootstrap intervals, sharpness-matched readout, off-target and
pattern rows) is :mod:`seegaan.latent.truth`; this module says what is checked on the
cohort and with what:

- the cohort's readable factors (:data:`CORE_FACTORS`) and its oracle;
- the standalone checks of a latent table's global sequences (:data:`DEFAULT_CHECKS`) and
  the demo's figure checks (:data:`DEMO_CHECKS`), each with a two-sided band on the ratio
  and an off-target row;
- the vendor's true effect from a **counterfactual vendor swap** (the same subjects rendered
  by both vendors), scored inside the body (:func:`body_mask`: the collimation border, where
  GE draws black, is left out);
- the negative controls: a blur-only sequence that must fail every causal check, and a random
  patient-level label whose sequence must move no factor beyond its band;
- the oracle's validation on blurred and reconstructed films (bias and r), for the truth
  table's header and docs/cohort.md;
- the autoencoder's reconstruction rows (``quality_rows``).

Example::

    from seegaan.cohort.version import oracle_for, table_cohort_version
    table = load_latents("latents.parquet")
    ae = seegaan.load_autoencoder()
    df = evaluate_truth(ae, table, oracle_for(table_cohort_version(table), ae.image_size))

or ``python -m seegaan.validate.checks CHECKPOINT|demo LATENTS --out DIR``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from seegaan.errors import InputError
from seegaan.latent.protocol import Autoencoder
from seegaan.latent.store import LatentTable
from seegaan.latent.truth import (
    Oracle,
    Predict,
    TruthCheck,
    blur_control,
    bootstrap_ends,
    factor_range,
    matched_readout,
    off_target_row,
    pattern_row,
    score_sequence,
    truth_table,
    unavailable_row,
)

# The factors the checks read. The off-target rows watch only those the oracle reads well on
# reconstructions (r ≥ 0.9, docs/cohort.md §6): bone density reads at r ≈ 0.3 there (the
# bundled generator draws no ribs), so its off-target change would be noise, and its loss is
# already the autoencoder's bone-density row.
CORE_FACTORS = ("gt_ctr", "gt_fat", "gt_breast", "gt_bmd")
OFF_TARGET_FACTORS = ("gt_ctr", "gt_fat", "gt_breast")
GLOBAL_BAND = (0.7, 1.3)
# One image pushed by the group difference need not move a factor by the group's amount.
LOCAL_BAND = (0.5, 1.5)
BLUR_SIGMA = 2.0          # px at 64²: the blur-only control ends at this σ
BODY_MARGIN = 0.08        # share of the side left out at each edge by body_mask


def _others(factor: str) -> tuple[str, ...]:
    return tuple(f for f in OFF_TARGET_FACTORS if f != factor)


def _chk(name: str, seq: str, factor: str, sign: int, band=GLOBAL_BAND,
         rho: float | None = None) -> TruthCheck:
    return TruthCheck(name, seq, factor, sign, band, rho, off_target=_others(factor))


DEFAULT_CHECKS = (
    _chk("AHF− → AHF+ enlarges the heart", "ahf", "gt_ctr", +1, rho=0.9),
    _chk("F → M reduces breast tissue", "sex", "gt_breast", -1),
    _chk("age lowers bone density", "age", "gt_bmd", -1),
    TruthCheck("Carestream → GE shows the vendor's processing (body, counterfactual swap)",
               "manufacturer", "image processing", min_pattern=0.5),
)
# The groups each feature's global sequence goes between; (None, None) lets the sequence
# decide (a regression path for a numeric feature, the only two levels otherwise).
DEFAULT_LEVELS: dict[str, tuple[str | None, str | None]] = {
    "ahf": ("0", "1"), "sex": ("F", "M"), "age": (None, None),
    "manufacturer": ("Carestream", "GE"),
}
# The demo's figures (keys of its sequences: stages.GLOBAL_SEQUENCES, LOCAL_SEQUENCES and
# the explain stage's two regression sequences).
DEMO_CHECKS = (
    _chk("Fig. 3: AHF− → AHF+ enlarges the heart", "global/ahf", "gt_ctr", +1, rho=0.9),
    _chk("Fig. 3: F → M removes breast tissue", "global/sex", "gt_breast", -1),
    _chk("Fig. 3: age lowers bone density", "global/age", "gt_bmd", -1),
    _chk("Fig. 4: one woman, F → M removes breast tissue", "local/sex", "gt_breast", -1,
         LOCAL_BAND),
    _chk("Fig. 4: one woman, young → old lowers bone density", "local/age", "gt_bmd", -1,
         LOCAL_BAND),
    _chk("Fig. 4: one woman, AHF− → AHF+ enlarges the heart", "local/ahf", "gt_ctr", +1,
         LOCAL_BAND),
    _chk("Fig. 5: higher true BNPP enlarges the heart", "explain/truth", "gt_ctr", +1),
    _chk("Fig. 5: higher predicted BNPP enlarges the heart", "explain/prediction", "gt_ctr", +1),
    # Body fat lowers NT-proBNP in the cohort's causal model (docs/cohort.md).
    _chk("Fig. 5: higher true BNPP thins the chest-wall fat", "explain/truth", "gt_fat", -1),
    _chk("Fig. 5: higher predicted BNPP thins the chest-wall fat", "explain/prediction",
         "gt_fat", -1),
)
DEMO_VENDOR_CHECK = TruthCheck(
    "Fig. 3: Carestream → GE shows the vendor's processing (body, counterfactual swap)",
    "global/manufacturer", "image processing", min_pattern=0.5)

# Reconstruction targets of the autoencoder rows.
SSIM_TARGET = 0.85
ORACLE_R_TARGET = 0.9


# -- the vendor's true effect --------------------------------------------------------------------
def body_mask(size: int, margin: float = BODY_MARGIN) -> np.ndarray:
    """True inside the body region: everything but a band of ``margin`` × side at each edge,
    where the vendors draw their collimation borders (GE's black frame is 2.5% of the side)."""
    k = int(np.ceil(margin * size))
    m = np.zeros((size, size), dtype=bool)
    m[k:size - k, k:size - k] = True
    return m


def vendor_effect_map(subjects: Sequence[Any], size: int, src: str = "Carestream",
                      dst: str = "GE") -> np.ndarray:
    """Mean over ``subjects`` of (rendered by ``dst``) − (rendered by ``src``), [-1, 1] scale.

    The same subject, pose and noise: only the vendor's processing differs (a counterfactual
    swap), so nothing else that differs between the two vendors' patients enters the map.
    """
    from seegaan.cohort.render import render_image

    acc = np.zeros((size, size), dtype=np.float64)
    for s in subjects:
        acc += render_image(s.replace(manufacturer=dst), size) - render_image(
            s.replace(manufacturer=src), size)
    return (2.0 * acc / max(len(subjects), 1)).astype(np.float32)


def cohort_subjects(n_images: int, seed: int, image_ids: Sequence[str] | None = None,
                    limit: int = 200, version: int = 1) -> list[Any]:
    """The Subjects of a cohort of ``version`` rendered with ``(n_images, seed)``, those of
    ``image_ids`` first (at most ``limit``)."""
    from seegaan.cohort.clinical import sample_subjects

    subjects = sample_subjects(n_images, seed, version=version)
    if image_ids is not None:
        keep = set(map(str, image_ids))
        subjects = [s for s in subjects if s.image_id in keep]
    return subjects[:limit]


# -- oracle validation ---------------------------------------------------------------------------
def oracle_validation(predict: Predict, images: np.ndarray, truth: pd.DataFrame,
                      recon: np.ndarray | None = None,
                      sigmas: Sequence[float] = (0.5, 1.0, 1.5, 2.0, 2.5),
                      factors: Sequence[str] = CORE_FACTORS) -> pd.DataFrame:
    """Readout bias (mean readout − truth) and Pearson r per factor, on the films as they
    are, blurred by each σ (px), and reconstructed by the autoencoder (``recon``).

    ``images``/``recon``: (N, 1, S, S) in [-1, 1]; ``truth``: the true ``gt_*`` per film.
    """
    from scipy.ndimage import gaussian_filter

    x = np.asarray(images, dtype=np.float32)
    conds: list[tuple[str, np.ndarray]] = [("original", x)]
    for s in sigmas:
        conds.append((f"blur σ={s:g} px", gaussian_filter(x, (0, 0, s, s), mode="nearest")))
    if recon is not None:
        conds.append(("reconstruction", np.asarray(recon, dtype=np.float32)))
    rows = []
    for name, imgs in conds:
        pred = predict(imgs)
        for f in factors:
            y, p = truth[f].to_numpy(dtype=float), pred[f].to_numpy(dtype=float)
            rows.append({"condition": name, "factor": f, "bias": float(np.mean(p - y)),
                         "r": float(np.corrcoef(p, y)[0, 1])})
    return pd.DataFrame(rows)


def validation_header(val: pd.DataFrame) -> list[str]:
    """Lines for the truth table's header: bias and r per condition, factor by factor."""
    lines = ["Oracle validation (readout − truth on the test films; bias, r):"]
    for f, g in val.groupby("factor", sort=False):
        parts = [f"{r.condition} {r.bias:+.3g}, {r.r:.2f}" for r in g.itertuples()]
        lines.append(f"- {f}: " + "; ".join(parts))
    lines.append("Checks read factors sharpness-matched (every frame blurred to the blurriest "
                 "frame's detail), so blur alone reads as no change; the blur-only control "
                 "checks it.")
    return lines


# -- scoring -----------------------------------------------------------------------------------
def _truth_values(seq: Any, factor: str, truths: Any) -> np.ndarray | None:
    """The factor on the sequence's rows: from its selection's metadata, or ``truths``."""
    meta = seq.selection.meta
    if factor in meta.columns:
        return meta[factor].to_numpy(dtype=np.float64)
    if truths is not None:
        return truths.column(factor, seq.selection.rows)
    return None


def _known(seq: Any, factor: str, truths: Any) -> bool:
    """Whether the true ``factor`` is available (off-target factors may simply be absent)."""
    try:
        return _truth_values(seq, factor, truths) is not None
    except InputError:
        return False


def score_checks(sequences: dict[str, Any], checks: Sequence[TruthCheck], predict: Predict,
                 ae: Autoencoder | None = None, n_boot: int = 100, seed: int = 0,
                 truths: Any = None, blur_sigma: float = BLUR_SIGMA) -> list[dict[str, Any]]:
    """Causal rows (with intervals when ``ae`` is given, and the blur control's columns),
    then one off-target row per sequence, then the blur control's summary row."""
    rows: list[dict[str, Any]] = []
    off: list[dict[str, Any]] = []
    boots: dict[str, Any] = {}
    done_off: set[str] = set()
    for chk in checks:
        seq = sequences.get(chk.sequence)
        if seq is None:
            continue
        y = _truth_values(seq, chk.factor, truths)
        if y is None:
            rows.append(unavailable_row(chk, f"the data has no {chk.factor} column"))
            continue
        boot = None
        if ae is not None and n_boot > 0:
            if chk.sequence not in boots:
                boots[chk.sequence] = bootstrap_ends(ae, seq, n_boot, seed)
            boot = boots[chk.sequence]
        have = [chk.factor] + [f for f in chk.off_target if _known(seq, f, truths)]
        reads = matched_readout(predict, seq.frames, have)
        row = score_sequence(chk, seq, reads[chk.factor], y, boot, predict)
        row.update(blur_control(chk, seq, predict, y, blur_sigma))
        rows.append(row)
        targets = [f for f in chk.off_target if f in have]
        if targets and chk.sequence not in done_off:
            done_off.add(chk.sequence)
            vals = {f: _truth_values(seq, f, truths) for f in targets}
            c = TruthCheck(chk.name, chk.sequence, chk.factor, off_target=tuple(targets),
                           off_tol=chk.off_tol)
            label = chk.name.split(":")[0] + f": {chk.sequence} moves no other factor beyond its band"
            off.append(off_target_row(c, seq, reads, vals,
                                      {f: factor_range(v) for f, v in vals.items()}, label))
    causal = [r for r in rows if r.get("pass") in ("pass", "fail") and "blur_pass" in r]
    if causal:
        n_blur = sum(r["blur_pass"] == "pass" for r in causal)
        n_raw = sum(r["raw_blur_pass"] == "pass" for r in causal)
        off.append({"check": f"Control: a blur-only sequence (σ 0 → {blur_sigma:g} px, no "
                             "latent change) fails every causal check",
                    "sequence": "control/blur", "factor": "all",
                    "measured": f"{n_blur} of {len(causal)} checks pass on blur "
                                f"(without sharpness matching: {n_raw})",
                    "target": "0 pass", "pass": "pass" if n_blur == 0 else "fail",
                    "change": float(n_blur)})
    return rows + off


def random_label_control(ae: Autoencoder, table: LatentTable, predict: Predict,
                         split: str = "test", frames: int = 10, seed: int = 0,
                         tol: float = 0.15, factors: Sequence[str] = OFF_TARGET_FACTORS
                         ) -> dict[str, Any]:
    """A random patient-level label's global sequence must move no factor beyond its true
    (chance) group difference ± ``tol`` of the factor's range."""
    from seegaan.latent.sequence import global_sequence
    from seegaan.stats.blocks import group_ids

    meta = table.meta.copy()
    ids = group_ids(meta)
    ids = np.arange(len(meta)).astype(str) if ids is None else ids
    patients = pd.unique(pd.Series(ids))
    rng = np.random.default_rng(seed)
    coin = dict(zip(patients, rng.permutation(np.arange(len(patients)) % 2)))
    meta["_random_label"] = [coin[p] for p in ids]
    t = LatentTable(meta, table.w, table.info)
    seq = global_sequence(ae, t, "_random_label", frames=frames, split=split, permutations=0)
    have = [f for f in factors if f in meta.columns]
    chk = TruthCheck("Control: a random patient-level label moves no factor beyond its band",
                     "control/random_label", "all", off_target=tuple(have), off_tol=tol)
    vals = {f: seq.selection.meta[f].to_numpy(dtype=float) for f in have}
    return off_target_row(chk, seq, matched_readout(predict, seq.frames, have), vals,
                          {f: factor_range(v) for f, v in vals.items()}, chk.name)


def quality_rows(q: dict[str, Any], factors: Sequence[str] = CORE_FACTORS) -> list[dict[str, Any]]:
    """Rows for the ground-truth table from ``train.quality.reconstruction_quality``."""
    rows = [{"check": "Autoencoder: held-out reconstructions keep their structure (SSIM)",
             "sequence": "autoencoder", "factor": "SSIM",
             "measured": f"mean SSIM {q['ssim_mean']:.3f} over {q['n']} test images",
             "target": f"mean SSIM ≥ {SSIM_TARGET:g}",
             "pass": "pass" if q["ssim_mean"] >= SSIM_TARGET else "fail",
             "change": q["ssim_mean"]}]
    for f in factors:
        r = q.get("oracle_r", {}).get(f)
        if r is None:
            continue
        rows.append({"check": f"Autoencoder: reconstructions keep each patient's {f[3:]}",
                     "sequence": "autoencoder", "factor": f,
                     "measured": f"Pearson r {r:.3f} (oracle on originals vs reconstructions)",
                     "target": f"r ≥ {ORACLE_R_TARGET:g}",
                     "pass": "pass" if r >= ORACLE_R_TARGET else "fail", "change": r})
    return rows


# -- the standalone scorer of a latent table -----------------------------------------------------
class TrueFactors:
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
                   checks:   Sequence[TruthCheck] = DEFAULT_CHECKS,  # sequence = feature
                   levels:   dict[str, tuple[str | None, str | None]] = DEFAULT_LEVELS,
                   data_dir: str | os.PathLike | None = None,  # real images, if no gt_* columns
                   n_boot:   int = 100,                    # bootstrap resamples (0: no CIs)
                   seed:     int = 0,
                   vendor_map: np.ndarray | None = None,   # true vendor effect (default: swap)
                   controls: bool = True,                  # the random-label control row
                   ) -> pd.DataFrame:
    """One row per check on the table's global sequences, plus off-target rows and controls.

    Each check's ``sequence`` names a feature of the table; its global sequence goes between
    ``levels[feature]``. Checks whose feature is not in the table are ``n/a``, not failed.
    The vendor check compares with ``vendor_map`` inside :func:`body_mask`; by default the
    map comes from a counterfactual vendor swap of 64 freshly drawn cohort subjects.
    """
    from seegaan.cohort.version import check_oracle, table_cohort_version
    from seegaan.latent.sequence import global_sequence

    # The films' cohort version picks the renderer of the vendor swap; the oracle must match.
    version = table_cohort_version(table)
    check_oracle(oracle, version)
    truths = TrueFactors(table, oracle, data_dir)
    seqs: dict[str, Any] = {}
    rows: list[dict[str, Any]] = []
    causal, patterns = [], []
    for chk in checks:
        if chk.sequence not in table.meta.columns:
            rows.append(unavailable_row(chk, "skipped: feature not in the latent table"))
            continue
        if chk.sequence not in seqs:
            lo, hi = levels.get(chk.sequence, (None, None))
            seqs[chk.sequence] = global_sequence(ae, table, chk.sequence, from_level=lo,
                                                 to_level=hi, frames=frames, split=split,
                                                 permutations=0)
        (patterns if chk.is_pattern else causal).append(chk)
    rows += score_checks(seqs, causal, oracle.predict, ae, n_boot, seed, truths)
    for chk in patterns:
        seq = seqs[chk.sequence]
        true_map = vendor_map
        if true_map is None:
            from seegaan.cohort.clinical import sample_subjects

            true_map = vendor_effect_map(sample_subjects(64, seed=seed + 1, version=version),
                                         int(ae.image_size), *seq.selection.levels)
        boot = bootstrap_ends(ae, seq, n_boot, seed) if n_boot > 0 else None
        rows.append(pattern_row(chk, seq, true_map, body_mask(true_map.shape[-1]), boot,
                                "inside the body; vs a counterfactual vendor swap"))
    if controls:
        rows.append(random_label_control(ae, table, oracle.predict, split, frames, seed))
    return truth_table(rows)


def main(argv: list[str] | None = None) -> int:
    """``python -m seegaan.validate.checks CHECKPOINT LATENTS --out DIR``: score sequences."""
    import seegaan
    from seegaan.errors import SeegaanError
    from seegaan.latent.store import load_latents
    from seegaan.latent.truth import write_truth

    ap = argparse.ArgumentParser(prog="python -m seegaan.validate.checks",
                                 description=__doc__.split("\n")[0])
    ap.add_argument("checkpoint", help="checkpoint directory, or 'demo' for the bundled one")
    ap.add_argument("latents")
    ap.add_argument("--out", required=True)
    ap.add_argument("--data-dir", default=None, help="prepared dataset, if the table lacks gt_*")
    ap.add_argument("--split", default="test")
    ap.add_argument("--frames", type=int, default=10)
    ap.add_argument("--bootstrap", type=int, default=100)
    ap.add_argument("--overwrite", action="store_true")
    args = ap.parse_args(argv)
    try:
        from seegaan.cohort.version import oracle_for, table_cohort_version
    except ImportError as err:
        print(f"error: the cohort oracle is not available in this install ({err})", file=sys.stderr)
        return 1
    checkpoint = None if args.checkpoint == "demo" else args.checkpoint
    try:
        ae = seegaan.load_autoencoder(checkpoint)
        table = load_latents(args.latents)
        oracle = oracle_for(table_cohort_version(table), ae.image_size)
        df = evaluate_truth(ae, table, oracle, args.split, args.frames,
                            data_dir=args.data_dir, n_boot=args.bootstrap)
        write_truth(df, args.out, {"checkpoint": args.checkpoint, "latents": args.latents,
                                   "split": args.split, "frames": args.frames},
                    overwrite=args.overwrite)
    except SeegaanError as err:
        print(f"error: {err}", file=sys.stderr)
        return err.exit_code
    print(df[["check", "measured", "target", "pass"]].to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
