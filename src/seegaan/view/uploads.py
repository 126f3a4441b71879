"""Uploaded films: check the bytes, then prepare them exactly as ``seegaan prepare`` would.

An upload is untrusted input arriving at a server, so before any decoder runs:

- its size is capped (``MAX_UPLOAD_BYTES``, 20 MB);
- its type is decided by its first bytes (PNG, JPEG or DICOM signatures), never by the
  name the browser sends, and anything else is refused;
- its pixel count is read from the header and capped (``MAX_PIXELS``), so a small file that
  would decompress into gigabytes (a "decompression bomb") is refused before decoding.

The bytes are then written to a private temporary file whose name *we* choose (the sniffed
type's suffix), read with :func:`seegaan.data.readers.read_image` and fitted with
:func:`seegaan.data.transform.load_fitted`, so an upload goes through the very code (and
the very uint16 rounding) of ``seegaan prepare``. Nothing the client sends is ever used as a
path.

Example::

    image = prepare_upload(data, size=64)        # float32 (64, 64) in [-1, 1]
"""

from __future__ import annotations

import io
import os
import tempfile
import warnings

import numpy as np

from seegaan.errors import InputError

MAX_UPLOAD_BYTES = 20_000_000          # 20 MB: a large uncompressed DICOM radiograph
MAX_PIXELS = 50_000_000                 # ~7000 x 7000; the largest real detectors are ~4300²

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
JPEG_MAGIC = b"\xff\xd8\xff"


class UploadError(InputError):
    """An upload the viewer refuses; ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def sniff(data: bytes) -> str:
    """``"png"``, ``"jpeg"`` or ``"dicom"`` from the leading bytes; raises otherwise."""
    if data.startswith(PNG_MAGIC):
        return "png"
    if data.startswith(JPEG_MAGIC):
        return "jpeg"
    if len(data) >= 132 and data[128:132] == b"DICM":
        return "dicom"
    raise UploadError("upload: not a PNG, JPEG or DICOM image (only radiograph images are "
                      "accepted)", status=415)


def _pixel_count(data: bytes, file_type: str) -> int:
    """Width × height from the header alone (no pixel data is decoded)."""
    if file_type == "dicom":
        import pydicom

        try:
            ds = pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True)
            rows, cols = int(ds.get("Rows", 0) or 0), int(ds.get("Columns", 0) or 0)
            frames = int(ds.get("NumberOfFrames", 1) or 1)
        except Exception as err:  # pydicom raises many types on a malformed header
            raise UploadError(f"upload: unreadable DICOM header ({type(err).__name__})") from None
        return rows * cols * max(frames, 1)
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            # Pillow warns (then errors) on huge images; we apply our own, lower limit below.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as im:   # lazy: reads the header only
                w, h = im.size
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise UploadError(f"upload: corrupt {file_type.upper()} header") from None
    except Image.DecompressionBombError:
        raise UploadError(f"upload: over the {MAX_PIXELS:,}-pixel limit (a decompression bomb, "
                          "or not a radiograph)", 413) from None
    return int(w) * int(h)


def check_upload(data: bytes, max_bytes: int = MAX_UPLOAD_BYTES,
                 max_pixels: int = MAX_PIXELS) -> str:
    """Every check that needs no decoding; returns the sniffed type."""
    if not data:
        raise UploadError("upload: empty file")
    if len(data) > max_bytes:
        raise UploadError(f"upload: {len(data) / 1e6:.1f} MB is over the {max_bytes / 1e6:.0f} MB "
                          "limit", status=413)
    file_type = sniff(data)
    n = _pixel_count(data, file_type)
    if n > max_pixels:
        raise UploadError(f"upload: {n:,} pixels is over the {max_pixels:,}-pixel limit "
                          "(a decompression bomb, or not a radiograph)", status=413)
    if n < 4:
        raise UploadError("upload: image has no pixels")
    return file_type


def prepare_upload(data: bytes, size: int, fit: str = "crop",
                   clip_percentiles: tuple[float, float] | None = None, *,
                   max_bytes: int = MAX_UPLOAD_BYTES, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Check ``data`` and turn it into a prepared ``(size, size)`` float32 image in [-1, 1]."""
    from seegaan.data.prepared import from_uint16
    from seegaan.data.transform import load_fitted

    file_type = check_upload(data, max_bytes, max_pixels)
    suffix = {"png": ".png", "jpeg": ".jpg", "dicom": ".dcm"}[file_type]
    fd, tmp = tempfile.mkstemp(prefix="seegaan-upload-", suffix=suffix)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        try:
            codes = load_fitted(tmp, size, fit, clip_percentiles)
        except InputError as err:
            # The reader names the file; our temporary name means nothing to the user.
            raise UploadError("upload: " + str(err).replace(tmp, "").lstrip(": ")) from None
    finally:
        os.unlink(tmp)
    return from_uint16(codes)
