"""Timelines full of hard negatives (and hard positives) for the cut benchmark, with exact ground truth.

A timeline is planned first (shots, their content and in-shot events, the boundaries between them), so
every span is known before a frame is rendered. Hard negatives, recorded in ``negatives`` as
``[kind, start, end]`` frame spans: evolving textures (``evolving``: smoke, clouds, water), brightness
ramps (``ramp``), ``flicker``, flashes with afterglow (``flash``), whip pans (``whip_pan``), fast motion
(``fast_motion``), occluders sweeping across the lens (``occluder``) and fades at the very start or end of
the video (``edge_fade``: no shot boundary there). Hard positives, recorded in ``tags``: cuts between two
framings of the same place (``reframe``), very short shots (``short``), cuts next to a gradual transition
(``near_gradual``), a cut into a short final shot (``short_final``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from synth import GENERATORS, Spec
from textures import EVOLVING, EVOLVING_FRESH2, WIPE_SHAPES, Event, Scene, framed, shaken, whip_pan, wipe_mask


@dataclass
class _Shot:
    scene: Scene
    n: int  # frames shown outside transitions
    events: list[Event] = field(default_factory=list)
    negatives: list[tuple[str, int, int]] = field(default_factory=list)  # (kind, first, last) shot-local frames
    offset: int = 0  # scene frame shown first (frames before it went into the incoming transition)
    tag: str = ""

    def render(self, k: int, h: int, w: int) -> np.ndarray:
        img = self.scene(k)
        for ev in self.events:
            img = ev.apply(k, img, h, w)
        return img


@dataclass
class _Bound:
    kind: str  # cut | dissolve | fade | wipe
    length: int = 0  # dissolve or wipe length
    fade: tuple[int, int, int, float] = (0, 0, 0, 0.0)  # out, hold, in, colour
    tag: str = ""
    wipe: tuple[str, float] = ("", 0.0)  # the edge's shape and feather


def _content(rng: np.random.Generator, spec: Spec, n: int, big: bool = False) -> tuple[Scene, str]:
    """A scene (normal or evolving texture) and its negative kind ('' for normal content)."""
    h, w = (2 * spec.height, 2 * spec.width) if big else (spec.height, spec.width)
    if rng.random() < 0.5:
        textures = EVOLVING_FRESH2 if spec.variant == "fresh2" else EVOLVING
        name = str(rng.choice(sorted(textures)))
        return textures[name](rng, h, w, spec.fps), "evolving"
    gen = GENERATORS[int(rng.integers(len(GENERATORS)))]
    return gen(rng, h, w, rng.uniform(0.2, 2.5) * w / 320), ""


def _event(rng: np.random.Generator, spec: Spec, n: int) -> Event | None:
    """One in-shot event placed at least 4 frames from the shot's ends, or None."""
    fps, roll = spec.fps, rng.random()
    if n < 24:
        return None
    if roll < 0.17:
        m = min(n - 8, int(rng.uniform(0.6, 2.5) * fps))
        gain = rng.uniform(0.35, 0.6) if rng.random() < 0.5 else rng.uniform(1.3, 1.7)
        return Event("ramp", int(rng.integers(4, n - 4 - m + 1)), m, (gain, rng.uniform(-0.15, 0.15)))
    if roll < 0.34:
        m = min(n - 8, int(rng.uniform(0.8, 2.5) * fps))
        freq = rng.uniform(2.0, 12.0) / fps
        return Event(
            "flicker",
            int(rng.integers(4, n - 4 - m + 1)),
            m,
            (freq, rng.uniform(0.12, 0.35), float(rng.random() < 0.5), rng.uniform(0, 6.3)),
        )
    if roll < 0.49:
        return Event("flash", int(rng.integers(4, n - 10)), int(rng.integers(1, 5)), (rng.uniform(0.6, 0.9),))
    if roll < 0.64:
        m = min(n - 8, int(rng.uniform(0.3, 1.0) * fps))
        params = (rng.uniform(0.5, 1.4), rng.uniform(0, 40), float(rng.choice([-1, 1])), rng.uniform(-0.2, 0.2))
        return Event("occluder", int(rng.integers(4, n - 4 - m + 1)), m, params)
    if spec.variant == "fresh2" and roll < 0.8:  # a crash zoom (push-in), only in the fresh2 variant
        m = min(n - 8, int(rng.uniform(0.3, 0.8) * fps))
        params = (rng.uniform(1.4, 2.2), rng.uniform(0.35, 0.65), rng.uniform(0.35, 0.65))
        return Event("zoom", int(rng.integers(4, n - 4 - m + 1)), m, params)
    return None


def _shot(rng: np.random.Generator, spec: Spec, n: int) -> _Shot:
    """A shot of n frames: evolving texture, fast motion, a whip pan or normal content, maybe with an event."""
    fps, h, w = spec.fps, spec.height, spec.width
    roll = rng.random()
    if roll < 0.1 and n >= 24:
        m = int(rng.uniform(0.25, 0.6) * fps)
        k0 = int(rng.integers(4, max(5, n - 4 - m)))
        return _Shot(whip_pan(rng, h, w, fps, k0, m), n, negatives=[("whip_pan", k0, k0 + m - 1)])
    if roll < 0.2:
        gen = GENERATORS[int(rng.integers(len(GENERATORS)))]
        scene = gen(rng, h, w, rng.uniform(0.2, 3.0) * w / 320 * rng.uniform(6, 12))
        return _Shot(scene, n, negatives=[("fast_motion", 0, n - 1)])
    scene, kind = _content(rng, spec, n)
    shot = _Shot(scene, n, negatives=[(kind, 0, n - 1)] if kind else [])
    ev = _event(rng, spec, n) if n > 3 else None
    if ev is not None:
        shot.events.append(ev)
        shot.negatives.append((ev.kind, ev.k0, ev.k0 + ev.m - 1))
    return shot


def _reframed_pair(rng: np.random.Generator, spec: Spec, n1: int, n2: int) -> tuple[_Shot, _Shot]:
    """Two framings of one place (a wide view and a close-up elsewhere in it), cut from one to the other."""
    big, kind = _content(rng, spec, n1 + n2, big=True)
    h, w = spec.height, spec.width
    views = [framed(big, h, w, z, *rng.uniform(0.3, 0.7, 2)) for z in (rng.uniform(1.0, 1.3), rng.uniform(1.7, 2.6))]
    if rng.random() < 0.5:
        views.reverse()
    a = _Shot(views[0], n1, negatives=[(kind, 0, n1 - 1)] if kind else [], tag="reframe")
    second = views[1]
    b = _Shot(lambda k: second(k + n1), n2, negatives=[(kind, 0, n2 - 1)] if kind else [], tag="reframe")
    return a, b


def _bound(rng: np.random.Generator, fps: int) -> _Bound:
    kind = str(rng.choice(["cut", "dissolve", "fade"], p=[0.45, 0.33, 0.22]))
    if kind == "dissolve":
        return _Bound(kind, length=int(rng.integers(max(3, int(0.2 * fps)), int(1.5 * fps))))
    if kind == "fade":
        lo, li = (int(rng.integers(max(3, int(0.2 * fps)), int(1.0 * fps))) for _ in range(2))
        col = 0.0 if rng.random() < 0.75 else 255.0
        return _Bound(kind, fade=(lo, int(rng.integers(0, int(0.4 * fps))), li, col))
    return _Bound(kind)


def plan(spec: Spec) -> tuple[list[_Shot], list[_Bound], tuple[int, int, float]]:
    """Shots and the boundaries between them, and the edge fades (frames in, frames out, colour)."""
    rng = np.random.default_rng(spec.seed)
    fps, total = spec.fps, int(spec.seconds * spec.fps)
    shots: list[_Shot] = []
    bounds: list[_Bound] = []
    frames, forced_cut = 0, False
    while frames < total:
        if shots:
            b = _Bound("cut") if forced_cut else _bound(rng, fps)
            if not forced_cut and b.kind != "cut" and rng.random() < 0.35:
                b.tag = "near_gradual"  # the shot after it is short and left by a cut
            bounds.append(b)
            frames += b.length + sum(b.fade[:3])
        forced_cut = bool(bounds and bounds[-1].tag == "near_gradual")
        if forced_cut:
            n = int(rng.integers(4, 13))
        elif rng.random() < 0.1:
            n, forced_cut = int(rng.integers(3, 11)), True
        else:
            n = int(rng.integers(int(1.2 * fps), int(4.0 * fps)))
        if not forced_cut and rng.random() < 0.15:
            n2 = int(rng.integers(int(1.2 * fps), int(3.0 * fps)))
            a, b2 = _reframed_pair(rng, spec, n, n2)
            shots += [a]
            bounds.append(_Bound("cut", tag="reframe"))
            shots += [b2]
            frames += n + n2
            continue
        shot = _shot(rng, spec, n)
        shot.tag = "short" if n <= 12 else ""
        shots.append(shot)
        frames += n
    if rng.random() < 0.4 and shots[-1].n > 20:  # a cut into a short final shot
        bounds.append(_Bound("cut", tag="short_final"))
        shots.append(_shot(rng, spec, int(rng.integers(8, 17))))
    fade_in = int(rng.uniform(0.3, 1.2) * fps) if rng.random() < 0.6 else 0
    fade_out = int(rng.uniform(0.3, 1.2) * fps) if rng.random() < 0.6 else 0
    if spec.variant == "fresh2":  # every shot hand-held (its own rng: the plan above is drawn as before)
        shake = np.random.default_rng(spec.seed + 11)
        for shot in shots:
            shot.scene = shaken(shot.scene, shake, spec.height, spec.width)
    if spec.wipes:  # some dissolves become wipes (their own rng again)
        wiping = np.random.default_rng(spec.seed + 13)
        for b in bounds:
            if b.kind == "dissolve" and wiping.random() < 0.6:
                b.kind, b.wipe = "wipe", (str(wiping.choice(WIPE_SHAPES)), float(wiping.choice([0.0, 0.05, 0.15])))
    fade_in = fade_in if shots[0].n >= fade_in + 12 and not shots[0].events else 0
    fade_out = fade_out if shots[-1].n >= fade_out + 12 and not shots[-1].events else 0
    return shots, bounds, (fade_in, fade_out, 0.0 if rng.random() < 0.8 else 255.0)


def _ease(a: float) -> float:
    """S-shaped (smoothstep) mixing weight: how editors' eased dissolves and fades progress."""
    return a * a * (3.0 - 2.0 * a)


CURVES = {
    "linear": lambda a: a,
    "ease": _ease,
    "ease_in": lambda a: a * a,  # slow start, fast end
    "ease_out": lambda a: 1.0 - (1.0 - a) ** 2,  # fast start, slow end
}


def timeline(spec: Spec) -> tuple[Iterator[np.ndarray], dict[str, Any]]:
    """Frames (float RGB) of a hard-negative video and its ground truth (complete before iterating).

    The ``fresh`` variant mixes dissolves and fades along an eased (smoothstep) curve instead of a linear
    one and adds temporal sensor grain (sigma 1.5-4 levels, new every frame) to every frame. The
    ``fresh2`` variant draws each transition's curve from linear, smoothstep, ease-in (a^2) and ease-out,
    adds grain (sigma 1-3), shakes every shot (hand-held camera), and adds flames to the evolving
    textures and crash zooms to the in-shot events."""
    shots, bounds, (fade_in, fade_out, edge_col) = plan(spec)
    fresh, fresh2 = spec.variant == "fresh", spec.variant == "fresh2"
    grain_rng = np.random.default_rng(spec.seed + 7)
    grain = float(grain_rng.uniform(1.5, 4.0)) if fresh else float(grain_rng.uniform(1.0, 3.0)) if fresh2 else 0.0
    curve_rng = np.random.default_rng(spec.seed + 13)
    names = sorted(CURVES)
    mixes = [CURVES[str(curve_rng.choice(names))] if fresh2 else _ease if fresh else CURVES["linear"] for _ in bounds]
    h, w = spec.height, spec.width
    gt: dict[str, Any] = {"cuts": [], "gradual": [], "negatives": [], "tags": [], "frames": 0}
    starts, i = [], 0
    for s, shot in enumerate(shots):
        starts.append(i)
        for kind, a, b in shot.negatives:
            gt["negatives"].append([kind, i + a, i + b])
        i += shot.n
        if s < len(bounds):
            bd = bounds[s]
            length = bd.length + sum(bd.fade[:3])
            if bd.kind == "cut":
                gt["cuts"].append(i)
            else:
                gt["gradual"].append([bd.kind, i, i + length - 1])
            tag = bd.tag or ("short" if "short" in (shot.tag, shots[s + 1].tag) else "")
            if s > 0 and bounds[s - 1].tag == "near_gradual" and bd.kind == "cut":
                tag = "near_gradual"  # the cut a few frames after a gradual transition
            if tag:
                gt["tags"].append([tag, i, i + max(0, length - 1)])
            shots[s + 1].offset = bd.length if bd.kind in ("dissolve", "wipe") else bd.fade[2]
            i += length
    gt["frames"] = i
    if fade_in:
        gt["negatives"].append(["edge_fade", 0, fade_in - 1])
    if fade_out:
        gt["negatives"].append(["edge_fade", i - fade_out, i - 1])

    def edge(frame_no: int, img: np.ndarray) -> np.ndarray:
        if frame_no < fade_in:
            a = (frame_no + 1) / (fade_in + 1)
            return img * a + edge_col * (1 - a)
        if frame_no >= i - fade_out:
            a = (frame_no - (i - fade_out) + 1) / (fade_out + 1)
            return img * (1 - a) + edge_col * a
        return img

    def grained(frames: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
        for img in frames:
            yield img + grain_rng.normal(0.0, grain, (*img.shape[:2], 1)).astype(np.float32) if grain else img

    def frames() -> Iterator[np.ndarray]:
        t = 0
        for s, shot in enumerate(shots):
            for k in range(shot.offset, shot.offset + shot.n):
                yield edge(t, shot.render(k, h, w))
                t += 1
            if s == len(bounds):
                break
            bd, nxt, end = bounds[s], shots[s + 1], shot.offset + shot.n
            if bd.kind in ("dissolve", "wipe"):  # the next shot shows through everywhere, or behind an edge
                for j in range(bd.length):
                    p = (j + 1) / (bd.length + 1)
                    a = wipe_mask(*bd.wipe, p, h, w) if bd.kind == "wipe" else mixes[s](p)
                    yield shot.render(end + j, h, w) * (1 - a) + nxt.render(j, h, w) * a
            elif bd.kind == "fade":
                lo, hold, li, col = bd.fade
                mix = mixes[s]
                for j in range(lo):
                    a = mix((j + 1) / lo)
                    yield shot.render(end + j, h, w) * (1 - a) + col * a
                for _ in range(hold):
                    yield np.full((h, w, 3), col, np.float32)
                for j in range(li):
                    a = mix(j / li)
                    yield nxt.render(j, h, w) * a + col * (1 - a)
            t += bd.length + sum(bd.fade[:3])

    return grained(frames()), gt
