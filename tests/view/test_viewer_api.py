"""The viewer's core and HTTP API: frames move with λ, explanations come from the registry,
and every bad request (traversal, oversized or non-image upload, bad id) gets a one-line
JSON error, never a traceback."""

from __future__ import annotations

import io
import json
import urllib.error
import urllib.request

import numpy as np
import pytest

from seegaan.explain.methods import ATTRIBUTION, Method, register, unregister

pytest.importorskip("starlette", reason="the viewer extra (starlette, uvicorn) is not installed")
pytest.importorskip("uvicorn", reason="the viewer extra (starlette, uvicorn) is not installed")


class NeedsGvr(Method):
    name = "dummy_unavailable"
    title = "Needs something missing"

    def unavailable(self, ctx):
        return "needs a GVR model"

    def run(self, case, ctx):  # pragma: no cover - never called
        raise AssertionError("an unavailable method was run")


@pytest.fixture
def dummy_methods(dummy_method):
    register(NeedsGvr)
    dummy_method.runs = 0
    yield dummy_method
    unregister(NeedsGvr.name)


@pytest.fixture(scope="module")
def server(viewer):
    from seegaan.view import bind, serve, url_of

    sock = bind("127.0.0.1", 0)
    srv, thread = serve(viewer, sock, background=True)
    yield url_of(sock)
    srv.should_exit = True
    thread.join(10)


def get(url, data=None, headers=None):
    """(status, parsed JSON or bytes) for a request; never raises on HTTP errors."""
    req = urllib.request.Request(url, data=data, headers=headers or {},
                                 method="POST" if data is not None else "GET")
    try:
        with urllib.request.urlopen(req, timeout=30) as res:
            status, body, ctype = res.status, res.read(), res.headers.get("content-type", "")
    except urllib.error.HTTPError as err:
        status, body, ctype = err.code, err.read(), err.headers.get("content-type", "")
    return status, (json.loads(body) if "json" in ctype else body)


def test_frame_moves_with_lambda_and_frame_zero_is_the_reconstruction(viewer):
    a = viewer.frame("p001", "ahf", "0", "1", 0.0)
    b = viewer.frame("p001", "ahf", "0", "1", 1.5)
    assert a["max_abs_diff"] < 1e-5           # λ = 0 decodes w_E itself
    assert b["max_abs_diff"] > 1e-3 and b["frame"] != a["frame"]
    assert a["prediction"] == pytest.approx(a["prediction_frame0"], rel=1e-5)
    assert b["prediction"] != pytest.approx(a["prediction"])
    # the other direction of the same feature moves the other way
    c = viewer.frame("p001", "ahf", "1", "0", 1.5)
    assert c["frame"] != b["frame"]


def test_quantitative_range_and_bad_values(viewer):
    from seegaan.errors import OptionError

    lo = viewer.frame("p002", "age", "30", "80", 1.0)
    assert lo["max_abs_diff"] > 0
    with pytest.raises(OptionError, match="not a number"):
        viewer.frame("p002", "age", "thirty", "80", 1.0)
    with pytest.raises(OptionError, match="outside"):
        viewer.frame("p002", "age", "30", "80", 99)


def test_find_lambda_lands_on_the_flip_point(viewer):
    res = viewer.find_lambda("p001", "ahf", "0", "1", "flip")
    assert res["status"] == "reached"
    at = viewer.frame("p001", "ahf", "0", "1", res["lam"])
    assert abs(np.log(at["prediction"]) - np.log(viewer.threshold)) <= 0.01 + 1e-9


def test_methods_panel_is_driven_by_the_registry_and_cached(viewer, dummy_methods):
    listed = {m["name"]: m for m in viewer.methods()}
    assert listed["dummy_film"]["available"]
    assert not listed["dummy_unavailable"]["available"]
    assert "GVR" in listed["dummy_unavailable"]["reason"]
    first = viewer.explain("p003", "dummy_film")
    again = viewer.explain("p003", "dummy_film")
    assert first["map"].startswith("data:image/png;base64,") and not first["cached"]
    assert again["cached"] and dummy_methods.runs == 1
    from seegaan.errors import OptionError

    with pytest.raises(OptionError, match="unavailable"):
        viewer.explain("p003", "dummy_unavailable")


def test_stored_results_are_shown_without_recomputing(tiny_run, dummy_methods):
    """--benchmark DIR: a result already in DIR/cases/<id>/<method>/ is read, not recomputed."""
    from seegaan.explain.methods import Explanation, case_folder, save_explanation
    from seegaan.view import load_viewer

    ckpt, lat, _ = tiny_run
    stored = ckpt.parent / "bench"
    save_explanation(Explanation("dummy_film", ATTRIBUTION, map=np.eye(32, dtype=np.float32)),
                     case_folder(stored, "p005", "dummy_film"))
    v = load_viewer(ckpt, lat, benchmark=stored)
    res = v.explain("p005", "dummy_film")
    assert res["origin"] == "stored" and res["map"] and dummy_methods.runs == 0
    assert v.explain("p006", "dummy_film")["origin"] == "computed" and dummy_methods.runs == 1


def test_uploads_are_checked_before_decoding(make_png):
    from seegaan.view.uploads import UploadError, check_upload, prepare_upload

    img = prepare_upload(make_png((50, 40)), 32)
    assert img.shape == (32, 32) and img.min() >= -1 and img.max() <= 1
    with pytest.raises(UploadError, match="not a PNG, JPEG or DICOM"):
        check_upload(b"GIF89a" + b"\0" * 100)
    with pytest.raises(UploadError, match="not a PNG, JPEG or DICOM"):
        check_upload(b"#!/bin/sh\nrm -rf /\n")
    with pytest.raises(UploadError, match="over the 1 MB limit"):
        check_upload(b"\x89PNG\r\n\x1a\n" + b"\0" * 1_100_000, max_bytes=1_000_000)
    # a decompression bomb: a small file whose header promises 8000 x 8000 pixels
    from PIL import Image

    buf = io.BytesIO()
    Image.new("1", (8000, 8000)).save(buf, format="PNG")
    assert len(buf.getvalue()) < 200_000
    with pytest.raises(UploadError, match="pixel limit") as err:
        check_upload(buf.getvalue())
    assert err.value.status == 413
    with pytest.raises(UploadError, match="corrupt"):
        prepare_upload(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10, 32)


def test_prepared_upload_matches_seegaan_prepare(tmp_path, make_png):
    """An upload goes through the same reader, fit and uint16 rounding as `seegaan prepare`."""
    from seegaan.data.prepared import from_uint16
    from seegaan.data.transform import load_fitted
    from seegaan.view.uploads import prepare_upload

    data = make_png((70, 50), seed=3)
    (tmp_path / "x.png").write_bytes(data)
    expected = from_uint16(load_fitted(str(tmp_path / "x.png"), 32, "pad", (1.0, 99.0)))
    np.testing.assert_array_equal(prepare_upload(data, 32, "pad", (1.0, 99.0)), expected)


def test_http_api_and_its_errors(server, dummy_methods, make_png):
    status, info = get(server + "api/info")
    assert status == 200 and info["image_size"] == 32 and info["features"]
    assert info["target"] == "bnpp" and info["unit"] == "pg/mL"
    status, films = get(server + "api/films?q=p01")
    assert status == 200 and films and all("p01" in f["id"] for f in films)
    status, frame = get(server + "api/frame?film=p001&feature=sex&low=F&high=M&lam=0.7")
    assert status == 200 and frame["frame"].startswith("data:image/png")
    status, up = get(server + "api/upload", data=make_png(), headers={"Content-Type": "image/png"})
    assert status == 200 and up["id"].startswith("upload-")
    status, film = get(server + "api/film/" + up["id"])
    assert status == 200 and film["original"]
    status, png = get(server + f"api/export.png?film={up['id']}&feature=ahf&low=0&high=1&lam=1")
    assert status == 200 and png[:8] == b"\x89PNG\r\n\x1a\n"
    status, gif = get(server + "api/export.gif?film=p001&feature=ahf&lam=1&frames=5")
    assert status == 200 and gif[:6] == b"GIF89a"
    status, exp = get(server + "api/explain?film=p001&method=dummy_film")
    assert status == 200 and exp["status"] == "ok"


@pytest.mark.parametrize("path, code, words", [
    ("api/film/nope", 404, "no such image id"),
    ("api/film/..%2F..%2Fetc%2Fpasswd", 404, ""),
    ("static/..%2F..%2Fapp.py", 404, "not found"),
    ("static/../../../../etc/passwd", 404, "not found"),
    ("api/frame?film=p001&feature=..%2F..%2Fetc&lam=0", 404, "not a feature"),
    ("api/frame?film=p001&feature=ahf&lam=nan", 400, "not a finite number"),
    ("api/frame?film=p001&feature=ahf", 400, "missing parameter 'lam'"),
    ("api/frame?film=%00&feature=ahf&lam=0", 404, "no such image id"),
    ("api/explain?film=p001&method=..%2Fbase", 404, "not a registered"),
    ("api/explain?film=p001&method=__import__('os')", 404, "not a registered"),
    ("api/films?limit=lots", 400, "not a whole number"),
    ("api/export.gif?film=p001&feature=ahf&lam=1&frames=100000", 400, "between 2 and"),
    ("nothing/here", 404, "not found"),
])
def test_bad_requests_get_a_clear_json_error(server, path, code, words):
    status, body = get(server + path)
    assert status == code, body
    assert isinstance(body, dict) and set(body) == {"error"}, body
    assert words in body["error"]
    assert "Traceback" not in body["error"] and "File \"" not in body["error"]


def test_uploads_over_http_refuse_what_is_not_a_small_image(server):
    status, body = get(server + "api/upload", data=b"hello, not an image")
    assert status == 415 and "not a PNG, JPEG or DICOM" in body["error"]
    status, body = get(server + "api/upload", data=b"\x89PNG\r\n\x1a\n" + b"\0" * (21 * 1024 * 1024))
    assert status == 413 and "20 MB limit" in body["error"]
    status, body = get(server + "api/upload", data=b"")
    assert status == 400 and "empty" in body["error"]


def test_foreign_host_header_is_refused(server):
    """DNS rebinding: a page on another site that resolves to 127.0.0.1 is turned away."""
    status, _ = get(server + "api/info", headers={"Host": "evil.example:8765"})
    assert status == 400


def test_page_loads_nothing_from_elsewhere(server):
    status, page = get(server)
    text = page.decode()
    assert status == 200 and "seegaan view" in text
    assert "http://" not in text and "https://" not in text and "//cdn" not in text
    for name in ("viewer.js", "viewer.css"):
        status, body = get(server + "static/" + name)
        assert status == 200 and b"http" not in body
