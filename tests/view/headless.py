"""Headless Chromium for the browser tests, through Playwright's Python package and the
system's Chromium (Debian's ``chromium``; no browser is ever downloaded)."""

from __future__ import annotations

import contextlib
import shutil

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def skip_reason() -> str | None:
    if CHROMIUM is None:
        return "no Chromium executable (apt-get install chromium); the browser tests need one"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -e '.[dev]')"
    return None


@contextlib.contextmanager
def chromium_page():
    """A fresh headless page; console errors are collected in ``page.errors``."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--no-sandbox", "--disable-gpu",
                                          "--disable-background-networking",
                                          "--disable-component-update"])
        try:
            # bypass_csp: Playwright's own waits evaluate strings, which the viewer's strict
            # Content-Security-Policy (no eval) would otherwise refuse.
            page = browser.new_page(viewport={"width": 1280, "height": 900}, bypass_csp=True)
            page.errors = []
            page.on("pageerror", lambda exc: page.errors.append(str(exc)))
            yield page
        finally:
            browser.close()


needs_browser = pytest.mark.skipif(skip_reason() is not None, reason=str(skip_reason()))
