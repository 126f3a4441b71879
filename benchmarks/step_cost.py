"""What one autoencoder training step costs: FLOPs per image, and CPU seconds per kimg.

Counts the floating-point operations of four whole training steps (one R1 cycle: the
discriminator update with R1 on the fourth, the joint mapping/generator/encoder update, EMA)
with torch's FLOP formulas (``torch.utils.flop_counter``) on a real :class:`seegaan.train.loop.Trainer`,
times the same steps on this machine, and prints per preset:

- GFLOP per training image (one image through one step, every network and pass included);
- measured CPU seconds per kimg (1,000 training images) on this machine;
- the seconds per kimg that a device sustaining a given TFLOP/s would need (the arithmetic
  FLOPs ÷ rate, printed for a few rates), so that a GPU's time per kimg can be read off once
  its sustained rate on these convolutions is known. The rates are inputs, not measurements:
  say so wherever one is quoted.

The FLOP counter counts matrix multiplications and convolutions (forward, backward and the
double backward of R1) as 2 × multiply-adds; elementwise work is left out, so the counts are a
floor. Usage::

    python benchmarks/step_cost.py                      # demo64 and paper256, batch 4
    python benchmarks/step_cost.py --preset paper256 --batch 2 --steps 4
"""

from __future__ import annotations

import argparse
import tempfile
import time

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import flop_registry

# The same random-pixel dataset as the training-speed benchmark (a script beside this one).
from train_speed import make_dataset

from seegaan.config import TrainConfig, get_preset
from seegaan.train.loop import Trainer
from seegaan.utils.progress import set_quiet

RATES_TFLOPS = (10.0, 30.0, 100.0)


class FlopCount(TorchDispatchMode):
    """Sums torch's FLOP formulas over every op dispatched inside it. ``FlopCounterMode``
    itself cannot be used: its per-module hooks fail inside ``autograd.grad``, which R1's
    gradient penalty calls."""

    def __init__(self) -> None:
        super().__init__()
        self.total = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        formula = flop_registry.get(func._overloadpacket)
        if formula is not None:
            self.total += formula(*args, **kwargs, out_val=out)
        return out


def step_cost(preset: str, batch: int, steps: int) -> dict[str, float]:
    """FLOPs per image and CPU seconds per image of ``steps`` training steps (a multiple of 4,
    so R1 runs in the same share as in training)."""
    mc = get_preset(preset)
    with tempfile.TemporaryDirectory() as tmp:
        data = make_dataset(f"{tmp}/data", mc.image_size)
        trainer = Trainer(data, f"{tmp}/run", mc, TrainConfig(batch=batch, steps=10**6,
                                                              val_images=4), device="cpu")
        for s in range(4):  # warm-up: allocator, oneDNN kernels, one R1 cycle
            trainer.train_step(s)
        counter = FlopCount()
        with counter:
            for s in range(4, 8):
                trainer.train_step(s)
        flops = counter.total / (4 * batch)
        t = time.perf_counter()
        for s in range(8, 8 + steps):
            trainer.train_step(s)
        sec = (time.perf_counter() - t) / (steps * batch)
    return {"gflop_per_image": flops / 1e9, "cpu_s_per_kimg": sec * 1000}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", action="append", help="preset(s) (default: demo64, paper256)")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--steps", type=int, default=8, help="timed steps (a multiple of 4)")
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args()
    if args.steps % 4:
        ap.error("--steps must be a multiple of 4 (one R1 cycle)")
    if args.threads:
        torch.set_num_threads(args.threads)
    set_quiet(True)
    presets = args.preset or ["demo64", "paper256"]
    print(f"batch {args.batch}, {args.steps} timed steps, torch threads {torch.get_num_threads()}")
    head = "".join(f"{f'at {r:g} TFLOP/s':>16s}" for r in RATES_TFLOPS)
    print(f"{'preset':10s}{'GFLOP/image':>13s}{'CPU s/kimg':>13s}{head}   (s/kimg)")
    for preset in presets:
        c = step_cost(preset, args.batch, args.steps)
        at = "".join(f"{c['gflop_per_image'] * 1e9 * 1000 / (r * 1e12):16.2f}"
                     for r in RATES_TFLOPS)
        print(f"{preset:10s}{c['gflop_per_image']:13.2f}{c['cpu_s_per_kimg']:13.0f}{at}")


if __name__ == "__main__":
    main()
