"""A labelled contact sheet of the cohort across heart size, sex, age and vendor (README figure).

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


def contact_sheet(path: str | os.PathLike, tile: int = 144) -> Image.Image:
    """Rows: sex/age; columns: heart size (CTR under each film); vendors cycle through the tiles."""
    label_h = max(12, tile // 10)
    font = ImageFont.load_default()
    sheet = Image.new("L", (tile * len(HEART_SCALES), (tile + label_h) * len(ROWS)), 0)
    draw = ImageDraw.Draw(sheet)
    k = 0
    for r, (sex, age) in enumerate(ROWS):
        base = _row_subject(sex, age, r)
        for c, hs in enumerate(HEART_SCALES):
            s = base.replace(heart_scale=hs, manufacturer=NAMES[k % len(NAMES)], noise_seed=k)
            k += 1
            img = Image.fromarray(np.round(render_image(s, tile) * 255).astype(np.uint8))
            x, y = c * tile, r * (tile + label_h)
            sheet.paste(img, (x, y))
            ctr = ground_truth(s)["gt_ctr"]
            draw.text((x + 3, y + tile), f"{sex}{age:.0f} {s.manufacturer} CTR {ctr:.2f}",
                      fill=230, font=font)
    sheet.save(path, optimize=True)
    return sheet
