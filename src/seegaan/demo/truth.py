"""Stage 10: do the demo's sequences show what really differs in the virtual cohort?

The scoring is :mod:`seegaan.latent.truth`'s: the oracle's change of a factor from the first
to the last frame against the cohort's true effect over the same step (direction, ratio and
Spearman ρ), or a pattern correlation for the vendor. This module holds only what is the
demo's own: the checks of its figures (Figs. 3-5) with their targets, the vendor check
against the difference of the two vendors' mean *real* images, and the λ search of Fig. 6,
checked against its own tolerance.

Example::

    df = evaluate(run.sequences, oracle.predict, "", vendor_diff, run.root / "fig5_6_explain")
    write_truth(df, run_dir / "truth", info, overwrite=True)   # from seegaan.latent.truth
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from seegaan.latent.truth import (
    TruthCheck,
    pattern_row,
    readout,
    score_sequence,
    truth_table,
    unavailable_row,
)

# Each check's ``sequence`` is a key of the demo's sequences (stages.GLOBAL_SEQUENCES,
# LOCAL_SEQUENCES, and explain_stage's two).
# The targets are deliberately looser for one patient (local) than for group means: a single
# latent pushed by the group difference need not move a factor by the group's full amount.
CHECKS = (
    # Issue targets: ≥ 70 % of the true heart-size difference, monotone (ρ ≥ 0.9).
    TruthCheck("Fig. 3: AHF− → AHF+ enlarges the heart", "global/ahf", "gt_ctr", +1, 0.7, 0.9),
    TruthCheck("Fig. 3: F → M removes breast tissue", "global/sex", "gt_breast", -1, 0.5, 0.8),
    TruthCheck("Fig. 3: age lowers bone density", "global/age", "gt_bmd", -1, 0.3, 0.6),
    TruthCheck("Fig. 4: one woman, F → M removes breast tissue", "local/sex", "gt_breast", -1,
               None, 0.6),
    TruthCheck("Fig. 4: one woman, young → old lowers bone density", "local/age", "gt_bmd", -1,
               None, 0.6),
    TruthCheck("Fig. 4: one woman, AHF− → AHF+ enlarges the heart", "local/ahf", "gt_ctr", +1,
               None, 0.6),
    TruthCheck("Fig. 5: higher true BNPP enlarges the heart", "explain/truth", "gt_ctr", +1,
               0.5, 0.8),
    TruthCheck("Fig. 5: higher predicted BNPP enlarges the heart", "explain/prediction", "gt_ctr",
               +1, None, 0.6),
    # Body fat lowers NT-proBNP in the cohort's causal model (docs/cohort.md), as in patients.
    TruthCheck("Fig. 5: higher true BNPP thins the chest-wall fat", "explain/truth", "gt_fat", -1,
               None, 0.6),
    TruthCheck("Fig. 5: higher predicted BNPP thins the chest-wall fat", "explain/prediction",
               "gt_fat", -1, None, 0.6),
)
# The vendor check's true map is the difference of the two vendors' mean *real* test images,
# which the demo has at hand (the standalone scorer uses reconstructions): a vendor
# difference that the autoencoder does not keep counts against the sequence.
VENDOR_CHECK = TruthCheck("Fig. 3: Carestream → GE shows the vendors' real difference",
                          "global/manufacturer", "image processing", min_pattern=0.5)


def lambda_rows(explain_dir: str | os.PathLike) -> list[dict[str, Any]]:
    """Fig. 6: did the λ search bring the FP/FN predictions to the true value?

    Read from the explanation run's manifest and the FP/FN cases' ``seegaan_lambda`` results.
    """
    from seegaan.explain.methods import load_explanation, read_manifest

    man = read_manifest(explain_dir)
    by_cat = {c.get("category"): c for c in man["cases"]}
    rows = []
    for cat in ("FP", "FN"):
        case = by_cat.get(cat)
        name = f"Fig. 6: λ search reaches the {cat}'s true BNPP"
        base = {"check": name, "sequence": f"explain/{cat}", "factor": "prediction"}
        status = (case or {}).get("methods", {}).get("seegaan_lambda")
        if case is None or status is None:
            rows.append({**base, "measured": "no such case", "target": "abs(Δ log) ≤ tol", "pass": "n/a"})
            continue
        exp = load_explanation(Path(explain_dir) / case["folder"] / "seegaan_lambda")
        lam = exp.scalars
        tol = lam.get("tol", 0.01)
        if exp.status == "skipped":
            rows.append({**base, "measured": exp.message or "skipped", "target": f"abs(Δ log) ≤ {tol:g}",
                         "pass": "n/a"})
            continue
        err = abs(float(lam["value"]) - float(lam["target"])) if "value" in lam else float("nan")
        where = f"λ={lam['lam']:.3g}" if lam.get("lam") is not None else "closest"
        rows.append({**base, "measured": f"{exp.status} ({where}, abs(Δ log) {err:.3g}, {lam.get('calls')} calls)",
                     "target": f"abs(Δ log) ≤ {tol:g}",
                     "pass": "pass" if exp.status == "reached" else "fail", "change": err})
    return rows


def evaluate(sequences: dict[str, Any], oracle_predict: Callable[[np.ndarray], pd.DataFrame] | None,
             oracle_note: str, vendor_diff: np.ndarray | None,
             explain_dir: str | os.PathLike | None,
             extra_rows: list[dict[str, Any]] | None = None) -> pd.DataFrame:
    """All checks whose sequence exists; ``oracle_predict`` None marks oracle checks ``n/a``.

    ``explain_dir`` is the explanation run (its manifest) whose λ searches are checked.
    ``vendor_diff`` is GE's mean real image minus Carestream's (None: too few of either).
    ``extra_rows`` (e.g. the autoencoder's reconstruction checks) come first.
    """
    rows: list[dict[str, Any]] = list(extra_rows or [])
    for chk in CHECKS:
        seq = sequences.get(chk.sequence)
        if seq is None:
            continue
        if oracle_predict is None:
            rows.append(unavailable_row(chk, oracle_note))
            continue
        meta = seq.selection.meta
        if chk.factor not in meta.columns:
            rows.append(unavailable_row(chk, f"the data has no {chk.factor} column"))
            continue
        measured = readout(oracle_predict, seq.frames, chk.factor)
        rows.append(score_sequence(chk, seq, measured, meta[chk.factor].to_numpy(dtype=np.float64)))
    seq = sequences.get(VENDOR_CHECK.sequence)
    if seq is not None and vendor_diff is not None:
        rows.append(pattern_row(VENDOR_CHECK, seq, vendor_diff))
    if explain_dir is not None:
        rows += lambda_rows(explain_dir)
    return truth_table(rows)
