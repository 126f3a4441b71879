"""The report reads explanation runs through their manifest and shows a benchmark run."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from seegaan.explain.methods import Explanation, save_explanation, write_manifest
from seegaan.report import build_report


def _explain_run(root):
    folder = root / "cases" / "im7"
    folder.mkdir(parents=True)
    np.save(folder / "image.npy", np.zeros((8, 8), np.float32))
    save_explanation(Explanation("saliency", "attribution", map=np.ones((8, 8), np.float32)),
                     folder / "saliency")
    save_explanation(Explanation("seegaan_lambda", "sequence", status="reached",
                                 frames=np.zeros((3, 8, 8), np.float32), steps=np.array([0, .2, .4]),
                                 scalars={"lam": 0.4, "calls": 6}), folder / "seegaan_lambda")
    write_manifest(root, [{"image_id": "im7", "category": "FP", "truth": 120.0, "prediction": 900.0,
                           "folder": "cases/im7", "image": "cases/im7/image.npy",
                           "methods": {"saliency": "ok", "seegaan_lambda": "reached"}}],
                   ["saliency", "seegaan_lambda"])
    (root / "summary.json").write_text(json.dumps({"kind": "explain"}))


def test_report_reads_the_manifest_and_the_benchmark(tmp_path):
    _explain_run(tmp_path / "exp")
    bench = tmp_path / "bench"
    bench.mkdir()
    pd.DataFrame([{"method": "saliency", "model": "shortcut", "metric": "device_rank", "value": 1.5,
                   "ci_low": 1.0, "ci_high": 2.0, "n": 50}]).to_csv(bench / "scores.csv", index=False)
    (bench / "summary.json").write_text(json.dumps({
        "kind": "benchmark", "true_device_dy": {"shortcut": 0.8, "reference": 0.01},
        "shortcut_test": {"passing": ["saliency"], "device_first_on_reference": []},
        "files": {"figures": {}}}))
    html = build_report(tmp_path).read_text()
    assert "reached at λ = 0.4 (6 model calls)" in html     # from the method's own result.json
    assert "Methods compared on the truth" in html and "shortcut +0.800" in html
    assert "How to read it" in html
