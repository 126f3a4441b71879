"""`seegaan view` in a real browser: headless Chromium loads the page, picks a film, drags
the slider, opens the methods panel, uploads films (good, oversized, not an image) and is
refused a `../` path."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from headless import chromium_page, needs_browser  # noqa: E402

pytest.importorskip("starlette", reason="the viewer extra (starlette, uvicorn) is not installed")


@pytest.fixture(scope="module")
def url(viewer, dummy_method):
    from seegaan.view import bind, serve, url_of

    sock = bind("127.0.0.1", 0)
    srv, thread = serve(viewer, sock, background=True)
    yield url_of(sock)
    srv.should_exit = True
    thread.join(10)


@needs_browser
def test_viewer_in_headless_chromium(url, make_png, tmp_path):
    with chromium_page() as page:
        page.goto(url)
        page.wait_for_selector("body[data-ready='1']", timeout=20_000)
        # choose a film by searching its id
        page.fill("#film-search", "p00")
        page.wait_for_function("document.querySelectorAll('#film-list button').length === 10")
        page.click("#film-list button[data-id='p004']")
        page.wait_for_function("Number(document.body.dataset.frames || 0) >= 1")
        assert "p004" in page.inner_text("#film-row")
        src0 = page.get_attribute("#frame-img", "src")
        pred0 = page.inner_text("#prediction")
        assert src0.startswith("data:image/png") and "prediction at λ = 0.00" in pred0
        assert "pg/mL" in pred0          # the target is BNPP: predictions carry its unit

        # drag λ: the frame and the prediction follow
        page.fill("#lam", "1.5")
        page.wait_for_function("document.getElementById('prediction').textContent.includes('1.50')")
        assert page.get_attribute("#frame-img", "src") != src0
        pred1 = page.inner_text("#prediction")
        assert pred1 != pred0
        assert "latency:" in page.inner_text("#latency") and "ms" in page.inner_text("#latency")
        assert "export.png?" in page.get_attribute("#export-png", "href")

        # find λ: the slider jumps to the flip point
        page.click("#find-lambda")
        page.wait_for_function("document.getElementById('search-result').textContent.includes('model calls')")
        assert page.input_value("#lam") != "1.5"

        # the methods panel lists the registry and shows the dummy's map
        page.click("#methods-toggle")
        page.wait_for_selector(".method[data-method='dummy_film'] img", timeout=20_000)

        # upload a PNG: it becomes a film
        page.set_input_files("#upload", files=[{"name": "film.png", "mimeType": "image/png",
                                                "buffer": make_png((60, 48))}])
        page.wait_for_function("document.getElementById('message').textContent.includes('Uploaded as upload-')")
        assert "upload-" in page.inner_text("#film-row")

        # an oversized upload and a file that is no image get a clear message, not a crash
        big = tmp_path / "big.png"   # a path, not a buffer: Playwright copies buffers slowly
        big.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(21_000_000))
        page.set_input_files("#upload", str(big))
        page.wait_for_function("document.getElementById('message').textContent.includes('over the 20 MB limit')")
        page.set_input_files("#upload", files=[{"name": "../../notes.txt", "mimeType": "text/plain",
                                                "buffer": b"just text"}])
        page.wait_for_function("document.getElementById('message').textContent.includes('not a PNG, JPEG or DICOM')")
        assert page.errors == []

        # a ../ path is refused, with a one-line JSON error
        for path in ("static/..%2F..%2Fsession.py", "api/film/..%2F..%2F..%2Fetc%2Fpasswd",
                     "static/../../../etc/passwd"):
            res = page.goto(url + path)
            assert res.status == 404, path
            assert "error" in res.json() and "Traceback" not in res.text()
