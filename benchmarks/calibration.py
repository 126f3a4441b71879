"""Is the pixel test calibrated on the virtual cohort's real patient structure?

The virtual cohort is rendered (1 + Poisson(0.7) films per patient, as in the cohort), encoded
by the bundled demo64 checkpoint, and given random *patient-level* labels (each patient in
group 1 with probability 1/2, unrelated to the images). Every label is tested as
``seegaan sequence`` tests it: a two-frame group-mean sequence (``GroupMeanPath``, the
end-to-end map w̄_1 − w̄_0 decoded) and its **own** permutation null, drawn by
``permutation_test`` (``Permuter`` + batched decoding + ``NullStream``, max-T), once with
whole-patient shuffles and once with single-image shuffles, B permutations each. Reported
per scheme:

- the per-pixel rejection rate at α (uncorrected), averaged over labels (target 0.03-0.07),
  with its standard error over labels;
- the max-T family-wise rate: the share of labels with any pixel significant after max-T
  (target ≤ 0.08), with a 95% Wilson interval;
- the share of single null maps with more than 10% of pixels lit (why one uncorrected map
  is no evidence).

Cost: 2 × labels × (B + 1) decoded frames per scheme and cohort (the fast decode of
``seegaan.models.fastdecode`` makes 100 labels at B = 99 a few CPU minutes). The image-level
rate is shown on the cohort and on a "many films" cohort (1 + Poisson(``--many``) films per
patient), where fewer labels (``--many-labels``) are enough to show the defect.

    python benchmarks/calibration.py [--n 400] [--labels 50] [--many-labels 20]
                                     [--permutations 99] [--json OUT]
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


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval of a binomial share k / n."""
    if n == 0:
        return float("nan"), float("nan")
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return float(max(centre - half, 0.0)), float(min(centre + half, 1.0))


def random_patient_label(pid: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Each patient in group 1 with probability 1/2 (both groups keep ≥ 2 films)."""
    patients, codes = np.unique(pid, return_inverse=True)
    while True:
        lab = (rng.random(len(patients)) < 0.5)[codes]
        if 2 <= lab.sum() <= len(lab) - 2:
            return lab


def calibrate(ae, table, labels: int, permutations: int, alpha: float, seed: int,
              schemes: tuple[str, ...] = ("patients", "images")) -> dict:
    """Per scheme: each random patient-level label tested against its own permutation null."""
    from seegaan.latent import GroupMeanPath, decode_latents, permutation_test

    pid = table.meta["patient_id"].astype(str).to_numpy()
    rng = np.random.default_rng(seed)
    per: dict[str, list] = {k: [] for k in schemes}
    anyt: dict[str, list] = {k: [] for k in schemes}
    cpu0 = time.process_time()
    for j in range(labels):
        lab = random_patient_label(pid, rng)
        builder = GroupMeanPath(table.w, lab, frames=2)
        frames = decode_latents(ae, builder.path())
        diffs = frames - frames[:1]
        for scheme in per:
            t = permutation_test(ae, builder, diffs, permutations=permutations, alpha=alpha,
                                 correction="maxt", seed=1000 * seed + j, groups=pid,
                                 permute=scheme)
            per[scheme].append(float((t.pvalues[1] <= alpha).mean()))
            anyt[scheme].append(bool(t.significant[1].any()))
        if (j + 1) % 10 == 0:
            rates = ", ".join(f"{k} {np.mean(v):.3f}" for k, v in per.items())
            print(f"    {j + 1} labels: per-pixel rate {rates}; "
                  f"{time.process_time() - cpu0:.0f} CPU s", flush=True)
    out = {"cpu_s": round(time.process_time() - cpu0, 1)}
    for scheme in per:
        r = np.array(per[scheme])
        k = int(np.sum(anyt[scheme]))
        lo, hi = wilson(k, len(r))
        out[scheme] = {"labels": len(r), "permutations": permutations,
                       "per_pixel_rate": float(r.mean()),
                       "per_pixel_se": float(r.std(ddof=1) / np.sqrt(len(r))) if len(r) > 1 else float("nan"),
                       "maxt_fwer": k / len(r), "maxt_fwer_ci": [lo, hi],
                       "maps_over_10pct": float(np.mean(r > 0.10)),
                       "max_single_map_rate": float(r.max())}
    return out


def main() -> None:
    ap = bench_parser(__doc__)
    ap.add_argument("--labels", type=int, default=50, help="random labels on the cohort (≥ 50 for the FWER)")
    ap.add_argument("--many-labels", type=int, default=20, help="random labels on the many-films cohort")
    ap.add_argument("--permutations", type=int, default=99, help="B of every label's own null")
    ap.add_argument("--many", type=float, default=3.0, help="extra films per patient, 'many'")
    ap.add_argument("--alpha", type=float, default=0.05)
    ap.add_argument("--seed", type=int, default=7, help="seed of the random labels")
    ap.add_argument("--schemes", nargs="+", default=["patients", "images"],
                    choices=["patients", "images"])
    a = ap.parse_args()
    bench_setup(a)

    out = {"config": vars(a), "load_average_before": os.getloadavg(), "cohorts": {}}
    print(f"load average before: {[round(v, 2) for v in os.getloadavg()]}")
    for name, m, labels in (("cohort (1 + Poisson(0.7) films)", 0.7, a.labels),
                            (f"many films (1 + Poisson({a.many:g}))", a.many, a.many_labels)):
        if labels <= 0:
            continue
        t0 = time.perf_counter()
        table, ae = cohort_latents(a.n, seed=11, films_extra=m)
        pid = table.meta["patient_id"].astype(str).to_numpy()
        info = {"films": len(pid), "n_patients": int(len(np.unique(pid))),
                "within_patient_latent_correlation": round(within_patient_correlation(table), 3)}
        info.update(calibrate(ae, table, labels, a.permutations, a.alpha, a.seed,
                              tuple(a.schemes)))
        info["wall_s"] = round(time.perf_counter() - t0, 1)
        out["cohorts"][name] = info
        print(f"{name}: {info['films']} films, {info['n_patients']} patients, within-patient "
              f"latent correlation {info['within_patient_latent_correlation']}; "
              f"{info['cpu_s']:.0f} CPU s, {info['wall_s']:.0f} s wall, load "
              f"{os.getloadavg()[0]:.1f}")
        for scheme in a.schemes:
            r = info[scheme]
            lo, hi = r["maxt_fwer_ci"]
            print(f"  {scheme:8s} shuffled: per-pixel rate {r['per_pixel_rate']:.3f} ± "
                  f"{r['per_pixel_se']:.3f} (target 0.03-0.07), max-T FWER {r['maxt_fwer']:.3f} "
                  f"[{lo:.3f}, {hi:.3f}] (target ≤ 0.08), single maps > 10% lit "
                  f"{r['maps_over_10pct']:.2f} (worst {r['max_single_map_rate']:.2f}); "
                  f"{r['labels']} labels, each with its own B = {r['permutations']}", flush=True)
    out["load_average_after"] = os.getloadavg()
    print(f"load average after: {[round(v, 2) for v in os.getloadavg()]}")
    if a.json:
        Path(a.json).write_text(json.dumps(out, indent=2, default=float))


if __name__ == "__main__":
    main()
