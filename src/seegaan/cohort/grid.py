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
