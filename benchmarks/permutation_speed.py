"""How fast and how lean is the permutation test at B = 1000? Measured in one run.

A 10-frame global sequence at 64×64 with B permutations (default 1000), decoded by the
bundled demo64 checkpoint in batches (target: ≤ 90 s on 2 cores), run in a fresh child
process per B so that each peak resident memory (ru_maxrss) is its own. Memory should not
grow with B: the null maps are streamed into counts (``maxt`` spools them to disk instead).

On a shared machine the wall time mostly measures waiting, so CPU time is printed beside it;
CPU seconds / threads is what the run would take on idle cores.

    python benchmarks/permutation_speed.py [--permutations 1000] [--compare 100] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time


def child(permutations: int, frames: int, n: int, threads: int, correction: str) -> dict:
    import numpy as np
    import pandas as pd
    import torch

    from seegaan.latent import LatentTable, global_sequence
    from seegaan.models.autoencoder import load_autoencoder
    from seegaan.utils.progress import set_quiet

    set_quiet(True)
    torch.set_num_threads(threads)
    ae = load_autoencoder(None)
    rng = np.random.default_rng(0)
    with torch.inference_mode():
        w = ae.mapping(torch.randn(n, ae.cfg.z_dim, generator=torch.Generator().manual_seed(0)))
    pid = np.repeat(np.arange(n), 2)[:n]               # two films per patient
    meta = pd.DataFrame({"image_id": [f"i{k}" for k in range(n)], "patient_id": pid,
                         "split": "test", "ahf": rng.integers(0, 2, n // 2 + 1).repeat(2)[:n]})
    table = LatentTable(meta, w.numpy().astype(np.float32), {"w_dim": ae.w_dim, "image_size": 64})
    global_sequence(ae, table, "ahf", frames=2, permutations=1)          # warm-up
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0, c0 = time.perf_counter(), time.process_time()
    res = global_sequence(ae, table, "ahf", frames=frames, permutations=permutations,
                          correction=correction)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    decoded = frames * (permutations + 1)
    return {"permutations": permutations, "frames": frames, "correction": correction,
            "permute": res.test.permute, "decoded_frames": decoded, "wall_s": round(wall, 1),
            "cpu_s": round(cpu, 1), "idle_equivalent_s": round(cpu / threads, 1),
            "frames_per_cpu_s": round(decoded / cpu, 1),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "rss_before_mb": round(rss0 / 1024, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--permutations", type=int, default=1000)
    ap.add_argument("--compare", type=int, default=100, help="a smaller B, for the memory ratio")
    ap.add_argument("--frames", type=int, default=10)
    ap.add_argument("--n", type=int, default=400)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--correction", default="none")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    if a.child:
        print(json.dumps(child(a.permutations, a.frames, a.n, a.threads, a.correction)))
        return
    out = {"load_average_before": [round(v, 2) for v in os.getloadavg()], "runs": []}
    for b in (a.compare, a.permutations):
        cmd = [sys.executable, __file__, "--child", "--permutations", str(b), "--frames",
               str(a.frames), "--n", str(a.n), "--threads", str(a.threads), "--correction",
               a.correction]
        r = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
        out["runs"].append(r)
        print(f"B = {b:5d}: {r['decoded_frames']} frames decoded, {r['wall_s']:.1f} s wall, "
              f"{r['cpu_s']:.1f} s CPU = {r['idle_equivalent_s']:.1f} s on {a.threads} idle cores "
              f"(target ≤ 90 s at B = 1000), {r['frames_per_cpu_s']:.0f} frames per CPU s, "
              f"peak RSS {r['peak_rss_mb']:.0f} MB", flush=True)
    small, big = out["runs"]
    print(f"peak memory ratio B={big['permutations']} / B={small['permutations']}: "
          f"{big['peak_rss_mb'] / small['peak_rss_mb']:.2f} (1.0 = does not grow with B)")
    out["load_average_after"] = [round(v, 2) for v in os.getloadavg()]
    print(f"load average before/after: {out['load_average_before']} / {out['load_average_after']}")
    if a.json:
        with open(a.json, "w") as fh:
            json.dump(out, fh, indent=2)


if __name__ == "__main__":
    main()
