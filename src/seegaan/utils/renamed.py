"""Old keyword names kept working for one release after a rename, with a DeprecationWarning.

Renames (e.g. ``log`` -> ``echo`` for progress callbacks, ``log`` -> ``log_scale`` for the
log-scale switch) would otherwise break a user's script without warning. Remove an entry one
release after it was added.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])
C = TypeVar("C", bound=type)


def renamed_keywords(**old_to_new: str) -> Callable[[F], F]:
    """Decorator: ``fn(old=x)`` works as ``fn(new=x)`` and warns; passing both is a TypeError."""
    def wrap(fn: F) -> F:
        @functools.wraps(fn)
        def inner(*args: Any, **kwargs: Any) -> Any:
            for old, new in old_to_new.items():
                if old in kwargs:
                    if new in kwargs:
                        raise TypeError(f"{fn.__qualname__}: pass {new}= only ({old}= is its old name)")
                    warnings.warn(f"{fn.__qualname__}: keyword {old}= is deprecated, use {new}=",
                                  DeprecationWarning, stacklevel=2)
                    kwargs[new] = kwargs.pop(old)
            return fn(*args, **kwargs)
        return inner  # type: ignore[return-value]
    return wrap


def renamed_fields(**old_to_new: str) -> Callable[[C], C]:
    """Class decorator for dataclasses: the old field names still work as constructor keywords."""
    def wrap(cls: C) -> C:
        cls.__init__ = renamed_keywords(**old_to_new)(cls.__init__)  # type: ignore[misc]
        return cls
    return wrap


def upgrade_keys(record: dict[str, Any], **old_to_new: str) -> dict[str, Any]:
    """A copy of a JSON record written by an older version, with its renamed keys updated."""
    out = dict(record)
    for old, new in old_to_new.items():
        if old in out and new not in out:
            out[new] = out.pop(old)
    return out


def artefact_type(summary: dict[str, Any]) -> str | None:
    """What a ``summary.json`` describes ("explain", "benchmark", "gvr", ...).

    The key was ``kind`` before it became ``artefact`` (``kind`` now means only an
    explanation method's family, attribution or sequence), so both are read.
    """
    value = summary.get("artefact", summary.get("kind"))
    return value if isinstance(value, str) else None
