"""Training-step and inference speed of the autoencoder, fast vs grouped modulated conv.

Measures, in one run and on the same machine state:

- full training steps (D update with R1 every 4th step, joint M/G/E update, EMA) in
  images/s, with the ``fast`` modulated conv (shared conv, scaled activations) and with the
  reference-style ``grouped`` conv (per-sample weights, groups = batch);
- every modulated conv of the generator alone, forward + backward, fast vs grouped: the
  reference's grouped conv is slow where the maps are small and the channels many (4x4, 8x8),
  and close to the shared conv where they are large;
- generator inference (decode of w, no grad) in images/s.

The two paths alternate in rounds so that load from other jobs on the machine hits both
equally. Usage::

    python benchmarks/train_speed.py                    # demo64, batch 8
    python benchmarks/train_speed.py --preset tiny --steps 4 --rounds 1
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


def time_steps(trainer: Trainer, start: int, steps: int) -> float:
    """Seconds for ``steps`` training steps (starting at a step index divisible by 4, so R1 is
    included in the same proportion as in real training)."""
    t = time.perf_counter()
    for s in range(start, start + steps):
        trainer.train_step(s)
    return time.perf_counter() - t


def layer_table(gen: torch.nn.Module, batch: int, reps: int) -> list[tuple[str, float, float]]:
    """``(layer, fast ms, grouped ms)`` for each modulated 3x3 conv, forward + backward."""
    from seegaan.models.modconv import ModulatedConv2d

    rows = []
    for i, block in enumerate(gen.convs):
        res = gen.noise_shapes(1)[i][-1]
        conv = block.conv
        src = res // 2 if conv.upsample else res
        x = torch.randn(batch, conv.in_ch, src, src, requires_grad=True)
        w = torch.randn(batch, conv.affine.weight.shape[1])
        ms = {}
        for impl in ("fast", "grouped"):
            m = ModulatedConv2d(conv.in_ch, conv.out_ch, 3, w.shape[1], upsample=conv.upsample, impl=impl)
            m.load_state_dict(conv.state_dict())
            m(x, w).square().mean().backward()  # warm-up
            t = time.perf_counter()
            for _ in range(reps):
                m(x, w).square().mean().backward()
            ms[impl] = (time.perf_counter() - t) / reps * 1e3
        name = f"{conv.in_ch}->{conv.out_ch} at {res}x{res}" + (" (up)" if conv.upsample else "")
        rows.append((name, ms["fast"], ms["grouped"]))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="demo64")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--steps", type=int, default=8, help="timed steps per round and path (multiple of 4)")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    set_quiet(True)
    mc = get_preset(args.preset)
    with tempfile.TemporaryDirectory() as tmp:
        data = make_dataset(f"{tmp}/data", mc.image_size)
        trainers = {}
        for impl in ("fast", "grouped"):
            cfg = TrainConfig(batch=args.batch, steps=10**6, modconv=impl, val_images=8)
            trainers[impl] = Trainer(data, f"{tmp}/run_{impl}", mc, cfg, device="cpu")
            time_steps(trainers[impl], 0, 2)  # warm-up (allocator, oneDNN kernels)
        secs = {"fast": 0.0, "grouped": 0.0}
        for r in range(args.rounds):
            for impl in ("fast", "grouped"):
                secs[impl] += time_steps(trainers[impl], 4 + r * args.steps, args.steps)
        n_img = args.rounds * args.steps * args.batch
        ips = {k: n_img / v for k, v in secs.items()}

        # The generator alone, forward + backward at the training batch: the only part of a
        # step that the modulated-conv implementation touches (E and D are plain convs).
        g_secs = {"fast": 0.0, "grouped": 0.0}
        gens = {impl: Autoencoder(mc, impl=impl).generator for impl in ("fast", "grouped")}
        gens["grouped"].load_state_dict(gens["fast"].state_dict())  # same weights, same maths
        wb = torch.randn(args.batch, mc.w_dim)
        for impl in ("fast", "grouped"):
            gens[impl](wb).square().mean().backward()  # warm-up
        for _ in range(args.rounds):
            for impl in ("fast", "grouped"):
                t = time.perf_counter()
                for _ in range(args.steps):
                    gens[impl](wb).square().mean().backward()
                g_secs[impl] += time.perf_counter() - t
        g_ips = {k: args.rounds * args.steps * args.batch / v for k, v in g_secs.items()}

        layers = layer_table(gens["fast"], args.batch, reps=max(2, args.steps))

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
          f"{n_img} images per path")
    print(f"training step, fast modconv:    {ips['fast']:8.2f} images/s")
    print(f"training step, grouped modconv: {ips['grouped']:8.2f} images/s")
    print(f"fast / grouped:                 {ips['fast'] / ips['grouped']:8.2f}x")
    print(f"generator fwd+bwd, fast:        {g_ips['fast']:8.2f} images/s")
    print(f"generator fwd+bwd, grouped:     {g_ips['grouped']:8.2f} images/s")
    print(f"generator fast / grouped:       {g_ips['fast'] / g_ips['grouped']:8.2f}x")
    print(f"generator inference (fast):     {gen_ips:8.1f} images/s")
    print("modulated 3x3 convs, forward + backward (ms):")
    for name, f, g in layers:
        print(f"  {name:26s} fast {f:7.2f}  grouped {g:7.2f}  grouped/fast {g / f:5.2f}x")
    # A step runs G forward + backward twice (fake and reconstruction branch), so this is
    # the grouped path's modconv time per step; if the fast path made it free, the step could
    # not get faster than this bound (Amdahl).
    step_ms = 1e3 * args.batch / ips["grouped"]
    mod_ms = 2 * sum(g for _, _, g in layers)
    if mod_ms < step_ms:
        print(f"grouped step {step_ms:.0f} ms, of which modulated 3x3 convs ~{mod_ms:.0f} ms: "
              f"a free modconv would give at most {step_ms / (step_ms - mod_ms):.2f}x")
    else:
        print(f"grouped step {step_ms:.0f} ms; modulated 3x3 convs timed alone ~{mod_ms:.0f} ms")


if __name__ == "__main__":
    main()
