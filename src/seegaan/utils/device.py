"""Turning a ``--device`` string into a usable :class:`torch.device`, or a one-line error.

``torch.device("banana")`` raises a RuntimeError, and ``torch.device("cuda:7")`` succeeds
and fails later, deep inside the first ``.to()``. Both are user errors and are reported as
such before any model is built.

Example::

    dev = resolve_device("cuda")     # OptionError on a machine without a GPU
"""

from __future__ import annotations

import torch

from seegaan.errors import OptionError


def resolve_device(spec: str | torch.device, option: str = "--device") -> torch.device:
    """Parse and check ``spec`` (``cpu``, ``cuda``, ``cuda:1``, ``mps``)."""
    if isinstance(spec, torch.device):
        dev = spec
    else:
        try:
            dev = torch.device(str(spec))
        except (RuntimeError, ValueError, TypeError):
            raise OptionError(f"{option} {spec}: not a torch device (try cpu or cuda)") from None
    if dev.type == "cuda":
        n = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if n == 0:
            raise OptionError(f"{option} {spec}: no CUDA GPU is available here (use cpu)")
        if dev.index is not None and dev.index >= n:
            raise OptionError(f"{option} {spec}: no such GPU (this machine has {n}: "
                              f"cuda:0..cuda:{n - 1})")
    elif dev.type == "mps":
        if not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
            raise OptionError(f"{option} {spec}: MPS is not available here (use cpu)")
    elif dev.type != "cpu":
        raise OptionError(f"{option} {spec}: unsupported device type (use cpu, cuda or mps)")
    return dev
