"""Evaluation metrics, the registry method, the CLI's one-line errors and the report section."""

from __future__ import annotations

import importlib
import sys
import types

import numpy as np
import pytest
import torch

from seegaan.explain.methods import Case, Context, get_method
from seegaan.medxgan.evaluate import EvalSettings, evaluate_medxgan, marked_pixels, table_markdown
from seegaan.medxgan.explainer import ExplainSettings
from seegaan.medxgan.invert import InversionSettings
from seegaan.medxgan.train import MedXGANTrainer

from .conftest import SIZE


@pytest.fixture
def validate_metrics(monkeypatch):
    """The benchmark's seegaan.validate.metrics, or (on a branch without it) a stand-in with the
    same two functions, so these tests run either way."""
    try:
        return importlib.import_module("seegaan.validate.metrics")
    except ImportError:
        pass
    fake = types.ModuleType("seegaan.validate.metrics")

    def deletion_curve(model_fn, image, saliency, fractions=(0.1,)):
        x = torch.as_tensor(image).float().reshape(1, -1)
        order = np.argsort(-np.abs(np.asarray(saliency)).ravel(), kind="stable")
        batch = x.repeat(len(fractions) + 1, 1)
        for i, f in enumerate(fractions):
            batch[i + 1, torch.from_numpy(order[:round(f * x.shape[1])].copy())] = float(x.mean())
        with torch.no_grad():
            s = model_fn(batch.reshape(-1, 1, *np.shape(saliency))).double().numpy()
        return {"fractions": np.asarray(fractions), "scores": s[1:], "base": float(s[0])}

    def bootstrap_ci(values, n_boot=1000, level=0.95, seed=0):
        v = np.asarray(values, float)
        v = v[np.isfinite(v)]
        rng = np.random.default_rng(seed)
        m = v[rng.integers(0, len(v), (n_boot, len(v)))].mean(1)
        return float(v.mean()), *map(float, np.quantile(m, [(1 - level) / 2, (1 + level) / 2]))

    fake.deletion_curve, fake.bootstrap_ci = deletion_curve, bootstrap_ci
    pkg = types.ModuleType("seegaan.validate")
    pkg.metrics = fake
    monkeypatch.setitem(sys.modules, "seegaan.validate", pkg)
    monkeypatch.setitem(sys.modules, "seegaan.validate.metrics", fake)
    return fake


def test_marked_pixels_counts_the_mass():
    assert marked_pixels(np.ones((10, 10)), 0.9) == 90
    one = np.zeros((10, 10))
    one[3, 4] = -2.0
    assert marked_pixels(one, 0.9) == 1
    assert marked_pixels(np.zeros((4, 4))) == 0


def test_deletion_drop_finds_what_the_classifier_uses(validate_metrics, tiny_classifier):
    from seegaan.medxgan.evaluate import deletion_drop

    yy, xx = np.mgrid[:SIZE, :SIZE]
    blob = np.exp(-((xx - 8) ** 2 + (yy - 8) ** 2) / 8.0)
    x = torch.from_numpy((0.8 * blob - 0.2).astype(np.float32))[None, None]
    right = deletion_drop(tiny_classifier, x, blob, 0.1)
    rng = np.random.default_rng(0)
    random = np.mean([deletion_drop(tiny_classifier, x, rng.random((SIZE, SIZE)), 0.1) for _ in range(5)])
    assert right > 0.1 and right > 3 * abs(random)


@pytest.fixture
def tiny_run(tmp_path, tiny_data, tiny_cfg, tiny_train_cfg, tiny_classifier):
    MedXGANTrainer(tiny_data, tmp_path / "run", tiny_cfg, tiny_train_cfg, tiny_classifier).run()
    return tmp_path / "run"


def test_evaluate_table_has_every_metric(validate_metrics, tiny_run, tiny_classifier):
    from seegaan.medxgan.checkpoint import load_medxgan

    G, _ = load_medxgan(tiny_run)
    films = torch.rand(3, 1, SIZE, SIZE) * 2 - 1
    s = EvalSettings(k=0.1, n_generated=16,
                     explain=ExplainSettings(InversionSettings(restarts=2, steps=5), frames=4, lig_steps=4))
    res = evaluate_medxgan(G, tiny_classifier, films, ["a", "b", "c"], s)
    keys = {r["metric"] for r in res["table"]}
    assert {"deletion_drop_lig", "deletion_drop_gradcam", "deletion_drop_ig",
            "marked_fraction_lig_vs_ig", "convergence_cosine", "generated_class_accuracy"} <= keys
    assert len(res["rows"]) == 3
    md = table_markdown(res)
    assert "0.910" in md and "k = 10%" in md


def test_registry_method_runs_with_a_checkpoint_and_says_why_not_without(tiny_run, tiny_classifier):
    m = get_method("medxgan")
    assert m.kind == "sequence"
    ctx = Context(model=tiny_classifier.model)
    why = m.unavailable(ctx)   # the bundled checkpoint is for the demo's 64 x 64 CNN only
    assert why and ("checkpoint" in why or "64x64" in why)
    ctx = Context(model=tiny_classifier.model,
                  options={"medxgan": {"checkpoint": str(tiny_run), "restarts": 2, "steps": 5,
                                       "frames": 4, "lig_steps": 4}})
    assert m.unavailable(ctx) is None
    exp = m.run(Case("f00", torch.rand(1, 1, SIZE, SIZE) * 2 - 1), ctx)
    assert exp.map.shape == (SIZE, SIZE) and exp.frames.shape == (4, SIZE, SIZE)
    assert exp.step_name == "alpha" and exp.steps[0] == 0.0 and exp.steps[-1] == 1.0
    assert len(exp.predictions) == 4 and "spearman" in exp.scalars


def test_explain_writes_the_promised_files_and_report_section(tmp_path, tiny_run, tiny_classifier):
    from seegaan.medxgan.checkpoint import load_medxgan
    from seegaan.medxgan.outputs import Film, explain_to_dir
    from seegaan.report.section_medxgan import medxgan_sections

    G, info = load_medxgan(tiny_run)
    films = [Film("f/../01", torch.rand(1, 1, SIZE, SIZE) * 2 - 1, "TP", 900.0, 700.0)]
    s = ExplainSettings(InversionSettings(restarts=2, steps=3), frames=3, lig_steps=2)
    out = tmp_path / "mx"
    explain_to_dir(G, tiny_classifier, films, out, info, s)
    fig = out / "figures" / "f_.._01"
    assert {p.name for p in fig.iterdir()} == {"sequence.png", "lig.png", "sequence.gif"}
    assert (out / "result.json").is_file() and (out / "manifest.json").is_file()
    assert (out / "cases" / "f_.._01" / "medxgan" / "map.npy").is_file()
    sections = medxgan_sections(tmp_path)
    assert len(sections) == 1 and "lig.png" in sections[0].body and sections[0].how
    assert "cohort version" not in sections[0].body
    # A note the demo adds (a generator trained on another cohort version) reaches the report.
    explain_to_dir(G, tiny_classifier, films, out, info, s, overwrite=True,
                   note="trained on cohort version 1")
    assert "trained on cohort version 1" in medxgan_sections(tmp_path)[0].body


def test_cli_size_mismatch_is_one_line_naming_both_sizes(tmp_path, tiny_run, tiny_data, capsys):
    import warnings

    from seegaan.cli import main

    from .conftest import tiny_net

    ts = tmp_path / "tiny.pt"
    with warnings.catch_warnings():  # TorchScript's deprecation is not what this test is about
        warnings.simplefilter("ignore", FutureWarning)
        torch.jit.script(tiny_net()).save(str(ts))
    rc = main(["medxgan", "explain", str(tiny_run), "--classifier", str(ts), "--input-size", "32",
               "--target", "bnpp>400", "--data", str(tiny_data), "--cases", "tp",
               "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1, err
    assert err.startswith("error:") and "32x32" in err and "16x16" in err
