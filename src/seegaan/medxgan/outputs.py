"""Output folders of ``seegaan medxgan explain`` and ``seegaan medxgan evaluate`` (written atomically).

``explain`` writes::

    result.json                       checkpoint, classifier, settings, one summary per film
    manifest.json                     the standard explanation manifest (method "medxgan")
    cases/<image_id>/medxgan/         the standard per-case output: map.npy (LIG), frames.npz
    figures/<image_id>/sequence.png   film, G(z1, alpha z2) with C's positive score, difference map
    figures/<image_id>/lig.png        film, G(z1, 0), G(z1, z2), LIG, Grad-CAM, IG
    figures/<image_id>/sequence.gif

``evaluate`` writes ``evaluation.json`` (per-film rows, table), ``table.md`` and ``films.csv``.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from seegaan.medxgan.explainer import ExplainSettings, explain_film
from seegaan.utils.fsio import atomic_dir, check_output, write_json
from seegaan.utils.progress import progress
from seegaan.utils.renamed import renamed_keywords


@dataclass
class Film:
    image_id:   str
    image:      torch.Tensor            # (1, 1, S, S) in [-1, 1]
    category:   str | None = None       # TP / TN / FP / FN when known
    truth:      float | None = None
    prediction: float | None = None


@renamed_keywords(log="echo")
def explain_to_dir(G: Any, C: Any, films: list[Film], out: str | os.PathLike, info: dict[str, Any],
                   settings: ExplainSettings | None = None, overwrite: bool = False,
                   echo=None, note: str | None = None) -> dict[str, Any]:
    """Explain each film into ``out`` (see the module docstring); returns result.json's content.

    ``note``: a caveat for the reader (e.g. a generator trained on other films), kept in
    result.json and shown by the report."""
    from seegaan.explain import attribute
    from seegaan.explain.methods import Explanation, case_folder, save_explanation, write_manifest
    from seegaan.medxgan.figures import save_lig_png, save_sequence_gif, save_sequence_png

    s = settings or ExplainSettings()
    say = echo or (lambda _m: None)
    check_output(out, overwrite)
    model = C.as_model()
    summaries, cases = [], []
    with atomic_dir(out, overwrite=overwrite) as tmp:
        for film in progress(films, desc="medxgan explain", unit="film"):
            res = explain_film(G, C, film.image, s)
            maps = attribute(model, film.image, methods=("gradcam", "ig"))
            title = " ".join(t for t in (film.category, film.image_id) if t)
            folder = case_folder(tmp, film.image_id, "medxgan")
            fig_dir = tmp / "figures" / folder.parent.name   # the same safe name as cases/
            fig_dir.mkdir(parents=True, exist_ok=True)
            save_sequence_png(res, fig_dir / "sequence.png", title=title)
            save_lig_png(res, {"gradcam": maps["gradcam"][0, 0], "ig": maps["ig"][0, 0]},
                         fig_dir / "lig.png", title=title)
            save_sequence_gif(res, fig_dir / "sequence.gif")
            exp = Explanation(method="medxgan", kind="sequence", map=res.lig, frames=res.sequence.frames,
                              steps=res.sequence.alphas, step_name="alpha",
                              predictions=C.model.predict(torch.from_numpy(res.sequence.frames[:, None])),
                              scalars=res.summary())
            save_explanation(exp, folder)
            summary = {"image_id": film.image_id, "category": film.category, "truth": film.truth,
                       "prediction": film.prediction, **res.summary(),
                       "figures": str(fig_dir.relative_to(tmp))}
            summaries.append(summary)
            cases.append({"image_id": film.image_id, "category": film.category, "truth": film.truth,
                          "prediction": film.prediction,
                          "folder": str(folder.parent.relative_to(tmp))})
            say(f"{title}: C(x) {res.inversion.target_prob:.2f}, inversion MSE "
                f"{res.inversion.mse:.4f}, Spearman {res.sequence.spearman:.2f}")
        write_manifest(tmp, cases, ["medxgan"], extra={"source": "seegaan medxgan explain"})
        record = {"checkpoint": info.get("path"), "classifier": C.describe(),
                  "settings": asdict(s), "films": summaries}
        if note:
            record["note"] = note
        write_json(tmp / "result.json", record)
    return record


def evaluate_to_dir(result: dict[str, Any], out: str | os.PathLike, extra: dict[str, Any],
                    overwrite: bool = False) -> None:
    from seegaan.medxgan.evaluate import table_markdown

    with atomic_dir(out, overwrite=overwrite) as tmp:
        write_json(tmp / "evaluation.json", {**extra, **result})
        (tmp / "table.md").write_text(table_markdown(result))
        pd.DataFrame(result["rows"]).to_csv(tmp / "films.csv", index=False)


def positive_test_films(data_dir: str | os.PathLike, target: str, threshold: float, n: int,
                        seed: int = 0, split: str = "test") -> tuple[torch.Tensor, list[str]]:
    """``n`` films of ``split`` whose true ``target`` exceeds ``threshold`` (a seeded sample)."""
    from seegaan.data.prepared import PreparedDataset
    from seegaan.errors import InputError

    ds = PreparedDataset(data_dir, split=split)
    if target not in ds.index.columns:
        raise InputError(f"{data_dir}: no column {target!r} for the true class")
    y = np.asarray(ds.index[target], dtype=float)
    pos = np.flatnonzero(y > threshold)
    if len(pos) == 0:
        raise InputError(f"{data_dir}: no {split} film with {target} > {threshold:g}")
    rng = np.random.default_rng(seed)
    take = np.sort(rng.choice(pos, size=min(n, len(pos)), replace=False))
    return ds.load_images(take), [str(i) for i in ds.index["image_id"].to_numpy()[take]]


def films_from_dataset(data_dir: str | os.PathLike, model: Any, target: str, threshold: float,
                       image_ids: list[str] | None = None, categories: list[str] | None = None,
                       split: str = "test") -> list[Film]:
    """Films by image id, or one TP/TN/FP/FN each (the Fig. 6 rule) from ``split``."""
    from seegaan.data.prepared import PreparedDataset
    from seegaan.errors import InputError
    from seegaan.explain import select_cases

    ds = PreparedDataset(data_dir, split=None if image_ids else split)
    ids = [str(i) for i in ds.index["image_id"].to_numpy()]
    truth = (np.asarray(ds.index[target], dtype=float) if target in ds.index.columns else None)
    if image_ids:
        where = {i: k for k, i in enumerate(ids)}
        rows = []
        for i in image_ids:
            if i not in where:
                raise InputError(f"--images {i}: not in {data_dir}")
            rows.append(where[i])
        x = ds.load_images(np.asarray(rows))
        pred = model.predict(x)
        return [Film(ids[r], x[j:j + 1], None, None if truth is None else float(truth[r]), float(pred[j]))
                for j, r in enumerate(rows)]
    if truth is None:
        raise InputError(f"{data_dir}: no column {target!r}, so TP/TN/FP/FN cannot be told apart")
    x = ds.load_images()
    pred = model.predict(x)
    picks = select_cases(truth, pred, threshold, image_ids=ids)
    out = []
    for cat in (c.upper() for c in (categories or ["tp", "tn", "fp", "fn"])):
        r = picks.get(cat)
        if r is not None:
            out.append(Film(ids[r], x[r:r + 1], cat, float(truth[r]), float(pred[r])))
    return out
