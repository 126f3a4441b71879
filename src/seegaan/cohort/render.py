"""Image formation: from a :class:`Subject` to a processed PA chest radiograph.

The pipeline follows the physics of a real film, on AP line integrals of the anatomy asset:

1. **Geometry.** Every output pixel is mapped back into the anatomy (pose: size, rotation,
   translation; inspiration: cranio-caudal stretch about the apex; individual anatomy: a
   smooth random deformation). Factors that live in the anatomy (heart, breasts, fluid,
   pacemaker) are placed in these anatomy coordinates so they deform with it.
2. **Attenuation.** The water-equivalent path A (mm) through all structures is summed. A
   structure that grows displaces lung (air), which is why the enlarged heart or the fluid
   shows only against the lungs, as on a real film.
3. **Detector.** Beer–Lambert transmission ``exp(-mu_w A)``, plus a blurred scatter share,
   then the log transform.
4. **Vendor processing.** Fixed window, look-up table, equalisation, edge enhancement,
   noise and border (``vendors.py``).

Example::

    from seegaan.cohort import Subject, render
    img, gt = render(Subject(heart_scale=1.2), size=256)   # img float32 (256, 256) in [0, 1]
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

from seegaan.cohort.anatomy import Atlas, load_atlas
from seegaan.cohort.subject import Subject
from seegaan.cohort.vendors import VENDORS, Vendor
from seegaan.errors import OptionError

MU_WATER = 0.0205  # 1/mm, water at the ~60 keV effective energy of a chest beam
RHO_HEART = 1.04  # heart/blood relative to water
RHO_FAT = 0.92
RHO_BREAST = 0.93  # mostly fatty tissue
RHO_FLUID = 1.01
BONE_GAIN = 1.4
RHO_LUNG_MIN = 0.12  # aerated lung replacing a shrinking heart
SCATTER_MM = 10.0  # scatter blur radius; truncated at 2.5 sigma to keep changes local
EQUALISE_MM = 15.0  # equalisation low-pass radius; truncated at 2 sigma
D_REF = 3.0  # log-exposure level the equalisation pulls towards (about the heart)
AEC_PER_MM_FAT = 0.017  # log-exposure compensation per mm of fat shell (~60% of its effect)
MEASURE_SIZE = 128  # grid on which the cardiothoracic ratio is measured (size-independent)


# --------------------------------------------------------------------------------------
# geometry
def _deformation(seed: int, u: np.ndarray, v: np.ndarray, amp: float) -> tuple[np.ndarray, np.ndarray]:
    """A smooth random displacement (low-order cosine series), RMS about ``amp``.

    Analytic in the output coordinates, so the same subject deforms identically at every
    resolution.
    """
    rng = np.random.default_rng(seed)
    coef = rng.normal(size=(2, 3, 3))
    coef[:, 0, 0] = 0.0  # no translation: pose handles that
    k = np.arange(3)
    cu = np.cos(math.pi * k[:, None] * (u[0] + 0.5)[None, :])  # (3, S) along columns
    cv = np.cos(math.pi * k[:, None] * (v[:, 0] + 0.5)[None, :])  # (3, S) along rows
    dv, du = (cv.T @ c @ cu * (amp / 2.0) for c in coef)
    return dv, du


def source_coords(s: Subject, size: int, atlas: Atlas) -> tuple[np.ndarray, np.ndarray]:
    """Normalised anatomy coordinates (row, col in [-0.5, 0.5]) of every output pixel."""
    g = (np.arange(size, dtype=np.float64) + 0.5) / size - 0.5
    v, u = np.meshgrid(g, g, indexing="ij")
    u1, v1 = u - s.shift_x, v - s.shift_y
    th = math.radians(s.rotation_deg)
    c, sn = math.cos(th), math.sin(th)
    ur = (c * u1 + sn * v1) / s.zoom
    vr = (-sn * u1 + c * v1) / s.zoom
    apex = atlas.landmarks["apex_row"]
    vr = apex + (vr - apex) / s.inspiration
    dv, du = _deformation(s.deform_seed, u, v, s.deform_mm / atlas.field_mm)
    return vr + dv, ur + du


class _Sampler:
    """Bilinear lookup of every anatomy layer at once (edge values repeat outside the field).

    One gather of all channels per corner is several times faster than one
    ``map_coordinates`` call per layer, which matters at 10,000 images a run.
    """

    def __init__(self, atlas: Atlas, rows: np.ndarray, cols: np.ndarray):
        n = atlas.size
        r = np.clip((rows + 0.5) * n - 0.5, 0.0, n - 1.000001)
        c = np.clip((cols + 0.5) * n - 0.5, 0.0, n - 1.000001)
        r0 = r.astype(np.intp)
        c0 = c.astype(np.intp)
        self.fr = (r - r0).astype(np.float32)[..., None]
        self.fc = (c - c0).astype(np.float32)[..., None]
        self.i00 = r0 * n + c0
        self.atlas = atlas

    def __call__(self, names: tuple[str, ...] | None = None) -> dict[str, np.ndarray]:
        flat = self.atlas.flat
        idx = None if names is None else [self.atlas.names.index(k) for k in names]
        if idx is not None:
            flat = flat[:, idx]
        n = self.atlas.size
        i = self.i00
        top = flat[i] * (1 - self.fc) + flat[i + 1] * self.fc
        bot = flat[i + n] * (1 - self.fc) + flat[i + n + 1] * self.fc
        vals = top * (1 - self.fr) + bot * self.fr
        keys = names or self.atlas.names
        return {k: vals[..., j] for j, k in enumerate(keys)}


def _heart_anchor(atlas: Atlas) -> tuple[float, float]:
    # Centre horizontally; vertically near the base, where the heart rests on the diaphragm, so
    # an enlarging heart widens and rises rather than sinking into the liver (or, shrinking,
    # leaving a gap above it).
    lm = atlas.landmarks
    r0, c0 = lm["heart_centroid"]
    return r0 + 0.9 * (lm["heart_bottom"] - r0), c0


def _heart(s: Subject, rows: np.ndarray, cols: np.ndarray, atlas: Atlas) -> tuple[np.ndarray, np.ndarray]:
    """(source heart thickness, scaled heart thickness) in mm at the given coordinates."""
    h0 = _Sampler(atlas, rows, cols)(("heart",))["heart"]
    if s.heart_scale == 1.0:
        return h0, h0
    ar, ac = _heart_anchor(atlas)
    sx = s.heart_scale
    sz = 1.0 + 0.6 * (sx - 1.0)  # cardiomegaly is mostly transverse
    # AP depth scales with the width, hence the factor sx on the thickness
    hs = sx * _Sampler(atlas, ar + (rows - ar) / sz, ac + (cols - ac) / sx)(("heart",))["heart"]
    return h0, hs


# --------------------------------------------------------------------------------------
# attenuation
def _breasts(s: Subject, rows: np.ndarray, cols: np.ndarray, atlas: Atlas, lateral: float = 0.62,
             radius: float = 0.16, radius_row: float = 0.12, centre_row: float = 0.10
             ) -> np.ndarray:
    """Breast soft tissue (mm): sharp infero-lateral fold, gradual superior fade.

    ``lateral``: centre's share of the way from the midline to the lung edge; ``radius``:
    horizontal and vertical radii (field units) of a 40 mm breast; ``centre_row``: its row.
    """
    if s.breast_mm <= 0:
        return np.zeros_like(rows)
    lm = atlas.landmarks
    size = (s.breast_mm / 40.0) ** (1.0 / 3.0)  # footprint grows with the cube root of volume
    cy = centre_row + 0.0006 * s.breast_mm  # larger breasts sit lower
    out = np.zeros_like(rows)
    for side, sign in (("lung_r", -1.0), ("lung_l", 1.0)):
        edge = lm[side]["left"] if sign < 0 else lm[side]["right"]
        cx = lm["midline_col"] + lateral * (edge - lm["midline_col"])
        rx, ry = radius * size, radius_row * size
        dy = rows - cy
        ry_eff = np.where(dy < 0, 3.0 * ry, ry)  # fades upward, ends at the inframammary fold
        d2 = ((cols - cx) / rx) ** 2 + (dy / ry_eff) ** 2
        # (1 - d^2)^0.75: a rounded profile whose edge is firm below but not drawn on
        out += s.breast_mm * np.clip(1.0 - d2, 0.0, None) ** 0.75
    return out


def _effusion(s: Subject, side: str, mm: float, rows: np.ndarray, cols: np.ndarray,
              atlas: Atlas) -> np.ndarray:
    """Fraction (0..1) of the lung path filled by a layering effusion on one side."""
    if mm <= 0:
        return np.zeros_like(rows)
    lm = atlas.landmarks[side]
    f = atlas.field_mm
    medial, lateral = (lm["right"], lm["left"]) if side == "lung_r" else (lm["left"], lm["right"])
    t = np.clip((cols - medial) / (lateral - medial), 0.0, 1.2)
    # Meniscus: the fluid climbs the lateral chest wall (concave upward).
    surface = lm["base_row"] - (mm + 0.6 * mm * t**2) / f
    # smoothstep over +-6 mm: a soft but compact surface (exactly zero above it)
    t = np.clip((rows - surface) / (12.0 / f) + 0.5, 0.0, 1.0)
    fill = t * t * (3.0 - 2.0 * t)
    return fill * min(mm / 8.0, 1.0)


def _congestion_map(rows: np.ndarray, cols: np.ndarray, atlas: Atlas) -> np.ndarray:
    """Bat-wing weight: perihilar, fading to the periphery (0..1)."""
    lm = atlas.landmarks
    hr = lm["heart_top"] + 0.35 * (lm["heart_centroid"][0] - lm["heart_top"])
    g = np.zeros_like(rows)
    for dc in (-0.10, 0.10):
        hc = lm["midline_col"] + dc
        g = np.maximum(g, np.exp(-(((rows - hr) / 0.16) ** 2 + ((cols - hc) / 0.12) ** 2) / 2))
    return g


def _catmull_rom(pts: np.ndarray, n: int = 12) -> np.ndarray:
    p = np.concatenate([pts[:1], pts, pts[-1:]])
    t = np.linspace(0, 1, n, endpoint=False)[:, None]
    out = []
    for i in range(1, len(p) - 2):
        p0, p1, p2, p3 = p[i - 1], p[i], p[i + 1], p[i + 2]
        out.append(0.5 * ((2 * p1) + (-p0 + p2) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t**2
                          + (-p0 + 3 * p1 - 3 * p2 + p3) * t**3))
    out.append(pts[-1:])
    return np.concatenate(out)


def _polyline_d2(rows: np.ndarray, cols: np.ndarray, curve: np.ndarray) -> np.ndarray:
    """Squared distance of every point to a polyline given as (row, col) vertices."""
    d2 = np.full(rows.shape, np.inf)
    for (r0, c0), (r1, c1) in zip(curve[:-1], curve[1:]):
        dr, dc = r1 - r0, c1 - c0
        tt = np.clip(((rows - r0) * dr + (cols - c0) * dc) / (dr * dr + dc * dc + 1e-12), 0, 1)
        d2 = np.minimum(d2, (rows - r0 - tt * dr) ** 2 + (cols - c0 - tt * dc) ** 2)
    return d2


def _can(rows, cols, cr, cc, hw, hh, rad, aa, f):
    """Signed distance to a rounded-rectangle can (centre cr, cc; half sizes hw, hh; corner
    radius rad) and the soft mask of its header, the connector block on its upper medial edge."""
    qx = np.abs(cols - cc) - (hw - rad)
    qy = np.abs(rows - cr) - (hh - rad)
    dist = np.hypot(np.clip(qx, 0, None), np.clip(qy, 0, None)) + np.minimum(np.maximum(qx, qy), 0) - rad
    hq = np.maximum(np.abs(cols - (cc - 0.3 * hw)) - 0.5 * hw, np.abs(rows - (cr - hh - 5.0 / f)) - 5.0 / f)
    return dist, 1.0 / (1.0 + np.exp(hq / aa))


def _lead_points(lm: dict, cr, cc, hw, hh, heart_pt, svc: float = 0.08) -> np.ndarray:
    """Control points of a lead: subclavian vein, SVC, right atrium, RV apex.

    ``heart_pt(row, col)`` maps an intracardiac point of the source heart to the displayed one.
    """
    mid = lm["midline_col"]
    return np.array([
        [cr - hh - 0.012, cc - 0.3 * hw],
        [cr - 0.03, mid + svc],
        [lm["heart_top"] - 0.03, mid - 0.045],
        heart_pt(lm["heart_top"] + 0.08, mid - 0.065),
        heart_pt(lm["heart_centroid"][0] + 0.02, mid - 0.03),
        heart_pt(lm["heart_bottom"] - 0.06, lm["heart_centroid"][1] + 0.10),
    ])


def _device(s: Subject, rows: np.ndarray, cols: np.ndarray, atlas: Atlas, px_mm: float) -> np.ndarray:
    """Pacemaker can in the left infraclavicular fossa and its lead to the RV apex (mm water-eq)."""
    if not s.device:
        return np.zeros_like(rows)
    lm = atlas.landmarks
    f = atlas.field_mm
    rng = np.random.default_rng(s.device_seed)
    jr, jc = rng.uniform(-0.02, 0.02, size=2)
    cr = lm["apex_row"] + 0.17 + jr
    cc = lm["lung_l"]["right"] - 0.13 + jc
    # can: rounded rectangle ~50 x 42 mm; titanium saturates to near white
    hw, hh, rad = 25.0 / f, 21.0 / f, 8.0 / f
    aa = max(px_mm, 0.5) / f
    dist, header = _can(rows, cols, cr, cc, hw, hh, rad, aa, f)
    can = 1.0 / (1.0 + np.exp(dist / aa))
    inner = 1.0 / (1.0 + np.exp((dist + 6.0 / f) / aa))  # battery and circuit board inside
    out = 26.0 * can + 14.0 * inner + 9.0 * header
    # lead: through the subclavian vein and SVC into the right atrium, then to the RV apex;
    # the intracardiac points follow the (scaled) heart.
    ar, ac = _heart_anchor(atlas)
    sx, sz = s.heart_scale, 1.0 + 0.6 * (s.heart_scale - 1.0)

    def heart_pt(r, c):
        return [ar + (r - ar) * sz, ac + (c - ac) * sx]

    d2 = _polyline_d2(rows, cols, _catmull_rom(_lead_points(lm, cr, cc, hw, hh, heart_pt)))
    # Gaussian tube whose integral across it stays fixed, so a thin wire survives downsampling.
    sig = max(1.0, 0.6 * px_mm) / f
    out += 14.0 * (1.0 / f) / sig * np.exp(-d2 / (2 * sig * sig))
    return out


def attenuation(s: Subject, size: int, atlas: Atlas | None = None) -> tuple[np.ndarray, Vendor]:
    """Water-equivalent path length A (mm) at every pixel, and the subject's vendor."""
    atlas = atlas or load_atlas(size)
    vendor = VENDORS[s.manufacturer]
    rows, cols = source_coords(s, size, atlas)
    lay = _Sampler(atlas, rows, cols)()
    soft, lung_w, lr, ll, bone = (lay[k] for k in ("soft", "lung_w", "lung_r", "lung_l", "bone"))
    h0 = lay["heart"]
    hs = h0 if s.heart_scale == 1.0 else _heart(s, rows, cols, atlas)[1]
    lung_t = lr + ll
    rho = np.clip(lung_w / np.maximum(lung_t, 1.0), RHO_LUNG_MIN, 1.0)
    dh = hs - h0
    # The heart grows into lung (air) only; where little lung lies on the ray (mediastinum)
    # it displaces tissue of its own density. A soft cap avoids a drawn-on rim.
    grow = np.clip(dh, 0.0, None) * lung_t / (lung_t + 30.0)
    shrink = np.clip(-dh, 0.0, None)
    a = soft + RHO_HEART * h0 + lung_w + (RHO_HEART - rho) * grow - (RHO_HEART - RHO_LUNG_MIN) * shrink
    free = 1.0 - grow / np.maximum(lung_t, 1e-3)  # lung share not covered by the heart
    # chest-wall fat: piecewise-linear between the precomputed 0/15/40 mm shells
    if s.fat_mm > 0:
        f15 = lay["fat15"]
        if s.fat_mm <= 15.0:
            fat = f15 * (s.fat_mm / 15.0)
        else:
            f40 = lay["fat40"]
            fat = f15 + (f40 - f15) * ((min(s.fat_mm, 40.0) - 15.0) / 25.0)
        a += RHO_FAT * fat
    a += RHO_BREAST * _breasts(s, rows, cols, atlas)
    # Mineral scales the bone excess; cortices thin and trabeculae vanish together, so the
    # visible bone falls faster than linearly with density (power 2). BONE_GAIN: bone's
    # attenuation above water is higher at a radiograph's ~60 keV than at CT energies.
    a += BONE_GAIN * s.bmd**2 * bone
    for side, mm, lt in (("lung_r", s.effusion_r_mm, lr), ("lung_l", s.effusion_l_mm, ll)):
        if mm > 0:
            a += (RHO_FLUID - rho) * lt * free * 0.95 * _effusion(s, side, mm, rows, cols, atlas)
    if s.congestion > 0:
        g = _congestion_map(rows, cols, atlas)
        ves = lay["vessels"]
        # alveolar/interstitial fluid in the perihilar lung + engorged, blurred vessels
        a += s.congestion * ((1.0 - rho) * lung_t * free * (0.05 + 0.30 * g) + 1.5 * ves * (0.4 + g))
    a += _device(s, rows, cols, atlas, atlas.field_mm / size)
    return a.astype(np.float32), vendor


# --------------------------------------------------------------------------------------
# detector and processing
def _blur(x: np.ndarray, sigma_px: float, truncate: float) -> np.ndarray:
    if sigma_px < 0.3:
        return x
    return ndimage.gaussian_filter(x, sigma_px, mode="nearest", truncate=truncate)


def _border(p: np.ndarray, vendor: Vendor) -> np.ndarray:
    n = p.shape[0]
    if vendor.border == "none" or vendor.border_frac <= 0:
        return p
    g = (np.arange(n) + 0.5) / n
    if vendor.border == "round":
        r = np.hypot(*np.meshgrid(g - 0.5, g - 0.5, indexing="ij")) / 0.5
        w = np.clip((r - (1.36 - vendor.border_frac * 3)) / 0.06, 0.0, 1.0)  # dark corners
        return p * (1.0 - w)
    edge = np.minimum(g, 1 - g)
    w1 = np.clip((vendor.border_frac - edge) * n + 0.5, 0.0, 1.0)  # 1 inside the border
    if vendor.border == "black":
        w = np.maximum(w1[:, None], w1[None, :])
        return p * (1.0 - w)
    w = np.broadcast_to(w1[:, None], p.shape)  # white: collimator leaves at top and bottom
    return p * (1.0 - w) + w


def log_exposure(a: np.ndarray, scatter: float, equalise: float, px: float, aec: float) -> np.ndarray:
    """Beer–Lambert transmission plus blurred scatter, log, AEC offset and dynamic-range
    compression: path length (mm) -> log exposure, before any look-up curve."""
    t = np.exp(-MU_WATER * a)
    t = t + scatter * _blur(t, SCATTER_MM / px, 2.5)
    d = -np.log(t) - aec
    if equalise > 0:
        # Dynamic-range compression (MUSICA-like): pull the low-pass towards a fixed level
        # (not the image mean, which would make every change global).
        d = d - equalise * (_blur(d, EQUALISE_MM / px, 2.0) - D_REF)
    return d


def process(a: np.ndarray, vendor: Vendor, noise_seed: int, field_mm: float, aec: float = 0.0
            ) -> np.ndarray:
    """Detector physics and vendor processing: path length (mm) -> display image in [0, 1].

    ``aec`` is the automatic-exposure-control offset in log exposure: the exposure rises
    with body habitus, which partly cancels the extra attenuation of fat.
    """
    px = field_mm / a.shape[0]
    d = log_exposure(a, vendor.scatter, vendor.equalise, px, aec)
    # Film-like characteristic curve: logistic in log exposure (toe for the lungs, shoulder
    # for the abdomen), then the vendor's gamma.
    p = 1.0 / (1.0 + np.exp(-(d - vendor.centre) / vendor.width))
    p = p**vendor.gamma
    if vendor.edge > 0:
        p = p + vendor.edge * (p - _blur(p, vendor.edge_mm / px, 2.0))
    rng = np.random.default_rng(noise_seed)
    # Quantum noise is larger where fewer photons arrive (dense, bright regions).
    p = p + vendor.noise * (0.6 + 0.8 * np.clip(p, 0, 1)) * rng.standard_normal(p.shape)
    p = _border(np.clip(p, 0.0, 1.0), vendor)
    return p.astype(np.float32)


def render_image(s: Subject, size: int) -> np.ndarray:
    """The processed radiograph of ``s`` as float32 ``(size, size)`` in [0, 1] (white = dense)."""
    if s.version == 2:
        from seegaan.cohort import render_v2

        return render_v2.render_image(s, size)
    _check_version(s)
    atlas = load_atlas(size)
    a, vendor = attenuation(s, size, atlas)
    return process(a, vendor, s.noise_seed, atlas.field_mm, aec=AEC_PER_MM_FAT * s.fat_mm)


def _check_version(s: Subject) -> None:
    if s.version != 1:
        raise OptionError(f"cohort version {s.version!r}: choose 1 or 2")


# --------------------------------------------------------------------------------------
# ground truth
def _extent(mask_vals: np.ndarray, thr: float) -> np.ndarray:
    """Per row: (first, last) column where the profile crosses ``thr``, sub-pixel; NaN if none."""
    above = mask_vals > thr
    has = above.any(1)
    n = mask_vals.shape[1]
    first = np.argmax(above, 1)
    last = n - 1 - np.argmax(above[:, ::-1], 1)
    idx = np.arange(mask_vals.shape[0])

    def interp(i, j):  # crossing between columns i (below) and j (above)
        vi, vj = mask_vals[idx, i], mask_vals[idx, j]
        return j + (i - j) * (vj - thr) / np.maximum(vj - vi, 1e-6)

    lo = interp(np.clip(first - 1, 0, n - 1), first)
    hi = interp(np.clip(last + 1, 0, n - 1), last)
    return np.where(has, lo, np.nan), np.where(has, hi, np.nan)


def cardiothoracic_ratio(s: Subject) -> float:
    """Measured CTR: widest heart span / widest inner thoracic (lung-to-lung) span."""
    atlas = load_atlas(MEASURE_SIZE)
    rows, cols = source_coords(s, MEASURE_SIZE, atlas)
    _, hs = _heart(s, rows, cols, atlas)
    return measure_ctr(hs, rows, cols, atlas)


def measure_ctr(hs: np.ndarray, rows: np.ndarray, cols: np.ndarray, atlas: Atlas) -> float:
    """CTR from a displayed heart thickness map and the anatomy coordinates of its pixels."""
    lay = _Sampler(atlas, rows, cols)(("lung_r", "lung_l"))
    lr, ll = lay["lung_r"], lay["lung_l"]
    h_lo, h_hi = _extent(hs, 4.0)
    r_lo, _ = _extent(lr, 2.0)
    _, l_hi = _extent(ll, 2.0)
    # Max right + max left extent, possibly at different levels (the radiological CTR).
    heart = np.nanmax(h_hi) - np.nanmin(h_lo)
    thorax = np.nanmax(l_hi - r_lo)
    return float(heart / thorax)


def ground_truth(s: Subject) -> dict[str, float]:
    """The ``gt_*`` columns of one radiograph (independent of the output size)."""
    if s.version == 2:
        from seegaan.cohort import render_v2

        return render_v2.ground_truth(s)
    _check_version(s)
    return common_truth(s, cardiothoracic_ratio(s))


def common_truth(s: Subject, ctr: float) -> dict[str, float]:
    """The ``gt_*`` columns every cohort version records, given the measured CTR."""
    return {
        "gt_ctr": round(ctr, 5),
        "gt_fat": float(s.fat_mm),
        "gt_breast": float(s.breast_mm),
        "gt_bmd": float(s.bmd),
        "gt_effusion": 0.5 * (s.effusion_r_mm + s.effusion_l_mm),
        "gt_congestion": float(s.congestion),
        "gt_device": float(s.device),
        "gt_heart_scale": float(s.heart_scale),
        "gt_zoom": float(s.zoom),
        "gt_rotation": float(s.rotation_deg),
        "gt_shift_x": float(s.shift_x),
        "gt_shift_y": float(s.shift_y),
        "gt_inspiration": float(s.inspiration),
    }


def render(s: Subject, size: int = 256) -> tuple[np.ndarray, dict[str, float]]:
    """Render one radiograph and its ground truth: ``(image float32 [0, 1], gt dict)``."""
    return render_image(s, size), ground_truth(s)
