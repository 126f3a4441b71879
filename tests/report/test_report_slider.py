"""The report's static interactivity: a slider over every sequence (frame, subtraction and
significant map together, t/λ and the recorded prediction), click-to-enlarge, and a page
that still reads without JavaScript. Driven in headless Chromium when it is installed."""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from seegaan.explain.methods import (
    SEQUENCE,
    Explanation,
    case_folder,
    save_explanation,
    write_manifest,
)
from seegaan.report import build_report
from seegaan.report.interactive import sequence_slider

sys.path.insert(0, str(Path(__file__).parents[1] / "view"))
from headless import chromium_page, needs_browser  # noqa: E402

T, S = 6, 16


def _sequence(path: Path, value_name="λ", tested=True, predictions=None):
    path.mkdir(parents=True)
    rng = np.random.default_rng(0)
    frames = np.clip(rng.normal(0, 0.3, (T, S, S)).cumsum(0), -1, 1).astype(np.float32)
    diffs = frames - frames[:1]
    arrays = {"frames": frames, "diffs": diffs, "values": np.linspace(0, 1, T)}
    if tested:
        arrays["masked_diffs"] = np.where(np.abs(diffs) > 0.3, diffs, 0).astype(np.float32)
    if predictions is not None:
        arrays["predictions"] = np.asarray(predictions)
    np.savez(path / "result.npz", **arrays)
    for name in ("sequence.png", "subtraction.png", "significant.png"):
        Image.fromarray(np.zeros((16, 96), np.uint8)).save(path / name)
    (path / "summary.json").write_text(json.dumps({
        "mode": "local", "feature": "ahf", "value_name": value_name, "vlim": 0.5,
        "title": "image p1, ahf: 0 → 1</script><b>", "permutations": 10, "alpha": 0.05}))


@pytest.fixture
def run(tmp_path):
    root = tmp_path / "run"
    _sequence(root / "seq_ahf", predictions=[100, 150, 220, 330, 480, 700])
    _sequence(root / "seq_age", value_name="age", tested=False)
    # an explanation run with a sequence-kind method result (SEE-GAAN-like frames + predictions)
    exp = root / "explain"
    exp.mkdir()
    (exp / "summary.json").write_text(json.dumps({"kind": "explain", "cases": {}}))
    frames = np.stack([np.full((S, S), v, np.float32) for v in np.linspace(-0.5, 0.5, 4)])
    save_explanation(Explanation("seegaan_lambda", SEQUENCE, frames=frames, steps=np.linspace(0, 2, 4),
                                 predictions=np.array([500.0, 420.0, 390.0, 300.0])),
                     case_folder(exp, "FP p7", "seegaan_lambda"))
    # Explanation runs are found by their manifest, as `seegaan explain` writes it.
    folder = case_folder(exp, "FP p7", "_").parent.relative_to(exp).as_posix()
    write_manifest(exp, [{"image_id": "FP p7", "category": "FP", "folder": folder,
                          "methods": {"seegaan_lambda": "ok"}}], ["seegaan_lambda"],
                   extra={"target": "bnpp"})
    return root


def test_slider_block_is_hidden_without_js_and_safe(run):
    block = sequence_slider(run / "seq_ahf", run)
    assert block.startswith('<div class="seq-slider" data-slider hidden>')
    blob = re.search(r'<script type="application/json" data-role="data">(.*?)</script>', block, re.S)
    data = json.loads(blob.group(1))
    assert data["labels"][0] == "λ = 0" and len(data["frame"]) == T
    assert data["predictions"] == [100, 150, 220, 330, 480, 700]
    for src in data["frame"] + data["diff"] + data["sig"]:
        assert not src.startswith(("/", "http")) and (run / src).is_file()
    assert "<b>" not in block   # the title is escaped
    assert "sig" not in json.loads(re.search(r'data-role="data">(.*?)</script>',
                                             sequence_slider(run / "seq_age", run), re.S).group(1))
    assert sequence_slider(run / "nowhere", run) == ""


def test_method_slider_shows_predictions_in_the_targets_unit(run):
    # The manifest's target is BNPP, so the λ-search's predictions read in pg/mL.
    from seegaan.report.interactive import method_sliders

    (block,) = method_sliders(run / "explain", run)
    data = json.loads(re.search(r'data-role="data">(.*?)</script>', block, re.S).group(1))
    assert data["prediction_texts"] == ["model prediction: 500 pg/mL", "model prediction: 420 pg/mL",
                                        "model prediction: 390 pg/mL", "model prediction: 300 pg/mL"]


def test_report_has_a_slider_per_sequence(run):
    text = build_report(run).read_text()
    assert text.count("data-slider hidden") == 3          # two sequences + one method result
    assert "seq_ahf" in text and "seegaan_lambda" in text
    # the strips are still there for readers without JavaScript
    assert text.count('src="seq_ahf/sequence.png"') == 1


@needs_browser
def test_report_slider_in_headless_chromium(run):
    page_path = build_report(run)
    with chromium_page() as page:
        page.goto(page_path.as_uri())
        sliders = page.locator("[data-slider]")
        assert sliders.count() == 3
        first = page.locator("[data-slider]:has(img[src*='seq_ahf'])")
        assert first.is_visible()
        frame, diff = first.locator("img[data-role=frame]"), first.locator("img[data-role=diff]")
        src0, dsrc0 = frame.get_attribute("src"), diff.get_attribute("src")
        first.locator("input[type=range]").fill("3")
        assert frame.get_attribute("src") != src0 and frame.get_attribute("src").endswith("frame_003.png")
        assert diff.get_attribute("src") != dsrc0
        assert first.locator("img[data-role=sig]").get_attribute("src").endswith("sig_003.png")
        assert first.locator("[data-role=label]").inner_text() == "λ = 0.6"
        assert first.locator("[data-role=pred]").inner_text() == "model prediction: 330"
        # every image decodes from disk
        broken = page.evaluate("[...document.images].filter(i => !(i.complete && i.naturalWidth > 0)).length")
        assert broken == 0
        # click a strip: it opens full size; Escape closes it
        page.locator("figure img").first.click()
        assert page.locator(".lightbox img").count() == 1
        page.keyboard.press("Escape")
        assert page.locator(".lightbox").count() == 0
        assert page.errors == []


@needs_browser
def test_report_reads_without_javascript(run):
    from headless import CHROMIUM
    from playwright.sync_api import sync_playwright

    page_path = build_report(run)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_context(java_script_enabled=False).new_page()
        page.goto(page_path.as_uri())
        assert page.locator("[data-slider]").first.is_hidden()
        assert page.locator("img[src$='sequence.png']").first.is_visible()
        browser.close()


def test_chromium_is_found_or_the_skip_says_why():
    from headless import skip_reason

    reason = skip_reason()
    assert reason is None or "Chromium" in reason or "playwright" in reason
    assert reason is not None or shutil.which("chromium") or shutil.which("chromium-browser")
