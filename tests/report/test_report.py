"""The HTML report: sections for what exists, nothing for what does not, and (when Chromium is
installed) every image really loads in a browser."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from seegaan.cli import main
from seegaan.data.prepared import write_prepared
from seegaan.report import build_report


def _png(path, seed=0, size=(48, 16)):
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 255, size[::-1], dtype=np.uint8)).save(path)


def _gif(path):
    frames = [Image.fromarray(np.full((16, 16), v, np.uint8)) for v in (0, 128, 255)]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=200, loop=0)


def _sequence_dir(path, mode="global", feature="ahf"):
    path.mkdir(parents=True)
    for i, name in enumerate(("sequence.png", "subtraction.png", "significant.png")):
        _png(path / name, seed=i)
    _gif(path / "sequence.gif")
    (path / "summary.json").write_text(json.dumps({
        "mode": mode, "feature": feature, "groups": {"0": 40, "1": 9},
        "permutations": 100, "alpha": 0.05, "correction": "none"}))


@pytest.fixture
def partial_run(tmp_path):
    """A user's run folder with a dataset and two sequences, but no training or explanation."""
    run = tmp_path / "study"
    run.mkdir()
    idx = pd.DataFrame({"image_id": ["a", "b"], "patient_id": ["p", "q"],
                        "split": ["train", "test"], "source_path": ["", ""], "age": [50.0, 60.0]})
    write_prepared(run / "data", np.zeros((2, 8, 8), np.float32), idx, {"age": "numeric"})
    pd.DataFrame({"variable": ["age"], "overall": ["55.0 ± 7.1"], "p": [0.5]}).to_csv(
        run / "data" / "table1.csv", index=False)
    _sequence_dir(run / "seq_ahf")
    _sequence_dir(run / "local_sex", mode="local", feature="sex")
    pd.DataFrame({"check": ["AHF enlarges heart"], "measured": [0.95], "target": [">= 0.9"],
                  "pass": [True]}).to_csv(run / "truth.csv", index=False)
    return run


def _section_ids(html_text):
    return set(re.findall(r'data-section="([a-z]+)"', html_text))


def test_sections_follow_the_artefacts(partial_run):
    path = build_report(partial_run)
    text = path.read_text()
    assert _section_ids(text) == {"data", "global", "local", "truth"}
    # every image is referenced relative to the report and exists
    for src in re.findall(r'<img src="([^"]+)"', text):
        assert not src.startswith(("/", "http")), src
        assert (partial_run / src).is_file(), src
    assert "sequence.gif" in text
    assert 'class="pass"' in text


def test_report_refuses_to_overwrite_without_flag(partial_run, capsys):
    assert main(["report", str(partial_run)]) == 0
    before = (partial_run / "report.html").read_text()
    assert main(["report", str(partial_run)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "already exists" in err[0]
    assert (partial_run / "report.html").read_text() == before
    assert main(["report", str(partial_run), "--overwrite"]) == 0


def test_empty_folder_is_a_one_line_error(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "no seegaan artefacts" in err and "\n" not in err
    assert not (tmp_path / "report.html").exists()


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

# Injected into a copy of the report: after load, record how many images decoded and which
# sections exist, where --dump-dom can read it.
PROBE = """<script>
window.addEventListener('load', () => {
  const imgs = [...document.images];
  const bad = imgs.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src);
  const secs = [...document.querySelectorAll('section[data-section]')].map(s => s.dataset.section);
  const out = document.createElement('pre');
  out.id = 'probe';
  out.textContent = JSON.stringify({n: imgs.length, bad: bad, sections: secs});
  document.body.appendChild(out);
});
</script></body>"""


def browser_check(report_path):
    """Open ``report_path`` in headless Chromium; return (n_images, broken_images, sections)."""
    probe = report_path.with_name("_probe.html")
    probe.write_text(report_path.read_text().replace("</body>", PROBE))
    try:
        out = subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
             "--disable-background-networking", "--disable-component-update",
             "--allow-file-access-from-files", "--virtual-time-budget=5000",
             "--dump-dom", probe.as_uri()],
            capture_output=True, text=True, timeout=120).stdout
    finally:
        probe.unlink()
    found = re.search(r'<pre id="probe">(.*?)</pre>', out, re.S)
    assert found, "the probe did not run: " + out[-500:]
    data = json.loads(found.group(1).replace("&quot;", '"'))
    return data["n"], data["bad"], set(data["sections"])


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed")
def test_report_loads_in_a_real_browser(partial_run):
    path = build_report(partial_run)
    n, bad, sections = browser_check(path)
    assert n >= 8
    assert bad == []
    assert sections == {"data", "global", "local", "truth"}


# After load, measure whether the ground-truth table fits its card (no clipping, no overflow).
FIT_PROBE = """<script>
window.addEventListener('load', () => {
  const card = document.querySelector('section#truth');
  const table = card.querySelector('table');
  const out = document.createElement('pre');
  out.id = 'probe';
  out.textContent = JSON.stringify({card: card.getBoundingClientRect().right,
                                    table: table.getBoundingClientRect().right,
                                    scroll: card.scrollWidth - card.clientWidth,
                                    window: window.innerWidth});
  document.body.appendChild(out);
});
</script></body>"""


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed")
@pytest.mark.parametrize("width", [1000, 1400])
def test_truth_table_fits_its_card(partial_run, width):
    # The demo's real columns, with its longest texts.
    long_check = "Autoencoder: reconstructions keep each patient's chest-wall fat (oracle r)"
    rows = [{"check": long_check, "measured": "Pearson r 0.976 (oracle on originals vs reconstructions)",
             "target": "r ≥ 0.9", "pass": "pass", "sequence": "explain/prediction_log_bnpp_global",
             "factor": "gt_fat", "change": 0.1234567, "true_effect": -0.0987654, "ratio": 1.2345,
             "spearman": 0.987, "pattern_correlation": 0.876}] * 18
    pd.DataFrame(rows).to_csv(partial_run / "truth.csv", index=False)
    path = build_report(partial_run)
    probe = path.with_name("_fit.html")
    probe.write_text(path.read_text().replace("</body>", FIT_PROBE))
    try:
        out = subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", f"--window-size={width},900",
             "--disable-background-networking", "--disable-component-update",
             "--allow-file-access-from-files", "--virtual-time-budget=5000",
             "--dump-dom", probe.as_uri()], capture_output=True, text=True, timeout=120).stdout
    finally:
        probe.unlink()
    data = json.loads(re.search(r'<pre id="probe">(.*?)</pre>', out, re.S).group(1)
                      .replace("&quot;", '"'))
    assert data["window"] == width
    assert data["table"] <= data["card"] and data["scroll"] <= 0, data
