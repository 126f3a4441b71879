"""Registered explanation methods: one file per method, one line per method in ``REGISTRY``.

To add a method, write ``explain/methods/<name>.py`` with a :class:`Method` subclass and add
one line below (``"name": "module:Class"``). Entries are imported lazily, so a method whose
optional dependency is missing fails only when it is asked for. Code that is not part of the
package (a user's notebook, a test) calls :func:`register` instead.

Example::

    from seegaan.explain.methods import available, get_method
    for name in available(ctx):
        exp = get_method(name).run(case, ctx)
"""

from __future__ import annotations

import importlib

from seegaan.errors import OptionError
from seegaan.explain.methods.base import (
    ATTRIBUTION,
    SEQUENCE,
    Case,
    Context,
    Explanation,
    Method,
    case_folder,
    load_explanation,
    read_manifest,
    save_explanation,
    write_manifest,
)

# name -> "module:Class", in the order tables and figures show them.
REGISTRY: dict[str, str] = {
    "saliency": "seegaan.explain.methods.saliency:Saliency",
    "gradcam": "seegaan.explain.methods.gradcam:GradCAM",
    "ig": "seegaan.explain.methods.ig:IntegratedGradients",
    "smoothgrad": "seegaan.explain.methods.smoothgrad:SmoothGrad",
    "occlusion": "seegaan.explain.methods.occlusion:Occlusion",
    "seegaan_local": "seegaan.explain.methods.seegaan_local:SeeGaanLocal",
    "seegaan_lambda": "seegaan.explain.methods.seegaan_lambda:SeeGaanLambda",
    "medxgan": "seegaan.explain.methods.medxgan:MedXGANMethod",
    "gvr": "seegaan.explain.methods.gvr:GVR",
}

_EXTRA: dict[str, type[Method]] = {}


def register(cls: type[Method]) -> type[Method]:
    """Register a method class from outside the package (usable as a decorator)."""
    if not getattr(cls, "name", None):
        raise OptionError(f"{cls.__name__}: a method needs a name")
    _EXTRA[cls.name] = cls
    return cls


def unregister(name: str) -> None:
    _EXTRA.pop(name, None)


def names() -> list[str]:
    """Every registered method name, package methods first."""
    return list(REGISTRY) + [n for n in _EXTRA if n not in REGISTRY]


def get_method(name: str) -> Method:
    """A fresh instance of the method called ``name``."""
    if name in _EXTRA:
        return _EXTRA[name]()
    if name not in REGISTRY:
        raise OptionError(f"unknown explanation method {name!r} (choose from {', '.join(names())})")
    module, _, cls = REGISTRY[name].partition(":")
    return getattr(importlib.import_module(module), cls)()


def available(ctx: Context, kind: str | None = None) -> list[str]:
    """The registered methods that can run in ``ctx`` (optionally of one kind)."""
    out = []
    for n in names():
        m = get_method(n)
        if (kind is None or m.kind == kind) and m.unavailable(ctx) is None:
            out.append(n)
    return out


__all__ = ["ATTRIBUTION", "REGISTRY", "SEQUENCE", "Case", "Context", "Explanation", "Method",
           "available", "case_folder", "get_method", "load_explanation", "names",
           "read_manifest", "register", "save_explanation", "unregister", "write_manifest"]
