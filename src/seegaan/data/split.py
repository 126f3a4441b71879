"""Patient-level train/val/test split, seeded and optionally stratified.

Images of one patient are correlated (same anatomy, often the same scanner), so a patient
in two splits would leak test information into training. Patients are therefore assigned
whole: shuffled with the seed, then cut so that each split receives its share of
*radiographs* (the paper reports image counts). Each patient goes to the split in which the
midpoint of its block of images falls, which rounds fairly even for small cohorts.

The result depends only on the set of (patient, image count, stratum) and the seed, not on
the order of the CSV: patient ids are sorted before shuffling.

Example::

    split = patient_split(index["patient_id"], (0.8, 0.1, 0.1), seed=0)
    split.value_counts()                      # train ~80 %, val ~10 %, test ~10 % of images
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from seegaan.data.prepared import SPLITS
from seegaan.errors import OptionError
from seegaan.utils.renamed import renamed_keywords


def parse_fractions(text: str | tuple | list) -> tuple[float, float, float]:
    """``"0.8,0.1,0.1"`` (or percentages ``"80,10,10"``) -> fractions summing to 1.

    Example::

        parse_fractions("80,10,10")           # (0.8, 0.1, 0.1)
    """
    parts = text.split(",") if isinstance(text, str) else list(text)
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise OptionError(f"--split {text!r}: expected three numbers like 0.8,0.1,0.1") from None
    if len(values) != 3 or any(v < 0 or not np.isfinite(v) for v in values) or sum(values) <= 0:
        raise OptionError(f"--split {text!r}: expected three non-negative numbers like 0.8,0.1,0.1")
    total = sum(values)
    if abs(total - 1.0) > 1e-6 and abs(total - 100.0) > 1e-6:
        raise OptionError(f"--split {text!r}: fractions must add up to 1 (or 100), not {total:g}")
    return tuple(v / total for v in values)  # type: ignore[return-value]


def _strata(patients: pd.Series, stratify: pd.Series | None, stratify_type: str) -> pd.Series:
    """One stratum label per patient (index: patient id)."""
    if stratify is None:
        return pd.Series("all", index=pd.Index(sorted(patients.unique())))
    frame = pd.DataFrame({"p": patients.to_numpy(), "s": stratify.to_numpy()})
    if stratify_type == "numeric":
        # Quartiles of the per-patient mean keep the split balanced on e.g. age or BNPP.
        per = frame.groupby("p")["s"].mean()
        bins = per.rank(method="first", pct=True).mul(4).clip(upper=3.999).floordiv(1)
        label = bins.astype("Int64").astype("string").where(per.notna(), "missing")
    else:
        # A patient's most frequent value (ties: the smallest) is its stratum.
        s = frame["s"].astype("string").fillna("missing")
        label = (frame.assign(s=s).groupby("p")["s"]
                 .agg(lambda v: v.value_counts().sort_index().idxmax()))
    return label.sort_index()


@renamed_keywords(kind="stratify_type")
def patient_split(patients: pd.Series, fractions=(0.8, 0.1, 0.1), seed: int = 0,
                  stratify: pd.Series | None = None, stratify_type: str = "categorical") -> pd.Series:
    """Assign every image a split (``train``/``val``/``test``) so no patient is in two.

    ``patients`` holds one patient id per image; ``stratify`` (same length, optional) is a
    feature to balance across splits, ``stratify_type`` says whether it is ``"numeric"`` (balanced by
    quartile) or ``"categorical"``. Returns a Series aligned with ``patients``.

    Example::

        idx["split"] = patient_split(idx["patient_id"], seed=1, stratify=idx["sex"])
    """
    fractions = parse_fractions(fractions)
    patients = patients.astype(str).reset_index(drop=True)
    counts = patients.value_counts()
    strata = _strata(patients, None if stratify is None else stratify.reset_index(drop=True), stratify_type)
    rng = np.random.default_rng(seed)
    bounds = np.cumsum(fractions)
    assign: dict[str, str] = {}
    for _, members in strata.groupby(strata, sort=True):
        ids = np.array(sorted(members.index))
        ids = ids[rng.permutation(len(ids))]
        sizes = counts.loc[ids].to_numpy(dtype=float)
        ends = np.cumsum(sizes)
        mids = (ends - sizes / 2) / ends[-1]
        which = np.searchsorted(bounds, mids, side="right").clip(max=len(SPLITS) - 1)
        assign.update(zip(ids, (SPLITS[k] for k in which)))
    return patients.map(assign).rename("split")
