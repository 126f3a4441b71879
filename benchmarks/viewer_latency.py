"""How responsive is ``seegaan view``? Startup time and slider-to-image latency at 64².

Setup (not timed): 64 films of the virtual cohort at 64², encoded by the bundled ``demo64``
checkpoint into a latent table, and a ResNet-18 reference CNN (untrained weights: a forward
pass costs the same whatever the weights) saved as a CNN directory.

Measured, in one run on this machine:

1. startup: ``seegaan view CKPT LATENTS --model CNN --port 0`` in a fresh process, from
   launch to the first answer of ``/api/info`` (target ≤ 5 s on 2 cores);
2. server latency: ``/api/frame`` round trips for 60 slider positions (decode, prediction,
   subtraction, PNG encoding, JSON), from a Python client;
3. slider-to-image latency in headless Chromium (when Playwright and Chromium are
   installed): from the slider's input event until both new images are decoded on the page,
   as the page itself reports it (target: median ≤ 150 ms).

Other jobs may share the CPU: the load average is printed with the results.

    python benchmarks/viewer_latency.py [--steps 60] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np


def build_study(root: Path, n: int = 64) -> tuple[Path, Path, Path]:
    """(checkpoint, latents, cnn dir) of a small demo study in ``root``."""
    import torch

    import seegaan
    from seegaan.cohort import sample_subjects, subjects_frame
    from seegaan.cohort.cohort import render_arrays
    from seegaan.data.prepared import from_uint16, write_prepared
    from seegaan.explain.reference_cnn import ReferenceCNN, save_reference_cnn
    from seegaan.latent import encode_images, save_latents
    from seegaan.models.autoencoder import DEMO_CHECKPOINT

    subjects = sample_subjects(n, seed=0)[:n]
    images = from_uint16(render_arrays(subjects, 64, workers=1))
    index = subjects_frame(subjects)
    index["split"] = np.where(np.arange(len(index)) % 4 == 0, "train", "test")
    index["source_path"] = ""
    data = write_prepared(root / "data", images, index, {"ahf": "categorical", "sex": "categorical",
                                                          "age": "numeric", "bnpp": "numeric"})
    ae = seegaan.load_autoencoder(None)
    w = encode_images(ae, torch.from_numpy(images[:, None]))
    lat = save_latents(index.drop(columns=["source_path"]), w, root / "latents.parquet",
                       {"checkpoint": str(DEMO_CHECKPOINT), "data_dir": str(data), "image_size": 64})
    torch.manual_seed(0)
    save_reference_cnn(ReferenceCNN(), root / "cnn",
                       {"input_adapter": {"size": 64, "log_output": True}})
    return DEMO_CHECKPOINT, lat, root / "cnn"


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=60) as res:
        return json.loads(res.read())


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process so far (Linux /proc), else None."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def start_viewer(ckpt: Path, lat: Path, cnn: Path | None) -> dict:
    """Launch ``seegaan view`` and wait for its first answer.

    Returns the process, its URL, the wall time from launch to the first answer of
    ``/api/info`` and the CPU time the process had used by then (on a machine shared with
    other jobs the wall time mostly measures waiting for a core; the CPU time does not)."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    cmd = [sys.executable, "-m", "seegaan", "view", str(ckpt), str(lat), "--port", "0"]
    if cnn is not None:
        cmd += ["--model", str(cnn)]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    line = proc.stdout.readline().strip()
    if not line.startswith("seegaan view: http"):
        proc.kill()
        raise SystemExit(f"viewer did not start: {line!r} {proc.stderr.read()[-2000:]}")
    url = line.split()[2]
    get_json(url + "api/info")
    wall = time.perf_counter() - t0
    cpu = cpu_seconds(proc.pid)
    return {"proc": proc, "url": url, "wall_s": round(wall, 2),
            "cpu_s": None if cpu is None else round(cpu, 2), "line": line}


def server_latency(url: str, film: str, feature: str, steps: int) -> dict:
    times, server, cpu = [], [], []
    for lam in np.linspace(0.0, 2.0, steps):
        t = time.perf_counter()
        r = get_json(f"{url}api/frame?film={film}&feature={feature}&lam={lam:.3f}")
        times.append(1000 * (time.perf_counter() - t))
        server.append(r["server_ms"])
        cpu.append(r["server_cpu_ms"])
    return {"round_trip_ms_median": round(float(np.median(times)), 1),
            "round_trip_ms_p90": round(float(np.percentile(times, 90)), 1),
            "server_ms_median": round(float(np.median(server)), 1),
            "server_cpu_ms_median": round(float(np.median(cpu)), 1)}


def browser_latency(url: str, film: str, steps: int, screenshot: Path | None) -> dict | None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    if chromium is None:
        return None
    out = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1240, "height": 980}, bypass_csp=True)
        page.goto(url)
        page.wait_for_selector("body[data-ready='1']")
        page.click(f"#film-list button[data-id='{film}']")
        page.wait_for_function("Number(document.body.dataset.frames || 0) >= 1")
        for lam in np.linspace(0.02, 2.0, steps):
            n = int(page.evaluate("Number(document.body.dataset.frames)"))
            page.fill("#lam", f"{lam:.2f}")
            page.wait_for_function(f"Number(document.body.dataset.frames) > {n}")
            out.append(float(page.evaluate("Number(document.body.dataset.lastLatencyMs)")))
        if screenshot is not None:
            page.select_option("#feature", "ahf")
            page.fill("#lam", "1.5")
            page.wait_for_timeout(800)
            page.evaluate("window.scrollTo(0, 0)")
            page.screenshot(path=str(screenshot), clip={"x": 0, "y": 0, "width": 1240, "height": 700})
        browser.close()
    return {"slider_to_image_ms_median": round(float(np.median(out)), 1),
            "slider_to_image_ms_p90": round(float(np.percentile(out, 90)), 1), "n": len(out)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=60, help="slider positions measured")
    ap.add_argument("--keep", type=Path, default=None, help="build the study here and keep it")
    ap.add_argument("--screenshot", type=Path, default=None, help="save a screenshot of the page")
    args = ap.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="seegaan-viewer-bench-"))
    root.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    if (root / "latents.parquet").is_file() and (root / "cnn" / "config.json").is_file():
        from seegaan.models.autoencoder import DEMO_CHECKPOINT

        ckpt, lat, cnn = DEMO_CHECKPOINT, root / "latents.parquet", root / "cnn"  # --keep reuse
    else:
        ckpt, lat, cnn = build_study(root)
    setup_s = time.perf_counter() - t
    bare = start_viewer(ckpt, lat, None)        # the demo checkpoint alone
    bare["proc"].terminate()
    bare["proc"].wait(10)
    run = start_viewer(ckpt, lat, cnn)          # with the CNN, for the latency figures
    url = run["url"]
    try:
        films = get_json(url + "api/films?limit=5")
        film = films[1]["id"]
        results = {"setup_s": round(setup_s, 1),
                   "startup_demo_checkpoint": {k: bare[k] for k in ("wall_s", "cpu_s", "line")},
                   "startup_with_cnn": {k: run[k] for k in ("wall_s", "cpu_s", "line")},
                   "film": film, "feature": "ahf",
                   "server": server_latency(url, film, "ahf", args.steps),
                   "browser": browser_latency(url, film, args.steps, args.screenshot),
                   "cpu_count": os.cpu_count(), "load_average": [round(x, 2) for x in os.getloadavg()]}
    finally:
        run["proc"].terminate()
        run["proc"].wait(10)
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)
    print(json.dumps(results, indent=2, ensure_ascii=False))
    b = results["browser"]
    st = results["startup_demo_checkpoint"]
    print(f"startup with the demo checkpoint: {st['wall_s']} s wall, {st['cpu_s']} s CPU "
          f"(target ≤ 5 s); slider-to-image median "
          f"{b['slider_to_image_ms_median'] if b else 'n/a (no browser)'} ms (target ≤ 150); "
          f"server median {results['server']['server_ms_median']} ms wall, "
          f"{results['server']['server_cpu_ms_median']} ms CPU; "
          f"load average {results['load_average']} on {results['cpu_count']} cores")


if __name__ == "__main__":
    main()
