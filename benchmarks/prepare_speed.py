"""Speed of ``seegaan prepare``: 1024x1024 16-bit PNG -> 256, with 1 and 2 workers.

Generates its own radiograph-like 16-bit PNGs (smooth anatomy-sized structures plus
quantum noise, so they compress like real ones) in a temporary folder, then runs the full
``prepare`` (table, decode, resize, normalise, memory-mapped write, split, Table 1) with
each worker count. The worker counts alternate in rounds so that load from other jobs on
the machine hits both alike; the best round of each is reported, with the ratio.

Usage::

    python benchmarks/prepare_speed.py                         # 64 images, workers 1 and 2
    python benchmarks/prepare_speed.py --n 32 --rounds 1 --workers 1,2,4
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from seegaan.data.prepare import PrepareOptions, prepare
from seegaan.utils.progress import set_quiet


def make_collection(root: Path, n: int, side: int = 1024, seed: int = 0) -> tuple[Path, Path]:
    """``n`` synthetic 16-bit grey PNGs and a CSV for them."""
    rng = np.random.default_rng(seed)
    images = root / "images"
    images.mkdir(parents=True)
    # One anatomy-like template and one noise field, shifted per image: cheap to make, yet
    # every PNG differs and compresses like a real 12-bit radiograph.
    y, x = np.mgrid[0:side, 0:side].astype(np.float32) / side
    body = np.exp(-(((x - 0.5) / 0.35) ** 2 + ((y - 0.5) / 0.45) ** 2))
    lungs = np.exp(-(((np.abs(x - 0.5) - 0.17) / 0.1) ** 2 + ((y - 0.45) / 0.25) ** 2))
    template = 0.2 + 0.6 * body - 0.35 * lungs
    noise = rng.normal(0, 0.01, (2 * side, 2 * side)).astype(np.float32)
    for i in range(n):
        dy, dx = rng.integers(-40, 40, 2)
        oy, ox = rng.integers(0, side, 2)
        img = np.roll(template, (dy, dx), axis=(0, 1)) + noise[oy:oy + side, ox:ox + side]
        codes = (np.clip(img, 0, 1) * 4095).astype(np.uint16) * 16  # 12-bit detector in 16
        # Fast zlib level for making the files; decoding speed hardly depends on it.
        Image.fromarray(codes).save(images / f"img{i:05d}.png", compress_level=1)
    table = pd.DataFrame({"image_id": [f"img{i:05d}" for i in range(n)],
                          "patient_id": [f"p{i // 2}" for i in range(n)],
                          "age": rng.normal(60, 15, n).round(1)})
    csv = root / "table.csv"
    table.to_csv(csv, index=False)
    return images, csv


def _cpu_seconds() -> float:
    """User + system CPU time of this process and of its finished worker processes."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=64, help="number of 1024x1024 images")
    ap.add_argument("--size", type=int, default=256, help="output size")
    ap.add_argument("--workers", default="1,2", help="comma-separated worker counts to compare")
    ap.add_argument("--rounds", type=int, default=2, help="alternating rounds per worker count")
    args = ap.parse_args()
    set_quiet(True)
    counts = [int(w) for w in args.workers.split(",")]

    with tempfile.TemporaryDirectory(prefix="seegaan-bench-") as tmp:
        root = Path(tmp)
        t = time.perf_counter()
        images, csv = make_collection(root, args.n)
        mb = sum(p.stat().st_size for p in images.iterdir()) / 2**20
        print(f"generated {args.n} PNGs 1024x1024 uint16 ({mb / args.n:.1f} MiB each) "
              f"in {time.perf_counter() - t:.1f} s; CPUs visible: {os.cpu_count()}")
        best: dict[int, float] = {}
        for r in range(args.rounds):
            for w in counts:
                out = root / f"out-{w}-{r}"
                cpu0 = _cpu_seconds()
                t = time.perf_counter()
                prepare(images, csv, out, options=PrepareOptions(size=args.size, workers=w))
                dt = time.perf_counter() - t
                cpu = _cpu_seconds() - cpu0
                rate = args.n / dt
                best[w] = max(best.get(w, 0.0), rate)
                print(f"round {r + 1}  workers={w}: {dt:6.2f} s  {rate:7.1f} images/s  "
                      f"(CPU {1000 * cpu / args.n:5.1f} ms/image, all processes)")
        print(f"\nbest of {args.rounds} round(s), 1024x1024 16-bit PNG -> {args.size}:")
        for w in counts:
            print(f"  workers={w}: {best[w]:7.1f} images/s  "
                  f"({best[w] / best[counts[0]]:.2f}x workers={counts[0]})")
        # Wall-clock speed-up needs idle cores; the load average shows whether there were any.
        print(f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
