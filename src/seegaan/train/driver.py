"""The skeleton every seegaan training loop shares: steps, logging, Ctrl-C, final save.

``seegaan train`` (:mod:`seegaan.train.loop`) and ``seegaan medxgan train``
(:mod:`seegaan.medxgan.train`) differ in what one step does and in what they validate and
save, not in how the loop around them behaves. That loop lives here once:

- ``trainer.train_step(step)`` on every process, then ``trainer.step += 1``;
- on the main process only: the progress bar, a ``phase: "train"`` line in ``metrics.jsonl``
  every ``log_every`` steps (the means of the step statistics and images per second), then
  ``periodic(final)``, the trainer's own validation / samples / checkpoints;
- the first Ctrl-C (on any process) lets every process finish the step; the main process
  then calls ``save()`` and the loop raises ``KeyboardInterrupt``. A second Ctrl-C
  interrupts at once.

Example::

    run_steps(trainer, desc="train", periodic=trainer.after_step, save=trainer.save_state)
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

from seegaan.train import distributed as ddist
from seegaan.utils.progress import progress

logger = logging.getLogger(__name__)


class Steppable(Protocol):
    step: int                      # steps done so far (the driver advances it)
    cfg: Any                       # needs .steps, .batch and .log_every
    dist: ddist.DistInfo

    def train_step(self, step: int) -> dict[str, float]: ...

    def _log(self, record: dict[str, Any]) -> None: ...


class StopFlag:
    """First Ctrl-C asks the loop to finish its step and save; a second one interrupts at once."""

    def __init__(self) -> None:
        self.requested = False
        self._old = None

    def _handler(self, signum, frame) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        logger.warning("interrupt: finishing this step and saving a resumable state")

    def __enter__(self) -> StopFlag:
        if threading.current_thread() is threading.main_thread():
            self._old = signal.signal(signal.SIGINT, self._handler)
        return self

    def __exit__(self, *exc) -> None:
        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)


def run_steps(trainer:  Steppable,
              desc:     str,                                       # progress-bar label
              periodic: Callable[[bool], dict[str, str] | None],   # main only, after the log line
              save:     Callable[[], None],                        # resumable state (on Ctrl-C)
              postfix:  Callable[[dict[str, float]], dict[str, str] | None] | None = None,
              ) -> None:
    """Train ``trainer`` from ``trainer.step`` to ``trainer.cfg.steps`` (see the module docstring).

    ``periodic(final)`` and ``postfix(stats)`` may return a dict shown on the progress bar.
    """
    cfg, main = trainer.cfg, trainer.dist.is_main
    stop = StopFlag()
    acc: dict[str, list[float]] = {}
    bar = progress(total=cfg.steps, desc=desc, unit="step", initial=trainer.step) if main else None
    t0, n0 = time.perf_counter(), trainer.step
    try:
        with stop:
            while trainer.step < cfg.steps:
                stats = trainer.train_step(trainer.step)
                trainer.step += 1
                for k, v in stats.items():
                    acc.setdefault(k, []).append(v)
                if bar is not None:
                    bar.update(1)
                    shown = postfix(stats) if postfix is not None else None
                    if shown:
                        bar.set_postfix(shown)
                final = trainer.step == cfg.steps
                if main:
                    if trainer.step % cfg.log_every == 0 or final:
                        dt = time.perf_counter() - t0
                        trainer._log({"step": trainer.step, "phase": "train",
                                      **{k: float(np.mean(v)) for k, v in acc.items()},
                                      "img_per_s": (trainer.step - n0) * cfg.batch / max(dt, 1e-9)})
                        acc, t0, n0 = {}, time.perf_counter(), trainer.step
                    shown = periodic(final)
                    if shown and bar is not None:
                        bar.set_postfix(shown)
                # Every process takes part in this collective, so all of them stop together.
                if ddist.any_flag(stop.requested, trainer.dist):
                    if main:
                        save()
                    raise KeyboardInterrupt
    finally:
        if bar is not None:
            bar.close()
