"""Interventional truth, the benchmark's scores, and the registry-built table (tiny, CPU)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from seegaan.explain.methods import Method, register, unregister
from seegaan.validate.interventional import (
    FACTOR_NAMES,
    INTERVENTIONS,
    benchmark_subjects,
    reliance_profile,
    subject_truths,
)
from seegaan.validate.scoring import border_map, oracle_map, score_pixel_map

SIZE = 32
HEART = FACTOR_NAMES.index("heart")
DEVICE = FACTOR_NAMES.index("device")


@pytest.fixture(scope="module")
def truths():
    return subject_truths(benchmark_subjects(4, seed=7), SIZE)


def _reads(truths, factor):
    """A 'model' that reads the mean of one factor's region in the first subject's film."""
    region = torch.from_numpy(truths[0].regions[factor])

    def f(x):
        return (x[:, 0] * region).sum(dim=(1, 2)) / region.sum()
    return f


def test_interventions_are_one_list_and_the_truth_is_found(truths):
    assert len(FACTOR_NAMES) == len(INTERVENTIONS) == len(set(FACTOR_NAMES)) == 8
    t = truths[0]
    assert t.diffs.shape == (8, SIZE, SIZE) and t.regions.any(axis=(1, 2)).all()
    # The device sits in every explained film and is a small local region.
    assert t.subject.device == 1 and t.regions[DEVICE].mean() < 0.1
    dy = reliance_profile(_reads(truths, DEVICE), truths)
    assert dy.shape == (4, 8) and np.argmax(np.abs(dy[0])) == DEVICE


def test_random_map_at_chance_oracle_near_top_border_low(truths):
    f = _reads(truths, HEART)
    dy = reliance_profile(f, truths)
    rng = np.random.default_rng(0)
    rand = [score_pixel_map(rng.random((SIZE, SIZE)), dy[i], t, f)
            for i, t in enumerate(truths) for _ in range(5)]
    orac = [score_pixel_map(oracle_map(dy[i], t), dy[i], t, f) for i, t in enumerate(truths)]
    bord = [score_pixel_map(border_map(SIZE), dy[i], t, f) for i, t in enumerate(truths)]
    mean = lambda rows, k: np.nanmean([r.get(k, np.nan) for r in rows])  # noqa: E731
    assert abs(mean(rand, "reliance")) < 0.35 and abs(mean(rand, "auroc") - 0.5) < 0.1
    assert mean(orac, "reliance") > 0.7 and mean(orac, "auroc") > 0.9 and mean(orac, "pointing") == 1.0
    assert mean(orac, "deletion") > 2 * mean(rand, "deletion")
    assert mean(bord, "pointing") == 0.0 and mean(bord, "deletion") < mean(orac, "deletion")
    assert mean(bord, "reliance") < mean(orac, "reliance")


class _LinearAE:
    """decode(w) = tanh(A w) as (N, 1, S, S); encode by least squares. Deterministic."""

    def __init__(self, w_dim: int = 12, size: int = SIZE):
        g = torch.Generator().manual_seed(0)
        self.w_dim, self.image_size, self.device = w_dim, size, "cpu"
        self.A = torch.randn(size * size, w_dim, generator=g) * 0.15
        self.pinv = torch.linalg.pinv(self.A)

    def encode(self, x):
        return torch.atanh(x.reshape(len(x), -1).clamp(-0.99, 0.99)) @ self.pinv.T

    def decode(self, w):
        return torch.tanh(w @ self.A.T).reshape(len(w), 1, self.image_size, self.image_size)


class _Centre(Method):
    """A dummy method: a bright square in the middle of every image."""

    name = "dummy_centre"
    title = "Dummy centre"
    needs_model = False

    def run(self, case, ctx):
        m = np.zeros(case.image.shape[-2:], np.float32)
        s = m.shape[0]
        m[s // 3: 2 * s // 3, s // 3: 2 * s // 3] = 1.0
        return self.explanation(map=m)


def test_benchmark_table_is_built_from_the_registry(tmp_path):
    from seegaan.validate.benchmark import BenchmarkConfig, run_benchmark
    from seegaan.validate.known_models import KnownModelsConfig

    register(_Centre)
    try:
        cfg = BenchmarkConfig.make(subjects=3, sequence_subjects=2, size=SIZE, n_boot=50,
                                   figure_subjects=2, local_frames=3, lambda_max_calls=4,
                                   methods=("saliency", "seegaan_local", "dummy_centre"),
                                   models=KnownModelsConfig(size=SIZE, n_train=40, epochs=1,
                                                            workers=1))
        s = run_benchmark(tmp_path / "b", cfg, autoencoder=_LinearAE())
    finally:
        unregister("dummy_centre")
    out = tmp_path / "b"
    t = pd.read_csv(out / "scores.csv")
    assert list(t.columns) == ["method", "model", "metric", "value", "ci_low", "ci_high", "n"]
    methods = {"saliency", "seegaan_local", "seegaan_local+residual", "dummy_centre"}
    assert methods <= set(t["method"]) and set(s["methods"]) == methods
    models = {"reference", "shortcut", "heart_only", "fat_only", "randomised"}
    assert set(t["model"]) == models
    for m in methods:
        got = set(t[(t["method"] == m) & (t["model"] == "shortcut")]["metric"])
        assert {"reliance", "deletion", "device_rank"} <= got, (m, got)
    # Sanity (trained vs randomised) for every pixel method; the truth rows carry Δŷ.
    assert set(t[(t["metric"] == "sanity")]["method"]) >= {"saliency", "dummy_centre"}
    assert len(t[(t["method"] == "(truth)") & (t["metric"] == "dy_device")]) == 5
    # The residual variant starts at the film itself: frame 0 is scored as no gap.
    gap = t[(t["metric"] == "frame0_gap")].set_index(["method", "model"])["value"]
    assert gap.loc[("seegaan_local+residual", "reference")] == pytest.approx(0.0, abs=1e-5)
    assert {"fidelity_r", "fidelity_median_abs_diff"} <= set(t[t["method"] == "(autoencoder)"]["metric"])
    for name in ("scores.md", "scores.json", "ranking.png", "summary.json", "fig_shortcut.png"):
        assert (out / name).is_file(), name
    assert "dummy_centre" in (out / "scores.md").read_text()
    on_disk = json.loads((out / "summary.json").read_text())
    assert set(on_disk["true_device_dy"]) == models and "passing" in on_disk["shortcut_test"]


def test_gvr_is_fitted_to_the_benchmarked_models_scores():
    """GVR needs a latent predictor; inside the benchmark it is fitted to the model's own
    scores (not the labels), so the method runs and explains that model."""
    import numpy as np
    import torch

    from seegaan.explain.methods import Case, Context, get_method
    from seegaan.validate.benchmark import _gvr_context

    rng = np.random.default_rng(0)
    w = rng.normal(size=(12, 8)).astype(np.float32)
    scores = w[:, 0] * 2.0 + 5.0
    cases = [Case(f"s{i}", torch.zeros(1, 1, 4, 4), w=w[i], prediction=float(scores[i]))
             for i in range(12)]
    gvr = get_method("gvr")
    plain = Context(autoencoder=object())
    assert "latent table" in gvr.unavailable(plain)
    ctx = _gvr_context(plain, cases, w)
    assert gvr.unavailable(ctx) is None
    assert ctx.target == "model_score" and not ctx.log_scale
    assert ctx.threshold == float(np.median(scores))
    np.testing.assert_allclose(ctx.table.meta["model_score"], scores, rtol=1e-6)


def test_medxgan_gets_its_row_from_generators_fine_tuned_per_model(tmp_path):
    """medXGAN's bundled generator explains another CNN; the benchmark fine-tunes it against
    each of its models (cached beside the model), so medXGAN is scored like every method."""
    from seegaan.medxgan.finetune import FinetuneConfig
    from seegaan.validate.benchmark import BenchmarkConfig, run_benchmark
    from seegaan.validate.known_medxgan import MedXGANFinetune, medxgan_generators
    from seegaan.validate.known_models import KnownModelsConfig, load_known_models

    cfg = BenchmarkConfig.make(subjects=3, sequence_subjects=2, size=64, n_boot=50, figure_subjects=1,
                               methods=("saliency", "medxgan"), medxgan_inversion=(1, 3),
                               medxgan=MedXGANFinetune(FinetuneConfig(steps=2, batch=4, val_samples=8),
                                                       n_films=12),
                               models=KnownModelsConfig(size=64, n_train=30, epochs=1, workers=1))
    s = run_benchmark(tmp_path / "b", cfg)
    t = pd.read_csv(tmp_path / "b" / "scores.csv")
    mx = t[t["method"] == "medxgan"]
    assert set(mx["model"]) == {"reference", "shortcut", "heart_only", "fat_only", "randomised"}
    got = set(mx[mx["model"] == "shortcut"]["metric"])
    assert {"reliance", "pointing", "auroc", "deletion", "device_rank"} <= got, got
    assert "sanity" in set(mx[mx["model"] == "reference"]["metric"])
    assert mx["ci_low"].notna().any()
    gens = s["medxgan_generators"]
    assert set(gens) == set(s["models"]) and all(0.0 <= g["class_acc"] <= 1.0 for g in gens.values())
    assert "generated-class accuracy" in (tmp_path / "b" / "scores.md").read_text()
    # Cached beside each model: asking again (a rerun with --models) fine-tunes nothing.
    models_dir = tmp_path / "b" / "models"
    assert (models_dir / "shortcut" / "medxgan" / "model.safetensors").is_file()
    _, again = medxgan_generators(load_known_models(models_dir), models_dir, cfg.medxgan)
    assert all(r["cached"] for r in again.values())
    assert again["shortcut"]["class_acc"] == gens["shortcut"]["class_acc"]


@pytest.mark.parametrize("version", [1, 2])
def test_reference_cohort_device_is_common_and_says_nothing_about_the_label(version):
    """The reference/heart/fat models' cohort draws the pacemaker independently (P = 0.5), so
    their device Δŷ is near zero by construction; the shortcut cohort ties it to AHF."""
    from seegaan.validate.known_models import KnownModelsConfig, shortcut_subjects

    cfg = KnownModelsConfig()
    subs = shortcut_subjects(600, 500, cfg.device_p, version)
    dev = np.array([s.device for s in subs])
    ahf = np.array([s.ahf for s in subs])
    assert 0.4 < dev.mean() < 0.6
    assert abs(dev[ahf == 1].mean() - dev[ahf == 0].mean()) < 0.12
    short = shortcut_subjects(600, 600, cfg.shortcut_p, version, on="ahf")
    sd, sa = np.array([s.device for s in short]), np.array([s.ahf for s in short])
    assert sd[sa == 1].mean() - sd[sa == 0].mean() > 0.6


@pytest.mark.parametrize("version", [1, 2])
def test_shortcut_device_carries_what_the_anatomy_does_not(version):
    """The shortcut cohort marks the hidden severity: the device follows the part of log BNPP
    that the visible factors leave unexplained, and that part is unrelated to them."""
    from seegaan.validate.known_models import (
        VISIBLE,
        KnownModelsConfig,
        hidden_severity,
        shortcut_subjects,
    )

    cfg = KnownModelsConfig()
    short = shortcut_subjects(600, 600, cfg.shortcut_p, version, on="hidden")
    sev = hidden_severity(short)
    dev = np.array([s.device for s in short])
    above = sev > np.median(sev)
    assert dev[above].mean() > 0.85 and dev[~above].mean() < 0.15
    for f in VISIBLE:
        v = np.array([float(getattr(s, f)) for s in short])
        if v.std() > 0:
            assert abs(np.corrcoef(v, sev)[0, 1]) < 0.1, f
    # It is not noise: the hidden severity is a large share of the label's spread.
    y = np.log([s.bnpp for s in short])
    assert 0.1 < sev.var() / y.var() < 0.8
    # Tied to AHF instead, the device is far less informative beyond the anatomy.
    by_ahf = np.array([s.device for s in shortcut_subjects(600, 600, cfg.shortcut_p, version)])
    gap = lambda d: sev[d == 1].mean() - sev[d == 0].mean()  # noqa: E731
    assert gap(dev) > 2 * gap(by_ahf)
    with pytest.raises(ValueError):
        shortcut_subjects(10, 0, cfg.shortcut_p, version, on="bnpp")


def test_shortcut_test_flags_first_and_second_ranks():
    import pandas as pd

    from seegaan.validate.benchmark import shortcut_test

    rows = []
    # ig: device first on 9 of 10 reference subjects (mean 1.1) -> flagged, so it finds the
    # device, not the shortcut; smoothgrad: 1st/2nd on the shortcut model only -> passes;
    # gradcam: never finds it.
    for i in range(10):
        rows.append(("ig", "reference", "device_rank", 1.0 if i < 9 else 2.0))
        rows.append(("smoothgrad", "reference", "device_rank", 4.0))
        rows.append(("gradcam", "reference", "device_rank", 6.0))
        rows.append(("ig", "shortcut", "device_rank", 1.0))
        rows.append(("smoothgrad", "shortcut", "device_rank", 1.0 if i % 2 else 3.0))
        rows.append(("gradcam", "shortcut", "device_rank", 5.0))
    out = shortcut_test(pd.DataFrame(rows, columns=["method", "model", "metric", "value"]))
    assert out["device_first_on_reference"] == ["ig"]
    assert out["ranks_device_on_shortcut"] == ["ig", "smoothgrad"]
    assert out["passing"] == ["smoothgrad"]
