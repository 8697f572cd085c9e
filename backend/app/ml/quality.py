"""Image quality metrics: full-reference PSNR/SSIM and cheap no-reference statistics.

All functions accept numpy arrays or torch tensors, uint8 (0..255) or float (0..1), gray
``(H, W)`` / ``(H, W, 1)`` or color ``(H, W, 3)``; torch tensors may also be ``(C, H, W)`` or
``(1, C, H, W)``. Computation is numpy float64 so results do not depend on the device, one band of rows at a
time so that memory stays bounded on large pages.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from .errors import MLInputError
from .images import read_image

_SSIM_SIGMA = 1.5
_SSIM_RADIUS = 5  # 11x11 Gaussian window, as in Wang et al. 2004
_C1 = (0.01 * 1.0) ** 2
_C2 = (0.03 * 1.0) ** 2


_BAND_VALUES = 1 << 18  # values per band (2 MB in float64): memory is bounded by the band, not the page


class _Image:
    """An image-like object read a band of rows at a time, as float64 (h, W, C) in [0, 1].

    The page itself stays as it came (uint8, uint16 or float): only the band being scored is widened to
    float64, so the metrics of a 60 MP page cost a few bands' worth of memory instead of ~46 bytes a pixel."""

    def __init__(self, img: Any) -> None:
        if hasattr(img, "detach"):  # torch tensor without importing torch here
            arr = img.detach().cpu().float().numpy()
            if arr.ndim == 4:
                if arr.shape[0] != 1:
                    raise ValueError("expected a single image, got a batch")
                arr = arr[0]
            if arr.ndim == 3:
                arr = np.transpose(arr, (1, 2, 0))
        else:
            arr = np.asarray(img)
        if arr.ndim == 2:
            arr = arr[..., None]
        if arr.ndim != 3:
            raise ValueError(f"expected an image of 2 or 3 dimensions, got shape {arr.shape}")
        self.array = arr
        self.scale = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}.get(arr.dtype, 1.0)
        self.height, self.width, self.channels = arr.shape
        self.band_rows = max(1, _BAND_VALUES // (self.width * self.channels))
        self.gray = False  # read as luma

    def rows(self, y0: int, y1: int | None) -> np.ndarray:
        band = self.array[y0:y1].astype(np.float64)
        if self.scale != 1.0:
            band /= self.scale
        return _luma(band) if self.gray and band.shape[2] != 1 else band


def _chunks(image: _Image, window: int) -> list[tuple[int, int]]:
    """Input row ranges whose 'valid' filtering by a `window`-row kernel yields consecutive bands of output."""
    out_h, rows = image.height - window + 1, image.band_rows
    return [(o0, min(out_h, o0 + rows) + window - 1) for o0 in range(0, out_h, rows)]


def _pair(a: Any, b: Any) -> tuple[_Image, _Image]:
    x, y = _Image(a), _Image(b)
    if (x.height, x.width) != (y.height, y.width):
        raise ValueError(f"image sizes differ: {(x.height, x.width)} vs {(y.height, y.width)}")
    if x.channels != y.channels:  # compare color against gray on luma
        x.gray = y.gray = True
    return x, y


def _luma(x: np.ndarray) -> np.ndarray:
    if x.shape[2] == 1:
        return x
    return (x[..., :3] @ np.array([0.299, 0.587, 0.114]))[..., None]


def psnr(a: Any, b: Any) -> float:
    """Peak signal-to-noise ratio in dB for peak 1.0; ``inf`` for identical images."""
    x, y = _pair(a, b)
    total, count = 0.0, 0
    for y0 in range(0, x.height, x.band_rows):
        diff = x.rows(y0, y0 + x.band_rows) - y.rows(y0, y0 + x.band_rows)
        total += float(np.sum(diff * diff))
        count += diff.size
    mse = total / count
    return math.inf if mse == 0.0 else 10.0 * math.log10(1.0 / mse)


def _gauss_kernel(sigma: float, radius: int) -> np.ndarray:
    t = np.arange(-radius, radius + 1, dtype=np.float64)
    k = np.exp(-0.5 * (t / sigma) ** 2)
    return k / k.sum()


def _filter_valid(x: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Separable 'valid' correlation of a (H, W, C) array with the 1-D kernel ``k``."""
    n = len(k)
    h, w = x.shape[0] - n + 1, x.shape[1] - n + 1
    rows = sum(k[i] * x[i : i + h] for i in range(n))
    return sum(k[i] * rows[:, i : i + w] for i in range(n))


def _ssim_map(x: np.ndarray, y: np.ndarray, k: np.ndarray) -> np.ndarray:
    mx, my = _filter_valid(x, k), _filter_valid(y, k)
    sxx = _filter_valid(x * x, k) - mx * mx
    syy = _filter_valid(y * y, k) - my * my
    sxy = _filter_valid(x * y, k) - mx * my
    return ((2 * mx * my + _C1) * (2 * sxy + _C2)) / ((mx * mx + my * my + _C1) * (sxx + syy + _C2))


def ssim(a: Any, b: Any) -> float:
    """Mean structural similarity (Gaussian 11x11 window, sigma 1.5, data range 1); 1.0 if identical.

    Color images are scored per channel and averaged. Images smaller than 11 px on a side fall back
    to a global (single-window) SSIM.
    """
    x, y = _pair(a, b)
    window = 2 * _SSIM_RADIUS + 1
    if min(x.height, x.width) < window:
        xa, ya = x.rows(0, None), y.rows(0, None)
        mx, my = xa.mean(axis=(0, 1)), ya.mean(axis=(0, 1))
        vx, vy = xa.var(axis=(0, 1)), ya.var(axis=(0, 1))
        cxy = ((xa - mx) * (ya - my)).mean(axis=(0, 1))
        s = ((2 * mx * my + _C1) * (2 * cxy + _C2)) / ((mx**2 + my**2 + _C1) * (vx + vy + _C2))
        return float(np.mean(s))
    k = _gauss_kernel(_SSIM_SIGMA, _SSIM_RADIUS)
    total, count = 0.0, 0
    for y0, y1 in _chunks(x, window):
        band = _ssim_map(x.rows(y0, y1), y.rows(y0, y1), k)
        total += float(band.sum())
        count += band.size
    return total / count


def _conv3(x: np.ndarray, k: np.ndarray) -> np.ndarray:
    """'valid' 3x3 correlation of a 2-D array."""
    h, w = x.shape[0] - 2, x.shape[1] - 2
    return sum(k[i, j] * x[i : i + h, j : j + w] for i in range(3) for j in range(3))


_LAPLACIAN = np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], dtype=np.float64)
_HIGH_PASS = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], dtype=np.float64)


def no_reference_metrics(img: Any) -> dict[str, float]:
    """Cheap statistics that need no clean reference, computed on luma in [0, 1].

    - ``sharpness``: variance of the 4-neighbour Laplacian. Higher means crisper edges; blur lowers it,
      but noise raises it too, so read it together with ``noise_sigma``.
    - ``noise_sigma``: robust noise standard deviation (Immerkaer's 3x3 high-pass, median absolute
      value / 0.6745, divided by the kernel norm 6). Text edges barely move a median, so this tracks
      the sensor/grain noise level; ~0 for a clean synthetic page.
    - ``contrast``: RMS contrast = standard deviation of luma.
    - ``dynamic_range``: 99th minus 1st percentile of luma (ink-to-paper spread, robust to outliers).
    - ``mean_brightness``: mean luma (paper documents are typically > 0.7 when clean).

    Computed band by band: the only whole-page buffer is one float32 per pixel for the median and the
    percentiles.
    """
    image = _Image(img)
    image.gray = True
    h, w = image.height, image.width
    if min(h, w) < 3:
        # MLInputError (a ValueError) so that job handlers report it as a bad input, not a crash.
        raise MLInputError(f"{w}x{h} image is too small for quality metrics (need at least 3x3 pixels)")
    lap, luma = _Moments(), _Moments()
    scratch = np.empty(h * w, np.float32)  # |high-pass| for the median, then luma for the percentiles
    at = 0
    for y0, y1 in _chunks(image, 3):
        band = image.rows(y0, y1)[..., 0]
        lap.add(_conv3(band, _LAPLACIAN))
        hp = np.abs(_conv3(band, _HIGH_PASS)).ravel()
        scratch[at : at + hp.size] = hp
        at += hp.size
    noise = float(np.median(scratch[:at], overwrite_input=True)) / 0.6745 / 6.0
    for y0 in range(0, h, image.band_rows):
        band = image.rows(y0, y0 + image.band_rows)[..., 0]
        luma.add(band)
        scratch[y0 * w : y0 * w + band.size] = band.ravel()
    p1, p99 = np.percentile(scratch, [1, 99], overwrite_input=True)
    return {
        "sharpness": lap.variance,
        "noise_sigma": noise,
        "contrast": math.sqrt(luma.variance),
        "dynamic_range": float(p99 - p1),
        "mean_brightness": luma.mean,
    }


class _Moments:
    """Count, mean and sum of squared deviations of values seen band by band (Chan et al.'s merge), so the
    variance of a whole page needs no whole-page array and loses no precision to E[x^2] - E[x]^2."""

    def __init__(self) -> None:
        self.count, self.mean, self._m2 = 0, 0.0, 0.0

    def add(self, values: np.ndarray) -> None:
        n = values.size
        if n == 0:
            return
        mean = float(values.mean())
        m2 = float(np.sum((values - mean) ** 2))
        total = self.count + n
        delta = mean - self.mean
        self._m2 += m2 + delta * delta * self.count * n / total
        self.mean += delta * n / total
        self.count = total

    @property
    def variance(self) -> float:
        return self._m2 / self.count if self.count else 0.0


def compare_images(restored_path: Path, reference_path: Path) -> dict[str, float | bool | None]:
    """PSNR/SSIM of a restored image against a reference; MLInputError if unreadable or sizes differ.

    Identical images have an infinite PSNR, which JSON cannot carry: ``psnr`` is then None and
    ``identical`` True."""
    restored = read_image(Path(restored_path))
    reference = read_image(Path(reference_path))
    if restored.shape[:2] != reference.shape[:2]:
        raise MLInputError(
            f"size mismatch: restored is {restored.shape[1]}x{restored.shape[0]}, "
            f"reference is {reference.shape[1]}x{reference.shape[0]}"
        )
    db = psnr(restored, reference)
    return {
        "psnr": db if math.isfinite(db) else None,
        "identical": db == math.inf,
        "ssim": ssim(restored, reference),
        "width": float(restored.shape[1]),
        "height": float(restored.shape[0]),
    }
