"""Cohort rendering speed: images per second at a given size, written to disk like the CLI.

Acceptance (issue 3): 10,000 images at 128x128 in <= 2 minutes on the 2-core dev machine.
Other jobs often share that machine, so the script also prints the load average and the
single-process CPU cost per image, which do not depend on contention as much as wall time.

    python benchmarks/cohort_speed.py --n 10000 --size 128 --workers 2
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time

from seegaan.cohort.clinical import sample_subjects
from seegaan.cohort.cohort import render_cohort
from seegaan.cohort.render import ground_truth, render_image
from seegaan.utils.progress import set_quiet


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--workers", type=int, default=2)
    a = ap.parse_args()
    set_quiet(True)
    load = os.getloadavg()[0]
    # CPU cost of one image in this process (render + ground truth, no PNG)
    subs = sample_subjects(200, seed=1)
    render_image(subs[0], a.size)
    c0 = time.process_time()
    for s in subs:
        render_image(s, a.size)
        ground_truth(s)
    cpu_ms = (time.process_time() - c0) / len(subs) * 1e3
    tmp = tempfile.mkdtemp()
    try:
        t0 = time.perf_counter()
        render_cohort(os.path.join(tmp, "c"), n=a.n, size=a.size, seed=0, workers=a.workers)
        dt = time.perf_counter() - t0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    rate = a.n / dt
    print(f"cohort {a.n} x {a.size}px, {a.workers} workers: {dt:.1f} s wall, {rate:.0f} img/s "
          f"(10,000 would take {10_000 / rate:.0f} s; target <= 120 s)")
    print(f"cpu per image (render + ground truth, one process): {cpu_ms:.1f} ms "
          f"-> ideal {a.workers * 1000 / cpu_ms:.0f} img/s on {a.workers} idle cores")
    print(f"load average at start: {load:.1f} on {os.cpu_count()} cores (other jobs share the CPU)")


if __name__ == "__main__":
    main()
