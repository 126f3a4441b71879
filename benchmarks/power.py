"""Power of the pixel test: how large must an effect be before the test sees it, at which B?

On the virtual cohort encoded by the bundled checkpoint, a random patient-level label (each
patient in group 1 with probability 1/2) gets a latent shift δ·v on its films (v: the unit
direction of the AHF group-mean difference, δ in units of the size of that difference, so
δ = 1 plants an effect as large as AHF's). The two-frame sequence of the planted label is
tested with patient-level permutations, its own null per label, and the **detected share**
is reported against δ: the share of the truly changed pixels (|decoded planted shift| > 0.02
on the [-1, 1] scale, decoded at the cohort's mean latent) called significant, uncorrected,
with Benjamini-Hochberg (``fdr``) and with max-T, each with a 95% bootstrap interval over
labels; and the share of labels where fdr / max-T find anything, with a 95% Wilson interval.

Every label's null is decoded once with the largest B of ``--permutations``; the smaller Bs
use its first B maps (nested), so the columns for different B come from the same draws.
The benchmark also checks the command-line warning (``power_notes``): Benjamini-Hochberg can
only reject sets of at least m / (α(B + 1)) pixels, so whenever fdr rejects anything it must
reject at least that many.

    python benchmarks/power.py [--deltas 0.05 0.1 0.2 0.4 0.8] [--labels 10]
                               [--permutations 19 39 99] [--json OUT]
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from calibration import label_maps, random_patient_label, relabel, wilson  # noqa: E402
from virtual_latents import bench_parser, bench_setup, cohort_latents  # noqa: E402


def bootstrap_ci(x: np.ndarray, rng: np.random.Generator, n_boot: int = 2000) -> tuple[float, float]:
    """95% percentile bootstrap interval of the mean of ``x`` (resampling labels)."""
    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    if len(x) < 2:
        return float("nan"), float("nan")
    means = x[rng.integers(0, len(x), size=(n_boot, len(x)))].mean(axis=1)
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def main() -> None:
    ap = bench_parser(__doc__)
    ap.add_argument("--deltas", type=float, nargs="+", default=[0.05, 0.1, 0.2, 0.4, 0.8])
    ap.add_argument("--labels", type=int, default=10, help="planted random labels per δ")
    ap.add_argument("--permutations", type=int, nargs="+", default=[19, 39, 99],
                    help="Bs to report (nested: the largest is decoded)")
    ap.add_argument("--alpha", type=float, default=0.05)
    a = ap.parse_args()
    bench_setup(a)
    from seegaan.latent import decode_latents
    from seegaan.stats import NullStream, Permuter, bh_adjust, power_notes

    bs = sorted(set(a.permutations))
    b_max = bs[-1]
    table, ae = cohort_latents(a.n, seed=11)
    pid = table.meta["patient_id"].astype(str).to_numpy()
    ahf = table.meta["ahf"].to_numpy() == 1
    diff = table.w[ahf].mean(0) - table.w[~ahf].mean(0)
    v = diff / np.linalg.norm(diff)
    scale = float(np.linalg.norm(diff))
    m_px = ae.image_size ** 2
    out = {"config": vars(a), "ahf_difference_norm": scale,
           "load_average_before": os.getloadavg(), "curve": [], "notes": {}}
    print(f"load average before: {[round(x, 2) for x in os.getloadavg()]}; {len(pid)} films, "
          f"{len(np.unique(pid))} patients; {a.labels} labels per δ, B = {bs} (nested)")
    for b in bs:
        notes = [n for c in ("none", "fdr", "maxt") for n in power_notes(b, a.alpha, c, m_px)]
        out["notes"][b] = notes
        for line in notes:
            print(f"note (B = {b}):", line)
    rng = np.random.default_rng(3)
    boot_rng = np.random.default_rng(4)
    m_mean = table.w.mean(0)
    fdr_min_rejected = {b: [] for b in bs}
    cpu0, t0 = time.process_time(), time.perf_counter()
    head = (f"{'δ':>5} {'B':>4} {'changed px':>10}  {'uncorrected [95% CI]':>22}  "
            f"{'fdr [95% CI]':>22}  {'max-T [95% CI]':>22}  {'fdr finds any':>18}  "
            f"{'max-T finds any':>18}")
    print(head)
    for delta in a.deltas:
        shift = (delta * scale * v).astype(np.float32)
        pair = decode_latents(ae, np.stack([m_mean, m_mean + shift]))
        region = np.abs(pair[1] - pair[0]) > 0.02
        rows = {b: {"none": [], "fdr": [], "maxt": [], "any_fdr": [], "any_maxt": []} for b in bs}
        for j in range(a.labels):
            planted = random_patient_label(pid, rng)
            w = table.w + shift[None] * planted[:, None]
            obs = label_maps(ae, w, planted[None])[0]
            perms = Permuter(len(pid), pid, "patients", seed=100 + j).draw(b_max)
            null = label_maps(ae, w, relabel(planted, perms))
            for b in bs:
                acc = NullStream(obs, None, "maxt", permutations=b)
                acc.add(null[:b])
                raw, adj = acc.finish()
                q = bh_adjust(raw)
                r = rows[b]
                for key, p in (("none", raw), ("fdr", q), ("maxt", adj)):
                    r[key].append(float((p[region] <= a.alpha).mean()) if region.any() else np.nan)
                r["any_fdr"].append(bool((q <= a.alpha).any()))
                r["any_maxt"].append(bool((adj <= a.alpha).any()))
                if (q <= a.alpha).any():
                    fdr_min_rejected[b].append(int((q <= a.alpha).sum()))
        for b in bs:
            r = rows[b]
            row = {"delta": delta, "permutations": b, "labels": a.labels,
                   "changed_pixels": int(region.sum())}
            cells = []
            for key in ("none", "fdr", "maxt"):
                x = np.array(r[key])
                lo, hi = bootstrap_ci(x, boot_rng)
                row[f"detected_{key}"] = float(np.nanmean(x)) if np.isfinite(x).any() else float("nan")
                row[f"detected_{key}_ci"] = [lo, hi]
                cells.append(f"{row[f'detected_{key}']:.2f} [{lo:.2f}, {hi:.2f}]")
            for key in ("any_fdr", "any_maxt"):
                k = int(np.sum(r[key]))
                lo, hi = wilson(k, len(r[key]))
                row[key] = k / len(r[key])
                row[f"{key}_ci"] = [lo, hi]
                cells.append(f"{k:2d}/{len(r[key])} [{lo:.2f}, {hi:.2f}]")
            out["curve"].append(row)
            print(f"{delta:>5.2f} {b:>4d} {row['changed_pixels']:>10d}  {cells[0]:>22}  "
                  f"{cells[1]:>22}  {cells[2]:>22}  {cells[3]:>18}  {cells[4]:>18}", flush=True)
    print("fdr check (power_notes): Benjamini-Hochberg can only reject sets of at least "
          "m/(α(B+1)) pixels")
    out["fdr_check"] = {}
    for b in bs:
        bound = math.ceil(m_px / (a.alpha * (b + 1)))
        got = fdr_min_rejected[b]
        ok = all(k >= bound for k in got)
        out["fdr_check"][b] = {"bound": bound, "min_rejected": min(got) if got else None,
                               "consistent": ok}
        print(f"  B = {b}: bound {bound} of {m_px} pixels ({bound / m_px:.0%}); fdr rejected "
              f"something in {len(got)} label tests, smallest set {min(got) if got else '-'}: "
              f"{'consistent' if ok else 'INCONSISTENT'}")
    out["cpu_s"] = round(time.process_time() - cpu0, 1)
    out["wall_s"] = round(time.perf_counter() - t0, 1)
    out["load_average_after"] = os.getloadavg()
    print(f"{out['cpu_s']:.0f} CPU s, {out['wall_s']:.0f} s wall; load average after: "
          f"{[round(x, 2) for x in os.getloadavg()]}")
    if a.json:
        Path(a.json).write_text(json.dumps(out, indent=2, default=float))


if __name__ == "__main__":
    main()
