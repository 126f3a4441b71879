"""Readers and image processing: every format decodes to the right picture, bad files say why."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.pixels import apply_modality_lut

from seegaan.data.readers import read_image
from seegaan.data.transform import centre_crop_square, fit_and_normalise, minmax_unit
from seegaan.errors import InputError


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


def test_every_format_reads_as_the_same_picture(mixed, kit):
    images, _ = mixed
    g = kit.gradient(96, 80)
    for name in ["png16.png", "png8.png", "sub/png_rgb.png", "jpg8.jpg", "tif16.tif",
                 "tif_float.tiff", "npy_unit.npy", "npy_int.npy"]:
        arr = read_image(images / name)
        assert arr.dtype == np.float32 and arr.shape == (96, 80), name
        if name != "sub/png_rgb.png":
            # Up to an affine change of scale, the decoded image is the gradient.
            assert _corr(arr, g) > 0.999, name
    # RGB folds to BT.601 luma.
    rgb = np.asarray(Image.open(images / "sub" / "png_rgb.png"), dtype=np.float32)
    expected = rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    np.testing.assert_allclose(read_image(images / "sub" / "png_rgb.png"), expected, rtol=1e-5)


def test_sixteen_bit_png_keeps_full_precision(tmp_path):
    codes = np.arange(0, 65536, 16, dtype=np.uint16).reshape(64, 64)
    Image.fromarray(codes).save(tmp_path / "a.png")
    np.testing.assert_array_equal(read_image(tmp_path / "a.png"), codes.astype(np.float32))


def test_npy_float_in_unit_range_is_unchanged_by_normalisation(tmp_path, kit):
    x = (kit.gradient(64, 64) * 2 - 1).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    out = fit_and_normalise(read_image(tmp_path / "x.npy"), 64)
    np.testing.assert_allclose(out, x, atol=1e-6)


def test_dicom_rescale_slope_and_intercept_applied(kit):
    ds = pydicom.dcmread(kit.dicom_file("CT_small.dcm"))
    hu = ds.pixel_array.astype(np.float64) * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    np.testing.assert_allclose(read_image(kit.dicom_file("CT_small.dcm")), hu)


def test_dicom_monochrome1_is_inverted(tmp_path, kit):
    kit.monochrome1_copy("CT_small.dcm", tmp_path / "m1.dcm")
    m2 = read_image(kit.dicom_file("CT_small.dcm"))
    m1 = read_image(tmp_path / "m1.dcm")
    np.testing.assert_allclose(m1, -m2)
    np.testing.assert_allclose(fit_and_normalise(m1, 64), -fit_and_normalise(m2, 64), atol=1e-5)


def test_dicom_window_applied(tmp_path, kit):
    ds = pydicom.dcmread(kit.dicom_file("CT_small.dcm"))
    hu = apply_modality_lut(ds.pixel_array, ds).astype(np.float64)
    lo, hi = np.percentile(hu, [30, 70])
    ds.WindowCenter, ds.WindowWidth = float((lo + hi) / 2), float(hi - lo)
    ds.save_as(tmp_path / "w.dcm")
    x = minmax_unit(read_image(tmp_path / "w.dcm"))
    # Outside the window the display saturates; inside it is linear in HU.
    assert np.all(x[hu <= lo - 1] == -1) and np.all(x[hu >= hi + 1] == 1)
    inside = (hu > lo + 2) & (hu < hi - 2)
    assert _corr(x[inside], hu[inside]) > 0.999


def test_dicom_voi_lut_sequence_preferred(tmp_path, kit):
    ds = pydicom.dcmread(kit.dicom_file("CT_small.dcm"))
    stored = ds.pixel_array
    # A descending LUT over the stored range: the display must come out inverted.
    first, n = int(stored.min()), int(stored.max() - stored.min() + 1)
    item = pydicom.Dataset()
    item.LUTDescriptor = [n, first, 16]
    item.add_new(0x00283006, "US", list(range(n - 1, -1, -1)))  # LUT Data
    ds.VOILUTSequence = pydicom.Sequence([item])
    # The LUT applies to modality-LUT output; drop the rescale so that is the stored value.
    ds.RescaleSlope, ds.RescaleIntercept = 1, 0
    ds.save_as(tmp_path / "lut.dcm")
    x = read_image(tmp_path / "lut.dcm")
    np.testing.assert_allclose(x, (n - 1) - (stored.astype(np.float64) - first))


def test_real_dicom_variants_decode(kit):
    for name in ["MR_small.dcm", "MR_small_RLE.dcm", "MR_small_bigendian.dcm",
                 "MR_small_implicit.dcm", "JPEG2000.dcm"]:
        x = fit_and_normalise(read_image(kit.dicom_file(name)), 32)
        assert x.shape == (32, 32) and x.min() == -1 and x.max() == 1, name
    # The same pixels through three encodings give the same image.
    a, b = (read_image(kit.dicom_file(n)) for n in ("MR_small.dcm", "MR_small_RLE.dcm"))
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("maker, message", [
    (lambda p: p.with_suffix(".png").write_bytes(b"not an image at all"), "not a readable image"),
    ("truncated_png", "corrupt or truncated image"),
    (lambda p: np.save(p.with_suffix(".npy"), np.zeros((2, 3, 4))), "must be 2-D"),
    (lambda p: np.save(p.with_suffix(".npy"), np.array([[1.0, np.nan], [0, 1]])), "NaN"),
    (lambda p: np.save(p.with_suffix(".npy"), np.array([[{}, 1]], dtype=object)), "not a readable .npy"),
    ("rtplan.dcm", "DICOM has no pixel data"),
    ("MR_small_jpeg_ls_lossless.dcm", "cannot decode transfer syntax 'JPEG-LS Lossless"),
    ("MR_truncated.dcm", "truncated pixel data"),
])
def test_bad_files_give_one_line_naming_the_file(tmp_path, kit, maker, message):
    if maker == "truncated_png":
        path = tmp_path / "bad.png"
        kit.save_png16(path, kit.gradient(64, 64))
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif isinstance(maker, str):
        path = kit.dicom_file(maker)
    else:
        maker(tmp_path / "bad")
        path = next(tmp_path.iterdir())
    with pytest.raises(InputError) as err:
        read_image(path)
    text = str(err.value)
    assert message in text and text.startswith(str(path)) and "\n" not in text


def test_resize_keeps_a_known_image(kit):
    # A smooth picture rendered at 512 and at 64 must agree after resize + min-max.
    big, small = kit.gradient(512, 512), kit.gradient(64, 64)
    out = fit_and_normalise(big.astype(np.float32), 64)
    assert out.dtype == np.float32 and out.min() == -1.0 and out.max() == 1.0
    assert np.abs(out - (small * 2 - 1)).max() < 0.02


def test_centre_crop_and_pad(kit):
    tall = kit.gradient(640, 512)
    np.testing.assert_array_equal(centre_crop_square(tall), tall[64:576])
    crop = fit_and_normalise(tall.astype(np.float32), 64, fit="crop")
    expected = fit_and_normalise(tall[64:576].astype(np.float32), 64)
    np.testing.assert_array_equal(crop, expected)
    wide = kit.gradient(256, 512)
    pad = fit_and_normalise(wide.astype(np.float32), 64, fit="pad")
    assert pad.shape == (64, 64)
    assert np.all(pad[:16] == -1) and np.all(pad[48:] == -1)       # black bands
    inner = pad[16:48]
    assert inner.min() == -1 and inner.max() == 1
    assert np.abs(inner - (kit.gradient(32, 64) * 2 - 1)).max() < 0.03


def test_percentile_clipping_recovers_contrast():
    rng = np.random.default_rng(0)
    img = rng.normal(100, 10, (128, 128)).astype(np.float32)
    img[5, 5] = 1e6  # one burned-in marker pixel
    plain = fit_and_normalise(img, 64)
    clipped = fit_and_normalise(img, 64, clip_percentiles=(0.5, 99.5))
    assert plain.std() < 0.05 and clipped.std() > 0.2
    assert clipped.min() == -1 and clipped.max() == 1


def test_constant_image_is_rejected():
    with pytest.raises(InputError, match="constant"):
        fit_and_normalise(np.full((32, 32), 7.0, dtype=np.float32), 16, name="flat.png")
