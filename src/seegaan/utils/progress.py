"""Progress bars for long work (tqdm), silenced with ``SEEGAAN_NO_PROGRESS=1`` or ``quiet()``."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any, TypeVar

from tqdm.auto import tqdm

T = TypeVar("T")
_QUIET = False


def set_quiet(value: bool = True) -> None:
    """Turn every progress bar off (tests, ``--quiet``)."""
    global _QUIET
    _QUIET = value


def progress(iterable: Iterable[T] | None = None, desc: str = "", total: int | None = None,
             unit: str = "it", **kwargs: Any) -> tqdm:
    """A tqdm bar on stderr that respects the global quiet switch.

    Example::

        for batch in progress(loader, desc="encode", unit="batch"):
            ...
    """
    disable = _QUIET or os.environ.get("SEEGAAN_NO_PROGRESS", "") not in ("", "0")
    return tqdm(iterable, desc=desc, total=total, unit=unit, disable=disable,
                dynamic_ncols=True, leave=kwargs.pop("leave", False), **kwargs)
