"""Cohort version 2: a PA film framed and processed like a real one (``docs/cohort.md`` §2b).

The same CT layers as version 1 (``render.py``), recombined differently:

- **Framing.** A 370 mm field with the lung apex 12% below the top edge: neck, clavicles,
  shoulders and humeral heads above, the costophrenic angles at about 80% of the height.
  Above the CT (which ends 18 mm over the apex) the neck and shoulders are analytic; the
  arms-up shoulder girdle of the CT is removed and a PA (or AP) one is drawn instead.
- **Shape model.** Four patient-level factors with population spread warp the anatomy:
  thorax width and height (rib spacing follows), diaphragm elevation and heart position.
- **Pathology.** Left-ventricle-predominant cardiomegaly; effusion that blunts the
  costophrenic angle with a meniscus rising laterally; congestion in stages (upper-lobe
  diversion, then Kerley B lines, then perihilar alveolar oedema).
- **Devices and projection.** Metal-bright pacemaker/ICD can and leads into the heart; AP
  portable films with a magnified heart, scapulae over the lungs and an "AP PORTABLE" text
  marker; a lead "L" marker.
- **Vendors** differ inside the body (look-up curve, detail and edge enhancement, noise
  texture), not by a border (``vendors.VENDORS_V2``).

Example::

    from seegaan.cohort import Subject, render
    img, gt = render(Subject(version=2, ap=1, device=1), size=256)
"""

from __future__ import annotations

import functools
import math

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from seegaan.cohort.anatomy import Atlas, load_atlas
from seegaan.cohort.render import (
    AEC_PER_MM_FAT,
    BONE_GAIN,
    MEASURE_SIZE,
    RHO_BREAST,
    RHO_FAT,
    RHO_FLUID,
    RHO_HEART,
    RHO_LUNG_MIN,
    _blur,
    _breasts,
    _can,
    _catmull_rom,
    _deformation,
    _heart_anchor,
    _lead_points,
    _polyline_d2,
    _Sampler,
    common_truth,
    log_exposure,
    measure_ctr,
)
from seegaan.cohort.subject import Subject
from seegaan.cohort.vendors import VENDORS_V2, VendorV2

FRAME_MM = 370.0  # side of the square film field (a 14 x 17 inch cassette, cropped square)
APEX_FROM_TOP = 0.10  # lung apex this far below the top edge (share of the frame)
AP_BODY_MAG = 1.04  # AP portable: shorter source distance magnifies the whole chest
AP_HEART_MAG = (1.12, 1.06)  # ... and the anterior heart more (transverse, cranio-caudal)
BODY_HALF_WIDTH_MM = 163.0  # lateral body contour at chest level (plus 0.7 x fat)
METAL_MM = 160.0  # water-equivalent path of a titanium can: saturates any vendor's curve
MARKER_MM = 200.0  # lead letters
EFFUSION_EXTRA_MM = 25.0  # pleural-space widening under an effusion, water path
HEART_SOLID_MM = 100.0  # thickness left unchanged by the silhouette's rounding (_solid)
DOME_DESCENT_MM = (35.0, 18.0)  # PA, AP: dome descent from the supine CT to an erect film


# --------------------------------------------------------------------------------------
# geometry
def source_coords(s: Subject, size: int, atlas: Atlas) -> tuple[np.ndarray, np.ndarray]:
    """Normalised anatomy coordinates (row, col) of every output pixel of a version-2 film."""
    f = atlas.field_mm
    lm = atlas.landmarks
    g = (np.arange(size, dtype=np.float64) + 0.5) / size - 0.5
    v, u = np.meshgrid(g, g, indexing="ij")
    u1, v1 = u - s.shift_x, v - s.shift_y
    th = math.radians(s.rotation_deg)
    c, sn = math.cos(th), math.sin(th)
    mag = s.zoom * (AP_BODY_MAG if s.ap else 1.0)
    k = FRAME_MM / f / mag
    ur = (c * u1 + sn * v1) * k
    vr = (-sn * u1 + c * v1) * k
    apex, mid = lm["apex_row"], lm["midline_col"]
    top = (-0.5 + APEX_FROM_TOP) * FRAME_MM / f  # frame row of the apex, atlas units
    rows = apex + (vr - top)
    cols = mid + ur
    # shape model and inspiration
    rows = apex + (rows - apex) / (s.thorax_height * s.inspiration)
    cols = mid + (cols - mid) / s.thorax_width
    # Erect full inspiration: the supine CT's domes descend (the costophrenic angles stay),
    # less so on an AP portable film; ``diaphragm_mm`` raises them further (+) or lowers them.
    descent = (DOME_DESCENT_MM[s.ap] - s.diaphragm_mm) / f
    top_r = lm["heart_top"]
    dome = _dome_row(lm)
    cp = 0.5 * (lm["lung_r"]["cp_row"] + lm["lung_l"]["cp_row"])
    bump = _smooth((rows - top_r) / (dome - top_r)) * (1.0 - _smooth((rows - dome) / (cp - dome)))
    rows = rows - descent * bump
    dv, du = _deformation(s.deform_seed, u, v, s.deform_mm / f)
    return rows + dv, cols + du


def _dome_row(lm: dict) -> float:
    """Row of the diaphragm domes' top in the CT (between heart centroid and visible base)."""
    base = 0.5 * (lm["lung_r"]["base_row"] + lm["lung_l"]["base_row"])
    return lm["heart_centroid"][0] + 0.3 * (base - lm["heart_centroid"][0])


def _heart_map(s: Subject, atlas: Atlas):
    """(forward, inverse) maps of the heart: growth (LV-predominant), AP magnification, shift."""
    lm = atlas.landmarks
    f = atlas.field_mm
    ar, _ = _heart_anchor(atlas)
    # Anchor near the right heart border: enlargement moves the left border out (and down).
    ac = lm["heart_left"] + 0.25 * (lm["heart_right"] - lm["heart_left"])
    d = s.heart_scale - 1.0
    mx, mz = AP_HEART_MAG if s.ap else (1.0, 1.0)
    s_r, s_l = (1.0 + 0.3 * d) * mx, (1.0 + 1.23 * d) * mx
    sz = (1.0 + 0.5 * d) * mz
    drop = 0.15 * d  # the apex moves down (and out) as the LV enlarges
    shift = s.heart_shift_mm / f

    def inverse(rows, cols):
        c = cols - shift
        dx = c - ac
        src_c = ac + dx / np.where(dx > 0, s_l, s_r)
        src_r = ar + (rows - ar) / sz - drop * np.clip(src_c - ac, 0.0, None)
        return src_r, src_c

    def forward(r, c):
        dx = c - ac
        out_c = ac + dx * (s_l if dx > 0 else s_r)
        out_r = ar + (r + drop * max(dx, 0.0) - ar) * sz
        return out_r, out_c + shift

    thick = (1.0 + 0.8 * d) * (0.5 * (mx + mz))  # AP depth grows with the width
    return forward, inverse, thick


def _solid(h: np.ndarray) -> np.ndarray:
    """The CT's heart label tapers thinly at its borders; pericardium and epicardial fat make
    the real silhouette rounder and its border sharper (a concave power of the thickness)."""
    return HEART_SOLID_MM * (np.clip(h, 0.0, None) / HEART_SOLID_MM) ** 0.7


def _heart(s: Subject, rows, cols, atlas: Atlas) -> tuple[np.ndarray, np.ndarray]:
    """(source heart thickness, displayed heart thickness) in mm."""
    h0 = _Sampler(atlas, rows, cols)(("heart",))["heart"]
    _, inverse, thick = _heart_map(s, atlas)
    if s.heart_scale == 1.0 and not s.ap and not s.heart_shift_mm:
        return h0, _solid(h0)
    r, c = inverse(rows, cols)
    return h0, _solid(thick * _Sampler(atlas, r, c)(("heart",))["heart"])


# --------------------------------------------------------------------------------------
# analytic structures (x, y in mm: x from the midline, + = patient's left; y below the apex)
def _smooth(t):
    t = np.clip(t, 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _upper_body(x, y):
    """Water path (mm) of the neck and shoulders above the CT's top slice."""
    ax = np.abs(x)
    neck = 118.0 * np.sqrt(np.clip(1.0 - (ax / 64.0) ** 2, 0.0, None))
    # Shoulder contour: high at the neck base, sloping down to the acromion.
    y_top = -40.0 + 36.0 * np.clip((ax - 45.0) / 130.0, 0.0, 1.2) ** 1.5
    inside = 1.0 / (1.0 + np.exp(-(y - y_top) / 3.0))
    trunk = 150.0 * np.sqrt(np.clip(1.0 - (ax / 205.0) ** 2, 0.0, None)) * inside
    return np.maximum(neck, trunk)


def _tube(x, y, pts, radius, n=10):
    """Bone excess (mm) of a hollow cylinder along a smooth curve: bright cortex, faint marrow."""
    curve = _catmull_rom(np.asarray(pts, float), n)
    d2 = _polyline_d2(y, x, curve)
    outer = 2.0 * np.sqrt(np.clip(radius**2 - d2, 0.0, None))
    inner = 2.0 * np.sqrt(np.clip((0.6 * radius) ** 2 - d2, 0.0, None))
    return 0.45 * (outer - inner) + 0.15 * inner


def _girdle(x, y, ap: int, half_lung: float):
    """Clavicles, humeral heads and scapulae as seen on a PA (or AP) film (bone excess, mm)."""
    out = np.zeros_like(x)
    lift = -16.0 if ap else 0.0  # on AP films the clavicles project higher
    for sg in (-1.0, 1.0):
        out += _tube(x, y, [[28 + lift, sg * 16], [14 + lift, sg * 60], [6 + 0.5 * lift, sg * 100],
                            [-4 + 0.5 * lift, sg * (half_lung + 14)],
                            [-10 + 0.3 * lift, sg * (half_lung + 30)]], 8.0)
        # humeral head, at the upper outer corner
        hx, hy = sg * (half_lung + 38.0), 16.0
        out += 0.32 * 2.0 * np.sqrt(np.clip(26.0**2 - (x - hx) ** 2 - (y - hy) ** 2, 0.0, None))
        # Scapula: rotated off the lungs on a PA film, over the upper lateral lung on an AP one.
        if ap:
            tri = [(sg * (half_lung - 48), 8.0), (sg * (half_lung + 24), 22.0), (sg * (half_lung - 40), 140.0)]
        else:
            tri = [(sg * (half_lung - 10), 4.0), (sg * (half_lung + 30), 20.0), (sg * (half_lung + 4), 150.0)]
        out += 3.5 * _triangle(x, y, tri)
        out += _tube(x, y, [[tri[1][1], tri[1][0]], [tri[2][1], tri[2][0]]], 5.0, n=4)
    return out


def _triangle(x, y, tri, soft_mm=3.0):
    """1 inside the triangle, 0 outside, with a soft edge."""
    (x0, y0), (x1, y1), (x2, y2) = tri
    area = (x1 - x0) * (y2 - y0) - (x2 - x0) * (y1 - y0)
    sgn = 1.0 if area > 0 else -1.0
    inside = np.full(x.shape, np.inf)
    for (ax, ay), (bx, by) in (((x0, y0), (x1, y1)), ((x1, y1), (x2, y2)), ((x2, y2), (x0, y0))):
        ex, ey = bx - ax, by - ay
        dist = sgn * (ex * (y - ay) - ey * (x - ax)) / math.hypot(ex, ey)
        inside = np.minimum(inside, dist)
    return _smooth(inside / soft_mm + 0.5)


def _aorta(s: Subject, x, y, heart_top_mm: float) -> np.ndarray:
    """Aortic knob and descending aorta (blood path, mm): the knob unfolds with age."""
    r = 14.0 + 0.06 * max(s.age - 50.0, 0.0)
    ky = heart_top_mm - 14.0
    knob = 2.0 * np.sqrt(np.clip(r**2 - ((x - 24.0) / 1.1) ** 2 - (y - ky) ** 2, 0.0, None))
    # the arch joins the superior mediastinum: a band from the knob to the midline
    arch = 22.0 * _smooth((24.0 - x) / 10.0) * _smooth((x + 12.0) / 10.0) * np.exp(-((y - ky) / 16.0) ** 2)
    desc_x = 24.0 + 0.02 * (y - ky)
    band = np.clip(1.0 - ((x - desc_x) / 12.0) ** 2, 0.0, None)
    desc = 18.0 * np.sqrt(band) * _smooth((y - ky) / 20.0)
    return np.maximum(np.maximum(knob, desc), arch)


def _effusion(side: str, side_lm: dict, mm: float, rows, cols, f: float) -> np.ndarray:
    """Fluid fraction (0..1): blunts the costophrenic angle, meniscus rising laterally."""
    if mm <= 0:
        return np.zeros_like(rows)
    medial, lateral = (side_lm["right"], side_lm["left"]) if side == "lung_r" else (side_lm["left"], side_lm["right"])
    t = np.clip((cols - medial) / (lateral - medial), 0.0, 1.2)
    surface = side_lm["base_row"] - (0.3 * mm + 1.3 * mm * t**2.5) / f
    width = (10.0 + 0.15 * mm) / f  # a thinner layer at the top: the edge fades upward
    fill = _smooth((rows - surface) / width + 0.5)
    return fill * min(mm / 6.0, 1.0)


def _kerley(seed: int, x, y, half_lung: float, base_y: float) -> np.ndarray:
    """Kerley B lines: short horizontal septal lines at the lateral lung bases (unit height)."""
    rng = np.random.default_rng([seed, 41])
    out = np.zeros_like(x)
    for sg in (-1.0, 1.0):
        for _ in range(9):
            ly = base_y - rng.uniform(8.0, 75.0)
            length = rng.uniform(10.0, 22.0)
            x_in = half_lung - rng.uniform(0.0, 6.0)
            xs = np.clip((sg * x - (x_in - length)) / length, 0.0, 1.0)  # 0 medial end .. 1 pleura
            on = (sg * x > x_in - length) & (sg * x < x_in + 4.0)
            out += on * np.exp(-((y - ly) ** 2) / (2 * 1.2**2)) * (0.4 + 0.6 * xs)
    return out


def _device(s: Subject, rows, cols, atlas: Atlas, px_mm: float) -> np.ndarray:
    """Metal pacemaker/ICD can below the left clavicle and its lead(s) to the RV apex."""
    if not s.device:
        return np.zeros_like(rows)
    lm = atlas.landmarks
    f = atlas.field_mm
    rng = np.random.default_rng(s.device_seed)
    jr, jc = rng.uniform(-0.015, 0.015, size=2)
    icd = rng.random() < 0.5
    mid = lm["midline_col"]
    cr = lm["apex_row"] + 48.0 / f + jr
    cc = mid + 0.6 * (lm["lung_l"]["right"] - mid) + jc
    hw, hh, rad = 26.0 / f, 22.0 / f, 9.0 / f
    aa = max(px_mm, 0.5) / f
    dist, header = _can(rows, cols, cr, cc, hw, hh, rad, aa, f)
    out = METAL_MM / (1.0 + np.exp(dist / aa)) + 20.0 * header
    forward, _, _ = _heart_map(s, atlas)
    curve = _catmull_rom(_lead_points(lm, cr, cc, hw, hh, forward, svc=0.07))
    d2 = _polyline_d2(rows, cols, curve)
    sig = max(0.8, 0.6 * px_mm) / f
    out += 45.0 * (1.0 / f) / sig * np.exp(-d2 / (2 * sig * sig))
    if icd:  # the shock coil: a thick, dense segment in the right ventricle
        d2c = _polyline_d2(rows, cols, curve[-14:-3])
        sigc = max(1.6, 0.6 * px_mm) / f
        out += 90.0 * (1.0 / f) / sigc * np.exp(-d2c / (2 * sigc * sigc))
    return out


@functools.lru_cache(maxsize=32)
def _text_mask(text: str, size: int, row: float, col: float, height: float) -> np.ndarray:
    """Anti-aliased mask (0..1) of ``text`` at (row, col) (top-left, share of the side)."""
    ss = 4
    big = size * ss
    canvas = Image.new("L", (big, big), 0)
    font = ImageFont.load_default(size=max(8, int(round(height * big))))
    ImageDraw.Draw(canvas).text((col * big, row * big), text, fill=255, font=font)
    small = canvas.resize((size, size), Image.Resampling.BOX)
    return np.asarray(small, dtype=np.float32) / 255.0


def _markers(s: Subject, size: int) -> np.ndarray:
    """Lead markers on the detector (fixed to the frame, not to the patient)."""
    out = np.zeros((size, size), np.float32)
    rng = np.random.default_rng([s.noise_seed, 17])
    jr, jc = rng.uniform(0.0, 0.03, size=2)
    if s.lr_marker:
        # "L" on the patient's left (image right), near the top or the bottom corner
        top = rng.random() < 0.7
        out = np.maximum(out, _text_mask("L", size, round(0.03 + jr if top else 0.90 - jr, 3),
                                         round(0.88 - jc, 3), 0.06))
    if s.ap:
        out = np.maximum(out, _text_mask("AP PORTABLE", size, round(0.025 + jr, 3),
                                         round(0.04 + jc, 3), 0.045))
    return out


# --------------------------------------------------------------------------------------
# attenuation
def attenuation(s: Subject, size: int, atlas: Atlas | None = None) -> tuple[np.ndarray, VendorV2]:
    """Water-equivalent path length A (mm) at every pixel of a version-2 film, and its vendor."""
    atlas = atlas or load_atlas(size)
    lm = atlas.landmarks
    f = atlas.field_mm
    vendor = VENDORS_V2[s.manufacturer]
    rows, cols = source_coords(s, size, atlas)
    lay = _Sampler(atlas, rows, cols)()
    soft, lung_w, lr, ll, bone = (lay[k] for k in ("soft", "lung_w", "lung_r", "lung_l", "bone"))
    x = (cols - lm["midline_col"]) * f  # mm from the midline, + = patient's left
    y = (rows - lm["apex_row"]) * f  # mm below the apex
    half_lung = 0.5 * (lm["lung_l"]["right"] - lm["lung_r"]["left"]) * f
    # Body outline: the CT above its top slice and beyond its lateral field is replaced by an
    # analytic neck, shoulders and a rounded lateral chest wall.
    w_ct = _smooth((y + 22.0) / 10.0)
    half_w = BODY_HALF_WIDTH_MM + 0.7 * s.fat_mm
    lateral = np.sqrt(np.clip(1.0 - np.clip(np.abs(x) - (half_w - 35.0), 0.0, None) ** 2 / 35.0**2, 0.0, None))
    upper = _upper_body(x, y)
    # Near the apices the CT still shows the arms-up shoulders: its soft tissue is carved to
    # the PA shoulder contour (never thickened), fading out by 40 mm below the apex.
    carve = 1.0 - _smooth((y - 15.0) / 25.0)
    soft = soft - carve * np.clip(soft - upper, 0.0, None)
    soft = (w_ct * soft + (1.0 - w_ct) * upper) * np.where(y > -20.0, lateral, 1.0)
    lung_w, lr, ll = lung_w * w_ct, lr * w_ct, ll * w_ct
    # The CT's arms-up shoulder girdle goes; a PA/AP one is drawn instead.
    keep = w_ct * _smooth((y - 4.0) / 8.0 + (np.abs(x) < 22.0)) * _smooth((half_lung + 20.0 - np.abs(x)) / 6.0)
    bone = bone * keep + _girdle(x, y, s.ap, half_lung)
    h0, hs = _heart(s, rows, cols, atlas)
    h0 = h0 * w_ct
    hs = hs * w_ct
    lung_t = lr + ll
    rho = np.clip(lung_w / np.maximum(lung_t, 1.0), RHO_LUNG_MIN, 1.0)
    dh = hs - h0
    cover = lung_t / (lung_t + 30.0)
    # Below the domes the heart's growth hides behind the liver and the diaphragm, as on a
    # real film (otherwise its flat CT base would draw a line across the posterior recess).
    below = _smooth((rows - _dome_row(lm)) * f / 25.0)
    grow = np.clip(dh, 0.0, None) * cover * (1.0 - below)
    shrink = np.clip(-dh, 0.0, None)
    a = soft + RHO_HEART * h0 + lung_w + (RHO_HEART - rho) * grow - (RHO_HEART - RHO_LUNG_MIN) * shrink
    free = 1.0 - grow / np.maximum(lung_t, 1e-3)
    heart_top_mm = (lm["heart_top"] - lm["apex_row"]) * f
    a += (RHO_HEART - rho) * _aorta(s, x, y, heart_top_mm) * cover
    if s.fat_mm > 0:
        f15 = lay["fat15"]
        if s.fat_mm <= 15.0:
            fat = f15 * (s.fat_mm / 15.0)
        else:
            fat = f15 + (lay["fat40"] - f15) * ((min(s.fat_mm, 40.0) - 15.0) / 25.0)
        a += RHO_FAT * fat * w_ct * lateral
    # Breasts sit lower and further out than in version 1: their lateral contour passes
    # beyond the chest wall.
    a += RHO_BREAST * _breasts(s, rows, cols, atlas, lateral=0.86, radius=0.19,
                                     radius_row=0.14, centre_row=0.13)
    a += BONE_GAIN * s.bmd**2 * bone
    for side, mm, lt in (("lung_r", s.effusion_r_mm, lr), ("lung_l", s.effusion_l_mm, ll)):
        if mm > 0:
            fill = _effusion(side, lm[side], mm, rows, cols, f)
            # fluid replaces the lung and widens the pleural space (the lung floats up on it)
            a += ((RHO_FLUID - rho) * lt * free * 0.95 + RHO_FLUID * EFFUSION_EXTRA_MM * np.clip(lt / 20.0, 0.0, 1.0)) * fill
    if s.congestion > 0:
        c = s.congestion
        ves = lay["vessels"] * w_ct
        hilum_y = heart_top_mm + 20.0
        upper = _smooth((hilum_y + 10.0 - y) / 60.0)
        # 1. upper-lobe diversion: upper vessels engorge, lower ones constrict
        div = min(c / 0.35, 1.0)
        a += div * ves * (2.2 * upper - 0.6 * (1.0 - upper))
        # 2. interstitial oedema: Kerley B lines and peribronchial haze
        inter = float(np.clip((c - 0.3) / 0.4, 0.0, 1.0))
        if inter > 0:
            base_y = (0.5 * (lm["lung_r"]["cp_row"] + lm["lung_l"]["cp_row"]) - lm["apex_row"]) * f
            lines = _kerley(s.deform_seed, x, y, half_lung, base_y)
            px = f / size / s.zoom
            a += inter * 8.0 * max(1.0, px / 2.4) * lines * cover
            a += inter * (1.0 - rho) * lung_t * free * 0.08
        # 3. alveolar oedema: perihilar bat-wing
        alv = float(np.clip((c - 0.55) / 0.45, 0.0, 1.0))
        if alv > 0:
            g = np.exp(-(((y - hilum_y) / 55.0) ** 2 + ((np.abs(x) - 30.0) / 45.0) ** 2) / 2)
            a += alv * (1.0 - rho) * lung_t * free * 0.55 * g
    a += _device(s, rows, cols, atlas, atlas.field_mm / size)
    a += MARKER_MM * _markers(s, size)
    return a.astype(np.float32), vendor


# --------------------------------------------------------------------------------------
# detector and processing
def process(a: np.ndarray, vendor: VendorV2, noise_seed: int, aec: float = 0.0) -> np.ndarray:
    """Detector physics and vendor processing of a version-2 film: path (mm) -> [0, 1]."""
    px = FRAME_MM / a.shape[0]
    d = log_exposure(a, vendor.scatter, vendor.equalise, px, aec)
    if vendor.detail > 0:
        d = d + vendor.detail * (d - _blur(d, 8.0 / px, 2.0))
    p = 1.0 / (1.0 + np.exp(-(d - vendor.centre) / vendor.width))
    p = (1.0 - vendor.toe) * p + vendor.toe * np.sqrt(p)
    p = p**vendor.gamma
    if vendor.edge > 0:
        p = p + vendor.edge * (p - _blur(p, vendor.edge_mm / px, 2.0))
    rng = np.random.default_rng(noise_seed)
    z = rng.standard_normal(p.shape)
    g = vendor.grain_mm / px
    if g >= 0.3:
        # correlated (blotchy) noise, rescaled to unit variance: a blurred white field's SD
        # is 1 / (2 sqrt(pi) sigma) for a Gaussian of sigma pixels
        z = 0.5 * z + 0.87 * _blur(z, g, 3.0) * (2.0 * math.sqrt(math.pi) * g)
    p = p + vendor.noise * (0.6 + 0.8 * np.clip(p, 0, 1)) * z
    return np.clip(p, 0.0, 1.0).astype(np.float32)


def render_image(s: Subject, size: int) -> np.ndarray:
    """The processed version-2 radiograph of ``s``: float32 ``(size, size)`` in [0, 1]."""
    atlas = load_atlas(size)
    a, vendor = attenuation(s, size, atlas)
    return process(a, vendor, s.noise_seed, aec=AEC_PER_MM_FAT * s.fat_mm)


# --------------------------------------------------------------------------------------
# ground truth
def cardiothoracic_ratio(s: Subject) -> float:
    """Measured CTR on the film: widest heart span / widest inner thoracic span."""
    atlas = load_atlas(MEASURE_SIZE)
    rows, cols = source_coords(s, MEASURE_SIZE, atlas)
    _, hs = _heart(s, rows, cols, atlas)
    return measure_ctr(hs, rows, cols, atlas)


def ground_truth(s: Subject) -> dict[str, float]:
    """The ``gt_*`` columns of a version-2 film: version 1's plus projection, marker and shape."""
    return {
        **common_truth(s, cardiothoracic_ratio(s)),
        "gt_ap": float(s.ap),
        "gt_lr_marker": float(s.lr_marker),
        "gt_thorax_width": float(s.thorax_width),
        "gt_thorax_height": float(s.thorax_height),
        "gt_diaphragm": float(s.diaphragm_mm),
        "gt_heart_shift": float(s.heart_shift_mm),
    }
