"""BNPP sequences are built on log BNPP but every label a reader sees is in pg/mL (issue 20 §2).

The labels are checked where the figures get them: the strings handed to the frame strip, the
titles of the global side-by-side figure's axes, the report slider's readout and the caption.
"""

from __future__ import annotations

import json
import re
from types import SimpleNamespace

import matplotlib
import numpy as np
import pandas as pd
import pytest

from seegaan.latent.select import Selection
from seegaan.latent.sequence import SequenceResult, write_sequence
from seegaan.units import format_value, frame_value_labels

# log BNPP of a typical demo sequence: 4.47 … 10.4 (87 … 33,000 pg/mL)
LOG_VALUES = np.linspace(4.47, 10.4, 5)


def _number(label: str) -> float:
    return float(re.search(r"([\d,]+(?:\.\d+)?)", label.split("=")[-1]).group(1).replace(",", ""))


def test_log_bnpp_labels_are_pg_per_ml_to_three_figures():
    labels = frame_value_labels(LOG_VALUES, "log_bnpp")
    assert labels[0] == "bnpp=87.4 pg/mL" and labels[-1] == "bnpp=32,900 pg/mL"
    for label, v in zip(labels, LOG_VALUES):
        assert label.startswith("bnpp=") and label.endswith(" pg/mL")
        assert _number(label) == pytest.approx(np.exp(v), rel=5e-3)      # exp of the log value
        assert f"{v:.3g}" not in label                                  # no log units left
    # A random log grid: always pg/mL, always within rounding of exp(v).
    rng = np.random.default_rng(0)
    for v in rng.uniform(0.5, 11, 50):
        (label,) = frame_value_labels([v], "log_bnpp")
        assert _number(label) == pytest.approx(np.exp(v), rel=5e-3), label


def test_other_features_keep_their_values_and_unknown_units_get_none():
    assert frame_value_labels([60.5, 71.25], "age") == ["age=60.5", "age=71.2"]
    assert frame_value_labels([np.log(400.0)], "log_prediction", unit="pg/mL") == ["prediction=400 pg/mL"]
    assert frame_value_labels([np.log(2.0)], "log_crp") == ["crp=2"]           # exp, no unit claimed
    assert [format_value(v) for v in (0.0123, 87.36, 402.9, 999.5, 1234.0, 1e6)] == \
        ["0.0123", "87.4", "403", "1,000", "1,230", "1,000,000"]


def _result(feature: str = "log_bnpp", unit: str | None = None) -> SequenceResult:
    t, s = len(LOG_VALUES), 8
    frames = np.linspace(-0.5, 0.5, t)[:, None, None] * np.ones((t, s, s), np.float32)
    sel = Selection(feature, "quantitative", "test", np.zeros((3, 4), np.float32), pd.DataFrame(), 0,
                    np.arange(3), x=np.arange(3.0), groups={"all": 3})
    return SequenceResult("global", feature, "quantitative", LOG_VALUES, feature, np.zeros((t, 4)),
                          frames.astype(np.float32), (frames - frames[:1]).astype(np.float32), sel,
                          unit=unit)


def test_the_png_strips_get_pg_per_ml_labels_and_the_summary_keeps_log_values(tmp_path, monkeypatch):
    import seegaan.viz as viz

    seen: dict[str, list[str]] = {}
    real_frame, real_diff = viz.frame_strip, viz.difference_strip

    def frame_strip(frames, labels=None, title=None, **kw):
        seen["frame"], seen["title"] = list(labels), [title]
        return real_frame(frames, labels, title=title, **kw)

    def difference_strip(diffs, labels=None, **kw):
        seen["diff"] = list(labels)
        return real_diff(diffs, labels, **kw)

    monkeypatch.setattr(viz, "frame_strip", frame_strip)
    monkeypatch.setattr(viz, "difference_strip", difference_strip)
    write_sequence(_result(), tmp_path / "seq", mp4=False)
    assert seen["frame"] == seen["diff"] == frame_value_labels(LOG_VALUES, "log_bnpp")
    assert "87.4 pg/mL → 32,900 pg/mL" in seen["title"][0] and "log_bnpp" not in seen["title"][0]
    summary = json.loads((tmp_path / "seq" / "summary.json").read_text())
    assert summary["unit"] == "pg/mL" and summary["values"] == pytest.approx(LOG_VALUES.tolist())

    # The report's slider and caption, from the same folder.
    from seegaan.report.captions import sequence_captions
    from seegaan.report.interactive import sequence_slider

    block = sequence_slider(tmp_path / "seq", tmp_path)
    data = json.loads(re.search(r'data-role="data">(.*?)</script>', block, re.S).group(1))
    assert data["labels"][0] == "bnpp = 87.4 pg/mL" and data["labels"][-1] == "bnpp = 32,900 pg/mL"
    assert '<output data-role="label">bnpp = 87.4 pg/mL</output>' in block
    caption = sequence_captions(summary, None)["sequence"]
    assert "labelled back in pg/mL, from 87.4 pg/mL to 32,900 pg/mL" in caption


def test_global_side_by_side_titles_are_pg_per_ml_and_the_backend_is_left_alone(tmp_path, monkeypatch):
    import seegaan.viz as viz
    from seegaan.explain.pipeline import _side_by_side

    figs = []
    monkeypatch.setattr(viz, "save_figure", lambda fig, path, **kw: figs.append(fig))
    truth = _result("log_bnpp")
    pred = _result("log_prediction", unit="pg/mL")
    before = matplotlib.get_backend()
    matplotlib.use("svg")        # a user's backend: drawing must not switch it
    try:
        _side_by_side({"ground truth": truth, "prediction": pred}, tmp_path / "g.png")
        assert matplotlib.get_backend() == "svg"
    finally:
        matplotlib.use(before)
    (fig,) = figs
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    want = [label.split("=")[1] for label in frame_value_labels(LOG_VALUES, "log_bnpp")]
    assert titles == want * 2
    ylabels = [ax.get_ylabel() for ax in fig.axes if "\n" in ax.get_ylabel()]
    assert "ground truth\nbnpp (pg/mL)" in ylabels and "prediction\nprediction (pg/mL)" in ylabels


def test_the_explain_pipeline_labels_prediction_sequences_in_the_targets_unit(monkeypatch):
    import seegaan.latent as latent
    from seegaan.explain.pipeline import ExplainConfig, _global

    monkeypatch.setattr(latent, "global_sequence", lambda *a, **k: SimpleNamespace(unit=None))
    assert _global(None, None, "log_prediction", ExplainConfig(target="bnpp")).unit == "pg/mL"
    assert _global(None, None, "log_prediction", ExplainConfig(target="age")).unit is None
