"""``seegaan view``: a local web viewer to slide a film along a feature or λ, live.

The core (:class:`~seegaan.view.session.Viewer`, :mod:`~seegaan.view.uploads`) needs only
the base install; the web app needs the optional extra ``pip install 'seegaan[viewer]'``
(Starlette and uvicorn), imported only when the server starts.

Example::

    from seegaan.view import load_viewer, bind, serve
    viewer = load_viewer("runs/ae/best", "latents.parquet", model="runs/cnn")
    serve(viewer, bind("127.0.0.1", 8765))
"""

from seegaan.view.server import bind, is_loopback, load_viewer, serve, url_of
from seegaan.view.session import Viewer

EXTRA_MODULES = ("starlette", "uvicorn")


def missing_extra() -> str | None:
    """The first module of the ``viewer`` extra that cannot be imported, or None."""
    import importlib

    for name in EXTRA_MODULES:
        try:
            importlib.import_module(name)
        except ImportError:
            return name
    return None


__all__ = ["EXTRA_MODULES", "Viewer", "bind", "is_loopback", "load_viewer", "missing_extra",
           "serve", "url_of"]
