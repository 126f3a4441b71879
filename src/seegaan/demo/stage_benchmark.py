"""Demo stage: ``seegaan benchmark`` on the demo's autoencoder (``benchmark/``).

Every registered explanation method on the benchmark's models of known reliance, scored
against interventional truth (:mod:`seegaan.validate.benchmark`). Its share of the demo is
kept small: the full demo explains 50 subjects with the pixel methods and the first 8 with
the decoder-bound SEE-GAAN sequences; ``--quick`` uses the benchmark's own quick sizes.
"""

from __future__ import annotations

from typing import Any

SEQUENCE_SUBJECTS = {False: 8, True: 2}   # full demo, quick demo


def benchmark_stage(run: Any) -> None:
    import dataclasses

    from seegaan.validate.benchmark import BenchmarkConfig, run_benchmark

    cfg = run.cfg
    # At the demo's own size, so the demo's autoencoder can serve the SEE-GAAN methods.
    base = BenchmarkConfig.make(quick=cfg.quick)
    bcfg = BenchmarkConfig.make(quick=cfg.quick, sequence_subjects=SEQUENCE_SUBJECTS[cfg.quick],
                                seed=cfg.seed + 1000, size=cfg.size,
                                models=dataclasses.replace(base.models, size=cfg.size))
    s = run_benchmark(run.root / "benchmark", bcfg, autoencoder=run.ae,
                      echo=lambda line: run.say("      " + line))
    short = s["shortcut_test"]
    run.notes["benchmark"] = {"true_device_dy": s["true_device_dy"], "shortcut_test": short,
                              "timings_s": s["timings_s"]}
    run.say(f"      shortcut model: true device Δŷ {s['true_device_dy']['shortcut']:+.3f}; "
            f"device ranked 1st/2nd by {', '.join(short['ranks_device_on_shortcut']) or 'no method'}"
            f" (also 1st on the reference: {', '.join(short['device_first_on_reference']) or 'none'})")
