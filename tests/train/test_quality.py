"""Reconstruction quality: perfect reconstructions score 1, damaged ones score less."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from seegaan.train.quality import reconstruction_quality
from seegaan.validate.checks import quality_rows


class _Identity:
    def reconstruct(self, x):
        return x


class _Blur:
    def reconstruct(self, x):
        return torch.nn.functional.avg_pool2d(x, 5, stride=1, padding=2, count_include_pad=False)


def _oracle(images: np.ndarray) -> pd.DataFrame:
    # A "factor reader": mean brightness of the top and of the left half.
    x = np.asarray(images)[:, 0]
    return pd.DataFrame({"gt_ctr": x[:, :16].mean((1, 2)), "gt_fat": x[:, :, :16].mean((1, 2))})


def _images(n: int = 12) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    return (torch.rand(n, 1, 32, 32, generator=g) * 2 - 1).clamp(-1, 1)


def test_perfect_reconstruction_scores_one():
    q = reconstruction_quality(_Identity(), _images(), _oracle, batch_size=5)
    assert q["n"] == 12 and abs(q["ssim_mean"] - 1) < 1e-5 and q["mse_mean"] < 1e-12
    assert all(abs(r - 1) < 1e-9 for r in q["oracle_r"].values())
    rows = quality_rows(q)
    assert [r["pass"] for r in rows] == ["pass", "pass", "pass"]


def test_blurred_reconstruction_scores_lower_and_fails():
    q = reconstruction_quality(_Blur(), _images(), _oracle)
    assert q["ssim_mean"] < 0.5 and q["mse_mean"] > 0.05
    assert quality_rows(q)[0]["pass"] == "fail"


class _Decoder:
    """Latents are the images themselves: decoding them is a perfect reconstruction."""

    def decode(self, w):
        return torch.as_tensor(w)


def test_given_latents_are_decoded_instead_of_re_encoding():
    x = _images()
    q = reconstruction_quality(_Decoder(), x, _oracle, latents=x.clone())
    assert abs(q["ssim_mean"] - 1) < 1e-5


# -- the checkpoint report: detail, prediction fidelity, targets, the CLI --------------------------
def _films(n: int = 10, size: int = 32) -> torch.Tensor:
    """Smooth films with thin horizontal 'ribs' whose spacing differs film by film."""
    yy = torch.linspace(-1, 1, size)[:, None]
    xx = torch.linspace(-1, 1, size)[None, :]
    out = []
    for i in range(n):
        body = 0.5 - 0.8 * (xx ** 2 + 0.5 * yy ** 2)
        ribs = 0.25 * torch.sin(yy * (9 + 1.3 * i) + i) * (xx.abs() < 0.8)
        out.append((body + ribs).clamp(-1, 1))
    return torch.stack(out)[:, None]


def test_detail_fidelity_sees_missing_or_wrong_ribs():
    from seegaan.train.quality import detail_fidelity

    x = _films()
    same = detail_fidelity(x.numpy(), x.numpy())
    assert abs(same["detail_r"] - 1) < 1e-6 and abs(same["detail_energy"] - 1) < 1e-6
    smooth = detail_fidelity(x.numpy(), _Blur().reconstruct(x).numpy())
    assert smooth["detail_energy"] < 0.5
    other = detail_fidelity(x.numpy(), x.numpy()[::-1].copy())  # another film's ribs
    assert other["detail_r"] < 0.5


class _LogModel:
    """A 'CNN' whose log output is the image's mean brightness."""

    name = "mean"

    class adapter:  # noqa: N801 - mimics ExplainableModel.adapter
        log_output = True

    def predict_scores(self, images, batch_size=64):
        return torch.as_tensor(images).float().mean((1, 2, 3)).numpy()


def test_prediction_fidelity_is_one_for_faithful_and_low_for_unrelated_reconstructions():
    from seegaan.train.quality import prediction_fidelity

    x = _images(20)
    assert abs(prediction_fidelity(_LogModel(), x, x)["r"] - 1) < 1e-9
    g = torch.Generator().manual_seed(5)
    unrelated = torch.rand(x.shape, generator=g) * 2 - 1
    assert abs(prediction_fidelity(_LogModel(), x, unrelated)["r"]) < 0.6


def test_targets_pass_fail_and_na():
    from seegaan.train.quality import evaluate_autoencoder

    q, recs = evaluate_autoencoder(_Identity(), _films(), _oracle, _LogModel())
    got = {r["measure"]: r["pass"] for r in q["targets"]}
    assert got["ssim_mean"] == "pass" and got["oracle_r.gt_ctr"] == "pass"
    assert got["fidelity.r"] == "pass" and got["oracle_r.gt_bmd"] == "n/a"  # not read
    q2, _ = evaluate_autoencoder(_Blur(), _films(), _oracle, _LogModel())
    assert {r["measure"]: r["pass"] for r in q2["targets"]}["ssim_mean"] == "fail"
    assert recs.shape == _films().shape


def _v2_data(root, n: int = 24, size: int = 32, version: int = 2):
    from seegaan.data.prepared import write_prepared

    rng = np.random.default_rng(0)
    idx = pd.DataFrame({"image_id": [f"i{k}" for k in range(n)],
                        "patient_id": [f"p{k // 2}" for k in range(n)],
                        "split": ["test"] * n, "source_path": ["x"] * n,
                        "gt_bmd": rng.uniform(0.5, 1.2, n), "gt_ctr": rng.uniform(0.4, 0.6, n)})
    opts = {"cohort_version": version} if version != 1 else {}
    return write_prepared(root, _films(n, size).numpy()[:, 0], idx,
                          {"gt_bmd": "numeric", "gt_ctr": "numeric"}, opts)


def test_cli_report_uses_the_datasets_oracle_and_writes_the_figure(tmp_path, monkeypatch, capsys,
                                                                   make_oracle):
    import json

    import seegaan.cohort.oracle as oracle_mod
    from seegaan.config import get_preset
    from seegaan.models.autoencoder import Autoencoder
    from seegaan.train.quality import main

    ck = tmp_path / "ck"
    Autoencoder(get_preset("tiny")).eval().save(ck)
    data = _v2_data(tmp_path / "data")
    # v2 films and no v2 oracle: one line, exit 2, nothing written (never the v1 oracle).
    monkeypatch.setitem(oracle_mod.ASSET_DIRS, 2, tmp_path / "absent")
    assert main([str(ck), str(data), "--out", str(tmp_path / "q")]) == 2
    err = capsys.readouterr().err
    assert "version-2 oracle" in err and err.count("\n") == 1 and not (tmp_path / "q").exists()

    monkeypatch.setitem(oracle_mod.ASSET_DIRS, 2, make_oracle(tmp_path / "v2"))
    assert main([str(ck), str(data), "--out", str(tmp_path / "q"), "--figure-films", "3"]) == 0
    q = json.loads((tmp_path / "q" / "quality.json").read_text())
    assert q["cohort_version"] == 2 and q["n"] == 24
    assert "gt_thorax_width" in q["oracle_r"]  # read by the v2 oracle
    assert set(q["truth_r"]) == {"gt_bmd", "gt_ctr"}  # the dataset's own truth columns
    fig = q["figure"]
    assert fig["ranked_by"] == "true gt_bmd" and len(fig["image_ids"]) == 6
    # one film per patient, lowest three then highest three
    idx = pd.read_parquet(data / "index.parquet").set_index("image_id")
    bmd = idx.loc[fig["image_ids"], "gt_bmd"].to_numpy()
    assert len(set(idx.loc[fig["image_ids"], "patient_id"])) == 6
    assert bmd[:3].max() < bmd[3:].min()
    assert (tmp_path / "q" / "bone_density_extremes.png").stat().st_size > 1000
    md = (tmp_path / "q" / "quality.md").read_text()
    assert "| ssim_mean |" in md and "fewer than 500" in md
    # a version-1 dataset is read by the version-1 oracle
    v1 = _v2_data(tmp_path / "data1", version=1)
    assert main([str(ck), str(v1), "--json", str(tmp_path / "q1.json")]) == 0
    q1 = json.loads((tmp_path / "q1.json").read_text())
    assert q1["cohort_version"] == 1 and "gt_thorax_width" not in q1["oracle_r"]
