"""Training-step and inference speed of the autoencoder, fast vs grouped modulated conv.

Measures, in one run and on the same machine state:

- full training steps (D update with R1 every 4th step, joint M/G/E update, EMA) in
  images/s, with the ``fast`` modulated conv (shared conv, scaled activations) and with the
  reference-style ``grouped`` conv (per-sample weights, groups = batch);
- every modulated conv of the generator alone, forward + backward, fast vs grouped: the
  reference's grouped conv is slow where the maps are small and the channels many (4x4, 8x8),
  and close to the shared conv where they are large;
- generator inference (decode of w, no grad) in images/s.

The two paths are interleaved per iteration (fast, grouped, then grouped, fast, ...), each
iteration timed alone, and the report gives the minimum and the median of the N timings per
path: load from other jobs on a shared machine inflates single iterations, and the minimum
(what the code can do) and median (what it typically does) are robust to those bursts, so
the ratios agree with each other instead of contradicting. Usage::

    python benchmarks/train_speed.py                    # demo64, batch 8
    python benchmarks/train_speed.py --preset tiny --iters 4
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np
import pandas as pd
import torch

from seegaan.config import TrainConfig, get_preset
from seegaan.data.prepared import write_prepared
from seegaan.models.autoencoder import Autoencoder
from seegaan.train.loop import Trainer
from seegaan.utils.progress import set_quiet


def make_dataset(root: str, size: int, n: int = 64) -> str:
    rng = np.random.default_rng(0)
    images = np.clip(rng.standard_normal((n, size, size)) * 0.3, -1, 1)
    split = ["train"] * (n - 8) + ["val"] * 8
    index = pd.DataFrame({"image_id": [f"i{i}" for i in range(n)],
                          "patient_id": [f"p{i}" for i in range(n)],
                          "split": split, "source_path": [""] * n})
    write_prepared(root, images, index, {})
    return root


PATHS = ("fast", "grouped")


def interleaved(calls: dict[str, object], iters: int) -> dict[str, np.ndarray]:
    """Seconds of each call, ``iters`` times per path, alternating the order every iteration
    so that neither path always runs right after the other (caches, turbo, other jobs)."""
    times: dict[str, list[float]] = {k: [] for k in calls}
    for i in range(iters):
        for k in (PATHS if i % 2 == 0 else PATHS[::-1]):
            t = time.perf_counter()
            calls[k]()
            times[k].append(time.perf_counter() - t)
    return {k: np.asarray(v) for k, v in times.items()}


def summary(times: dict[str, np.ndarray], per_call: int) -> dict[str, dict[str, float]]:
    """Images/s at the minimum and the median time of the calls of each path."""
    return {k: {"min": per_call / float(v.min()), "median": per_call / float(np.median(v))}
            for k, v in times.items()}


def layer_table(gen: torch.nn.Module, batch: int, reps: int) -> list[tuple[str, float, float]]:
    """``(layer, fast ms, grouped ms)`` for each modulated 3x3 conv, forward + backward: the
    median of ``reps`` interleaved timings."""
    from seegaan.models.modconv import ModulatedConv2d

    rows = []
    for i, block in enumerate(gen.convs):
        res = gen.noise_shapes(1)[i][-1]
        conv = block.conv
        src = res // 2 if conv.upsample else res
        x = torch.randn(batch, conv.in_ch, src, src, requires_grad=True)
        w = torch.randn(batch, conv.affine.weight.shape[1])
        mods = {}
        for impl in PATHS:
            m = ModulatedConv2d(conv.in_ch, conv.out_ch, 3, w.shape[1], upsample=conv.upsample, impl=impl)
            m.load_state_dict(conv.state_dict())
            m(x, w).square().mean().backward()  # warm-up
            mods[impl] = m
        times = interleaved({k: (lambda m=m, x=x, w=w: m(x, w).square().mean().backward())
                             for k, m in mods.items()}, reps)
        ms = {k: float(np.median(v)) * 1e3 for k, v in times.items()}
        name = f"{conv.in_ch}->{conv.out_ch} at {res}x{res}" + (" (up)" if conv.upsample else "")
        rows.append((name, ms["fast"], ms["grouped"]))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="demo64")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--iters", type=int, default=5,
                    help="timed iterations per path (a training iteration is 4 steps: one R1 cycle)")
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    set_quiet(True)
    mc = get_preset(args.preset)
    with tempfile.TemporaryDirectory() as tmp:
        data = make_dataset(f"{tmp}/data", mc.image_size)
        trainers, next_step = {}, {}
        for impl in PATHS:
            cfg = TrainConfig(batch=args.batch, steps=10**6, modconv=impl, val_images=8)
            trainers[impl] = Trainer(data, f"{tmp}/run_{impl}", mc, cfg, device="cpu")
            for s in range(4):  # warm-up (allocator, oneDNN kernels), one whole R1 cycle
                trainers[impl].train_step(s)
            next_step[impl] = 4

        def four_steps(impl: str) -> None:
            # Four steps from an index divisible by 4: R1 in the same share as in training.
            for s in range(next_step[impl], next_step[impl] + 4):
                trainers[impl].train_step(s)
            next_step[impl] += 4

        step_times = interleaved({k: (lambda k=k: four_steps(k)) for k in PATHS}, args.iters)
        ips = summary(step_times, 4 * args.batch)

        # The generator alone, forward + backward at the training batch: the only part of a
        # step that the modulated-conv implementation touches (E and D are plain convs).
        gens = {impl: Autoencoder(mc, impl=impl).generator for impl in PATHS}
        gens["grouped"].load_state_dict(gens["fast"].state_dict())  # same weights, same maths
        wb = torch.randn(args.batch, mc.w_dim)
        for impl in PATHS:
            gens[impl](wb).square().mean().backward()  # warm-up
        g_times = interleaved({k: (lambda g=g: g(wb).square().mean().backward())
                               for k, g in gens.items()}, 4 * args.iters)
        g_ips = summary(g_times, args.batch)

        layers = layer_table(gens["fast"], args.batch, reps=max(3, 2 * args.iters))

        ae = Autoencoder(mc).eval()
        w = torch.randn(32, mc.w_dim)
        with torch.no_grad():
            ae.generator(w[:4])
            t = time.perf_counter()
            reps = 3
            for _ in range(reps):
                ae.generator(w)
            gen_ips = reps * len(w) / (time.perf_counter() - t)

    print(f"preset {args.preset}, batch {args.batch}, torch threads {torch.get_num_threads()}, "
          f"{args.iters} interleaved iterations of 4 steps per path")
    print(f"{'':32s}{'min-of-N':>12s}{'median':>12s}   (images/s)")
    for label, res in (("training step", ips), ("generator fwd+bwd", g_ips)):
        for impl in PATHS:
            print(f"{label + ', ' + impl:32s}{res[impl]['min']:12.2f}{res[impl]['median']:12.2f}")
        print(f"{label + ', fast / grouped':32s}{res['fast']['min'] / res['grouped']['min']:11.2f}x"
              f"{res['fast']['median'] / res['grouped']['median']:11.2f}x")
    print(f"generator inference (fast):     {gen_ips:8.1f} images/s")
    print("modulated 3x3 convs, forward + backward (ms):")
    for name, f, g in layers:
        print(f"  {name:26s} fast {f:7.2f}  grouped {g:7.2f}  grouped/fast {g / f:5.2f}x")
    # A step runs G forward + backward twice (fake and reconstruction branch), so this is
    # the grouped path's modconv time per step; if the fast path made it free, the step could
    # not get faster than this bound (Amdahl).
    step_ms = 1e3 * args.batch / ips["grouped"]["median"]
    mod_ms = 2 * sum(g for _, _, g in layers)
    if mod_ms < step_ms:
        print(f"grouped step {step_ms:.0f} ms, of which modulated 3x3 convs ~{mod_ms:.0f} ms: "
              f"a free modconv would give at most {step_ms / (step_ms - mod_ms):.2f}x")
    else:
        print(f"grouped step {step_ms:.0f} ms; modulated 3x3 convs timed alone ~{mod_ms:.0f} ms")


if __name__ == "__main__":
    main()
