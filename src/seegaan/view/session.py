"""The viewer's state and computations, independent of any web framework.

A :class:`Viewer` holds the autoencoder, the latent table, the optional model and what it
has computed so far (films' latents, feature directions, explanations). Every answer is
plain data (dicts, PNG/GIF bytes), so the same object backs the web app, the tests and the
latency benchmark.

The slider decodes ``w(λ) = w_E + λ·d`` where ``w_E`` is the film's latent and ``d`` the
feature direction: ``w̄_to − w̄_from`` between two levels of a qualitative feature, or the
regression path's change from ``low`` to ``high`` for a quantitative one (the same latent
paths as ``seegaan sequence``). Frame 0 is the film's reconstruction.

Example::

    v = Viewer(load_autoencoder("runs/ae/best"), load_latents("latents.parquet"))
    view = v.frame("p0042", "ahf", "0", "1", lam=0.5)     # {"frame": PNG, "diff": PNG, ...}
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
import warnings
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from seegaan.errors import InputError, OptionError, SeegaanError
from seegaan.latent.select import feature_columns, select_rows
from seegaan.latent.store import LatentTable
from seegaan.units import unit_of
from seegaan.view.uploads import MAX_UPLOAD_BYTES, UploadError, prepare_upload
from seegaan.viz import web

LAMBDA_RANGE = (-2.0, 4.0)   # the slider's span; 1 moves by the whole class-mean difference
MAX_UPLOADS = 32             # uploaded films kept in memory (oldest dropped first)
MAX_FILMS_CACHED = 256       # table films kept decoded (image + row) between requests
MAX_FRAMES = 48              # frames in an exported GIF
MAX_LEVELS_SHOWN = 50        # a qualitative feature with more levels is offered as numbers
UPSCALE = 4                  # 64² frames are sent as 256² PNGs (nearest neighbour)


class NotFound(InputError):
    """An id (film, feature, method) that does not exist: HTTP 404."""

    status = 404


@dataclass
class Film:
    """One film the page can show: a row of the latent table, or an upload."""

    id:     str
    w:      np.ndarray                       # (w_dim,) latent
    image:  np.ndarray | None                # (S, S) the prepared film in [-1, 1], when known
    row:    dict[str, Any] = field(default_factory=dict)   # clinical row (JSON-safe)
    source: str = "table"                    # table | upload


def _jsonable(v: Any) -> Any:
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return None if not math.isfinite(float(v)) else float(v)
    if isinstance(v, (np.bool_,)):
        return bool(v)
    if v is None or isinstance(v, (str, int, bool)):
        return v
    if pd.isna(v):
        return None
    return str(v)


class Viewer:
    """Everything ``seegaan view`` shows, computed on demand and cached."""

    def __init__(self,
                 autoencoder,                          # seegaan.models.Autoencoder (or the protocol)
                 table:       LatentTable,             # films and the feature directions
                 model=None,                           # ExplainableModel, or None (no predictions)
                 data_dir:    str | None = None,       # prepared dataset of the table's films
                 split:       str = "test",            # rows that define feature directions
                 target:      str = "bnpp",            # the model's target (λ search, case truth)
                 threshold:   float = 400.0,           # positive means prediction > threshold
                 log_scale:   bool = True,             # λ search tolerance on the log scale
                 prepare_options: dict[str, Any] | None = None,  # fit / clip of uploads
                 stored:      str | None = None,       # a run with cases/<id>/<method>/ results
                 ) -> None:
        from seegaan.latent import check_compatible

        check_compatible(autoencoder, table)
        self.ae = autoencoder
        self.table = table
        self.model = model
        self.split = split if ("split" in table.meta.columns or split == "all") else "all"
        self.target, self.threshold, self.log_scale = target, float(threshold), bool(log_scale)
        self.prepare_options = dict(prepare_options or {})
        self.stored = None if stored is None else Path(stored)
        if self.stored is not None and not self.stored.is_dir():
            raise InputError(f"--benchmark {stored}: not a directory")
        self.size = int(autoencoder.image_size)
        self.ids = table.meta["image_id"].astype(str).to_numpy() if "image_id" in table.meta else \
            np.array([f"row{i}" for i in range(len(table.meta))])
        self._row_of = {i: k for k, i in enumerate(self.ids)}
        self._image_source = data_dir or table.info.get("data_dir")
        self._images = None      # opened on first use (importing seegaan.explain takes seconds)
        self.features = self._describe_features()
        self.lock = threading.Lock()   # one torch computation at a time; the server is threaded
        self._uploads: OrderedDict[str, Film] = OrderedDict()
        self._films: OrderedDict[str, Film] = OrderedDict()
        self._directions: dict[tuple, np.ndarray] = {}
        self._recon: dict[str, tuple[np.ndarray, float | None]] = {}
        self._explanations: dict[tuple[str, str], dict[str, Any]] = {}
        self._context = None

    def images(self):
        """The prepared films behind the table (a TableImages), or None when unavailable."""
        if self._images is None and self._image_source:
            from seegaan.explain import TableImages

            try:
                self._images = TableImages(self.table, self._image_source)
            except SeegaanError as err:
                # The films still show, as their reconstructions; say once why.
                warnings.warn(f"viewer: showing reconstructions only ({err})", stacklevel=2)
                self._image_source = None
        return self._images

    def warm(self) -> None:
        """Do once what would otherwise slow the first request: open the films, build the
        colour table, run torch's first decode. ``seegaan view`` calls it in the background
        once the server listens; requests that arrive meanwhile wait on the lock."""
        with self.lock:
            web.diverging_png(np.zeros((2, 2), np.float32))
            self.images()
        if len(self.ids):
            self.reconstruction(self.film(self.ids[0]))

    # -- catalogue --------------------------------------------------------------------------
    def _describe_features(self) -> list[dict[str, Any]]:
        meta, out = self.table.meta, []
        rows = meta if self.split == "all" else meta[meta["split"].astype(str) == self.split]
        for col in feature_columns(self.table):
            if col == "prediction" or col.startswith("w_"):
                continue
            vals = rows[col].dropna()
            if vals.empty:
                continue
            numeric = pd.api.types.is_numeric_dtype(vals) and not pd.api.types.is_bool_dtype(vals)
            levels = sorted({_level(v) for v in vals})
            if numeric and len(levels) > 2 and (len(levels) > MAX_LEVELS_SHOWN or
                                                not np.allclose(vals, np.round(vals))):
                lo, hi = np.percentile(vals.to_numpy(dtype=float), [5, 95])
                out.append({"name": col, "feature_type": "quantitative", "low": float(lo),
                            "high": float(hi), "min": float(vals.min()), "max": float(vals.max())})
            elif 2 <= len(levels) <= MAX_LEVELS_SHOWN:
                out.append({"name": col, "feature_type": "qualitative", "levels": levels})
        return out

    def info(self) -> dict[str, Any]:
        return {"image_size": self.size, "w_dim": int(self.ae.w_dim), "n_films": len(self.ids),
                "split": self.split, "features": self.features, "lambda_range": LAMBDA_RANGE,
                "model": None if self.model is None else self.model.name,
                "max_upload_bytes": MAX_UPLOAD_BYTES,
                "target": self.target, "threshold": self.threshold,
                "unit": unit_of(self.target),   # of the predictions and threshold (pg/mL for BNPP)
                "columns": [c for c in self.table.meta.columns if not c.startswith("_")]}

    def films(self, query: str = "", limit: int = 50) -> list[dict[str, Any]]:
        """Films whose id contains ``query`` (case-insensitive), uploads first."""
        q = str(query).strip().lower()[:200]
        limit = max(1, min(int(limit), 500))
        out = [{"id": f.id, "split": "upload"} for f in reversed(self._uploads.values())
               if q in f.id.lower()]
        split = self.table.meta["split"].astype(str).to_numpy() if "split" in self.table.meta \
            else np.full(len(self.ids), "")
        for i, fid in enumerate(self.ids):
            if len(out) >= limit:
                break
            if q in fid.lower():
                out.append({"id": fid, "split": split[i]})
        return out[:limit]

    def film(self, film_id: str) -> Film:
        film_id = str(film_id)
        if film_id in self._uploads:
            return self._uploads[film_id]
        if film_id in self._films:
            return self._films[film_id]
        row = self._row_of.get(film_id)
        if row is None:
            raise NotFound(f"film {film_id[:80]!r}: no such image id in the latent table")
        meta = self.table.meta.iloc[row]
        source = self.images()
        image = None if source is None else source.load([row])[0, 0].numpy()
        film = Film(film_id, np.asarray(self.table.w[row], np.float32), image,
                    {k: _jsonable(v) for k, v in meta.items() if not str(k).startswith("_")})
        self._films[film_id] = film
        while len(self._films) > MAX_FILMS_CACHED:
            self._films.popitem(last=False)
        return film

    # -- uploads ----------------------------------------------------------------------------
    def add_upload(self, data: bytes) -> dict[str, Any]:
        """Prepare and encode an uploaded film; returns its id and row."""
        image = prepare_upload(data, self.size, self.prepare_options.get("fit", "crop"),
                               self.prepare_options.get("clip_percentiles"))
        fid = "upload-" + hashlib.sha256(data).hexdigest()[:10]
        if fid not in self._uploads:
            with self.lock, torch.inference_mode():
                w = self.ae.encode(torch.from_numpy(image)[None, None]).float().cpu().numpy()[0]
            self._uploads[fid] = Film(fid, w, image, {"image_id": fid, "split": "upload"}, "upload")
            while len(self._uploads) > MAX_UPLOADS:
                old, _ = self._uploads.popitem(last=False)
                self._drop_cached(old)
        return {"id": fid, "row": self._uploads[fid].row}

    def _drop_cached(self, film_id: str) -> None:
        self._recon.pop(film_id, None)
        for key in [k for k in self._explanations if k[0] == film_id]:
            self._explanations.pop(key, None)

    # -- directions and frames --------------------------------------------------------------
    def direction(self, feature: str, low: str | None, high: str | None) -> np.ndarray:
        """The latent direction from ``low`` to ``high`` of ``feature`` (cached)."""
        spec = next((f for f in self.features if f["name"] == feature), None)
        if spec is None:
            raise NotFound(f"feature {str(feature)[:80]!r}: not a feature of the latent table")
        key = (feature, low, high)
        if key in self._directions:
            return self._directions[key]
        if spec["feature_type"] == "qualitative":
            if low is None or high is None:
                if len(spec["levels"]) != 2:
                    raise OptionError(f"feature {feature}: choose two of its levels")
                low, high = spec["levels"]
            sel = select_rows(self.table, feature, self.split, "qualitative", str(low), str(high))
            d = sel.w[sel.is_to].mean(0) - sel.w[~sel.is_to].mean(0)
        else:
            from seegaan.latent.paths import RegressionPath

            lo = spec["low"] if low in (None, "") else _number(low, "low")
            hi = spec["high"] if high in (None, "") else _number(high, "high")
            if lo == hi:
                raise OptionError(f"feature {feature}: low and high are both {lo:g}")
            sel = select_rows(self.table, feature, self.split, "quantitative")
            path = RegressionPath(sel.x, sel.w, np.array([lo, hi])).path()
            d = path[1] - path[0]
        d = np.asarray(d, dtype=np.float32)
        self._directions[key] = d
        return d

    def _decode(self, w: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            x = self.ae.decode(torch.from_numpy(np.ascontiguousarray(w, np.float32)).reshape(-1, self.ae.w_dim))
        return x.float().cpu().numpy()[:, 0]

    def _predict(self, images: np.ndarray) -> np.ndarray | None:
        if self.model is None:
            return None
        return self.model.predict(torch.from_numpy(np.ascontiguousarray(images[:, None], np.float32)))

    def reconstruction(self, film: Film) -> tuple[np.ndarray, float | None]:
        if film.id not in self._recon:
            with self.lock:
                r = self._decode(film.w)
                p = self._predict(r)
            self._recon[film.id] = (r[0], None if p is None else float(p[0]))
        return self._recon[film.id]

    def film_view(self, film_id: str) -> dict[str, Any]:
        """The film's row, its image and reconstruction, and the model's predictions on both."""
        film = self.film(film_id)
        recon, p_recon = self.reconstruction(film)
        p_orig = None
        if film.image is not None and self.model is not None:
            with self.lock:
                p_orig = float(self._predict(film.image[None])[0])
        return {"id": film.id, "source": film.source, "row": film.row,
                "original": None if film.image is None else web.data_url(web.grey_png(film.image, UPSCALE)),
                "reconstruction": web.data_url(web.grey_png(recon, UPSCALE)),
                "prediction_original": p_orig, "prediction_reconstruction": p_recon}

    def frames(self, film_id: str, feature: str, low: str | None, high: str | None,
               lams: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Decoded frames ``G(w_E + λ·d)`` for every λ, and the model's predictions on them."""
        film = self.film(film_id)
        d = self.direction(feature, low, high)
        lams = np.asarray(lams, dtype=np.float32).reshape(-1, 1)
        with self.lock:
            frames = self._decode(film.w[None] + lams * d[None])
            preds = self._predict(frames)
        return frames, preds

    def frame(self, film_id: str, feature: str, low: str | None, high: str | None,
              lam: float) -> dict[str, Any]:
        """One slider position: frame, frame − frame 0, prediction, and how long it took."""
        t0, c0 = time.perf_counter(), time.thread_time()
        lam = _lambda(lam)
        film = self.film(film_id)
        recon, p0 = self.reconstruction(film)
        frames, preds = self.frames(film_id, feature, low, high, np.array([lam]))
        diff = frames[0] - recon
        out = {"lam": lam, "frame": web.data_url(web.grey_png(frames[0], UPSCALE)),
               "diff": web.data_url(web.diverging_png(diff, vlim=max(0.05, float(np.abs(diff).max())),
                                                      upscale=UPSCALE)),
               "max_abs_diff": float(np.abs(diff).max()),
               "prediction": None if preds is None else float(preds[0]),
               "prediction_frame0": p0}
        out["positive"] = None if preds is None else bool(preds[0] > self.threshold)
        out["server_ms"] = round(1000.0 * (time.perf_counter() - t0), 2)
        # CPU time of this request's thread: what the wall time would be on an idle core.
        out["server_cpu_ms"] = round(1000.0 * (time.thread_time() - c0), 2)
        return out

    # -- λ search ---------------------------------------------------------------------------
    def find_lambda(self, film_id: str, feature: str, low: str | None, high: str | None,
                    goal: str = "flip") -> dict[str, Any]:
        """The smallest λ ≥ 0 at which the prediction reaches the threshold (``flip``) or the
        film's true value (``truth``), by :func:`seegaan.explain.lambda_for_patient`."""
        from seegaan.explain import lambda_for_patient

        if self.model is None:
            raise OptionError("find λ needs a model: start the viewer with --model")
        film = self.film(film_id)
        if goal == "truth":
            truth = _jsonable(film.row.get(self.target))
            if not isinstance(truth, (int, float)):
                raise OptionError(f"film {film.id}: has no value of '{self.target}' to aim at")
            value = float(truth)
        elif goal == "flip":
            value = self.threshold
        else:
            raise OptionError(f"goal {str(goal)[:40]!r}: choose flip or truth")
        if self.log_scale and value <= 0:
            raise OptionError(f"target {value:g}: not positive, so it has no log")
        target = math.log(value) if self.log_scale else value
        d = self.direction(feature, low, high)
        with self.lock:
            res, _ = lambda_for_patient(self.model, self.ae, film.w, d, target,
                                        log_scale=self.log_scale, lam_max=LAMBDA_RANGE[1])
        return {"status": res.status, "lam": res.lam, "display_lambda": res.display_lambda,
                "calls": res.calls, "message": res.message, "goal": goal, "value": value}

    # -- explanations -----------------------------------------------------------------------
    def context(self):
        from seegaan.explain.methods import Context

        if self._context is None:
            self._context = Context(model=self.model, autoencoder=self.ae, table=self.table,
                                    target=self.target, threshold=self.threshold,
                                    log_scale=self.log_scale)
        return self._context

    def methods(self) -> list[dict[str, Any]]:
        """Every registered method, with whether it can run here (and why not)."""
        from seegaan.explain.methods import get_method, names

        out = []
        for name in names():
            try:
                m = get_method(name)
                reason = m.unavailable(self.context())
                out.append({"name": name, "title": getattr(m, "title", name),
                            "kind": getattr(m, "kind", ""), "available": reason is None,
                            "reason": reason})
            except Exception as err:  # an optional dependency of one method is missing
                out.append({"name": name, "title": name, "kind": "", "available": False,
                            "reason": f"cannot be loaded ({type(err).__name__}: {err})"[:200]})
        return out

    def explain(self, film_id: str, method: str) -> dict[str, Any]:
        """Run one registered method on the film (cached per film and method)."""
        from seegaan.explain.methods import Case, available, get_method

        film = self.film(film_id)
        key = (film.id, str(method))
        if key in self._explanations:
            return dict(self._explanations[key], cached=True)
        exp = self._stored(film.id, str(method))
        if exp is not None:
            self._explanations[key] = self._describe(exp, "stored")
            return dict(self._explanations[key], cached=True)
        ctx = self.context()
        if method not in available(ctx):
            known = {m["name"]: m for m in self.methods()}
            if method not in known:
                raise NotFound(f"method {str(method)[:60]!r}: not a registered explanation method")
            raise OptionError(f"method {method}: unavailable here ({known[method]['reason']})")
        image = film.image if film.image is not None else self.reconstruction(film)[0]
        truth = _jsonable(film.row.get(self.target))
        recon_pred = self.reconstruction(film)[1]
        case = Case(image_id=film.id, image=torch.from_numpy(np.asarray(image, np.float32))[None, None],
                    w=film.w, truth=truth if isinstance(truth, (int, float)) else None,
                    prediction=recon_pred, meta=dict(film.row))
        t0 = time.perf_counter()
        with self.lock:
            try:
                exp = get_method(method).run(case, ctx)
            except SeegaanError as err:
                return {"method": method, "status": "failed", "message": str(err)}
        out = self._describe(exp, "computed", time.perf_counter() - t0)
        self._explanations[key] = out
        return dict(out, cached=False)

    def _stored(self, film_id: str, method: str):
        """A result the benchmark run (``--benchmark DIR``) already holds, else None."""
        from seegaan.explain.methods import case_folder, load_explanation

        if self.stored is None:
            return None
        # case_folder sanitises the id, and the method must be a registered name: neither
        # can lead outside DIR/cases/.
        from seegaan.explain.methods import names

        if method not in names():
            return None
        folder = case_folder(self.stored, film_id, method)
        if not (folder / "result.json").is_file():
            return None
        return load_explanation(folder)

    @staticmethod
    def _describe(exp, origin: str, seconds: float | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {"method": exp.method, "kind": exp.kind, "status": exp.status,
                               "message": exp.message, "origin": origin,
                               "seconds": None if seconds is None else round(seconds, 3),
                               "scalars": {k: _jsonable(v) for k, v in exp.scalars.items()
                                           if not isinstance(v, (dict, list))}}
        pmap = exp.pixel_map()
        if pmap is not None:
            out["map"] = web.data_url(web.heat_png(np.asarray(pmap), UPSCALE))
        if exp.frames is not None and len(exp.frames):
            out["last_frame"] = web.data_url(web.grey_png(exp.frames[-1], UPSCALE))
            if exp.steps is not None:
                out["last_step"] = _jsonable(exp.steps[-1])
                out["step_name"] = exp.step_name
        return out

    # -- exports ----------------------------------------------------------------------------
    def export_png(self, film_id: str, feature: str, low: str | None, high: str | None,
                   lam: float) -> bytes:
        """Frame 0, the frame at λ and their difference side by side, as one PNG."""
        from PIL import Image

        lam = _lambda(lam)
        film = self.film(film_id)
        recon, _ = self.reconstruction(film)
        frames, _ = self.frames(film_id, feature, low, high, np.array([lam]))
        diff = frames[0] - recon
        pngs = [web.grey_png(recon, UPSCALE), web.grey_png(frames[0], UPSCALE),
                web.diverging_png(diff, vlim=max(0.05, float(np.abs(diff).max())), upscale=UPSCALE)]
        import io

        ims = [Image.open(io.BytesIO(p)).convert("RGB") for p in pngs]
        side = ims[0].width
        sheet = Image.new("RGB", (3 * side + 8, side), "white")
        for k, im in enumerate(ims):
            sheet.paste(im, (k * (side + 4), 0))
        buf = io.BytesIO()
        sheet.save(buf, format="PNG")
        return buf.getvalue()

    def export_gif(self, film_id: str, feature: str, low: str | None, high: str | None,
                   lam: float, frames: int = 12) -> bytes:
        """The sequence from λ = 0 to ``lam`` as a looping GIF."""
        lam = _lambda(lam)
        n = int(frames)
        if not 2 <= n <= MAX_FRAMES:
            raise OptionError(f"frames {n}: choose between 2 and {MAX_FRAMES}")
        seq, _ = self.frames(film_id, feature, low, high, np.linspace(0.0, lam, n))
        return web.gif_bytes(seq, upscale=UPSCALE)


def _level(v: Any) -> str:
    if isinstance(v, (float, np.floating)) and float(v).is_integer():
        return str(int(v))
    return str(v)


def _number(text: Any, what: str) -> float:
    try:
        v = float(text)
    except (TypeError, ValueError):
        raise OptionError(f"{what} {str(text)[:40]!r}: not a number") from None
    if not math.isfinite(v):
        raise OptionError(f"{what} {text}: not a finite number")
    return v


def _lambda(lam: Any) -> float:
    v = _number(lam, "λ")
    lo, hi = LAMBDA_RANGE
    if not lo <= v <= hi:
        raise OptionError(f"λ {v:g}: outside the slider's range [{lo:g}, {hi:g}]")
    return v


__all__ = ["LAMBDA_RANGE", "Film", "NotFound", "UploadError", "Viewer"]
