"""The viewer's web app: one static page and a small JSON API over a :class:`Viewer`.

Starlette (with uvicorn as the server) because it is small, has no telemetry and no CDN
assets to switch off, and lets the page be one hand-written HTML file (see docs/viewer.md).

Routes (all GET unless noted; every answer is JSON except the page, its two static files
and the exports)::

    /                       the page
    /static/viewer.js|.css  its script and style (a fixed list; no file system lookups)
    /api/info               image size, features, model, threshold
    /api/films?q=&limit=    search films by id
    /api/film/{id}          one film: clinical row, image, reconstruction, predictions
    POST /api/upload        raw image bytes -> a new film id
    /api/frame?film=&feature=&low=&high=&lam=     one slider position
    /api/find_lambda?film=&feature=&low=&high=&goal=flip|truth
    /api/methods            registered explanation methods, with availability
    /api/explain?film=&method=
    /api/export.png|.gif?film=&feature=&low=&high=&lam=[&frames=]

Errors are one JSON line ``{"error": "..."}`` with a 4xx status; an unexpected failure is a
500 with the exception's type and message, never a traceback.

Example::

    app = create_app(viewer)
    uvicorn.run(app, host="127.0.0.1", port=8765)
"""

from __future__ import annotations

import logging
from importlib import resources
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from seegaan.errors import InputError, SeegaanError
from seegaan.view.session import Viewer
from seegaan.view.uploads import MAX_UPLOAD_BYTES

logger = logging.getLogger("seegaan.view")

# The only files the server sends from disk: name -> (package file, media type). A request
# for anything else is a 404; no part of a URL is ever joined to a path.
STATIC = {"viewer.js": ("viewer.js", "text/javascript; charset=utf-8"),
          "viewer.css": ("viewer.css", "text/css; charset=utf-8")}

# The page may load only what this server sends (and data:/blob: images it builds itself):
# no CDN, no fonts, no analytics can slip in, and nothing can be posted elsewhere.
CSP = ("default-src 'self'; img-src 'self' data: blob:; script-src 'self'; style-src 'self'; "
       "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
           "Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}



class BadRequest(InputError):
    """A missing or malformed query parameter (HTTP 400)."""

    status = 400


DRAIN_LIMIT = 4 * MAX_UPLOAD_BYTES

LOCAL_HOSTS = ["127.0.0.1", "localhost", "::1", "[::1]"]


def _asset(name: str) -> bytes:
    return resources.files("seegaan.view").joinpath("static", name).read_bytes()


def _error(message: str, status: int) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=HEADERS)


def _param(request: Request, name: str, required: bool = True, max_len: int = 200) -> str | None:
    value = request.query_params.get(name)
    if value is None or value == "":
        if required:
            raise BadRequest(f"missing parameter '{name}'")
        return None
    if len(value) > max_len:
        raise BadRequest(f"parameter '{name}': longer than {max_len} characters")
    return value


def _int(request: Request, name: str, default: int) -> int:
    text = _param(request, name, required=False, max_len=12)
    if text is None:
        return default
    try:
        return int(text)
    except ValueError:
        raise BadRequest(f"parameter '{name}': {text!r} is not a whole number") from None


def _view_args(request: Request) -> tuple[str, str, str | None, str | None]:
    return (_param(request, "film"), _param(request, "feature"),
            _param(request, "low", required=False), _param(request, "high", required=False))


def create_app(viewer: Viewer, local_only: bool = True) -> Starlette:
    """The Starlette app serving ``viewer``. ``local_only`` refuses requests whose Host header
    is not the loopback address (a web page elsewhere cannot reach it by DNS rebinding)."""
    page = _asset("index.html")
    static = {name: (_asset(f), mime) for name, (f, mime) in STATIC.items()}

    async def call(fn, *args: Any) -> Response:
        try:
            result = await run_in_threadpool(fn, *args)
        except SeegaanError as err:
            return _error(str(err), getattr(err, "status", 400))
        except Exception as err:  # a bug: say what, never how (no traceback to the page)
            logger.exception("viewer request failed")
            return _error(f"internal error: {type(err).__name__}: {str(err)[:200]}", 500)
        if isinstance(result, Response):
            return result
        return JSONResponse(result, headers=HEADERS)

    async def index(request: Request) -> Response:
        return Response(page, media_type="text/html; charset=utf-8", headers=HEADERS)

    async def static_file(request: Request) -> Response:
        hit = static.get(request.path_params["name"])
        if hit is None:
            return _error("not found", 404)
        return Response(hit[0], media_type=hit[1], headers=HEADERS)

    async def info(request: Request) -> Response:
        return await call(viewer.info)

    async def films(request: Request) -> Response:
        return await call(lambda: viewer.films(_param(request, "q", False) or "",
                                               _int(request, "limit", 50)))

    async def film(request: Request) -> Response:
        return await call(viewer.film_view, request.path_params["film_id"])

    async def upload(request: Request) -> Response:
        body, seen = bytearray(), 0
        async for chunk in request.stream():
            # Past the limit nothing more is kept; the rest is read and dropped (up to a hard
            # cap) only so that the client receives the error instead of a reset connection.
            seen += len(chunk)
            if seen <= MAX_UPLOAD_BYTES:
                body += chunk
            elif seen > DRAIN_LIMIT:
                break
        if seen > MAX_UPLOAD_BYTES:
            return _error(f"upload: {seen / 1e6:.1f} MB{'+' if seen > DRAIN_LIMIT else ''} is over "
                          f"the {MAX_UPLOAD_BYTES / 1e6:.0f} MB limit", 413)
        return await call(viewer.add_upload, bytes(body))

    async def frame(request: Request) -> Response:
        return await call(lambda: viewer.frame(*_view_args(request), _param(request, "lam")))

    async def find_lambda(request: Request) -> Response:
        return await call(lambda: viewer.find_lambda(*_view_args(request),
                                                     _param(request, "goal", False) or "flip"))

    async def methods(request: Request) -> Response:
        return await call(viewer.methods)

    async def explain(request: Request) -> Response:
        return await call(lambda: viewer.explain(_param(request, "film"), _param(request, "method")))

    async def export_png(request: Request) -> Response:
        def run() -> Response:
            data = viewer.export_png(*_view_args(request), _param(request, "lam"))
            return Response(data, media_type="image/png", headers={
                **HEADERS, "Content-Disposition": 'attachment; filename="seegaan-view.png"'})
        return await call(run)

    async def export_gif(request: Request) -> Response:
        def run() -> Response:
            data = viewer.export_gif(*_view_args(request), _param(request, "lam"),
                                     _int(request, "frames", 12))
            return Response(data, media_type="image/gif", headers={
                **HEADERS, "Content-Disposition": 'attachment; filename="seegaan-sequence.gif"'})
        return await call(run)

    async def not_found(request: Request, exc: Exception) -> Response:
        return _error("not found", 404)

    async def not_allowed(request: Request, exc: Exception) -> Response:
        return _error("method not allowed", 405)

    async def server_error(request: Request, exc: Exception) -> Response:
        return _error(f"internal error: {type(exc).__name__}", 500)

    routes = [
        Route("/", index),
        Route("/static/{name}", static_file),
        Route("/api/info", info),
        Route("/api/films", films),
        Route("/api/film/{film_id}", film),
        Route("/api/upload", upload, methods=["POST"]),
        Route("/api/frame", frame),
        Route("/api/find_lambda", find_lambda),
        Route("/api/methods", methods),
        Route("/api/explain", explain),
        Route("/api/export.png", export_png),
        Route("/api/export.gif", export_gif),
    ]
    middleware = [Middleware(TrustedHostMiddleware, allowed_hosts=LOCAL_HOSTS)] if local_only else []
    return Starlette(debug=False, routes=routes, middleware=middleware,
                     exception_handlers={404: not_found, 405: not_allowed, 500: server_error})
