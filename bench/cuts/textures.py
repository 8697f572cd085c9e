"""Hard-negative content for the cut benchmark: evolving textures and in-shot events, seeded and exact.

Evolving textures (smoke, clouds, water) change everywhere, all the time: each is a field that moves on
continuously, which over a fraction of a second looks locally like a blend of two different images, the
footprint of a cross-dissolve. Events (`Event`) change a shot without ending it: brightness ramps,
flicker, flashes with an afterglow, whip pans, occluders sweeping across the lens. Every function here
is deterministic in its seed and in the frame index, so a scene can be rendered past the end of its shot
(the outgoing side of a dissolve) and a reframed copy of the same place renders the same content.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image

Scene = Callable[[int], np.ndarray]  # frame index within the shot -> float32 RGB (h, w, 3)


def _noise_key(seed: int, octave: int, j: int, h: int, w: int, cells: int) -> np.ndarray:
    """Keyframe `j` of one octave: smooth value noise in [0, 1] (h, w), deterministic in (seed, octave, j)."""
    rng = np.random.default_rng([seed, octave, j + (1 << 20)])  # j may be negative
    small = rng.random((max(2, cells * h // w), cells)).astype(np.float32)
    img = Image.fromarray((small * 255).astype(np.uint8)).resize((w, h), Image.BICUBIC)
    return np.asarray(img, np.float32) / 255.0


class _EvolvingField:
    """Multi-octave value noise evolving in time (Catmull-Rom between keyframes), drifting as it evolves."""

    def __init__(self, rng: np.random.Generator, h: int, w: int, fps: float, rate: float, drift: float) -> None:
        self.seed = int(rng.integers(1 << 30))
        self.h, self.w, self.fps = h, w, fps
        self.margin = int(drift * 60 * w / 320) + 4
        self.octaves = [
            (int(rng.integers(3, 8)), 0.55, rate * rng.uniform(0.6, 1.0)),
            (int(rng.integers(10, 20)), 0.3, rate * rng.uniform(1.0, 1.8)),
            (int(rng.integers(25, 45)), 0.15, rate * rng.uniform(1.5, 3.0)),
        ]
        ang = rng.uniform(0, 2 * np.pi)
        self.vx, self.vy = drift * np.cos(ang) * w / 320, drift * np.sin(ang) * w / 320
        self._cache: dict[tuple[int, int], np.ndarray] = {}

    def _key(self, octave: int, j: int) -> np.ndarray:
        key = (octave, j)
        if key not in self._cache:
            if len(self._cache) > 64:
                self._cache.pop(next(iter(self._cache)))
            size = self.h + 2 * self.margin, self.w + 2 * self.margin
            self._cache[key] = _noise_key(self.seed, octave, j, *size, self.octaves[octave][0])
        return self._cache[key]

    def __call__(self, i: int) -> np.ndarray:
        out = np.zeros((self.h + 2 * self.margin, self.w + 2 * self.margin), np.float32)
        for o, (_, amp, rate) in enumerate(self.octaves):
            t = i * rate / self.fps
            j, u = int(np.floor(t)), float(t - np.floor(t))
            p0, p1, p2, p3 = (self._key(o, j + d) for d in (-1, 0, 1, 2))
            w0 = -0.5 * u**3 + u**2 - 0.5 * u
            w1 = 1.5 * u**3 - 2.5 * u**2 + 1
            w2 = -1.5 * u**3 + 2 * u**2 + 0.5 * u
            w3 = 0.5 * u**3 - 0.5 * u**2
            out += amp * (w0 * p0 + w1 * p1 + w2 * p2 + w3 * p3)
        m = self.margin
        x = int(np.clip(m + self.vx * i, 0, 2 * m)) if m else 0
        y = int(np.clip(m + self.vy * i, 0, 2 * m)) if m else 0
        return out[y : y + self.h, x : x + self.w]


def smoke(rng: np.random.Generator, h: int, w: int, fps: float) -> Scene:
    """Billowing grey-blue smoke: fast-evolving noise, contrast stretched, drifting."""
    field = _EvolvingField(rng, h, w, fps, rate=rng.uniform(0.8, 2.5), drift=rng.uniform(0.2, 1.5))
    dark, light = rng.uniform(10, 70, 3).astype(np.float32), rng.uniform(150, 240, 3).astype(np.float32)
    gain = rng.uniform(1.5, 2.5)

    def render(i: int) -> np.ndarray:
        v = np.clip(0.5 + gain * (field(i) - 0.5), 0, 1)[..., None]
        return dark * (1 - v) + light * v

    return render


def clouds(rng: np.random.Generator, h: int, w: int, fps: float) -> Scene:
    """Clouds over a sky gradient: a soft threshold of slowly evolving noise, drifting sideways."""
    field = _EvolvingField(rng, h, w, fps, rate=rng.uniform(0.4, 1.2), drift=rng.uniform(0.3, 2.0))
    sky_top = np.array([rng.uniform(30, 90), rng.uniform(80, 150), rng.uniform(160, 240)], np.float32)
    sky_bottom = np.minimum(sky_top + rng.uniform(30, 80), 255).astype(np.float32)
    grad = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
    sky = sky_top * (1 - grad) + sky_bottom * grad
    cloud = np.float32(rng.uniform(200, 250))
    cover = rng.uniform(0.4, 0.6)

    def render(i: int) -> np.ndarray:
        d = np.clip((field(i) - cover) * 6.0 + 0.5, 0, 1)[..., None]
        return sky * (1 - d) + cloud * d

    return render


def water(rng: np.random.Generator, h: int, w: int, fps: float) -> Scene:
    """Rippling water: travelling waves in many directions plus evolving noise, seen through a caustic curve."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32) * (320.0 / w)
    waves = []
    for _ in range(int(rng.integers(4, 8))):
        ang, k = rng.uniform(0, 2 * np.pi), rng.uniform(0.03, 0.12)
        waves.append((k * np.cos(ang), k * np.sin(ang), rng.uniform(1.0, 4.0) * 2 * np.pi / fps, rng.uniform(0, 6.3)))
    field = _EvolvingField(rng, h, w, fps, rate=rng.uniform(0.5, 1.5), drift=rng.uniform(0.0, 1.0))
    deep, shallow = rng.uniform(0, 90, 3).astype(np.float32), rng.uniform(120, 240, 3).astype(np.float32)

    def render(i: int) -> np.ndarray:
        s = sum(np.sin(kx * xx + ky * yy - om * i + ph) for kx, ky, om, ph in waves) / len(waves)
        v = np.clip(0.55 * (1 - np.abs(s)) ** 3 + 0.6 * field(i) - 0.1, 0, 1)[..., None]
        return deep * (1 - v) + shallow * v

    return render


def fire(rng: np.random.Generator, h: int, w: int, fps: float) -> Scene:
    """Flames: fast-evolving noise rising through a flame-shaped mask, mapped black-red-orange-yellow
    (a texture none of the tuning sets has: it is only drawn by the ``fresh2`` variant)."""
    field = _EvolvingField(rng, h, w, fps, rate=rng.uniform(1.5, 3.5), drift=rng.uniform(0.8, 2.0))
    field.vx, field.vy = 0.0, -abs(field.vy) - 0.5 * w / 320  # flames rise
    height = np.linspace(0, 1, h, dtype=np.float32)[:, None] ** rng.uniform(0.6, 1.2)  # 0 top, 1 bottom
    lo, hi = np.array([25, 5, 0], np.float32), np.array([255, 235, 140], np.float32)
    mid = np.array([230, rng.uniform(60, 120), 10], np.float32)

    def render(i: int) -> np.ndarray:
        v = np.clip(field(i) * (0.4 + 0.9 * height) - 0.15, 0, 1)[..., None] * 1.6
        v = np.clip(v, 0, 1)
        return np.where(v < 0.5, lo * (1 - 2 * v) + mid * 2 * v, mid * (2 - 2 * v) + hi * (2 * v - 1))

    return render


EVOLVING = {"smoke": smoke, "clouds": clouds, "water": water}
EVOLVING_FRESH2 = {**EVOLVING, "fire": fire}  # the ``fresh2`` variant also draws flames


@dataclass
class Event:
    """An in-shot hard negative over scene frames [k0, k0 + m) (m = 0: the whole shot from k0 on)."""

    kind: str
    k0: int
    m: int
    params: tuple[float, ...]

    def apply(self, k: int, img: np.ndarray, h: int, w: int) -> np.ndarray:
        return _APPLY[self.kind](self, k, img, h, w)


def _ramp(ev: Event, k: int, img: np.ndarray, h: int, w: int) -> np.ndarray:
    """Brightness (and slight colour) gain moving smoothly from 1 to `gain` over the span, then held."""
    gain, tint = ev.params
    u = float(np.clip((k - ev.k0) / max(1, ev.m), 0, 1))
    u = u * u * (3 - 2 * u)
    g = 1 + (gain - 1) * u
    return img * np.array([g * (1 + tint * u), g, g * (1 - tint * u)], np.float32)


def _flicker(ev: Event, k: int, img: np.ndarray, h: int, w: int) -> np.ndarray:
    """Periodic brightness modulation (sine or square, `freq` cycles a frame) inside the span."""
    freq, amp, square, phase = ev.params
    if not ev.k0 <= k < ev.k0 + ev.m:
        return img
    s = np.sin(2 * np.pi * freq * (k - ev.k0) + phase)
    s = np.sign(s) if square else s
    return img * np.float32(1 + amp * s)


def _flash(ev: Event, k: int, img: np.ndarray, h: int, w: int) -> np.ndarray:
    """A bright flash on frame k0 decaying over the next m - 1 frames (a photo flash with afterglow)."""
    (peak,) = ev.params
    if not ev.k0 <= k < ev.k0 + ev.m:
        return img
    a = peak * (0.45 ** (k - ev.k0))
    return img * (1 - a) + 255 * a


def _occluder(ev: Event, k: int, img: np.ndarray, h: int, w: int) -> np.ndarray:
    """A dark soft-edged ellipse, `size` frame widths across, sweeping across the lens over the span."""
    size, shade, direction, y_off = ev.params
    if not ev.k0 <= k < ev.k0 + ev.m:
        return img
    u = (k - ev.k0 + 0.5) / ev.m
    rx, ry = size * w / 2, max(size * w / 2, 0.7 * h)
    cx = (-rx + u * (w + 2 * rx)) if direction > 0 else (w + rx - u * (w + 2 * rx))
    cy = h / 2 + y_off * h
    yy, xx = np.ogrid[0:h, 0:w]
    r = np.sqrt(((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2)
    alpha = np.clip((1.0 - r) / 0.25, 0, 1)[..., None].astype(np.float32)
    return img * (1 - alpha) + np.float32(shade) * alpha


def _zoom(ev: Event, k: int, img: np.ndarray, h: int, w: int) -> np.ndarray:
    """A crash zoom: the view narrows smoothly to 1/`zoom` of the frame around (cx, cy) over the span,
    then stays there (a push-in is no new shot)."""
    zoom, cx, cy = ev.params
    u = float(np.clip((k - ev.k0 + 1) / max(1, ev.m), 0, 1))
    z = 1.0 + (zoom - 1.0) * u * u * (3 - 2 * u)
    if z <= 1.001:
        return img
    ch, cw = max(2, int(h / z)), max(2, int(w / z))
    y0, x0 = int(np.clip(cy * h - ch / 2, 0, h - ch)), int(np.clip(cx * w - cw / 2, 0, w - cw))
    crop = np.clip(img[y0 : y0 + ch, x0 : x0 + cw], 0, 255).astype(np.uint8)
    return np.asarray(Image.fromarray(crop).resize((w, h), Image.BILINEAR), np.float32)


_APPLY = {"ramp": _ramp, "flicker": _flicker, "flash": _flash, "occluder": _occluder, "zoom": _zoom}


def shaken(scene: Scene, rng: np.random.Generator, h: int, w: int) -> Scene:
    """`scene` seen through a hand-held camera: a smooth random offset of up to ~1-4 px (at 320 px wide)
    that changes every frame (edges repeated where the view leaves the picture)."""
    amp = rng.uniform(1.0, 4.0) * w / 320
    seed = int(rng.integers(1 << 30))

    def offset(i: int) -> tuple[int, int]:
        t, out = i / 6.0, []
        for axis in (0, 1):
            j, u = int(np.floor(t)), float(t - np.floor(t))
            a, b = (np.random.default_rng([seed, axis, j + d + (1 << 20)]).uniform(-1, 1) for d in (0, 1))
            out.append(round(amp * (a + (b - a) * u * u * (3 - 2 * u))))
        return out[0], out[1]

    pad = int(np.ceil(amp)) + 1

    def render(i: int) -> np.ndarray:
        dy, dx = offset(i)
        img = np.pad(scene(i), ((pad, pad), (pad, pad), (0, 0)), mode="edge")
        return img[pad + dy : pad + dy + h, pad + dx : pad + dx + w]

    return render


def whip_pan(rng: np.random.Generator, h: int, w: int, fps: float, k0: int, m: int) -> Scene:
    """A slow pan over a wide textured panorama with a whip pan (fast, motion-blurred swing) at [k0, k0+m)."""
    wide = 6 * w
    small = rng.random((max(2, 12 * h // w), 60)).astype(np.float32)
    fine = rng.random((max(2, 40 * h // w), 200)).astype(np.float32)
    tex = 0.65 * np.asarray(
        Image.fromarray((small * 255).astype(np.uint8)).resize((wide, h), Image.BICUBIC), np.float32
    )
    tex += 0.35 * np.asarray(
        Image.fromarray((fine * 255).astype(np.uint8)).resize((wide, h), Image.BICUBIC), np.float32
    )
    c0, c1 = rng.uniform(0, 255, 3).astype(np.float32), rng.uniform(0, 255, 3).astype(np.float32)
    pano = c0 * (1 - tex[..., None] / 255) + c1 * (tex[..., None] / 255)
    slow, swing = rng.uniform(0.3, 1.5) * w / 320, rng.uniform(1.5, 3.0) * w
    span = wide - w - 1

    def pos(i: float) -> float:
        u = float(np.clip((i - k0) / max(1, m), 0, 1))
        return slow * i + swing * u * u * (3 - 2 * u)

    def render(i: int) -> np.ndarray:
        x0, x1 = pos(i - 1), pos(i)
        taps = max(1, min(24, int(abs(x1 - x0) / 4)))
        acc = np.zeros((h, w, 3), np.float32)
        for t in range(taps):
            x = round(x0 + (x1 - x0) * (t + 1) / taps) % span
            acc += pano[:, x : x + w]
        return acc / taps

    return render


def framed(render_big: Scene, h: int, w: int, zoom: float, cx: float, cy: float) -> Scene:
    """A view of a scene rendered at (2h, 2w): a crop `1/zoom` of its size centred at (cx, cy), resized to (h, w)."""
    ch, cw = int(2 * h / zoom), int(2 * w / zoom)
    y0 = int(np.clip(cy * 2 * h - ch / 2, 0, 2 * h - ch))
    x0 = int(np.clip(cx * 2 * w - cw / 2, 0, 2 * w - cw))

    def render(i: int) -> np.ndarray:
        crop = np.clip(render_big(i)[y0 : y0 + ch, x0 : x0 + cw], 0, 255).astype(np.uint8)
        return np.asarray(Image.fromarray(crop).resize((w, h), Image.BILINEAR), np.float32)

    return render


WIPE_SHAPES = ("left", "right", "down", "up", "diagonal", "iris", "clock", "barn")


def wipe_mask(shape: str, soft: float, p: float, h: int, w: int) -> np.ndarray:
    """How much of the next picture shows at each pixel (h, w, 1) a share `p` of the way through a wipe whose
    edge has the given shape, hard (`soft` 0) or feathered over that share of the way."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    x, y = (xx + 0.5) / w, (yy + 0.5) / h
    u = {  # the moment (0..1) the edge passes each pixel
        "left": x,
        "right": 1 - x,
        "down": y,
        "up": 1 - y,
        "diagonal": (x + y) / 2,
        "iris": np.hypot(x - 0.5, (y - 0.5) * h / w) / np.hypot(0.5, 0.5 * h / w),
        "clock": (np.arctan2(x - 0.5, 0.5 - y) / (2 * np.pi)) % 1.0,
        "barn": np.abs(x - 0.5) * 2,
    }[shape]
    edge = max(soft, 1e-3)
    return np.clip((p * (1 + edge) - u) / edge, 0, 1)[..., None]
