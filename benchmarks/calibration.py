"""Is the pixel test calibrated on the virtual cohort's real patient structure?

The virtual cohort is rendered (1 + Poisson(0.7) films per patient, as in the cohort), encoded
by the bundled demo64 checkpoint, and given random *patient-level* labels (unrelated to the
images). For each label the real machinery runs: group-mean path (``GroupMeanPath``),
batched decoding (``decode_latents``), permutations drawn by ``Permuter`` and p-values from
``NullStream`` (raw and max-T). Reported per scheme:

- the per-pixel rejection rate at α (uncorrected), averaged over labels (target 0.03-0.07);
- the max-T family-wise rate: the share of labels with any pixel significant (target ≤ 0.08);
- the share of single null maps with more than 10% of pixels lit (why one uncorrected map
  is no evidence).

Sharing the null maps. A two-frame sequence's map depends only on which rows carry the label,
so each scheme's permuted maps are decoded once, as a bank, and serve every label:

- the labels are whole-block permutations of one base label that puts half of the patients of
  each films-per-patient class in each group, so every label has the same group sizes and
  every label's patient-level null is the same distribution: the bank itself (each label is
  tested against all other members; exact by exchangeability, and a check of the code);
- the image-level null of every label is the same too (random film subsets of the same size):
  one bank of image shuffles serves all labels, as ``--permute images`` would draw them.

This costs 2 × (labels + B) decodes instead of 2 × labels × (B + 1). The image-level rate is
shown on the cohort and on a "many films" cohort (1 + Poisson(``--many``) films per patient).

    python benchmarks/calibration.py [--n 400] [--labels 100] [--permutations 99] [--json OUT]
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from virtual_latents import (  # noqa: E402
    bench_parser,
    bench_setup,
    cohort_latents,
    within_patient_correlation,
)


def base_label(pid: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Half of the patients of each films-per-patient class in group 1 (a patient label)."""
    patients, codes, films = np.unique(pid, return_inverse=True, return_counts=True)
    lab = np.zeros(len(patients), dtype=bool)
    for k in np.unique(films):
        members = rng.permutation(np.flatnonzero(films == k))
        lab[members[: (len(members) + rng.integers(0, 2)) // 2]] = True
    return lab[codes]


def label_maps(ae, w: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """(L, S, S) decoded group-1 mean minus group-0 mean, for each (L, n) label row."""
    from seegaan.latent import GroupMeanPath, decode_latents

    paths = np.concatenate([GroupMeanPath(w, lab, frames=2).path() for lab in labels])
    frames = decode_latents(ae, paths).reshape(len(labels), 2, ae.image_size, ae.image_size)
    return frames[:, 1] - frames[:, 0]


def relabel(base: np.ndarray, perms: np.ndarray) -> np.ndarray:
    """Labels after each permutation: latent row p[i] takes feature value i."""
    out = np.empty(perms.shape, dtype=bool)
    np.put_along_axis(out, perms, np.broadcast_to(base, perms.shape), axis=1)
    return out


def rates(observed: np.ndarray, bank: np.ndarray, alpha: float, exclude_self: bool) -> dict:
    from seegaan.stats import NullStream

    per_pixel, any_maxt = [], []
    for j, obs in enumerate(observed):
        null = np.delete(bank, j, axis=0) if exclude_self else bank
        acc = NullStream(obs, None, "maxt", permutations=len(null))
        acc.add(null)
        raw, adj = acc.finish()
        per_pixel.append(float((raw <= alpha).mean()))
        any_maxt.append(bool((adj <= alpha).any()))
    r = np.array(per_pixel)
    return {"labels": len(r), "permutations": int(len(bank) - exclude_self),
            "per_pixel_rate": float(r.mean()), "per_pixel_se": float(r.std(ddof=1) / np.sqrt(len(r))),
            "maxt_fwer": float(np.mean(any_maxt)), "maps_over_10pct": float(np.mean(r > 0.10)),
            "max_single_map_rate": float(r.max())}


def main() -> None:
    ap = bench_parser(__doc__)
    ap.add_argument("--labels", type=int, default=100, help="null labels (≥ 50)")
    ap.add_argument("--permutations", type=int, default=99, help="B of the image-level bank")
    ap.add_argument("--many", type=float, default=3.0, help="extra films per patient, 'many'")
    ap.add_argument("--alpha", type=float, default=0.05)
    a = ap.parse_args()
    bench_setup(a)
    from seegaan.stats import Permuter

    out = {"config": vars(a), "load_average_before": os.getloadavg(), "cohorts": {}}
    for name, m in (("cohort (1 + Poisson(0.7) films)", 0.7),
                    (f"many films (1 + Poisson({a.many:g}))", a.many)):
        t0 = time.perf_counter()
        table, ae = cohort_latents(a.n, seed=11, films_extra=m)
        pid = table.meta["patient_id"].astype(str).to_numpy()
        info = {"films": len(pid), "n_patients": int(len(np.unique(pid))),
                "within_patient_latent_correlation": round(within_patient_correlation(table), 3)}
        rng = np.random.default_rng(7)
        base = base_label(pid, rng)
        labels = relabel(base, Permuter(len(pid), pid, "patients", seed=1).draw(a.labels))
        shuffled = relabel(base, Permuter(len(pid), None, "images", seed=2).draw(a.permutations))
        maps = label_maps(ae, table.w, labels)
        image_bank = label_maps(ae, table.w, shuffled)
        info["patients"] = rates(maps, maps, a.alpha, exclude_self=True)
        info["images"] = rates(maps, image_bank, a.alpha, exclude_self=False)
        info["seconds"] = round(time.perf_counter() - t0, 1)
        out["cohorts"][name] = info
        print(f"{name}: {info['films']} films, {info['n_patients']} patients, within-patient "
              f"latent correlation {info['within_patient_latent_correlation']}")
        for scheme in ("patients", "images"):
            r = info[scheme]
            print(f"  {scheme:8s} shuffled: per-pixel rate {r['per_pixel_rate']:.3f} ± "
                  f"{r['per_pixel_se']:.3f} (target 0.03-0.07), max-T FWER {r['maxt_fwer']:.3f} "
                  f"(target ≤ 0.08), single maps > 10% lit {r['maps_over_10pct']:.2f} "
                  f"(worst {r['max_single_map_rate']:.2f}); {r['labels']} labels, "
                  f"B = {r['permutations']}", flush=True)
    out["load_average_after"] = os.getloadavg()
    if a.json:
        Path(a.json).write_text(json.dumps(out, indent=2, default=float))


if __name__ == "__main__":
    main()
