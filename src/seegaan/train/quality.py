"""How faithful is a checkpoint's reconstruction? SSIM, MSE and, on the virtual cohort, factors.

SEE-GAAN explains through reconstructions: a sequence starts at ``G(E(x))``, so whatever
the autoencoder loses (a faint breast shadow, bone density) cannot appear in any sequence.
This module measures that loss on held-out images:

- per-image SSIM (Gaussian 11×11, as in validation) and MSE of ``x`` vs ``G(E(x))``;
- with an oracle (the virtual cohort's factor reader), the Pearson correlation between the
  factors it reads on the originals and on the reconstructions: r near 1 means the
  reconstruction keeps each patient's heart size, fat, breast tissue and bone density;
- detail (:func:`detail_fidelity`): the fine structure above ~1 px (lung and body borders,
  vessels, ribs, noise), compared film by film between original and reconstruction; the
  borders dominate it, so ribs are judged by the bone-density r and the extremes figure;
- with a CNN, prediction fidelity (:func:`prediction_fidelity`): Pearson r between
  ``log f(x)`` and ``log f(G(E(x)))``; a sequence explains the CNN only as far as it agrees.

Which factors matter and what the demo's truth-table targets are is the cohort's business:
``seegaan.validate.checks.quality_rows`` turns these figures into truth-table rows.
:data:`TARGETS` are the bundled checkpoint's own targets, which :func:`evaluate_autoencoder`
reports.

Example::

    ae = seegaan.load_autoencoder()
    q = reconstruction_quality(ae, PreparedDataset("data/c64", split="test").load_images(),
                               oracle=load_oracle(64))
    q["ssim_mean"], q["oracle_r"]["gt_ctr"]

or, for a checkpoint's report (JSON, Markdown and the bone-density figure)::

    python -m seegaan.train.quality CHECKPOINT|demo DATA_DIR --split all --cnn CNN_DIR --out DIR

The oracle follows the dataset's cohort version (``prepare.json``: ``cohort_version``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from seegaan.train.metrics import ssim

# The bundled demo checkpoint's targets on held-out cohort films: SSIM, oracle r per factor
# (originals vs reconstructions) and the CNN's prediction fidelity.
TARGETS: dict[str, float] = {"ssim_mean": 0.9, "oracle_r.gt_ctr": 0.9, "oracle_r.gt_fat": 0.9,
                             "oracle_r.gt_breast": 0.9, "oracle_r.gt_bmd": 0.8,
                             "fidelity.r": 0.9}
# High-pass scale of :func:`detail_fidelity`, in pixels at 64²: a rib there is 2–3 px wide,
# so a σ of 1 px keeps ribs and vessels and removes the smooth lung and mediastinum.
DETAIL_SIGMA = 1.0
# Films the acceptance asks the report to rest on (held-out, not seen in training).
MIN_FILMS = 500


def _reconstruct(ae: Any, images: torch.Tensor, batch_size: int,
                 latents: torch.Tensor | np.ndarray | None) -> tuple[torch.Tensor, np.ndarray, np.ndarray]:
    """Reconstructions (N, 1, S, S) on the CPU, per-image SSIM and MSE."""
    recs, ss, mse = [], [], []
    with torch.no_grad():
        for i in range(0, len(images), batch_size):
            x = images[i:i + batch_size].float()
            if latents is None:
                r = ae.reconstruct(x).float().cpu()
            else:
                r = ae.decode(latents[i:i + batch_size]).float().cpu()
            ss.append(ssim(x, r))
            mse.append(((x - r) ** 2).mean(dim=(1, 2, 3)))
            recs.append(r)
    if not recs:
        raise ValueError("no images to reconstruct")
    return torch.cat(recs), torch.cat(ss).numpy(), torch.cat(mse).numpy()


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.asarray(a, float), np.asarray(b, float)
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3 or np.ptp(a[ok]) == 0 or np.ptp(b[ok]) == 0:
        return float("nan")
    return float(np.corrcoef(a[ok], b[ok])[0, 1])


def reconstruction_quality(ae: Any, images: torch.Tensor,
                           oracle: Callable[[np.ndarray], Any] | Any | None = None,
                           batch_size: int = 128,
                           factors: Sequence[str] | None = None,
                           latents: torch.Tensor | np.ndarray | None = None,
                           reconstructions: list | None = None) -> dict[str, Any]:
    """SSIM/MSE of reconstructions and (with ``oracle``) factor correlations; JSON-ready.

    ``latents``, when the caller already encoded ``images`` (row for row), are decoded
    instead of encoding the images again. ``reconstructions``, a list, receives the
    reconstruction tensor (for callers that go on with it).
    """
    if images.ndim != 4:
        raise ValueError(f"images must be (N, 1, S, S), got {tuple(images.shape)}")
    if latents is not None and len(latents) != len(images):
        raise ValueError(f"{len(latents)} latents for {len(images)} images")
    recs, s, mse = _reconstruct(ae, images, batch_size, latents)
    if reconstructions is not None:
        reconstructions.append(recs)
    out: dict[str, Any] = {"n": int(len(images)), "ssim_mean": float(s.mean()),
                           "ssim_median": float(np.median(s)), "ssim_p10": float(np.percentile(s, 10)),
                           "mse_mean": float(mse.mean())}
    if oracle is not None:
        predict = getattr(oracle, "predict", oracle)
        a = predict(images.numpy())
        b = predict(recs.numpy())
        names = list(factors) if factors is not None else list(a.columns)
        out["oracle_r"] = {f: _pearson(a[f].to_numpy(float), b[f].to_numpy(float)) for f in names}
        if reconstructions is not None:
            reconstructions.extend([a, b])
    return out


def _high_pass(x: np.ndarray, sigma: float) -> np.ndarray:
    from scipy.ndimage import gaussian_filter

    x = np.asarray(x, dtype=np.float32)
    return x - gaussian_filter(x, (0,) * (x.ndim - 2) + (sigma, sigma), mode="nearest")


def detail_fidelity(images: np.ndarray, recons: np.ndarray, sigma: float = DETAIL_SIGMA,
                    margin: float = 0.1) -> dict[str, float]:
    """Does the reconstruction draw the fine structure of *this* film?

    The fine structure is every edge above ~``sigma`` px: lung and body borders dominate it,
    vessels, ribs and noise add to it. It says how sharp and how well placed a
    reconstruction's detail is, not whether it draws ribs (on the bundled checkpoint and
    cohort-v1 films it reaches r ≈ 0.8 with no ribs drawn; the bone-density r and
    :func:`extremes_figure` show ribs).

    Both images are high-passed (image − Gaussian blur of ``sigma`` px); inside the central
    region (``margin`` × side left out at each edge), per film:

    - ``detail_r``: Pearson r between the two high-pass maps (1: the same ribs in the same
      places; about 0 for smooth lungs or another film's ribs);
    - ``detail_energy``: SD of the reconstruction's high-pass over the original's (1: as much
      detail; well below 1: smooth).

    Returns their means over films.
    """
    x = _high_pass(np.asarray(images)[:, 0], sigma)
    r = _high_pass(np.asarray(recons)[:, 0], sigma)
    k = int(round(margin * x.shape[-1]))
    x = x[:, k:x.shape[-2] - k, k:x.shape[-1] - k].reshape(len(x), -1)
    r = r[:, k:r.shape[-2] - k, k:r.shape[-1] - k].reshape(len(r), -1)
    xc, rc = x - x.mean(1, keepdims=True), r - r.mean(1, keepdims=True)
    den = np.sqrt((xc ** 2).sum(1) * (rc ** 2).sum(1))
    corr = np.where(den > 0, (xc * rc).sum(1) / np.maximum(den, 1e-12), np.nan)
    energy = rc.std(1) / np.maximum(xc.std(1), 1e-12)
    return {"detail_r": float(np.nanmean(corr)), "detail_energy": float(np.mean(energy)),
            "detail_sigma_px": float(sigma)}


def prediction_fidelity(model: Any, images: torch.Tensor, recons: torch.Tensor,
                        batch_size: int = 64) -> dict[str, Any]:
    """Pearson r between the model's ``log f(x)`` and ``log f(G(E(x)))`` (and its bias).

    ``model`` is an :class:`~seegaan.explain.loading.ExplainableModel`. A model trained on a
    log target already outputs the log; otherwise positive outputs are logged, and a model
    with non-positive outputs is compared on its own scale (``scale`` says which).
    """
    fx = np.asarray(model.predict_scores(images, batch_size), dtype=np.float64)
    fr = np.asarray(model.predict_scores(recons, batch_size), dtype=np.float64)
    scale = "log (model output)"
    if not getattr(getattr(model, "adapter", None), "log_output", False):
        if (fx > 0).all() and (fr > 0).all():
            fx, fr, scale = np.log(fx), np.log(fr), "log"
        else:
            scale = "model output (not all positive: no log)"
    d = fr - fx
    return {"r": _pearson(fx, fr), "mean_diff": float(d.mean()),
            "median_abs_diff": float(np.median(np.abs(d))), "scale": scale,
            "model": getattr(model, "name", type(model).__name__), "n": int(len(fx))}


def _get(q: dict[str, Any], key: str) -> float | None:
    v: Any = q
    for part in key.split("."):
        if not isinstance(v, dict) or part not in v:
            return None
        v = v[part]
    return None if v is None else float(v)


def target_rows(q: dict[str, Any], targets: dict[str, float] = TARGETS) -> list[dict[str, Any]]:
    """One row per target: the measured value, the target and pass/fail (n/a: not measured)."""
    rows = []
    for key, t in targets.items():
        v = _get(q, key)
        ok = "n/a" if v is None or not np.isfinite(v) else ("pass" if v >= t else "fail")
        rows.append({"measure": key, "value": v, "target": t, "pass": ok})
    return rows


def evaluate_autoencoder(ae: Any, images: torch.Tensor, oracle: Any | None = None,
                         model: Any | None = None, truth: Any | None = None,
                         batch_size: int = 128) -> tuple[dict[str, Any], torch.Tensor]:
    """The checkpoint's full report on held-out ``images``; returns ``(report, reconstructions)``.

    ``oracle``: the cohort's factor reader (r per factor, originals vs reconstructions);
    ``truth``: a DataFrame of the films' true ``gt_*`` factors, row for row (then also the r
    of the oracle's readout with the truth, on originals and on reconstructions); ``model``:
    a CNN for prediction fidelity. ``report["targets"]`` scores :data:`TARGETS`.
    """
    keep: list = []
    q = reconstruction_quality(ae, images, oracle, batch_size, reconstructions=keep)
    recs = keep[0]
    q.update(detail_fidelity(images.numpy(), recs.numpy()))
    if oracle is not None and truth is not None:
        a, b = keep[1], keep[2]
        cols = [c for c in a.columns if c in truth.columns]
        q["truth_r"] = {c: {"original": _pearson(a[c], truth[c]),
                            "reconstruction": _pearson(b[c], truth[c])} for c in cols}
    if model is not None:
        q["fidelity"] = prediction_fidelity(model, images, recs)
    q["targets"] = target_rows(q)
    return q, recs


def quality_markdown(q: dict[str, Any], title: str = "Autoencoder on held-out films") -> str:
    """A Markdown report: targets, then every factor's r, then detail and fidelity."""
    lines = [f"## {title}", "", f"{q['n']} films" + (f" ({q['source']})" if q.get("source") else "")
             + (f"; fewer than {MIN_FILMS}" if q["n"] < MIN_FILMS else "") + ".", "",
             "| measure | value | target | pass |", "|---|---|---|---|"]
    for r in q.get("targets", []):
        v = "—" if r["value"] is None else f"{r['value']:.3f}"
        lines.append(f"| {r['measure']} | {v} | ≥ {r['target']:g} | {r['pass']} |")
    lines += ["", f"SSIM median {q['ssim_median']:.3f}, 10th percentile {q['ssim_p10']:.3f}; "
              f"MSE {q['mse_mean']:.4f}. Detail above σ = {q.get('detail_sigma_px', DETAIL_SIGMA):g} px "
              f"(mostly lung and body borders; ribs: see the bone-density r and figure): film-by-film r {q.get('detail_r', float('nan')):.3f}, energy "
              f"ratio {q.get('detail_energy', float('nan')):.2f} (1 = as much fine structure as the "
              "originals)."]
    if "oracle_r" in q:
        tr = q.get("truth_r", {})
        lines += ["", "| factor | r oracle(original) vs oracle(reconstruction) | r truth vs oracle(original) "
                  "| r truth vs oracle(reconstruction) |", "|---|---|---|---|"]
        for f, r in q["oracle_r"].items():
            t = tr.get(f, {})
            cell = [f"{t[k]:.3f}" if k in t and np.isfinite(t[k]) else "—"
                    for k in ("original", "reconstruction")]
            lines.append(f"| {f} | {r:.3f} | {cell[0]} | {cell[1]} |")
    if "fidelity" in q:
        fd = q["fidelity"]
        lines += ["", f"Prediction fidelity of {fd['model']} ({fd['scale']}): Pearson r "
                  f"{fd['r']:.3f} between f(x) and f(G(E(x))); mean difference "
                  f"{fd['mean_diff']:+.3f}, median absolute difference {fd['median_abs_diff']:.3f}."]
    return "\n".join(lines) + "\n"


def extremes_figure(images: np.ndarray, recons: np.ndarray, values: np.ndarray,
                    path: str | os.PathLike, k: int = 4, label: str = "bone density",
                    sigma: float = DETAIL_SIGMA, groups: Sequence[Any] | None = None) -> list[int]:
    """Originals and reconstructions of the ``k`` lowest- and ``k`` highest-``values`` films,
    each with its fine detail (high-pass at ``sigma`` px) below: where the originals show
    ribs, the reconstructions must too. ``groups`` (patient ids): one film per patient.
    Returns the films' positions."""
    from seegaan.viz import frame_strip, save_figure

    v = np.asarray(values, dtype=float)
    order = np.argsort(np.where(np.isfinite(v), v, np.inf), kind="stable")
    order = order[np.isfinite(v[order])]
    if groups is not None:  # the same patient's films are near-copies: show each once
        g = np.asarray(groups, dtype=object)[order]
        order = order[~_duplicated(g)]
        rev = order[::-1]
        order_hi = rev[~_duplicated(np.asarray(groups, dtype=object)[rev])]
    else:
        order_hi = order[::-1]
    k = max(1, min(k, len(order) // 2 or 1))
    pick = np.concatenate([order[:k], order_hi[:k][::-1]])
    x = np.asarray(images)[pick, 0]
    r = np.asarray(recons)[pick, 0]
    hx, hr = _high_pass(x[:, None], sigma)[:, 0], _high_pass(r[:, None], sigma)[:, 0]
    # One scale for all detail panels: 3 SD of the originals' detail maps to ±1.
    scale = 3.0 * float(hx.std()) or 1.0
    names = [f"low {label} {v[i]:.2f}" if j < k else f"high {label} {v[i]:.2f}"
             for j, i in enumerate(pick)]
    frames = np.concatenate([x, r, np.clip(hx / scale, -1, 1), np.clip(hr / scale, -1, 1)])
    labels = (names + ["reconstruction"] * len(pick) + ["original detail"] * len(pick)
              + ["reconstruction detail"] * len(pick))
    fig = frame_strip(frames, labels, max_cols=len(pick),
                      title=f"Lowest and highest {label}: originals, reconstructions, and their "
                            f"detail above σ = {sigma:g} px (rows)")
    save_figure(fig, path)
    return [int(i) for i in pick]


def _duplicated(values: np.ndarray) -> np.ndarray:
    seen: set = set()
    out = np.zeros(len(values), dtype=bool)
    for i, v in enumerate(values):
        out[i] = v in seen
        seen.add(v)
    return out


def main(argv: list[str] | None = None) -> int:
    import seegaan
    from seegaan.data.prepared import PreparedDataset
    from seegaan.errors import SeegaanError

    ap = argparse.ArgumentParser(prog="python -m seegaan.train.quality",
                                 description="Reconstruction quality of a checkpoint on a prepared dataset.")
    ap.add_argument("checkpoint", help="checkpoint directory, or 'demo' for the bundled one")
    ap.add_argument("data_dir")
    ap.add_argument("--split", default="test", choices=("test", "val", "train", "all"))
    ap.add_argument("--limit", type=int, default=0, help="first N images only (0: all)")
    ap.add_argument("--no-oracle", action="store_true")
    ap.add_argument("--cohort-version", type=int, default=None, choices=(1, 2),
                    help="which cohort the films come from, which selects the oracle "
                         "[default: the dataset's own, from prepare.json]")
    ap.add_argument("--oracle", default=None, help="oracle directory instead of the shipped one")
    ap.add_argument("--cnn", default=None, help="a CNN (any `seegaan explain` model) for prediction fidelity")
    ap.add_argument("--out", default=None,
                    help="write quality.json, quality.md and bone_density_extremes.png here")
    ap.add_argument("--figure-films", type=int, default=4,
                    help="lowest and highest bone-density films each in the figure")
    ap.add_argument("--overwrite", action="store_true")
    ap.add_argument("--json", help="also write the figures to this file")
    a = ap.parse_args(argv)
    try:
        if a.out:
            from seegaan.utils.fsio import check_output

            check_output(a.out, a.overwrite)
        ae = seegaan.load_autoencoder(None if a.checkpoint == "demo" else a.checkpoint)
        ds = PreparedDataset(a.data_dir, split=None if a.split == "all" else a.split)
        pos = np.arange(len(ds) if a.limit <= 0 else min(a.limit, len(ds)))
        x = ds.load_images(pos)
        oracle, version = None, None
        if not a.no_oracle:
            from seegaan.cohort.version import dataset_cohort_version, oracle_for

            version = a.cohort_version or dataset_cohort_version(a.data_dir)
            oracle = oracle_for(version, int(ae.image_size), path=a.oracle)
        model = None
        if a.cnn:
            from seegaan.explain import load_model

            model = load_model(a.cnn)
        meta = ds.index.iloc[pos].reset_index(drop=True)
        gt = meta[[c for c in meta.columns if c.startswith("gt_")]]
        q, recs = evaluate_autoencoder(ae, x, oracle, model, gt if len(gt.columns) else None)
        q.update(checkpoint=a.checkpoint, data_dir=str(a.data_dir), split=a.split,
                 cohort_version=version, checkpoint_cohort_version=getattr(ae, "cohort_version", None),
                 step=getattr(ae, "step", None), source=f"{a.data_dir}, split {a.split}")
        if a.out:
            _write_report(q, x, recs, meta, oracle, a)
    except SeegaanError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    text = json.dumps(q, indent=2)
    print(text if not a.out else quality_markdown(q))
    if a.json:
        from seegaan.utils.fsio import write_json

        write_json(a.json, q)
    return 0


def _write_report(q: dict[str, Any], x: torch.Tensor, recs: torch.Tensor, meta: Any, oracle: Any,
                  a: argparse.Namespace) -> None:
    """``--out``: quality.json, quality.md and the bone-density figure, atomically."""
    from seegaan.utils.fsio import atomic_dir, write_json

    if "gt_bmd" in meta.columns:
        values, how = meta["gt_bmd"].to_numpy(dtype=float), "true gt_bmd"
    elif oracle is not None:
        values, how = oracle.predict(x.numpy())["gt_bmd"].to_numpy(dtype=float), "oracle on originals"
    else:
        values, how = None, None
    with atomic_dir(a.out, overwrite=a.overwrite) as tmp:
        if values is not None:
            groups = meta["patient_id"].astype(str).to_numpy() if "patient_id" in meta else None
            pick = extremes_figure(x.numpy(), recs.numpy(), values, tmp / "bone_density_extremes.png",
                                   k=a.figure_films, groups=groups)
            q["figure"] = {"file": "bone_density_extremes.png", "ranked_by": how,
                           "image_ids": meta["image_id"].astype(str).iloc[pick].tolist()}
        write_json(tmp / "quality.json", q)
        (tmp / "quality.md").write_text(quality_markdown(q, f"Checkpoint {a.checkpoint} on held-out films"))


if __name__ == "__main__":
    raise SystemExit(main())
