"""Image quality metrics: full-reference PSNR/SSIM and cheap no-reference statistics.

All functions accept numpy arrays or torch tensors, uint8 (0..255) or float (0..1), gray
``(H, W)`` / ``(H, W, 1)`` or color ``(H, W, 3)``; torch tensors may also be ``(C, H, W)`` or
``(1, C, H, W)``. Computation is numpy float64 so results do not depend on the device.
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


def as_float_image(img: Any) -> np.ndarray:
    """Normalise an image-like object to float64 (H, W, C) in [0, 1]."""
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
    if arr.dtype == np.uint8:
        arr = arr.astype(np.float64) / 255.0
    elif arr.dtype == np.uint16:
        arr = arr.astype(np.float64) / 65535.0
    else:
        arr = arr.astype(np.float64)
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.ndim != 3:
        raise ValueError(f"expected an image of 2 or 3 dimensions, got shape {arr.shape}")
    return arr


def _pair(a: Any, b: Any) -> tuple[np.ndarray, np.ndarray]:
    x, y = as_float_image(a), as_float_image(b)
    if x.shape[:2] != y.shape[:2]:
        raise ValueError(f"image sizes differ: {x.shape[:2]} vs {y.shape[:2]}")
    if x.shape[2] != y.shape[2]:  # compare color against gray on luma
        x, y = _luma(x), _luma(y)
    return x, y


def _luma(x: np.ndarray) -> np.ndarray:
    if x.shape[2] == 1:
        return x
    return (x[..., :3] @ np.array([0.299, 0.587, 0.114]))[..., None]


def psnr(a: Any, b: Any) -> float:
    """Peak signal-to-noise ratio in dB for peak 1.0; ``inf`` for identical images."""
    x, y = _pair(a, b)
    mse = float(np.mean((x - y) ** 2))
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


def ssim(a: Any, b: Any) -> float:
    """Mean structural similarity (Gaussian 11x11 window, sigma 1.5, data range 1); 1.0 if identical.

    Color images are scored per channel and averaged. Images smaller than 11 px on a side fall back
    to a global (single-window) SSIM.
    """
    x, y = _pair(a, b)
    if min(x.shape[:2]) < 2 * _SSIM_RADIUS + 1:
        mx, my = x.mean(axis=(0, 1)), y.mean(axis=(0, 1))
        vx, vy = x.var(axis=(0, 1)), y.var(axis=(0, 1))
        cxy = ((x - mx) * (y - my)).mean(axis=(0, 1))
        s = ((2 * mx * my + _C1) * (2 * cxy + _C2)) / ((mx**2 + my**2 + _C1) * (vx + vy + _C2))
        return float(np.mean(s))
    k = _gauss_kernel(_SSIM_SIGMA, _SSIM_RADIUS)
    mx, my = _filter_valid(x, k), _filter_valid(y, k)
    sxx = _filter_valid(x * x, k) - mx * mx
    syy = _filter_valid(y * y, k) - my * my
    sxy = _filter_valid(x * y, k) - mx * my
    s = ((2 * mx * my + _C1) * (2 * sxy + _C2)) / ((mx * mx + my * my + _C1) * (sxx + syy + _C2))
    return float(np.mean(s))


def _conv3(x: np.ndarray, k: np.ndarray) -> np.ndarray:
    """'valid' 3x3 correlation of a 2-D array."""
    h, w = x.shape[0] - 2, x.shape[1] - 2
    return sum(k[i, j] * x[i : i + h, j : j + w] for i in range(3) for j in range(3))


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
    """
    y = _luma(as_float_image(img))[..., 0]
    if min(y.shape) < 3:
        # MLInputError (a ValueError) so that job handlers report it as a bad input, not a crash.
        raise MLInputError(
            f"{y.shape[1]}x{y.shape[0]} image is too small for quality metrics (need at least 3x3 pixels)"
        )
    lap = _conv3(y, np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], dtype=np.float64))
    hp = _conv3(y, np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], dtype=np.float64))
    p1, p99 = np.percentile(y, [1, 99])
    return {
        "sharpness": float(lap.var()),
        "noise_sigma": float(np.median(np.abs(hp)) / 0.6745 / 6.0),
        "contrast": float(y.std()),
        "dynamic_range": float(p99 - p1),
        "mean_brightness": float(y.mean()),
    }


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
