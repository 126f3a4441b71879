"""Do the sequences show the truth? Measure them with the virtual cohort's oracle.

On the virtual cohort every image has known generating factors (``gt_ctr`` heart size,
``gt_breast``, ``gt_bmd``, ...), and the oracle reads them back from any image, synthetic
ones included. So a sequence can be scored against what really differs between the groups:

- AHF− → AHF+: heart size (``gt_ctr``) should grow monotonically along the frames
  (Spearman ≥ 0.9) and by at least 70 % of the true AHF+ vs AHF− difference in mean;
- F → M: breast tissue (``gt_breast``) should fall;
- age (5th → 95th percentile): bone density (``gt_bmd``) should fall;
- Carestream → GE: the vendor's processing should change. Processing is not a body factor,
  so unless the oracle reports one, this is scored as the correlation between the
  sequence's end-to-end subtraction and the difference of the two vendors' mean
  reconstructions (≥ 0.5), i.e. the sequence shows the change the vendors really differ by.

True group differences come from the ``gt_*`` columns of the latent table when present,
otherwise from the oracle applied to the real images of the prepared dataset.

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
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from seegaan.errors import InputError
from seegaan.latent.protocol import Autoencoder, decode_latents
from seegaan.latent.sequence import global_sequence
from seegaan.latent.store import LatentTable
from seegaan.utils.fsio import atomic_dir, write_json


class Oracle(Protocol):
    def predict(self, images: Any) -> pd.DataFrame: ...


@dataclass(frozen=True)
class TruthCheck:
    name: str                         # what is claimed, in words
    feature: str                      # latent-table column
    from_level: str | None            # qualitative groups (None: quantitative)
    to_level: str | None
    factor: str | None                # gt_* column read by the oracle; None: pattern check
    sign: int                         # expected direction of the change (+1 / −1)
    min_spearman: float | None = None  # monotonicity along the frames
    min_ratio: float | None = None     # end-to-end change / true difference
    min_pattern: float | None = None   # correlation with the true mean-image difference


DEFAULT_CHECKS = (
    TruthCheck("AHF− → AHF+ enlarges the heart", "ahf", "0", "1", "gt_ctr", +1,
               min_spearman=0.9, min_ratio=0.7),
    TruthCheck("F → M reduces breast tissue", "sex", "F", "M", "gt_breast", -1),
    TruthCheck("age lowers bone density", "age", None, None, "gt_bmd", -1),
    TruthCheck("Carestream → GE changes the vendor processing", "manufacturer", "Carestream",
               "GE", None, +1, min_pattern=0.5),
)


def _spearman(y: np.ndarray) -> float:
    from scipy.stats import spearmanr

    if np.ptp(y) == 0:
        return 0.0
    return float(spearmanr(np.arange(len(y)), y).statistic)


def _as_images(frames: np.ndarray) -> np.ndarray:
    return frames[:, None].astype(np.float32)


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
                   checks:   tuple[TruthCheck, ...] = DEFAULT_CHECKS,
                   data_dir: str | os.PathLike | None = None,  # real images, if no gt_* columns
                   ) -> pd.DataFrame:
    """One row per check: the measured change, the true difference, and whether it passes.

    Checks whose feature is not in the table are reported as skipped, not failed.
    """
    truth = _TrueFactors(table, oracle, data_dir)
    rows = []
    for chk in checks:
        row: dict[str, Any] = {"check": chk.name, "feature": chk.feature,
                               "factor": chk.factor or "pattern"}
        if chk.feature not in table.meta.columns:
            rows.append(dict(row, passed=None, note="feature not in the latent table"))
            continue
        res = global_sequence(ae, table, chk.feature, from_level=chk.from_level,
                              to_level=chk.to_level, frames=frames, split=split, permutations=0)
        sel = res.selection
        ok = []
        if chk.factor is not None:
            measured = oracle.predict(_as_images(res.frames))[chk.factor].to_numpy(dtype=np.float64)
            change = float(measured[-1] - measured[0])
            aligned = truth.column(chk.factor, sel.rows)
            if sel.kind == "qualitative":
                true_diff = float(aligned[sel.is_to].mean() - aligned[~sel.is_to].mean())
            else:
                slope = np.polyfit(sel.x, aligned, 1)[0]
                true_diff = float(slope * (res.values[-1] - res.values[0]))
            rho = _spearman(measured) * chk.sign
            ratio = change / true_diff if true_diff != 0 else float("nan")
            row.update(spearman=rho, change=change, true_difference=true_diff, ratio=ratio,
                       direction_ok=bool(np.sign(change) == chk.sign))
            ok.append(row["direction_ok"])
            if chk.min_spearman is not None:
                ok.append(rho >= chk.min_spearman)
            if chk.min_ratio is not None:
                ok.append(ratio >= chk.min_ratio)
        else:
            recon = decode_latents(ae, sel.w)
            true_map = recon[sel.is_to].mean(axis=0) - recon[~sel.is_to].mean(axis=0)
            seq_map = res.diffs[-1]
            corr = float(np.corrcoef(seq_map.ravel(), true_map.ravel())[0, 1])
            row.update(pattern_correlation=corr, change=float(np.abs(seq_map).mean()),
                       true_difference=float(np.abs(true_map).mean()))
            ok.append(corr >= (chk.min_pattern or 0.0))
        row.update(groups=str(sel.groups), passed=bool(all(ok)))
        rows.append(row)
    cols = ["check", "feature", "factor", "groups", "spearman", "change", "true_difference",
            "ratio", "direction_ok", "pattern_correlation", "passed", "note"]
    df = pd.DataFrame(rows)
    return df.reindex(columns=[c for c in cols if c in df.columns])


def write_truth(df: pd.DataFrame, out_dir: str | os.PathLike, overwrite: bool = False,
                info: dict[str, Any] | None = None) -> Path:
    """``truth.csv``, ``truth.md`` (a table for notes and reports) and ``truth.json``."""
    with atomic_dir(out_dir, overwrite=overwrite) as tmp:
        df.to_csv(tmp / "truth.csv", index=False)
        shown = df.copy()
        for c in shown.columns:
            if shown[c].dtype.kind == "f":
                shown[c] = shown[c].map(lambda v: "" if pd.isna(v) else f"{v:.3g}")
        lines = ["| " + " | ".join(shown.columns) + " |",
                 "|" + "---|" * len(shown.columns)]
        lines += ["| " + " | ".join("" if pd.isna(v) else str(v) for v in r) + " |"
                  for r in shown.itertuples(index=False)]
        (tmp / "truth.md").write_text("\n".join(lines) + "\n")
        write_json(tmp / "truth.json", {"checks": df.to_dict(orient="records"), **(info or {})})
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
        write_truth(df, args.out, args.overwrite,
                    {"checkpoint": args.checkpoint, "latents": args.latents,
                     "split": args.split, "frames": args.frames})
    except SeegaanError as err:
        print(f"error: {err}", file=sys.stderr)
        return err.exit_code
    print(df.to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
