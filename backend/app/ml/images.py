"""Safe image reading and atomic PNG writing.

Every image that enters the ML code goes through :func:`read_image`, which checks the pixel count
from the header *before* decoding (decompression-bomb guard) and turns every decoding failure
(unknown format, corrupt or truncated data) into :class:`MLInputError`.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import MLInputError

DEFAULT_MAX_PIXELS = 50_000_000
SUPPORTED_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp", ".bmp")
_ORIENTATION = 0x0112  # the EXIF tag


@contextmanager
def _opened(path: Path) -> Iterator[Image.Image]:
    """`Image.open(path)`, with every failure to read it (in the `with` body too) an MLInputError naming it."""
    try:
        with Image.open(path) as im:
            yield im
    except MLInputError:
        raise
    except Image.DecompressionBombError as exc:
        raise MLInputError(f"{path.name}: refused as a possible decompression bomb ({exc})") from exc
    except UnidentifiedImageError as exc:
        raise MLInputError(f"{path.name}: not a readable image (PNG, JPEG, TIFF or WebP expected)") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise MLInputError(f"{path.name}: corrupt or truncated image ({exc})") from exc
    except Exception as exc:  # a damaged file trips the decoders in many ways (TypeError, EOFError, struct.error,
        # IndexError ...): each is the file's fault, none the server's
        raise MLInputError(f"{path.name}: corrupt or truncated image ({type(exc).__name__}: {exc})") from exc


def _within(path: Path, width: int, height: int, max_pixels: int) -> None:
    if width * height > max_pixels:
        raise MLInputError(
            f"{path.name}: {width}x{height} = {width * height:,} pixels exceeds the limit of {max_pixels:,}; "
            "downscale or split the image"
        )


def read_image(path: Path, *, mode: str | None = None, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Decode ``path`` into a float32 array in [0, 1], shape (H, W) for gray or (H, W, 3) for color.

    ``mode`` is ``"L"`` (force gray), ``"RGB"`` (force color) or ``None`` (gray stays gray, anything
    else becomes RGB). Alpha is composited on white, 16-bit gray keeps its precision, and an EXIF
    orientation is applied so that the array is the upright image.
    Raises MLInputError for missing, corrupt, truncated or too large images and for NaN/inf pixels.
    """
    path = Path(path)
    if not path.is_file():
        raise MLInputError(f"image not found: {path.name}")
    with _opened(path) as im:
        _within(path, *im.size, max_pixels)
        im.load()
        # Photos of documents often carry an EXIF orientation instead of rotated pixels:
        # restore (and measure) the page the way it is shown, upright.
        try:
            return _to_array(ImageOps.exif_transpose(im), mode)
        except MLInputError as exc:
            raise MLInputError(f"{path.name}: {exc}") from exc


def probe_image(path: Path, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> dict[str, object]:
    """Upload-time check, from the header and without decoding the pixels: a readable image within
    ``max_pixels``, of one page. Returns ``{"width", "height", "mode", "pages"}`` (the size as shown, an EXIF
    orientation applied, as `read_image` reads it); raises MLInputError.

    A multi-page TIFF (a fax, a scanned document) or an animation is refused: the jobs that take an image
    read its first page, and the others would be lost without a word.
    """
    path = Path(path)
    with _opened(path) as im:
        im.verify()  # a PNG's chunk checksums, every format's structure as far as its header goes; first, or not
        # at all: Pillow refuses it once anything else was read, and the image is spent after it
    with _opened(path) as im:
        width, height = im.size
        pages = int(getattr(im, "n_frames", 1) or 1)
        mode = im.mode
        if im.getexif().get(_ORIENTATION) in (5, 6, 7, 8):  # shown turned a quarter: as `read_image` reads it
            width, height = height, width
        _within(path, width, height, max_pixels)
        if pages > 1:
            raise MLInputError(
                f"{path.name} holds {pages} pages or frames (a multi-page TIFF or an animation); an image "
                "job reads one page: upload each page as a file of its own"
            )
    return {"width": width, "height": height, "mode": mode, "pages": pages}


def _to_array(im: Image.Image, mode: str | None) -> np.ndarray:
    """Convert a decoded PIL image to float32 [0, 1] in the requested channel layout."""
    if im.mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        gray = np.asarray(im, dtype=np.float32) / 65535.0
        return np.repeat(gray[..., None], 3, axis=2) if mode == "RGB" else gray
    if im.mode in ("I", "F"):
        arr = np.asarray(im, dtype=np.float32)
        if not np.isfinite(arr).all():
            raise MLInputError("image contains NaN or infinite pixel values; export it with finite values")
        # Float images are usually normalised to [0, 1]; 8- or 16-bit data stored as float/int is not.
        peak = arr.max(initial=0)
        scale = 1.0 if im.mode == "F" and peak <= 1.0 else 65535.0 if peak > 255 else 255.0
        gray = np.clip(arr / scale, 0.0, 1.0)
        return np.repeat(gray[..., None], 3, axis=2) if mode == "RGB" else gray
    # "transparency" is a palette index (P) or a color key (L/RGB tRNS, e.g. written by PNG optimisers).
    if im.mode in ("RGBA", "LA", "PA") or "transparency" in im.info:
        gray = im.mode in ("LA", "L")  # a gray page with alpha stays a gray page
        rgba = im.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        im = Image.alpha_composite(background, rgba).convert("L" if gray else "RGB")
    target = mode or ("L" if im.mode in ("1", "L") else "RGB")
    if im.mode != target:
        im = im.convert(target)
    return np.asarray(im, dtype=np.float32) / 255.0


def to_uint8(arr: np.ndarray) -> np.ndarray:
    """Round a [0, 1] float image to uint8 (values outside the range are clipped)."""
    return (np.clip(arr, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def write_png(arr: np.ndarray, out_path: Path) -> None:
    """Write a [0, 1] float or uint8 image as PNG atomically (temp file in the same dir + os.replace).

    A reader never sees a half-written file, and a crash leaves at most a stray ``.tmp`` file.
    """
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    data = arr if arr.dtype == np.uint8 else to_uint8(arr)
    fd, tmp = tempfile.mkstemp(prefix=f".{out_path.name}.", suffix=".tmp", dir=out_path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            Image.fromarray(data).save(fh, format="PNG", optimize=False)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; results are meant to be shared
        os.replace(tmp, out_path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
