"""``seegaan demo``: the quick study end to end, its one-line errors, and its pieces."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from seegaan.cli import main
from seegaan.demo import DemoConfig
from seegaan.demo.stages import N_STAGES, pick_subject
from seegaan.demo.truth import CHECKS, VENDOR_CHECK, evaluate
from seegaan.errors import OptionError
from seegaan.explain.methods import read_manifest
from seegaan.latent.select import Selection
from seegaan.utils.progress import set_quiet


@pytest.fixture(autouse=True)
def _quiet():
    set_quiet(True)
    yield
    set_quiet(False)


# -- end to end --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    """One quick demo at 32 px that trains its own tiny autoencoder (so it never needs the
    bundled checkpoint and never skips). About a minute on two idle cores."""
    out = tmp_path_factory.mktemp("demo") / "quick"
    import contextlib
    import io

    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        rc = main(["--quiet", "demo", "--quick", "--train", "--size", "32", "--out", str(out)])
    return out, rc, stdout.getvalue(), stderr.getvalue()


@pytest.mark.slow
def test_quick_demo_writes_every_stage(quick_run):
    out, rc, stdout, stderr = quick_run
    assert rc == 0, stderr
    # Progress: every stage announced, in order.
    stages = [line.split("]")[0] + "]" for line in stderr.splitlines() if line.startswith("[")]
    assert stages == [f"[{k}/{N_STAGES}]" for k in range(1, N_STAGES + 1)]
    # The last line is the report.
    assert stdout.strip().splitlines()[-1] == f"report: {out / 'report.html'}"

    # 1-2: cohort with its contact sheet; prepared data with Table 1 (clinical variables only).
    assert (out / "cohort" / "cohort.json").is_file()
    assert (out / "cohort" / "contact_sheet.png").is_file()
    assert len(list((out / "cohort" / "images").glob("*.png"))) == 600
    t1 = pd.read_csv(out / "data" / "table1.csv")
    assert not t1.astype(str).apply(lambda c: c.str.startswith("gt_")).any().any()
    # 3: the autoencoder trained here, without its resumable state.
    ae_dir = out / "autoencoder"
    assert (ae_dir / "metrics.jsonl").is_file() and (ae_dir / "reconstructions.png").is_file()
    assert not (ae_dir / "state").exists()
    # 4: latents of the test split, with ground truth and the age groups.
    lat = pd.read_parquet(out / "latents.parquet")
    assert set(lat["split"]) == {"test"} and {"gt_ctr", "age_group"} <= set(lat.columns)
    # 5-6: four global and three local sequences, each permutation-tested.
    for folder, n in (("fig3_global", 4), ("fig4_local", 3)):
        dirs = sorted(p for p in (out / folder).iterdir() if p.is_dir())
        assert len(dirs) == n
        for d in dirs:
            s = json.loads((d / "summary.json").read_text())
            assert s["permutations"] == 20 and (d / "significant.png").is_file()
            assert s["mode"] == ("global" if folder == "fig3_global" else "local")
    # 7-9: the CNN and its explanation (Figs. 5 and 6).
    assert (out / "cnn" / "model.pt").is_file()
    exp = out / "fig5_6_explain"
    assert {"global_side_by_side.png", "fig6.png", "summary.json"} <= {p.name for p in exp.iterdir()}
    cases = json.loads((exp / "summary.json").read_text())["cases"]
    assert set(cases) == {"TP", "TN", "FP", "FN"}
    assert {c["category"] for c in read_manifest(exp)["cases"]} <= {"TP", "TN", "FP", "FN"}
    # 11: the benchmark, built from the registry.
    scores = pd.read_csv(out / "benchmark" / "scores.csv")
    assert {"saliency", "gradcam", "occlusion"} <= set(scores["method"])
    # 10: the ground-truth table and the report.
    truth = pd.read_csv(out / "truth" / "truth.csv", keep_default_na=False)
    assert list(truth.columns[:4]) == ["check", "measured", "target", "pass"]
    assert set(truth["pass"]) <= {"pass", "fail", "n/a"} and len(truth) >= 9
    html = (out / "report.html").read_text()
    for section in ("Virtual cohort", "Data (Table 1)", "Autoencoder training", "Global sequences",
                    "Local sequences", "Reference CNN", "CNN explanations", "Ground-truth check",
                    "Methods compared on the truth", "Configuration"):
        assert section in html, section
    cfg = json.loads((out / "demo.json").read_text())
    assert cfg["quick"] and cfg["size"] == 32 and "10 truth" in cfg["timings_s"]
    # 11: GVR of the four films, inverse GVR, the bias test; the report's GVR section.
    assert {"overlay.png", "rationale.gif", "manifest.json"} <= {p.name for p in (out / "gvr" / "fig6").iterdir()}
    assert (out / "gvr" / "bias" / "bias_table.md").is_file() and "11 gvr" in cfg["timings_s"]
    assert "Generative Visual Rationales" in html


@pytest.mark.slow
def test_quick_demo_leaves_no_temporary_paths(quick_run):
    out, rc, _, _ = quick_run
    assert rc == 0
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]
    # Paths recorded by the stages point at the final folder, not the temporary one.
    for path in [out / "data" / "prepare.json", out / "cnn" / "config.json", out / "report.html"]:
        assert f"/.{out.name}." not in path.read_text(), path
    from seegaan.latent import load_latents

    info = load_latents(out / "latents.parquet").info
    assert info["data_dir"] == str((out / "data").absolute())


@pytest.mark.slow
def test_every_figure_has_a_caption_that_explains_it(quick_run):
    import html as htmllib
    import re

    out, rc, _, stderr = quick_run
    assert rc == 0, stderr
    page = (out / "report.html").read_text()
    figures = re.findall(r"<figure[^>]*>(.*?)</figure>", page, flags=re.S)
    assert len(figures) >= 20
    for fig in figures:
        src = re.search(r'src="([^"]+)"', fig).group(1)
        alt = htmllib.unescape(re.search(r'alt="([^"]*)"', fig).group(1))
        cap = re.search(r"<figcaption>(.*?)</figcaption>", fig, flags=re.S)
        assert cap, f"{src}: no caption"
        text = htmllib.unescape(cap.group(1)).strip()
        # At least one full sentence: a capital, ten or more words, a full stop.
        first = re.match(r"[A-Z].+?[.!?](\s|$)", text)
        assert first and len(first.group(0).split()) >= 10, f"{src}: {text!r}"
        assert alt and alt != src.rsplit("/", 1)[-1] and len(alt.split()) >= 6, f"{src}: alt {alt!r}"


@pytest.mark.slow
def test_report_sections_read_the_real_artefacts(quick_run):
    import re

    out, rc, _, stderr = quick_run
    assert rc == 0, stderr
    page = (out / "report.html").read_text()

    def section(name):
        return page.split(f'id="{name}"', 1)[1].split("</section>", 1)[0]

    # Training: the loss curves under a stable name, and the last validation scores.
    training = section("training")
    assert "report_assets/curves_autoencoder.png" in training and "val_ssim" in training
    # CNN: its test scores from metrics.json.
    cnn = section("cnn")
    assert "test r2" in cnn and "test auc" in cnn
    # Explanations: Fig. 5 before Fig. 6, TP/TN local sequences named as such, BNPP in pg/mL.
    exp = section("explain")
    assert exp.index("Fig. 5") < exp.index("Fig. 6") < exp.index("fig6.png")
    cases = json.loads((out / "fig5_6_explain" / "summary.json").read_text())["cases"]
    shown = [c for c in ("TP", "TN") if cases[c]["image_id"] is not None]
    assert shown, "the quick demo's CNN makes correct calls"
    for cat, words in (("TP", "true positive"), ("TN", "true negative")):
        assert (f"{cat} ({words}): local sequence" in exp) == (cat in shown), cat
    assert "pg/mL" in exp
    # Global and local figures share one colour range, and the captions say so.
    for folder, name in (("fig3_global", "global"), ("fig4_local", "local")):
        lims = {json.loads(p.read_text())["vlim"] for p in (out / folder).glob("*/summary.json")}
        assert len(lims) == 1, lims
        assert "shared by every sequence of this section" in section(name)
    # The text names the split the sequences were built from.
    assert "averaged over the test split" in section("global")
    # Table 1: one p-value format (as in table1.md), and a sentence on imbalance.
    data = section("data")
    assert not re.search(r"<td>0\.\d{4,}</td>", data)
    assert "across the splits" in data or "Imbalance across splits" in data
    # Ground truth: the total and a reason for every failed check.
    truth = pd.read_csv(out / "truth" / "truth.csv", keep_default_na=False)
    n_pass, n_fail = int((truth["pass"] == "pass").sum()), int((truth["pass"] == "fail").sum())
    body = section("truth")
    assert f"{n_pass} of {n_pass + n_fail} checks pass, {n_fail} fail" in body
    assert body.count("<li>") == n_fail


# -- errors: one line, non-zero exit, nothing written -------------------------------------------
def test_existing_out_without_overwrite(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / "mine.txt").write_text("keep me")
    rc = main(["demo", "--quick", "--out", str(out)])
    err = capsys.readouterr().err.strip()
    assert rc != 0 and len(err.splitlines()) == 1
    assert "already exists" in err and "--overwrite" in err
    assert (out / "mine.txt").read_text() == "keep me"


def test_unwritable_out(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    rc = main(["demo", "--quick", "--out", str(blocker / "run")])
    err = capsys.readouterr().err.strip()
    assert rc != 0 and len(err.splitlines()) == 1
    assert err.startswith("error:") and "cannot write" in err
    assert list(tmp_path.iterdir()) == [blocker]


def test_train_and_checkpoint_conflict(tmp_path, capsys):
    rc = main(["demo", "--train", "--checkpoint", str(tmp_path), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip()
    assert rc != 0 and len(err.splitlines()) == 1 and "--train" in err


def test_missing_checkpoint_fails_before_rendering(tmp_path, capsys):
    rc = main(["demo", "--quick", "--checkpoint", str(tmp_path / "nope"), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip()
    assert rc != 0 and len(err.splitlines()) == 1
    assert not (tmp_path / "o").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_v2_checkpoint_without_v2_oracle_fails_before_rendering(tmp_path, capsys, monkeypatch):
    import seegaan.cohort.oracle as oracle_mod
    from seegaan.config import get_preset
    from seegaan.models.autoencoder import Autoencoder

    ck = tmp_path / "ck"
    Autoencoder(get_preset("tiny")).eval().save(ck)
    (ck / "train_config.json").write_text(json.dumps({"cohort_version": 2}))
    monkeypatch.setitem(oracle_mod.ASSET_DIRS, 2, tmp_path / "absent")
    rc = main(["demo", "--quick", "--size", "32", "--checkpoint", str(ck), "--out",
               str(tmp_path / "o")])
    err = capsys.readouterr().err.strip()
    assert rc != 0 and len(err.splitlines()) == 1 and "version-2 oracle" in err
    assert not (tmp_path / "o").exists()


def test_demo_cohort_follows_the_checkpoint(tmp_path, monkeypatch, make_oracle):
    """The bundled (v1) checkpoint and --train keep cohort v1; a checkpoint that records
    cohort version 2 renders v2 films (and the truth stage then reads them with the v2
    oracle, through the same cfg.cohort_version)."""
    import seegaan.cohort.oracle as oracle_mod
    from seegaan.config import get_preset
    from seegaan.demo.stages import DemoRun, render_cohort_stage, resolve_cohort_version
    from seegaan.models.autoencoder import Autoencoder, load_autoencoder

    assert resolve_cohort_version(DemoConfig.make("x", train=True), None) == 1
    bundled = type("AE", (), {"cohort_version": 1})()  # what load_autoencoder() gives
    assert resolve_cohort_version(DemoConfig.make("x"), bundled) == 1
    ck = tmp_path / "ck"
    Autoencoder(get_preset("tiny")).eval().save(ck)
    (ck / "train_config.json").write_text(json.dumps({"cohort_version": 2}))
    monkeypatch.setitem(oracle_mod.ASSET_DIRS, 2, make_oracle(tmp_path / "v2"))
    cfg = DemoConfig.make(tmp_path / "o", quick=True, size=16, n_images=100, checkpoint=str(ck))
    assert resolve_cohort_version(cfg, load_autoencoder(ck)) == 2 and cfg.to_dict()["cohort_version"] == 2
    run = DemoRun(cfg, tmp_path / "o", tmp_path / "o", lambda _l: None)
    render_cohort_stage(run)
    meta = json.loads((tmp_path / "o" / "cohort" / "cohort.json").read_text())
    assert meta["cohort_version"] == 2
    assert "projection" in pd.read_csv(tmp_path / "o" / "cohort" / "cohort.csv").columns


# -- pieces ---------------------------------------------------------------------------------------
def test_quick_config_is_smaller_but_complete():
    full, quick = DemoConfig.make("x"), DemoConfig.make("x", quick=True)
    assert quick.n_images < full.n_images and quick.permutations < full.permutations
    assert quick.frames >= 3 and quick.cnn_epochs >= 1
    assert DemoConfig.make("x", quick=True, seed=3).seed == 3
    with pytest.raises(OptionError):
        DemoConfig.make("x", size=48)
    with pytest.raises(OptionError):
        DemoConfig.make("x", train=True, size=128)


def test_pick_subject_prefers_a_healthy_young_woman():
    meta = pd.DataFrame({
        "image_id": ["a", "b", "c", "d", "e"], "split": ["test", "test", "test", "test", "train"],
        "sex": ["M", "F", "F", "F", "F"], "age": [20.0, 30.0, 25.0, 40.0, 18.0],
        "ahf": [0, 0, 1, 0, 0], "bnpp": [50.0, 900.0, 80.0, 120.0, 10.0]})
    # a: a man; c: AHF; e: not in the test split; b: BNPP above the cut-off.
    assert pick_subject(meta, 400.0) == "d"
    assert pick_subject(meta.drop(index=3), 400.0) == "b"


class _Seq:
    """Just what the truth scorers read of a SequenceResult: constant frames of ``levels``."""

    def __init__(self, feature, levels, meta, size=8):
        is_to = meta[feature].to_numpy() == 1
        self.values = np.linspace(0, 1, len(levels))
        self.frames = np.asarray(levels, dtype=np.float32)[:, None, None] * np.ones((size, size),
                                                                                    np.float32)
        self.diffs = self.frames - self.frames[0]
        self.selection = Selection(feature, "qualitative", "test", np.zeros((len(meta), 1)), meta,
                                   0, np.arange(len(meta)), is_to=is_to)


def _oracle(images):
    """Heart size = the image's mean: what the _Seq frames are made of."""
    x = np.asarray(images, dtype=np.float64)
    assert x.ndim == 4 and x.shape[1] == 1   # the oracle's documented (N, 1, S, S)
    return pd.DataFrame({"gt_ctr": x.mean(axis=(1, 2, 3))})


def _explain_dir(root):
    """A minimal explanation run: an FP whose λ search reached, an FN whose search was skipped."""
    from seegaan.explain.methods import Explanation, save_explanation, write_manifest

    cases = []
    for cat, exp in (("FP", Explanation("seegaan_lambda", "sequence", status="reached",
                                        scalars={"value": 1.0, "target": 1.01, "lam": 0.3,
                                                 "calls": 5, "tol": 0.02})),
                     ("FN", Explanation("seegaan_lambda", "sequence", status="skipped",
                                        message="no model"))):
        save_explanation(exp, root / "cases" / cat / "seegaan_lambda")
        cases.append({"image_id": cat, "category": cat, "folder": f"cases/{cat}",
                      "methods": {"seegaan_lambda": exp.status}})
    write_manifest(root, cases, ["seegaan_lambda"])
    return root


def test_truth_evaluate_scores_the_demo_sequences_with_its_targets(tmp_path):
    meta = pd.DataFrame({"ahf": [0, 0, 1, 1], "sex": [0, 0, 1, 1],
                         "gt_ctr": [0.45, 0.47, 0.55, 0.57]})
    rising = np.linspace(0.46, 0.54, 5)   # 80 % of the true 0.1, monotone
    vendor = _Seq("ahf", rising, meta)
    pattern = np.outer(np.arange(8), np.ones(8))
    vendor.diffs = np.stack([np.zeros((8, 8)), pattern])
    seqs = {"global/ahf": _Seq("ahf", rising, meta),
            "local/ahf": _Seq("ahf", rising[::-1], meta),                    # the wrong way
            "global/sex": _Seq("sex", rising, meta.drop(columns="gt_ctr")),  # no ground truth
            "global/manufacturer": vendor}
    summary = _explain_dir(tmp_path)
    extra = [{"check": "Autoencoder: SSIM", "measured": "0.9", "target": "≥ 0.8", "pass": "pass"}]
    df = evaluate(seqs, _oracle, "", pattern, summary, extra)
    assert list(df.columns[:4]) == ["check", "measured", "target", "pass"]
    # Extra rows first, then the checks of the sequences that exist, in CHECKS order, the
    # blur control, the vendor and the λ search (convergence only).
    names = list(df["check"])
    assert names[0] == "Autoencoder: SSIM"
    assert names[1:4] == [c.name for c in CHECKS if c.sequence in seqs]
    assert names[-3:] == [VENDOR_CHECK.name,
                          "Fig. 6: λ search reaches the FP's true BNPP (convergence only)",
                          "Fig. 6: λ search reaches the FN's true BNPP (convergence only)"]
    assert any(n.startswith("Control: a blur-only sequence") for n in names)
    row = df.drop_duplicates("sequence").set_index("sequence")
    assert row.loc["global/ahf", "pass"] == "pass"
    assert row.loc["global/ahf", "target"] == "rises; ratio 0.7–1.3; ρ ≥ 0.9"
    assert row.loc["global/ahf", "ratio"] == pytest.approx(0.8, rel=1e-4)
    # Constant frames do not blur: the blur-only control reads no change and fails.
    assert row.loc["global/ahf", "blur_pass"] == "fail"
    assert row.loc["local/ahf", "pass"] == "fail" and row.loc["local/ahf", "spearman"] < 0
    assert row.loc["global/sex", "pass"] == "n/a" and "no gt_breast" in row.loc["global/sex", "measured"]
    assert row.loc["global/manufacturer", "pass"] == "pass"
    assert row.loc["global/manufacturer", "target"] == "correlation ≥ 0.5"
    assert list(row.loc[["explain/FP", "explain/FN"], "pass"]) == ["pass", "n/a"]

    # No oracle: its checks are n/a with the reason; the vendor check needs none.
    across = np.outer(np.ones(8), np.arange(8))   # uncorrelated with the vendor's subtraction
    df = evaluate(seqs, None, "oracle unavailable (x)", across, None)
    oracle_rows = df.iloc[:-1]
    assert (oracle_rows["pass"] == "n/a").all()
    assert (oracle_rows["measured"] == "oracle unavailable (x)").all()
    assert df["check"].iloc[-1] == VENDOR_CHECK.name and df["pass"].iloc[-1] == "fail"
    # Too few images of a vendor (no real difference): no vendor row.
    assert VENDOR_CHECK.name not in set(evaluate(seqs, _oracle, "", None, None)["check"])
