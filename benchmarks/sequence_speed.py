"""How fast are SEE-GAAN sequences? Two figures, measured in one run on this machine.

1. A 10-frame global sequence with 100 permutations at 64×64, decoding included
   (target ≤ 30 s on 2 cores). The decoder is the ``demo64`` architecture: the bundled demo
   checkpoint when it is installed, otherwise the same architecture with random weights
   (decode cost depends on the architecture, not on the weights).
2. The regression path with 100 permutation refits, vectorised (all 512 dimensions at once)
   against a per-dimension pyGAM loop on the same data (target ≥ 20× faster). A full pyGAM
   run is 512 × 101 grid searches (about an hour), so by default pyGAM is timed on
   ``--pygam-dims`` dimensions of the observed fit and scaled to 512 × 101; ``--full-pygam``
   times the whole loop instead.

Other jobs may share the CPU: the load average is printed with the results, and the
sequence's CPU time beside its wall time (on a busy machine the wall time mostly measures
waiting; CPU time / threads approximates the wall time on idle cores).

    python benchmarks/sequence_speed.py [--threads 2] [--n 400] [--pygam-dims 24]
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np
import pandas as pd
import torch


def _demo_decoder():
    from seegaan.config import get_preset
    from seegaan.models.autoencoder import DEMO_CHECKPOINT, Autoencoder, load_autoencoder

    if (DEMO_CHECKPOINT / "model.safetensors").is_file():
        return load_autoencoder(None), "bundled demo64 checkpoint"
    torch.manual_seed(0)
    return Autoencoder(get_preset("demo64")), "demo64 architecture, random weights (no demo checkpoint installed)"


def bench_sequence(n: int, permutations: int, frames: int, batch_size: int) -> dict:
    from seegaan.latent import LatentTable, global_sequence

    ae, what = _demo_decoder()
    rng = np.random.default_rng(0)
    with torch.inference_mode():
        # Latents from the mapping network, so they lie where the generator was built to work.
        w = ae.mapping(torch.randn(n, ae.cfg.z_dim, generator=torch.Generator().manual_seed(0)))
    meta = pd.DataFrame({"image_id": [f"i{k}" for k in range(n)], "split": "test",
                         "ahf": rng.integers(0, 2, n)})
    table = LatentTable(meta, w.numpy().astype(np.float32), {"w_dim": ae.w_dim, "image_size": ae.image_size})
    global_sequence(ae, table, "ahf", frames=2, permutations=1)   # warm-up (allocations, kernels)
    t0, c0 = time.perf_counter(), time.process_time()
    res = global_sequence(ae, table, "ahf", frames=frames, permutations=permutations,
                          batch_size=batch_size)
    total, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {"decoder": what, "image_size": ae.image_size, "w_dim": ae.w_dim, "n_images": n,
            "frames": frames, "permutations": permutations, "decoded_frames": frames * (permutations + 1),
            "seconds": round(total, 2), "cpu_seconds": round(cpu, 2), "timings": res.timings, "target_s": 30.0,
            "meets_target": total <= 30.0}


def bench_regression(n: int, dims: int, permutations: int, pygam_dims: int, full: bool) -> dict:
    from seegaan.latent.regression import PSplinePath, PyGAMPath

    rng = np.random.default_rng(1)
    x = rng.uniform(20, 90, n)
    u = (x - 20) / 70
    w = (np.sin(np.outer(u, rng.uniform(1, 4, dims))) + rng.normal(scale=0.5, size=(n, dims)))
    grid = np.linspace(*np.percentile(x, [5, 95]), 10)
    perms = np.stack([rng.permutation(n) for _ in range(permutations)])

    t0 = time.perf_counter()
    fit = PSplinePath(x, w, grid)
    fit.path()
    fit.paths(perms)
    vec = time.perf_counter() - t0

    fits = permutations + 1
    if full:
        t0 = time.perf_counter()
        slow = PyGAMPath(x, w, grid)
        slow.path()
        slow.paths(perms)
        gam = time.perf_counter() - t0
        how = "measured in full"
    else:
        sub = PyGAMPath(x, w[:, :pygam_dims], grid)
        t0 = time.perf_counter()
        sub.path()
        per_dim_fit = (time.perf_counter() - t0) / pygam_dims
        gam = per_dim_fit * dims * fits
        how = (f"timed on {pygam_dims} dimensions × 1 fit ({per_dim_fit * 1000:.1f} ms per "
               f"dimension-fit), scaled to {dims} × {fits}")
    return {"n_images": n, "dims": dims, "fits": fits, "vectorised_s": round(vec, 3),
            "pygam_s": round(gam, 1), "pygam_how": how, "speedup": round(gam / vec, 1),
            "target_speedup": 20.0, "meets_target": gam / vec >= 20.0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2, help="torch threads (the target is 2 cores)")
    ap.add_argument("--n", type=int, default=400, help="images (latents) in the groups / regression")
    ap.add_argument("--permutations", type=int, default=100)
    ap.add_argument("--frames", type=int, default=10)
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--pygam-dims", type=int, default=24)
    ap.add_argument("--full-pygam", action="store_true")
    ap.add_argument("--skip-sequence", action="store_true")
    ap.add_argument("--json", default=None, help="also write the results here")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from seegaan.utils.progress import set_quiet

    set_quiet(True)
    out = {"threads": args.threads, "cpu_count": os.cpu_count(),
           "load_average_before": [round(v, 2) for v in os.getloadavg()]}
    if not args.skip_sequence:
        out["sequence"] = bench_sequence(args.n, args.permutations, args.frames, args.batch_size)
        s = out["sequence"]
        print(f"global sequence: {s['frames']} frames, {s['permutations']} permutations, "
              f"{s['image_size']}×{s['image_size']}, {s['decoded_frames']} frames decoded: "
              f"{s['seconds']:.1f} s wall, {s['cpu_seconds']:.1f} s CPU over {args.threads} threads "
              f"(target ≤ 30 s) [{s['decoder']}]")
    out["regression"] = r = bench_regression(args.n, 512, args.permutations, args.pygam_dims,
                                             args.full_pygam)
    print(f"regression path + {r['fits'] - 1} refits, {r['dims']} dims, n={r['n_images']}: "
          f"vectorised {r['vectorised_s']:.2f} s vs pyGAM loop {r['pygam_s']:.0f} s "
          f"({r['pygam_how']}): {r['speedup']:.0f}× (target ≥ 20×)")
    out["load_average_after"] = [round(v, 2) for v in os.getloadavg()]
    print(f"load average before/after: {out['load_average_before']} / {out['load_average_after']} "
          f"on {out['cpu_count']} CPUs (other jobs may share them)")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=2)


if __name__ == "__main__":
    main()
