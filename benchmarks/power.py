"""Power of the pixel test: how large must an effect be before the test sees it?

On the virtual cohort encoded by the bundled checkpoint, a random half of the patients gets
a latent shift δ·v (v: the unit direction of the AHF group-mean difference, δ in units of
the size of that difference, so δ = 1 plants an effect as large as AHF's). The sequence of
the planted label is then tested with patient-level permutations, and the detected share is
reported against δ: the share of the truly changed pixels (|decoded planted shift| > 0.02 on
the [-1, 1] scale) called significant, uncorrected and with max-T, and whether max-T
finds anything at all.

The B needed for a correction to have any power at all is printed too (``power_notes``).

    python benchmarks/power.py [--deltas 0.05 0.1 0.2 0.4] [--labels 3] [--permutations 39]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from calibration import base_label, label_maps, relabel  # noqa: E402
from virtual_latents import bench_parser, bench_setup, cohort_latents  # noqa: E402


def main() -> None:
    ap = bench_parser(__doc__)
    ap.add_argument("--deltas", type=float, nargs="+", default=[0.05, 0.1, 0.2, 0.4])
    ap.add_argument("--labels", type=int, default=3, help="planted labels per δ")
    ap.add_argument("--permutations", type=int, default=39)
    ap.add_argument("--alpha", type=float, default=0.05)
    a = ap.parse_args()
    bench_setup(a)
    from seegaan.latent import decode_latents
    from seegaan.stats import NullStream, Permuter, power_notes

    table, ae = cohort_latents(a.n, seed=11)
    pid = table.meta["patient_id"].astype(str).to_numpy()
    ahf = table.meta["ahf"].to_numpy() == 1
    diff = table.w[ahf].mean(0) - table.w[~ahf].mean(0)
    v = diff / np.linalg.norm(diff)
    scale = float(np.linalg.norm(diff))
    size = ae.image_size
    out = {"config": vars(a), "ahf_difference_norm": scale, "curve": []}
    for note in (power_notes(a.permutations, a.alpha, c, size * size) for c in ("none", "fdr", "maxt")):
        for line in note:
            print("note:", line)
    rng = np.random.default_rng(3)
    for delta in a.deltas:
        share, share_maxt, any_maxt = [], [], []
        for j in range(a.labels):
            planted = base_label(pid, rng)
            w = table.w + (delta * scale * v)[None] * planted[:, None].astype(np.float32)
            obs = label_maps(ae, w, planted[None])[0]
            perms = Permuter(len(pid), pid, "patients", seed=100 + j).draw(a.permutations)
            null = label_maps(ae, w, relabel(planted, perms))
            acc = NullStream(obs, None, "maxt", permutations=a.permutations)
            acc.add(null)
            raw, adj = acc.finish()
            # The true effect: the planted shift decoded at the cohort's mean latent.
            m = table.w.mean(0)
            pair = decode_latents(ae, np.stack([m, m + delta * scale * v]))
            region = np.abs(pair[1] - pair[0]) > 0.02
            share.append(float((raw[region] <= a.alpha).mean()) if region.any() else float("nan"))
            share_maxt.append(float((adj[region] <= a.alpha).mean()) if region.any() else float("nan"))
            any_maxt.append(bool((adj <= a.alpha).any()))
        row = {"delta": delta, "changed_pixels": int(region.sum()),
               "detected_share": float(np.nanmean(share)),
               "detected_share_maxt": float(np.nanmean(share_maxt)),
               "any_maxt": float(np.mean(any_maxt))}
        out["curve"].append(row)
        print(f"δ = {delta:.2f} × AHF difference: {row['changed_pixels']} changed pixels; detected "
              f"{row['detected_share']:.2f} uncorrected, {row['detected_share_maxt']:.2f} max-T; "
              f"max-T finds something in {row['any_maxt']:.0%} of {a.labels} labels "
              f"(B = {a.permutations})", flush=True)
    if a.json:
        Path(a.json).write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
