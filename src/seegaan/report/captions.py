"""What each figure of the report shows and how to read it, in full sentences.

Every image the report embeds gets a caption from here (and its first sentence as the alt
text), so a reader never has to guess from a file name. Captions that depend on a run (the
colour range, the split, the groups) are built from the artefact's ``summary.json``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from seegaan.units import base_name, original_scale, value_text

# File stem (or stem pattern) -> caption, for the fixed figures the pipeline writes.
FIXED = {
    "contact_sheet": (
        "A random sample of the virtual cohort's radiographs, with acute heart failure "
        "over-sampled so that enlarged hearts appear beside normal ones. Each tile is titled "
        "with the patient's sex, age, AHF status and the vendor whose image processing was "
        "applied; compare tiles to see how much the films vary before any explanation."),
    "reconstructions": (
        "Held-out test radiographs (top row) above the autoencoder's reconstructions G(E(x)) "
        "of the same films (bottom row). The closer each pair, the more of that film the "
        "512-number code keeps; detail lost here (fine bone, for instance) cannot appear in "
        "any sequence below."),
    "global_side_by_side": (
        "The global sequence for the true value (left) beside the one for the CNN's "
        "prediction (right), as in the paper's Fig. 5, each with its subtraction maps "
        "(frame minus frame 0; red brighter, blue darker). Where the two agree, the CNN's "
        "prediction follows the same image changes as the truth; changes that appear only on "
        "the prediction side are what the CNN uses beyond the truth."),
    "fig6": (
        "One row per patient (true positive, true negative, false positive, false negative), "
        "as in the paper's Fig. 6: the original film, the attribution maps (brighter = more "
        "influence on the prediction), the SEE-GAAN frames and their differences from the "
        "reconstruction. Attribution maps say where the CNN looks; the SEE-GAAN differences "
        "show what would have to change in the image to change its prediction."),
    "curves": (
        "Every logged loss and validation metric against the training step, one panel each. "
        "Losses should settle rather than diverge; validation SSIM should rise while "
        "validation MSE and the sliced Wasserstein distance (SWD) fall."),
}

CASE_WORDS = {"TP": "true positive", "TN": "true negative", "FP": "false positive",
              "FN": "false negative"}


def first_sentence(text: str) -> str:
    """The caption's first sentence, used as the image's alt text."""
    m = re.match(r"(.+?[.!?])(\s|$)", text.strip())
    return m.group(1) if m else text.strip()


def figure_caption(path: Path) -> str:
    """The caption of a fixed figure, recognised by its file name; a plain sentence otherwise."""
    stem = path.stem
    if stem in FIXED:
        return FIXED[stem]
    if stem.startswith("curves"):
        return FIXED["curves"]
    m = re.fullmatch(r"lambda_(FP|FN)", stem)
    if m:
        cat = m.group(1)
        return (f"The λ search for the {CASE_WORDS[cat]} patient: its reconstruction G(w_E), "
                "the image G(w(λ)) at the smallest shift λ along the class direction that "
                "brings the CNN's prediction to the true value, and their difference (red "
                "brighter, blue darker). The difference is the smallest change of this kind "
                "that would make the CNN right.")
    m = re.fullmatch(r"step(\d+)", stem)
    if m:
        return (f"Training samples at step {int(m.group(1)):,}: the first two rows are random "
                "synthetic radiographs G(M(z)), the third row validation films and the fourth "
                "their reconstructions. Sharper, more varied samples and closer "
                "reconstructions mean a better-trained autoencoder.")
    if path.parent.name == "samples" or "sample" in stem:
        return ("A grid of synthetic radiographs and reconstructions written during training; "
                "compare it with later grids to see the autoencoder improve.")
    words = stem.replace("_", " ")
    return (f"The figure '{words}' written by this run ({path.name}); the section's text "
            "above says how it was made.")


def _fmt(v: Any) -> str:
    return f"{v:.3g}" if isinstance(v, float) else str(v)


def log_scale_note(summary: dict[str, Any]) -> str:
    """For a sequence built on a log-scale feature (``log_bnpp``): its labels are back in the
    feature's own units, and the caption says so."""
    feature = str(summary.get("feature", ""))
    values = summary.get("values")
    if base_name(feature) == feature or not isinstance(values, list) or not values:
        return ""
    name, v, unit = original_scale(feature, values, summary.get("unit"))
    return (f" The path was built on the natural log of {name}; the frames are labelled back in "
            f"{unit or 'its own units'}, from {value_text(v[0], unit)} to {value_text(v[-1], unit)}.")


def sequence_captions(summary: dict[str, Any], shared_vlim: float | None) -> dict[str, str]:
    """Captions of a sequence's four figures, from its ``summary.json``.

    ``shared_vlim`` is the colour range shared by every sequence of the section, when they
    share one; otherwise the caption says the range is this figure's own.
    """
    title = str(summary.get("title", summary.get("feature", "this feature")))
    local = summary.get("mode") == "local"
    along = ("λ, the distance the patient's code moves along the direction" if local
             else "the feature value")
    vlim = summary.get("vlim")
    if isinstance(vlim, (int, float)):
        if shared_vlim is not None:
            scale = (f"The colour range ±{vlim:.3g} is shared by every sequence of this "
                     "section, so colours compare across them.")
        else:
            scale = (f"The colour range ±{vlim:.3g} is this figure's own (its largest "
                     "change), so compare colours only within it.")
    else:
        scale = "The colour range is symmetric about zero and shown on the colour bar."
    perms = summary.get("permutations")
    alpha = summary.get("alpha", 0.05)
    corr = summary.get("correction", "none")
    gif = (f"An animation of the frames of {title}, looping from the first frame to the last; "
           "watch where the image changes.")
    return {
        "sequence": (f"Decoded synthetic radiographs along the path for {title}, labelled with "
                     f"{along}; read them from left to right as the feature changes."
                     + log_scale_note(summary)),
        "subtraction": ("Each frame minus frame 0, on the [-1, 1] image scale: red where the "
                        "film becomes brighter (denser), blue where it becomes darker, pale "
                        f"yellow where it does not change. {scale}"),
        "significant": (f"The same differences, keeping only pixels whose permutation p-value "
                        f"is at most α = {_fmt(alpha)} ({_fmt(perms)} permutations, "
                        f"correction: {corr}); all other pixels are set to the neutral colour, "
                        f"so coloured areas are changes unlikely to arise by chance. {scale}"),
        "gif": gif,
    }


def truth_summary(truth) -> tuple[str, list[tuple[str, str]]]:
    """The pass/fail total of the ground-truth table, and a reason for each failed check.

    A sequence check fails for a known reason when the autoencoder's reconstruction check of
    the same factor fails too: what the reconstruction loses, no sequence can show.
    """
    import pandas as pd

    if truth is None or "pass" not in truth.columns:
        return "", []
    verdict = truth["pass"].astype(str).str.strip().str.lower()
    n_pass = int(verdict.isin(("pass", "true", "yes", "1")).sum())
    n_fail = int(verdict.isin(("fail", "false", "no", "0")).sum())
    n_na = len(truth) - n_pass - n_fail
    total = (f"{n_pass} of {n_pass + n_fail} checks pass, {n_fail} fail"
             + (f", {n_na} could not be evaluated (n/a)" if n_na else "") + ".")
    factor = truth["factor"].astype(str) if "factor" in truth.columns else pd.Series([""] * len(truth))
    seq = truth["sequence"].astype(str) if "sequence" in truth.columns else pd.Series([""] * len(truth))
    lost = {}
    for i in truth.index[(seq == "autoencoder") & (verdict == "fail")]:
        measured = str(truth.at[i, "measured"]) if "measured" in truth.columns else ""
        lost[factor[i]] = measured.split(" (")[0]  # "Pearson r 0.377", without the aside
    reasons = []
    for i in truth.index[verdict == "fail"]:
        check = str(truth.at[i, "check"]) if "check" in truth.columns else f"row {i + 1}"
        f = factor[i]
        if seq[i] == "autoencoder":
            why = ("the autoencoder does not reproduce this yet (a longer or GPU training run "
                   "is the remedy); every sequence check of the same factor inherits it")
        elif f in lost:
            why = (f"the autoencoder's reconstructions do not keep {f.removeprefix('gt_')} "
                   f"({lost[f]}), so no sequence can show its change")
        else:
            why = ("no known limit explains it: compare the measured change with the target; "
                   "a small or noisy sample, or a model that has not learnt the factor, are "
                   "the usual causes")
        reasons.append((check, why))
    return total, reasons
