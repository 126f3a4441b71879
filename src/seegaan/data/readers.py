"""Readers: one radiograph file -> a 2-D float32 array where larger means brighter.

Every reader returns the image as the radiologist would see it (DICOM modality and VOI
transforms applied, MONOCHROME1 inverted, colour folded to grey) but on its own numeric
scale: per-image normalisation happens later, in :mod:`seegaan.data.transform`.

Any problem with the file itself (corrupt, truncated, no pixel data, undecodable transfer
syntax) raises :class:`~seegaan.errors.InputError` with a message that starts with the path,
so ``seegaan prepare`` can stop with one line or skip the file and list it.

Example::

    img = read_image("images/p01.dcm")      # float32 (H, W)
"""

from __future__ import annotations

import os
import struct
import warnings
import zlib
from pathlib import Path

import numpy as np

from seegaan.errors import InputError

PIL_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff")
NPY_SUFFIXES = (".npy",)
DICOM_SUFFIXES = (".dcm", ".dicom", ".dic")
SUFFIXES = PIL_SUFFIXES + NPY_SUFFIXES + DICOM_SUFFIXES

# ITU-R BT.601 luma, the usual weights for turning an RGB screenshot back into grey.
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read any supported radiograph file as a float32 ``(H, W)`` array (brighter = larger).

    Supported: PNG/JPEG/TIFF (8/16-bit, grey or colour), ``.npy`` 2-D numeric arrays, DICOM.

    Example::

        img = read_image("scan.png")
        img.dtype, img.ndim                 # float32, 2
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in PIL_SUFFIXES:
        arr = _read_pil(path)
    elif suffix in NPY_SUFFIXES:
        arr = _read_npy(path)
    elif suffix in DICOM_SUFFIXES or _has_dicom_magic(path):
        arr = _read_dicom(path)
    else:
        raise InputError(f"{path}: unsupported file type '{suffix}' "
                         f"(use one of {', '.join(SUFFIXES)})")
    arr = _to_grey(arr, path)
    if arr.shape[0] < 2 or arr.shape[1] < 2:
        raise InputError(f"{path}: image is too small ({arr.shape[0]}x{arr.shape[1]} pixels)")
    if not np.isfinite(arr).all():
        raise InputError(f"{path}: image holds NaN or infinite values")
    return arr


def _to_grey(arr: np.ndarray, path: Path) -> np.ndarray:
    arr = np.asarray(arr)
    if arr.ndim == 3 and arr.shape[-1] in (3, 4):  # RGB(A): drop alpha, weight channels
        arr = arr[..., :3].astype(np.float32) @ _LUMA
    elif arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    elif arr.ndim == 3 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim != 2:
        raise InputError(f"{path}: expected a 2-D image, got an array of shape {arr.shape}")
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise InputError(f"{path}: pixel values are not numeric (dtype {arr.dtype})")
    return np.ascontiguousarray(arr, dtype=np.float32)


# --- PNG / JPEG / TIFF -------------------------------------------------------------------

def _read_pil(path: Path) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            # A file that decodes to more pixels than Pillow's limit is a decompression
            # bomb (or no radiograph): an error for this file, never a warning on stderr.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(path)
        with im:
            im.load()  # decode now, inside the try, so truncation is reported here
            mode = im.mode
            if mode == "P" or mode == "PA":
                im = im.convert("RGBA" if "transparency" in im.info else "RGB")
            elif mode in ("CMYK", "YCbCr", "LAB", "HSV"):
                im = im.convert("RGB")
            elif mode == "LA":
                im = im.convert("L")
            elif mode == "1":
                im = im.convert("L")
            arr = np.asarray(im)
    except FileNotFoundError:
        raise InputError(f"{path}: file not found") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InputError(f"{path}: image too large to decode safely (more than "
                         f"{Image.MAX_IMAGE_PIXELS} pixels; a decompression bomb?)") from None
    except UnidentifiedImageError:
        raise InputError(f"{path}: not a readable image (corrupt, or not really "
                         f"{path.suffix.lstrip('.').upper()})") from None
    except (OSError, SyntaxError, ValueError, EOFError, struct.error, zlib.error) as err:
        # Pillow reports truncation and bad chunks as OSError/SyntaxError with its own wording.
        raise InputError(f"{path}: corrupt or truncated image ({_short(err)})") from None
    if arr.dtype.byteorder == ">":  # 16-bit big-endian modes (I;16B) -> native order
        arr = arr.astype(arr.dtype.newbyteorder("="))
    return arr


# --- NumPy ---------------------------------------------------------------------------------

def _read_npy(path: Path) -> np.ndarray:
    try:
        # allow_pickle=False: a .npy from someone else must never run code when loaded.
        arr = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise InputError(f"{path}: file not found") from None
    except (ValueError, OSError, EOFError) as err:
        raise InputError(f"{path}: not a readable .npy array ({_short(err)})") from None
    if not isinstance(arr, np.ndarray):
        raise InputError(f"{path}: expected one array, found an archive")
    if arr.dtype.kind not in "biuf":
        raise InputError(f"{path}: .npy array must be numeric, got dtype {arr.dtype}")
    if arr.ndim != 2 and not (arr.ndim == 3 and 1 in (arr.shape[0], arr.shape[-1])):
        raise InputError(f"{path}: .npy array must be 2-D, got shape {arr.shape}")
    return arr


# --- DICOM ---------------------------------------------------------------------------------

def _has_dicom_magic(path: Path) -> bool:
    # DICOM Part 10 files carry 'DICM' after a 128-byte preamble, whatever their name.
    try:
        with open(path, "rb") as fh:
            fh.seek(128)
            return fh.read(4) == b"DICM"
    except OSError:
        return False


def _read_dicom(path: Path) -> np.ndarray:
    import pydicom
    from pydicom.errors import InvalidDicomError
    from pydicom.pixels import apply_modality_lut, apply_voi_lut

    try:
        ds = pydicom.dcmread(path)
    except FileNotFoundError:
        raise InputError(f"{path}: file not found") from None
    except InvalidDicomError:
        raise InputError(f"{path}: not a DICOM file (no DICM header)") from None
    except (OSError, EOFError, ValueError, struct.error) as err:
        raise InputError(f"{path}: corrupt or truncated DICOM ({_short(err)})") from None
    if "PixelData" not in ds and "FloatPixelData" not in ds and "DoubleFloatPixelData" not in ds:
        raise InputError(f"{path}: DICOM has no pixel data "
                         f"(modality {ds.get('Modality', '?')}, not an image)")
    try:
        frames = int(ds.get("NumberOfFrames", 1) or 1)
    except (TypeError, ValueError):
        raise InputError(f"{path}: invalid Number of Frames "
                         f"{ds.get('NumberOfFrames')!r} in the DICOM header") from None
    if frames > 1:
        raise InputError(f"{path}: multi-frame DICOM ({frames} frames); expected one radiograph")
    tsyntax = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
    try:
        with warnings.catch_warnings():
            # pydicom warns about harmless header quirks of real scanners; keep the bar clean.
            warnings.simplefilter("ignore", UserWarning)
            arr = ds.pixel_array
    except (RuntimeError, NotImplementedError) as err:
        name = getattr(tsyntax, "name", str(tsyntax))
        if tsyntax is not None and getattr(tsyntax, "is_compressed", False):
            raise InputError(
                f"{path}: cannot decode transfer syntax '{name}' ({tsyntax}) here; install a "
                "pydicom decoder plugin for it (e.g. `pip install pylibjpeg pylibjpeg-libjpeg "
                "pylibjpeg-openjpeg` or `pip install python-gdcm`) or convert the file"
            ) from None
        raise InputError(f"{path}: cannot decode pixel data ({_short(err)})") from None
    except (ValueError, AttributeError, KeyError, TypeError, EOFError) as err:
        # Missing image-pixel elements or fewer bytes than Rows x Columns promise.
        text = _short(err)
        problem = "truncated pixel data" if "less than expected" in text else "unreadable pixel data"
        raise InputError(f"{path}: {problem} ({text})") from None

    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2")).upper()
    if photometric == "PALETTE COLOR":
        from pydicom.pixels import apply_color_lut

        arr = apply_color_lut(arr, ds)
    elif photometric.startswith("MONOCHROME"):
        arr = apply_modality_lut(arr, ds)  # Rescale Slope/Intercept or a Modality LUT
        if _has_voi(ds):
            if "VOILUTSequence" in ds and arr.dtype.kind == "f" and \
                    np.array_equal(arr, np.round(arr)):
                arr = arr.astype(np.int64)  # a LUT is indexed by integers; rescale gave whole numbers
            arr = apply_voi_lut(arr, ds, index=0, prefer_lut=True)  # VOI LUT or window
        arr = np.asarray(arr, dtype=np.float32)
        if photometric == "MONOCHROME1":
            # MONOCHROME1: the lowest value is displayed white, so flip to brighter = larger.
            arr = -arr
    return np.asarray(arr)


def _has_voi(ds) -> bool:
    if "VOILUTSequence" in ds and len(ds.VOILUTSequence) > 0:
        return True
    return "WindowCenter" in ds and "WindowWidth" in ds and ds.WindowWidth not in (None, "")


def _short(err: BaseException) -> str:
    """The first line of an exception's text, so messages stay on one line."""
    text = str(err).strip().splitlines()
    return (text[0] if text else type(err).__name__)[:200]
