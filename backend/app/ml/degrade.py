"""Random, composable degradations of clean document pages (float32 gray in [0, 1]).

The order mimics the physical process: the printer or copier leaves drum streaks as it prints, paper
effects (bleed-through, stains, illumination, shadow, low contrast) happen on the page, then the optics
blur it, then the sensor adds noise (Gaussian, salt-and-pepper), and finally JPEG compression adds
block/ringing artifacts. Every step keeps the page's geometry: the degraded page stays pixel-aligned with
the clean one.
Every step draws its parameters from the given numpy ``Generator``: same generator state ->
same result.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image


@dataclass
class DegradeParams:
    """Probabilities and parameter ranges (lo, hi) of each degradation."""

    p_drum: float = 0.2
    drum_streaks: tuple[int, int] = (1, 6)
    drum_strength: tuple[float, float] = (0.15, 0.7)
    drum_width: tuple[float, float] = (0.6, 4.0)
    p_bleed: float = 0.4
    bleed_alpha: tuple[float, float] = (0.08, 0.35)
    p_stain: float = 0.35
    stain_strength: tuple[float, float] = (0.1, 0.45)
    p_illumination: float = 0.6
    illumination_drop: tuple[float, float] = (0.1, 0.5)
    p_shadow: float = 0.3
    shadow_strength: tuple[float, float] = (0.2, 0.55)
    p_contrast: float = 0.5
    ink_level: tuple[float, float] = (0.1, 0.45)
    paper_level: tuple[float, float] = (0.6, 0.95)
    p_blur: float = 0.5
    blur_sigma: tuple[float, float] = (0.3, 1.5)
    p_noise: float = 0.7
    noise_sigma: tuple[float, float] = (0.01, 0.08)
    p_salt_pepper: float = 0.25
    salt_pepper_amount: tuple[float, float] = (0.002, 0.02)
    p_jpeg: float = 0.5
    jpeg_quality: tuple[int, int] = (20, 80)


def gaussian_blur(x: np.ndarray, sigma: float) -> np.ndarray:
    """Separable Gaussian blur of a 2-D array with reflect padding (numpy only)."""
    if sigma <= 0:
        return x
    radius = max(1, int(3 * sigma + 0.5))
    t = np.arange(-radius, radius + 1, dtype=np.float32)
    k = np.exp(-0.5 * (t / sigma) ** 2)
    k /= k.sum()
    p = np.pad(x, radius, mode="reflect")
    h, w = x.shape
    rows = sum(k[i] * p[i : i + h, :] for i in range(len(k)))
    return sum(k[i] * rows[:, i : i + w] for i in range(len(k))).astype(np.float32)


def smooth_field(rng: np.random.Generator, shape: tuple[int, int], cells: int) -> np.ndarray:
    """Low-frequency random field in [0, 1]: a ``cells x cells`` grid upsampled bicubically."""
    grid = rng.random((cells, cells)).astype(np.float32)
    field = np.asarray(Image.fromarray(grid, mode="F").resize((shape[1], shape[0]), Image.Resampling.BICUBIC))
    lo, hi = float(field.min()), float(field.max())
    return (field - lo) / (hi - lo + 1e-6)


def drum_streaks(x: np.ndarray, rng: np.random.Generator, p: DegradeParams) -> np.ndarray:
    """Thin dark lines along the paper-feed direction: toner left by a dirty or scratched printer/copier drum.

    Mostly vertical (the sheet travels along its height), sometimes horizontal; each streak has a soft
    Gaussian cross-section of 0.6-4 px, a darkness that wanders along its length and may fade out or stop
    partway, and a toner grain. Streaks only darken the page and never move it (pixel-aligned).
    """
    vertical = rng.random() < 0.8
    x2 = x if vertical else x.T
    length, across = x2.shape
    pos = np.arange(across, dtype=np.float32)
    knots_at = np.linspace(0.0, length - 1.0, 8)
    mask = np.zeros_like(x2)
    for _ in range(int(rng.integers(p.drum_streaks[0], p.drum_streaks[1] + 1))):
        centre, width = rng.uniform(0, across), rng.uniform(*p.drum_width)
        sigma = width / 2.355  # the width is the full width at half maximum
        cross = np.exp(-0.5 * ((pos - centre) / sigma) ** 2)
        cross[np.abs(pos - centre) > 3 * sigma + 0.5] = 0.0
        gap = rng.uniform(0.0, 0.5)
        along = np.interp(np.arange(length), knots_at, rng.random(8)).astype(np.float32)
        along = np.clip((along - gap) / (1.0 - gap), 0.0, 1.0) ** 0.5
        along *= rng.uniform(0.6, 1.0, length).astype(np.float32)  # toner grain
        mask = np.maximum(mask, rng.uniform(*p.drum_strength) * along[:, None] * cross[None, :])
    out = x2 * (1.0 - mask)
    return out if vertical else out.T


def bleed_through(x: np.ndarray, rng: np.random.Generator, back: np.ndarray, p: DegradeParams) -> np.ndarray:
    """Faint, blurred, mirrored text from the back of the sheet showing through."""
    alpha = rng.uniform(*p.bleed_alpha)
    ghost = 1.0 - gaussian_blur(back[:, ::-1].copy(), rng.uniform(0.6, 2.0))
    return x * (1.0 - alpha * ghost)


def stains(x: np.ndarray, rng: np.random.Generator, p: DegradeParams) -> np.ndarray:
    """1-3 soft elliptical blotches (optionally ring-shaped like coffee cups) darkening the page."""
    h, w = x.shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    mask = np.zeros_like(x)
    for _ in range(int(rng.integers(1, 4))):
        cy, cx = rng.uniform(0, h), rng.uniform(0, w)
        ry, rx = rng.uniform(0.05, 0.4) * h, rng.uniform(0.05, 0.4) * w
        d = np.sqrt(((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2)
        blob = np.clip(1.0 - d, 0.0, 1.0) ** rng.uniform(0.3, 1.0)
        if rng.random() < 0.4:
            blob = blob + 1.5 * np.exp(-(((d - 1.0) / 0.06) ** 2))
        mask = np.maximum(mask, np.clip(blob, 0, 1) * rng.uniform(0.4, 1.0))
    mask *= 0.7 + 0.3 * smooth_field(rng, x.shape, 6)
    return x * (1.0 - rng.uniform(*p.stain_strength) * mask)


def illumination(x: np.ndarray, rng: np.random.Generator, p: DegradeParams) -> np.ndarray:
    """Uneven lighting: a smooth random gain field plus a linear gradient."""
    drop = rng.uniform(*p.illumination_drop)
    h, w = x.shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    ramp = np.cos(angle) * xx / w + np.sin(angle) * yy / h
    ramp = (ramp - ramp.min()) / (ramp.max() - ramp.min() + 1e-6)
    mix = rng.uniform(0, 1)
    field = mix * smooth_field(rng, x.shape, int(rng.integers(2, 5))) + (1 - mix) * ramp
    return x * (1.0 - drop * field)


def shadow(x: np.ndarray, rng: np.random.Generator, p: DegradeParams) -> np.ndarray:
    """A soft-edged dark band from one side (book gutter, hand or phone shadow)."""
    h, w = x.shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    dist = np.cos(angle) * (xx - w / 2) + np.sin(angle) * (yy - h / 2)
    edge = rng.uniform(-0.4, 0.4) * max(h, w)
    softness = rng.uniform(0.02, 0.2) * max(h, w)
    mask = 1.0 / (1.0 + np.exp(-(dist - edge) / softness))
    return x * (1.0 - rng.uniform(*p.shadow_strength) * mask)


def low_contrast(x: np.ndarray, rng: np.random.Generator, p: DegradeParams) -> np.ndarray:
    """Compress the ink-to-paper range: faded ink, grey paper."""
    ink, paper = rng.uniform(*p.ink_level), rng.uniform(*p.paper_level)
    return ink + (paper - ink) * x


def gaussian_noise(x: np.ndarray, rng: np.random.Generator, p: DegradeParams) -> np.ndarray:
    return x + rng.normal(0.0, rng.uniform(*p.noise_sigma), x.shape).astype(np.float32)


def salt_pepper(x: np.ndarray, rng: np.random.Generator, p: DegradeParams) -> np.ndarray:
    amount = rng.uniform(*p.salt_pepper_amount)
    u = rng.random(x.shape)
    x = x.copy()
    x[u < amount / 2] = 0.0
    x[u > 1.0 - amount / 2] = 1.0
    return x


def jpeg(x: np.ndarray, rng: np.random.Generator, p: DegradeParams) -> np.ndarray:
    """Round-trip through JPEG at a random quality (block and ringing artifacts)."""
    quality = int(rng.integers(p.jpeg_quality[0], p.jpeg_quality[1] + 1))
    buf = io.BytesIO()
    Image.fromarray((np.clip(x, 0, 1) * 255 + 0.5).astype(np.uint8)).save(buf, "JPEG", quality=quality)
    buf.seek(0)
    with Image.open(buf) as im:
        return np.asarray(im.convert("L"), dtype=np.float32) / 255.0


Step = Callable[[np.ndarray, np.random.Generator, DegradeParams], np.ndarray]


def degrade(
    clean: np.ndarray, rng: np.random.Generator, params: DegradeParams, back_page: np.ndarray | None = None
) -> tuple[np.ndarray, list[str]]:
    """Apply a random subset of degradations; returns (degraded image, names of applied steps).

    ``back_page`` is the clean page printed on the other side (used for bleed-through). At least
    one degradation is always applied.
    """
    x = clean.astype(np.float32)
    applied: list[str] = []
    plan: list[tuple[str, float, Step]] = [
        ("drum_streaks", params.p_drum, drum_streaks),
        ("stain", params.p_stain, stains),
        ("illumination", params.p_illumination, illumination),
        ("shadow", params.p_shadow, shadow),
        ("low_contrast", params.p_contrast, low_contrast),
        ("blur", params.p_blur, lambda a, r, q: gaussian_blur(a, r.uniform(*q.blur_sigma))),
        ("noise", params.p_noise, gaussian_noise),
        ("salt_pepper", params.p_salt_pepper, salt_pepper),
        ("jpeg", params.p_jpeg, jpeg),
    ]
    if back_page is not None and rng.random() < params.p_bleed:
        x = bleed_through(x, rng, back_page, params)
        applied.append("bleed_through")
    for name, prob, step in plan:
        if rng.random() < prob:
            x = step(np.clip(x, 0.0, 1.0), rng, params)
            applied.append(name)
    if not applied:
        x = gaussian_noise(x, rng, params)
        applied.append("noise")
    return np.clip(x, 0.0, 1.0).astype(np.float32), applied
