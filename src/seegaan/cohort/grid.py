"""A labelled contact sheet of the cohort (README figure).

Version 2 (default): four patients (rows) in six states (columns): as drawn, enlarged heart,
effusion, congestion, pacemaker/ICD, AP portable. Version 1: heart sizes across sex and age.

Example::

    from seegaan.cohort.grid import contact_sheet
    contact_sheet("docs/images/cohort_grid.png", tile=144)
"""

from __future__ import annotations

import os

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from seegaan.cohort.render import ground_truth, render_image
from seegaan.cohort.subject import Subject
from seegaan.cohort.vendors import NAMES

HEART_SCALES = (0.75, 0.85, 0.95, 1.05, 1.2, 1.35)
ROWS = (("M", 34.0), ("F", 52.0), ("M", 71.0), ("F", 84.0))


def _row_subject(sex: str, age: float, row: int) -> Subject:
    female = sex == "F"
    # Population-mean bone density and habitus for that age and sex (clinical.py, no noise).
    bmd = 1.05 - 0.006 * max(age - 35.0, 0.0) - 0.006 * female * max(age - 50.0, 0.0)
    return Subject(sex=sex, age=age, bmd=bmd, fat_mm=14.0 + 5.0 * female,
                   breast_mm=36.0 if female else 0.0, deform_seed=100 + row)


# Version 2: (row label, patient), then the column states.
PATIENTS_V2 = (
    ("M34", dict(sex="M", age=34.0, bmd=1.05, fat_mm=8.0, thorax_width=1.05, thorax_height=1.04,
                 diaphragm_mm=-6.0, heart_shift_mm=-3.0, heart_scale=0.85)),
    ("F52", dict(sex="F", age=52.0, bmd=0.93, fat_mm=22.0, breast_mm=38.0, thorax_width=0.96,
                 thorax_height=0.98, diaphragm_mm=6.0, heart_shift_mm=2.0, heart_scale=0.85)),
    ("M71", dict(sex="M", age=71.0, bmd=0.83, fat_mm=16.0, thorax_width=1.08, thorax_height=1.0,
                 diaphragm_mm=0.0, heart_shift_mm=4.0, heart_scale=0.95)),
    ("F84", dict(sex="F", age=84.0, bmd=0.62, fat_mm=12.0, breast_mm=30.0, thorax_width=0.93,
                 thorax_height=0.95, diaphragm_mm=10.0, heart_shift_mm=0.0, heart_scale=0.95)),
)
STATES_V2 = (
    ("PA", {}),
    ("heart +35%", {"heart_scale": "x1.35"}),
    ("effusion", {"effusion_r_mm": 45.0, "effusion_l_mm": 25.0}),
    ("congestion", {"congestion": 0.85}),
    ("ICD", {"device": 1}),
    ("AP portable", {"ap": 1}),
)


def contact_sheet(path: str | os.PathLike, tile: int = 144, version: int = 2) -> Image.Image:
    """The README grid of cohort ``version``; the measured CTR is printed under each film."""
    if version == 2:
        return _sheet_v2(path, tile)
    return _sheet_v1(path, tile)


def _sheet_v2(path, tile: int) -> Image.Image:
    from seegaan.cohort.counterfactual import _new_value

    label_h = max(12, tile // 10)
    sheet = Image.new("L", (tile * len(STATES_V2), (tile + label_h) * len(PATIENTS_V2)), 0)
    k = 0
    for r, (label, fields) in enumerate(PATIENTS_V2):
        base = Subject(version=2, deform_seed=200 + r, device_seed=300 + r, **fields)
        for c, (state, change) in enumerate(STATES_V2):
            new = {n: _new_value(n, getattr(base, n), v) for n, v in change.items()}
            new = {n: int(v) if n in ("device", "ap") else v for n, v in new.items()}
            s = base.replace(manufacturer=NAMES[k % len(NAMES)], noise_seed=k, **new)
            k += 1
            _tile(sheet, s, c * tile, r * (tile + label_h), tile,
                  f"{label} {state} {s.manufacturer[:5]} CTR {{ctr:.2f}}")
    sheet.save(path, optimize=True)
    return sheet


def _tile(sheet: Image.Image, s: Subject, x: int, y: int, tile: int, caption: str) -> None:
    """Paste the film of ``s`` at (x, y) with ``caption`` (``{ctr}``: its CTR) under it."""
    img = Image.fromarray(np.round(render_image(s, tile) * 255).astype(np.uint8))
    sheet.paste(img, (x, y))
    text = caption.format(ctr=ground_truth(s)["gt_ctr"])
    ImageDraw.Draw(sheet).text((x + 3, y + tile), text, fill=230, font=ImageFont.load_default())


def _sheet_v1(path, tile: int) -> Image.Image:
    """Rows: sex/age; columns: heart size (CTR under each film); vendors cycle through the tiles."""
    label_h = max(12, tile // 10)
    sheet = Image.new("L", (tile * len(HEART_SCALES), (tile + label_h) * len(ROWS)), 0)
    k = 0
    for r, (sex, age) in enumerate(ROWS):
        base = _row_subject(sex, age, r)
        for c, hs in enumerate(HEART_SCALES):
            s = base.replace(heart_scale=hs, manufacturer=NAMES[k % len(NAMES)], noise_seed=k)
            k += 1
            _tile(sheet, s, c * tile, r * (tile + label_h), tile,
                  f"{sex}{age:.0f} {s.manufacturer} CTR {{ctr:.2f}}")
    sheet.save(path, optimize=True)
    return sheet


def cohort_sheet(path: str | os.PathLike, n: int = 12, tile: int = 200, seed: int = 0,
                 cols: int = 4) -> Image.Image:
    """The first ``n`` films of the version-2 cohort as drawn (``docs/cohort.md`` sheet)."""
    from seegaan.cohort.clinical import sample_subjects

    label_h = max(12, tile // 10)
    rows = (n + cols - 1) // cols
    sheet = Image.new("L", (tile * cols, (tile + label_h) * rows), 0)
    for k, s in enumerate(sample_subjects(n, seed=seed, version=2)):
        _tile(sheet, s, (k % cols) * tile, (k // cols) * (tile + label_h), tile,
              f"{s.sex}{s.age:.0f} {'AHF ' if s.ahf else ''}{'AP' if s.ap else 'PA'} "
              f"{s.manufacturer[:6]}{' dev' if s.device else ''} CTR {{ctr:.2f}}")
    sheet.save(path, optimize=True)
    return sheet


def film_stats(img01: np.ndarray) -> dict[str, float]:
    """Three coarse layout measures of a frontal film in [0, 1] (any size; brighter = denser).

    - ``lung_share``: share of the film's pixels darker than the midpoint of its 5th and 95th
      percentiles, inside the body (the black border outside it is left out);
    - ``dome``: where the lateral lung columns (20–40% and 60–80% of the width) step from
      dark to bright in the lower 60% of the film, as a share of its height from the top;
    - ``detail``: the standard deviation of the high-pass (film minus its 1.5 px Gaussian
      blur) over that of the film, ×100 (ribs, vessels, edges).

    They are rough on purpose: the same thresholds read real and virtual films, so the
    comparison is fair even if no single number is anatomically exact.
    """
    from scipy.ndimage import gaussian_filter

    x = np.asarray(img01, dtype=np.float64)
    body = x > np.percentile(x, 2) + 0.02
    lo, hi = np.percentile(x[body], [5, 95])
    dark = (x < (lo + hi) / 2) & body
    h, w = x.shape
    cols = np.r_[int(0.2 * w):int(0.4 * w), int(0.6 * w):int(0.8 * w)]
    # The domes: the steepest dark-to-bright step of the lateral columns' mean profile in the
    # lower 60% of the film (lung above, liver and spleen below).
    prof = gaussian_filter(x[:, cols].mean(1), h / 64)
    lo_row = int(0.4 * h)
    dome = float(lo_row + np.argmax(np.diff(prof[lo_row:int(0.98 * h)])) + 1) / h
    hp = x - gaussian_filter(x, 1.5)
    return {"lung_share": float(dark.sum() / max(body.sum(), 1)), "dome": dome,
            "detail": float(100 * hp[body].std() / max(x[body].std(), 1e-9))}


def side_by_side_sheet(real: list[np.ndarray], path: str | os.PathLike, tile: int = 192,
                       seed: int = 0, version: int = 2) -> dict[str, dict[str, float]]:
    """Real films (top row) above as many virtual films of cohort ``version`` (bottom row).

    ``real`` are frontal films as arrays (any range and size; each is scaled to [0, 1] and
    resized to ``tile``). Each tile's caption gives :func:`film_stats`; the return value has
    their means per row. Real films are the user's: seegaan ships none (the docs say where
    a public set can be found and why it is not bundled).
    """
    from seegaan.cohort.clinical import sample_subjects

    if not real:
        raise ValueError("no real films given")
    label_h = max(12, tile // 12)
    n = len(real)
    sheet = Image.new("L", (tile * n, 2 * (tile + label_h)), 0)
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default()
    stats: dict[str, list[dict[str, float]]] = {"real": [], "virtual": []}
    virtual = [render_image(s, tile) for s in sample_subjects(n, seed=seed, version=version)]
    for row, (name, films) in enumerate((("real", real), ("virtual", virtual))):
        for k, film in enumerate(films):
            f = np.asarray(film, dtype=np.float64)
            f = (f - f.min()) / max(float(f.max() - f.min()), 1e-12)
            img = Image.fromarray(np.round(f * 255).astype(np.uint8)).resize((tile, tile),
                                                                             Image.BILINEAR)
            st = film_stats(np.asarray(img, dtype=np.float64) / 255.0)
            stats[name].append(st)
            y = row * (tile + label_h)
            sheet.paste(img, (k * tile, y))
            draw.text((k * tile + 3, y + tile),
                      f"{name[0].upper()} lung {st['lung_share']:.2f} dome {st['dome']:.2f} "
                      f"det {st['detail']:.0f}", fill=230, font=font)
    sheet.save(path, optimize=True)
    return {name: {k: float(np.nanmean([s[k] for s in rows])) for k in rows[0]}
            for name, rows in stats.items()}
