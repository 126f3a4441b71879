"""How much memory (and spool disk) a sequence run needs, estimated before it starts.

A run that would exceed what the machine has is refused up front with the estimate and the
option to change, instead of growing until the kernel kills it (or, for ``--frames 10**9``,
failing with a bare MemoryError). The permutation null is streamed (see
:class:`seegaan.stats.NullStream`), so memory grows with frames × pixels, not with B;
``maxt`` adds a spool file of B × frames × pixels float32 on disk.

Example::

    est = estimate_sequence(frames=10, image_size=64, w_dim=512, rows=400, permutations=1000,
                            batch_size=256, correction="maxt")
    check_budget(est)      # raises OptionError when it does not fit
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass

from seegaan.errors import OptionError

# Peak activation bytes of one decoded frame, per output pixel: the widest synthesis maps
# at full resolution hold ~64 float32 channels, two of them alive at once (measured
# architecture of demo64: 32 channels at 64², 64 at 32²; a generous round figure).
ACTIVATION_BYTES_PER_PIXEL = 64 * 4 * 2
# Leave this share of the available memory to everything else (Python, torch, the model).
HEADROOM = 0.8


@dataclass(frozen=True)
class Estimate:
    memory_bytes: int      # peak resident memory of the sequence + test
    disk_bytes: int        # spool file of the maxt null maps (0 otherwise)
    parts: dict            # what each part costs, bytes

    def text(self) -> str:
        return ", ".join(f"{k} {_gb(v)}" for k, v in self.parts.items() if v)


def _gb(n: float) -> str:
    return f"{n / 1e9:.3g} GB" if n >= 1e8 else f"{n / 1e6:.3g} MB"


def estimate_sequence(frames: int, image_size: int, w_dim: int, rows: int, permutations: int,
                      batch_size: int, correction: str) -> Estimate:
    """Peak memory and spool disk of one sequence with its permutation test."""
    px = int(image_size) ** 2
    frames, b = int(frames), max(int(permutations), 0)
    per_chunk = max(1, int(batch_size) // max(frames - 1, 1)) if b else 0
    chunk_frames = min(b, per_chunk) * frames
    parts = {
        # path (float64 while built, float32 kept), frames, diffs, the masked copy
        "path": frames * w_dim * 12,
        "frames": frames * px * 4 * 3,
        # per-element counters and maxt sums, the p-value maps and the significance mask
        "test maps": (frames * px * (8 + 8 + 8 + 8 + 1)) if b else 0,
        "permuted paths": chunk_frames * w_dim * 12 + per_chunk * rows * 8,
        "decode batch": min(int(batch_size), max(frames, chunk_frames)) * px
        * ACTIVATION_BYTES_PER_PIXEL,
        "decoded null": chunk_frames * px * 4 * 3,
    }
    disk = b * max(frames - 1, 0) * px * 4 if (b and correction == "maxt") else 0
    return Estimate(int(sum(parts.values())), int(disk), parts)


def available_memory() -> int | None:
    """Bytes the kernel says a new allocation can use (MemAvailable), None if unknown."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


def check_budget(est: Estimate, memory: int | None = None, disk: int | None = None) -> None:
    """Refuse (one line, naming the options) a run that does not fit this machine."""
    memory = available_memory() if memory is None else memory
    if memory is not None and est.memory_bytes > HEADROOM * memory:
        raise OptionError(
            f"--frames/--permutations/--batch-size: this run needs about "
            f"{_gb(est.memory_bytes)} of memory ({est.text()}) but {_gb(memory)} is available; "
            "lower --frames or --batch-size")
    if est.disk_bytes:
        disk = shutil.disk_usage(tempfile.gettempdir()).free if disk is None else disk
        if est.disk_bytes > HEADROOM * disk:
            raise OptionError(
                f"--correction maxt: spooling the null maps needs {_gb(est.disk_bytes)} in "
                f"{tempfile.gettempdir()} but {_gb(disk)} is free; lower --permutations or "
                "--frames, or set TMPDIR to a larger disk")
