"""Load what the viewer needs and serve it with uvicorn (``seegaan view``).

:func:`load_viewer` turns the command's paths into a :class:`~seegaan.view.session.Viewer`;
:func:`bind` opens the listening socket first (so a taken port fails at once, with one line,
and port 0 picks a free one); :func:`serve` runs uvicorn on it, in the foreground or in a
thread (tests, the latency benchmark).

Example::

    viewer = load_viewer("runs/ae/best", "latents.parquet", model="runs/cnn")
    sock = bind("127.0.0.1", 0)
    server, thread = serve(viewer, sock, background=True)
"""

from __future__ import annotations

import ipaddress
import logging
import os
import socket
import threading
import time
from pathlib import Path
from typing import Any

from seegaan.errors import OptionError
from seegaan.view.session import Viewer

logger = logging.getLogger("seegaan.view")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def load_viewer(checkpoint: str | os.PathLike, latents: str | os.PathLike, *,
                model=None, benchmark: str | os.PathLike | None = None,
                data_dir: str | None = None, split: str = "test", target: str = "bnpp",
                threshold: float = 400.0, log_scale: bool = True) -> Viewer:
    """Load the autoencoder, the latent table and (optionally) the model into a Viewer.

    ``model`` is a loaded :class:`~seegaan.explain.ExplainableModel` or a spec for
    :func:`~seegaan.explain.load_model`; ``benchmark`` a run holding stored explanations.
    """
    import seegaan
    from seegaan.latent import load_latents

    ae = seegaan.load_autoencoder(checkpoint)
    table = load_latents(latents)
    explainable = None
    if isinstance(model, (str, os.PathLike)):
        from seegaan.explain import load_model

        explainable = load_model(model)
    elif model is not None:
        explainable = model
    prep = _prepare_options(data_dir or table.info.get("data_dir"))
    viewer = Viewer(ae, table, explainable, data_dir=data_dir, split=split, target=target,
                    threshold=threshold, log_scale=log_scale, prepare_options=prep,
                    stored=benchmark)
    return viewer


def _prepare_options(data_dir: str | None) -> dict[str, Any]:
    """The fit and clipping the films were prepared with, so uploads match them."""
    if not data_dir:
        return {}
    from seegaan.utils.fsio import read_json

    path = Path(data_dir) / "prepare.json"
    try:
        opts = read_json(path)
    except Exception:  # no prepare.json (a table of another origin): the defaults apply
        return {}
    clip = opts.get("clip_percentiles")
    return {"fit": opts.get("fit", "crop"),
            "clip_percentiles": tuple(clip) if clip else None}


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (port 0: any free port)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), int(port)))
    except OSError as err:
        sock.close()
        raise OptionError(f"--host {host} --port {port}: cannot listen there ({err.strerror})") from None
    sock.listen(64)
    sock.set_inheritable(True)
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    return f"http://{'[' + shown + ']' if ':' in shown else shown}:{port}/"


def _warm(viewer: Viewer) -> None:
    try:
        viewer.warm()
    except Exception as err:  # a film that cannot load shows its error when asked for
        logger.warning("viewer warm-up failed: %s", err)


def serve(viewer: Viewer, sock: socket.socket, background: bool = False,
          local_only: bool | None = None, warm: bool = True):
    """Run the app on ``sock``; with ``background`` returns (server, thread) once it listens.

    ``warm`` runs :meth:`Viewer.warm` in a thread, so the first slider move is not slowed by
    one-off costs."""
    import uvicorn

    from seegaan.view.app import create_app

    host = sock.getsockname()[0]
    local = is_loopback(host) if local_only is None else local_only
    app = create_app(viewer, local_only=local)
    # No server/date headers, no access log, no reload, no colours: a quiet local tool.
    config = uvicorn.Config(app, log_level="warning", access_log=False, server_header=False,
                            date_header=False, lifespan="off", use_colors=False)
    server = uvicorn.Server(config)
    if warm:
        # After the socket listens: the page answers at once while the first decode runs.
        threading.Thread(target=_warm, args=(viewer,), daemon=True).start()
    if not background:
        server.run(sockets=[sock])
        return server, None
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.02)
    return server, thread
