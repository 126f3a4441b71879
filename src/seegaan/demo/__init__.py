"""``seegaan demo``: the whole SEE-GAAN study on the built-in virtual cohort, in one call.

Ten stages (see :mod:`seegaan.demo.stages`) write one run directory, which appears only
when every stage has finished; it ends with ``report.html``.

Example::

    from seegaan.demo import DemoConfig, run_demo
    report = run_demo(DemoConfig.make("runs/demo", quick=True), echo=print)
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from seegaan.demo.config import DemoConfig
from seegaan.errors import OptionError
from seegaan.utils.fsio import atomic_dir, check_output, write_json
from seegaan.utils.renamed import renamed_keywords

__all__ = ["DemoConfig", "run_demo"]


def _check_writable(out: Path) -> None:
    """Fail in a second, not after ten minutes, when ``out`` cannot be created."""
    parent = out.absolute().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=f".{out.name}.probe.", dir=parent):
            pass
    except OSError as err:
        raise OptionError(f"--out {out}: cannot write here ({err.strerror or err})") from None


def _relocate(tmp: Path, final: Path) -> None:
    """Rewrite absolute paths that stages recorded inside the temporary folder.

    Stages note where their inputs came from (``prepare.json`` → the cohort images, the CNN's
    ``config.json`` → the data). Those paths point into the temporary folder until it is
    renamed, so they are rewritten to the final location just before the rename.
    """
    olds = sorted({str(tmp), str(tmp.resolve())}, key=len, reverse=True)
    new = str(final.absolute())
    for path in tmp.rglob("*"):
        if path.suffix not in (".json", ".jsonl", ".md", ".html", ".csv") or not path.is_file():
            continue
        if path.name == "cohort.csv" or path.parent.name == "images":
            continue
        text = path.read_text(errors="surrogateescape")
        changed = text
        for old in olds:
            changed = changed.replace(old, new)
        if changed != text:
            path.write_text(changed, errors="surrogateescape")


@renamed_keywords(log="echo")
def run_demo(cfg: DemoConfig, echo: Callable[[str], None] | None = None,
             overwrite: bool = False) -> Path:
    """Run every stage into ``cfg.out`` (atomically) and return the path of ``report.html``.

    An existing ``cfg.out`` is refused before any work unless ``overwrite``; it is replaced
    only once the new run has finished.
    """
    import torch

    from seegaan.demo import stage_gvr, stages
    from seegaan.report import build_report

    say = echo or (lambda _line: None)
    cfg.check()
    final = Path(cfg.out)
    check_output(final, overwrite)
    _check_writable(final)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    # Load the checkpoint before rendering anything: a missing or mismatched one fails now.
    ae = None if cfg.train else stages.load_checkpoint(cfg)
    stages.resolve_cohort_version(cfg, ae)

    t_all = time.perf_counter()
    with atomic_dir(final, overwrite=overwrite) as tmp:
        run = stages.DemoRun(cfg, tmp.absolute(), final.absolute(), say, ae=ae)
        write_json(tmp / "demo.json", stages.record(run))  # the options, even if a stage fails

        def announce(k: int, title: str) -> None:
            say(f"[{k}/{stages.N_STAGES}] {title}")

        steps = [
            (1, stages.render_cohort_stage), (2, stages.prepare_stage),
            (3, stages.autoencoder_stage), (4, stages.encode_stage), (5, stages.global_stage),
            (6, stages.local_stage), (7, stages.cnn_stage),
        ]
        for k, fn in steps:
            key, title = stages.STAGES[k - 1]
            announce(k, title)
            t0 = time.perf_counter()
            fn(run)
            run.timings[f"{k} {key}"] = time.perf_counter() - t0
        announce(8, stages.STAGES[7][1])
        stages.explain_stage(run, announce)
        announce(10, stages.STAGES[9][1])
        t0 = time.perf_counter()
        stages.truth_stage(run)
        run.timings["10 truth"] = time.perf_counter() - t0
        announce(11, stages.STAGES[10][1])
        t0 = time.perf_counter()
        stage_gvr.gvr_stage(run)
        run.timings["11 gvr"] = time.perf_counter() - t0
        from seegaan.demo.stage_medxgan import medxgan_stage
        announce(12, stages.STAGES[11][1])
        t0 = time.perf_counter()
        medxgan_stage(run)
        run.timings["12 medxgan"] = time.perf_counter() - t0
        from seegaan.demo.stage_benchmark import benchmark_stage
        announce(13, stages.STAGES[12][1])
        t0 = time.perf_counter()
        benchmark_stage(run)
        run.timings["13 benchmark"] = time.perf_counter() - t0
        run.timings["total"] = time.perf_counter() - t_all
        write_json(tmp / "demo.json", stages.record(run))
        title = "SEE-GAAN demo" + (" (quick)" if cfg.quick else "")
        build_report(tmp, title=title)
        _relocate(tmp, final)
    say(f"done in {time.perf_counter() - t_all:.0f} s")
    return final / "report.html"

