"""The paper's evaluations of medXGAN, on films whose true class is known.

For each positive film (``n`` of them):

- **counterfactual perturbation**: the top-k% pixels of a map (by |value|) are set to the
  film's mean and the drop of C's positive score is recorded, with the *same* k for LIG,
  Grad-CAM and IG. The deletion itself is :func:`seegaan.validate.metrics.deletion_curve`,
  the benchmark's faithfulness code, so both report the same quantity;
- **marked pixels**: how many pixels hold 90% of a map's absolute mass, LIG relative to
  pixel-space IG (the same rule for both maps);
- **convergence** of the inversion over its restarts (cosine of latents, SSIM of films) and
  the **Spearman** of C's positive score along the alpha sequence;

and over generated films, the **generated-class accuracy**. Every mean comes with a
percentile bootstrap CI over films.

Example::

    table = evaluate_medxgan(G, C, films, ids, EvalSettings(k=0.1))
    table["rows"]          # metric, ours, CI, paper
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch

from seegaan.medxgan.explainer import ExplainSettings, explain_film
from seegaan.medxgan.train import class_accuracy
from seegaan.utils.progress import progress
from seegaan.utils.renamed import renamed_keywords

# The paper's X-ray figures (Dravid et al. 2022), for the table.
PAPER = {"deletion_drop_lig": 0.91, "deletion_drop_gradcam": 0.83, "marked_fraction_lig_vs_ig": 0.21,
         "convergence_cosine": 0.994, "convergence_ssim": 0.968, "generated_class_accuracy": 0.937}
LABELS = {
    "deletion_drop_lig": "perturbation: drop of P(positive), LIG top-k",
    "deletion_drop_gradcam": "perturbation: drop of P(positive), Grad-CAM top-k",
    "deletion_drop_ig": "perturbation: drop of P(positive), IG top-k",
    "marked_fraction_lig_vs_ig": "pixels LIG marks / pixels IG marks",
    "convergence_cosine": "inversion convergence: cosine of latents",
    "convergence_ssim": "inversion convergence: SSIM of films",
    "sequence_spearman": "Spearman(alpha, P(positive)) along the sequence",
    "generated_class_accuracy": "generated-class accuracy",
}


@dataclass
class EvalSettings:
    k:            float = 0.10     # share of pixels deleted, the same for every map
    mass:         float = 0.90     # a map "marks" the fewest pixels holding this share of |mass|
    n_generated:  int = 1000       # generated films for the class accuracy (half positive)
    seed:         int = 0
    explain:      ExplainSettings = field(default_factory=ExplainSettings)


def marked_pixels(saliency: np.ndarray, mass: float = 0.9) -> int:
    """The fewest pixels whose |saliency| holds ``mass`` of the map's total (0 for an empty map)."""
    a = np.sort(np.abs(np.asarray(saliency, dtype=np.float64)).ravel())[::-1]
    total = a.sum()
    if total <= 0:
        return 0
    return int(np.searchsorted(np.cumsum(a), mass * total) + 1)


def deletion_drop(C: Any, image: torch.Tensor, saliency: np.ndarray, k: float) -> float:
    """Drop of C's positive score when the top-k |saliency| pixels take the film's mean."""
    from seegaan.validate.metrics import deletion_curve

    res = deletion_curve(C.prob, image, saliency, fractions=(k,))
    return float(res["base"] - res["scores"][0])


@renamed_keywords(log="echo")
def evaluate_medxgan(G: Any, C: Any, films: torch.Tensor, ids: list[str],
                     settings: EvalSettings | None = None, echo=None) -> dict[str, Any]:
    """Per-film rows and the summary table (see the module docstring)."""
    from seegaan.explain import attribute

    s = settings or EvalSettings()
    say = echo or (lambda _m: None)
    model = C.as_model()  # Grad-CAM and IG of the same f as LIG: P(positive)
    rows: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    for i in progress(range(len(films)), desc="medxgan evaluate", unit="film"):
        x = films[i:i + 1]
        res = explain_film(G, C, x, s.explain)
        maps = attribute(model, x, methods=("gradcam", "ig"))
        row = {"image_id": ids[i], "p_positive": res.inversion.target_prob,
               "deletion_drop_lig": deletion_drop(C, x, res.lig, s.k),
               "deletion_drop_gradcam": deletion_drop(C, x, maps["gradcam"][0, 0], s.k),
               "deletion_drop_ig": deletion_drop(C, x, maps["ig"][0, 0], s.k),
               "marked_lig": marked_pixels(res.lig, s.mass),
               "marked_ig": marked_pixels(maps["ig"][0, 0], s.mass),
               "convergence_cosine": res.inversion.convergence["cosine"],
               "convergence_ssim": res.inversion.convergence["ssim"],
               "sequence_spearman": res.sequence.spearman,
               "inversion_mse": res.inversion.mse, "inversion_prob": res.inversion.prob}
        row["marked_fraction_lig_vs_ig"] = (row["marked_lig"] / row["marked_ig"]
                                            if row["marked_ig"] else float("nan"))
        rows.append(row)
    seconds = time.perf_counter() - t0
    say(f"{len(rows)} films explained in {seconds:.0f} s")
    acc = class_accuracy(G, C, n=s.n_generated, seed=s.seed + 1)
    from seegaan.validate.metrics import bootstrap_ci  # the benchmark's CI, as for its tables

    table = []
    for key in LABELS:
        if key == "generated_class_accuracy":
            v = acc["class_acc"]
            n = s.n_generated
            # Binomial CI (normal approximation) over the generated films.
            half = 1.96 * np.sqrt(max(v * (1 - v), 1e-12) / n)
            mean, lo, hi = v, max(0.0, v - half), min(1.0, v + half)
        else:
            mean, lo, hi = bootstrap_ci(np.array([r[key] for r in rows], dtype=float), seed=s.seed)
            n = int(np.isfinite([r[key] for r in rows]).sum())
        table.append({"metric": key, "label": LABELS[key], "ours": mean, "ci_low": lo,
                      "ci_high": hi, "n": n, "paper": PAPER.get(key)})
    return {"rows": rows, "table": table, "generated": acc, "settings": asdict(s),
            "seconds_per_film": seconds / max(len(rows), 1)}


def table_markdown(result: dict[str, Any]) -> str:
    """The summary table beside the paper's X-ray numbers, as Markdown."""
    k = result["settings"]["k"]
    lines = [f"| evaluation (k = {k:.0%} of pixels) | ours (95% CI) | n | paper (X-ray) |",
             "|---|---|---|---|"]
    for r in result["table"]:
        ci = "" if not np.isfinite(r["ci_low"]) else f" ({r['ci_low']:.3f}–{r['ci_high']:.3f})"
        paper = "–" if r["paper"] is None else f"{r['paper']:.3f}"
        lines.append(f"| {r['label']} | {r['ours']:.3f}{ci} | {r['n']} | {paper} |")
    return "\n".join(lines) + "\n"
