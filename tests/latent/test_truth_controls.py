"""The checks can fail: blur alone, a border-only vendor map and a random label are caught."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.ndimage import gaussian_filter

from seegaan.latent.select import Selection
from seegaan.latent.truth import (
    TruthCheck,
    blur_control,
    blur_sequence,
    matched_readout,
    pattern_row,
    readout,
)
from seegaan.validate.checks import body_mask


def _detail_oracle(images) -> pd.DataFrame:
    """A blur-sensitive readout, like the real oracle's bone density: fine detail energy."""
    x = np.asarray(images, dtype=np.float64)[:, 0]
    detail = np.array([np.mean((f - gaussian_filter(f, 1.5)) ** 2) for f in x])
    return pd.DataFrame({"gt_bmd": detail, "gt_ctr": x.mean(axis=(1, 2))})


def _seq(frames, truth_step):
    meta = pd.DataFrame({"g": [0, 0, 1, 1], "gt_bmd": [0.0, 0.0, truth_step, truth_step]})

    class S:
        pass

    s = S()
    s.frames = frames
    s.diffs = frames - frames[0]
    s.values = np.linspace(0, 1, len(frames))
    s.selection = Selection("g", "qualitative", "test", np.zeros((4, 1)), meta, 0, np.arange(4),
                            is_to=meta["g"].to_numpy() == 1)
    return s, meta["gt_bmd"].to_numpy()


def test_blur_only_sequence_fails_when_read_sharpness_matched():
    rng = np.random.default_rng(0)
    frame = gaussian_filter(rng.normal(size=(32, 32)), 0.7).astype(np.float32)
    frames = blur_sequence(frame, 6, sigma_max=2.0)
    raw = readout(_detail_oracle, frames, "gt_bmd")
    # The plain readout falls steadily with blur: it would "see" a loss of bone density.
    assert raw[-1] < 0.5 * raw[0] and np.all(np.diff(raw) < 0)
    matched = matched_readout(_detail_oracle, frames, "gt_bmd")
    assert abs(matched[-1] - matched[0]) < 0.1 * abs(raw[-1] - raw[0])
    # As a check: a true fall of the same size as the blur's passes raw, fails matched.
    seq, y = _seq(frames, float(raw[-1] - raw[0]))
    chk = TruthCheck("age lowers bone density", "g", "gt_bmd", -1)
    out = blur_control(chk, seq, _detail_oracle, y, sigma_max=2.0)
    assert out["raw_blur_pass"] == "pass" and out["blur_pass"] == "fail"


def test_matching_leaves_a_real_change_alone():
    rng = np.random.default_rng(1)
    base = gaussian_filter(rng.normal(size=(32, 32)), 0.7).astype(np.float32)
    frames = np.stack([base + k * 0.2 for k in range(5)])      # brighter, equally sharp
    np.testing.assert_allclose(matched_readout(_detail_oracle, frames, "gt_ctr"),
                               readout(_detail_oracle, frames, "gt_ctr"), rtol=1e-3, atol=1e-4)


def test_vendor_border_alone_cannot_pass_inside_the_body():
    size = 64
    rng = np.random.default_rng(2)
    border = ~body_mask(size, 0.03)                             # a GE-like black frame
    true_map = np.where(border, -1.0, 0.0) + 0.05 * gaussian_filter(rng.normal(size=(size, size)), 3)
    chk = TruthCheck("vendor", "v", "image processing", min_pattern=0.5)
    seq, _ = _seq(np.zeros((2, size, size), np.float32), 1.0)
    seq.diffs = np.stack([np.zeros((size, size)), np.where(border, -1.0, 0.0)])
    # Over the whole image the border-only map correlates almost perfectly ...
    assert pattern_row(chk, seq, true_map)["pass"] == "pass"
    # ... but inside the body it carries nothing.
    row = pattern_row(chk, seq, true_map, body_mask(size))
    assert row["pass"] == "fail" and row["pattern_correlation"] < 0.2


def test_oracle_validation_reports_the_blur_bias():
    from seegaan.validate.checks import oracle_validation

    rng = np.random.default_rng(3)
    images = gaussian_filter(rng.normal(size=(12, 1, 32, 32)), (0, 0, 0.7, 0.7)).astype(np.float32)
    truth = _detail_oracle(images)
    val = oracle_validation(_detail_oracle, images, truth, recon=images, sigmas=(1.0, 2.0),
                            factors=("gt_bmd",)).set_index("condition")
    assert val.loc["original", "bias"] == 0 and val.loc["reconstruction", "r"] > 0.99
    # Blur lowers the detail readout, more with more blur: the bias the header reports.
    assert val.loc["blur σ=2 px", "bias"] < val.loc["blur σ=1 px", "bias"] < 0


def test_vendor_swap_map_changes_only_the_vendor():
    from seegaan.cohort.subject import Subject
    from seegaan.validate.checks import vendor_effect_map

    subjects = [Subject(image_id=f"s{k}", noise_seed=k, deform_seed=k) for k in range(2)]
    m = vendor_effect_map(subjects, 32)
    assert m.shape == (32, 32) and np.abs(m).max() > 0.05
    # GE's black border dominates the raw map: what body_mask leaves out.
    edge = ~body_mask(32)
    assert np.abs(m[edge]).mean() > 2 * np.abs(m[~edge]).mean()
    assert not np.any(vendor_effect_map(subjects, 32, "GE", "GE"))
