"""Build the synthetic benchmark set: timelines of shots, transitions and hard negatives, encoded with PyAV.

Ground truth is written next to each video as JSON: ``cuts`` (first frame of the new shot) and
``gradual`` (``[kind, start, end]`` inclusive spans), plus the hard negatives for reference.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import hard
import numpy as np
from synth import GENERATORS, Spec

MS = Fraction(1, 1000)


def _scene(rng: np.random.Generator, spec: Spec, fast: bool = False):
    gen = GENERATORS[int(rng.integers(len(GENERATORS)))]
    speed = rng.uniform(0.2, 3.0) * spec.width / 320 * (rng.uniform(6, 12) if fast else 1.0)
    return gen(rng, spec.height, spec.width, speed)


def _shot_frames(rng: np.random.Generator, spec: Spec, scene, n: int, start: int, gt: dict) -> list[np.ndarray]:
    """Render one shot, possibly with a hard negative inside (flash, lighting change, freeze)."""
    frames = [scene(k) for k in range(n)]
    roll = rng.random()
    if roll < 0.2 and n > 20:
        k0, m = int(rng.integers(8, n - 10)), int(rng.integers(1, 4))
        for k in range(k0, k0 + m):
            frames[k] = frames[k] * 0.35 + 255 * 0.65
        gt["negatives"].append(["flash", start + k0, start + k0 + m - 1])
    elif roll < 0.35:
        lo, hi = (1.0, rng.uniform(0.35, 0.6)) if rng.random() < 0.5 else (rng.uniform(0.5, 0.7), 1.15)
        for k in range(n):
            frames[k] = frames[k] * (lo + (hi - lo) * k / max(1, n - 1))
        gt["negatives"].append(["lighting", start, start + n - 1])
    elif roll < 0.45 and n > 20:
        k0 = int(rng.integers(2, n // 2))
        hold = min(n - k0, int(spec.fps * rng.uniform(0.5, 1.2)))
        frames = frames[:k0] + [frames[k0]] * hold + frames[k0 : n - hold]  # freeze, then resume
        gt["negatives"].append(["static", start + k0, start + k0 + hold - 1])
    return frames


def _special_shot(rng: np.random.Generator, spec: Spec, n: int, start: int, gt: dict, allow_black: bool):
    """Near-black shot (noise only, entered and left by cuts) or a fast-motion shot; a scene or None."""
    roll = rng.random()
    if roll < 0.08 and allow_black:
        gt["negatives"].append(["black", start, start + n - 1])
        noise = rng.normal(0, 2, (8, spec.height, spec.width, 1)).astype(np.float32)
        return lambda k: np.broadcast_to(10 + noise[k % 8], (spec.height, spec.width, 3))
    if roll < 0.22:
        gt["negatives"].append(["fast_motion", start, start + n - 1])
        return _scene(rng, spec, fast=True)
    return None


def timeline(spec: Spec) -> tuple[Iterator[np.ndarray], dict[str, Any]]:
    """Frames (float RGB) of the whole video and its ground truth (filled while iterating)."""
    rng = np.random.default_rng(spec.seed)
    fps, total = spec.fps, int(spec.seconds * spec.fps)
    gt: dict[str, Any] = {"cuts": [], "gradual": [], "negatives": [], "frames": 0}

    def frames() -> Iterator[np.ndarray]:
        i = 0
        scene = _scene(rng, spec)
        offset = 0  # frames of `scene` already shown (during a gradual transition)
        nxt_n = int(rng.integers(int(1.2 * fps), int(4.5 * fps)))
        while i < total:
            n = nxt_n
            shown = _shot_frames(rng, spec, lambda k, sc=scene, off=offset: sc(k + off), n, i, gt)
            yield from shown
            i += n
            if i >= total:
                break
            kind = rng.choice(["cut", "cut", "dissolve", "fade"], p=[0.3, 0.25, 0.25, 0.2])
            after_black = any(kind_ == "black" and end == i - 1 for kind_, _, end in gt["negatives"])
            if after_black:
                kind = "cut"  # leave a black shot by a cut (a gradual one would be a fade)
            nxt_n = int(rng.integers(int(1.2 * fps), int(4.5 * fps)))
            nxt = _special_shot(rng, spec, nxt_n, i, gt, kind == "cut" and not after_black) or _scene(rng, spec)
            if kind == "cut":
                gt["cuts"].append(i)
                scene, offset = nxt, 0
                continue
            if kind == "dissolve":
                length = int(rng.integers(max(3, int(0.2 * fps)), int(1.5 * fps)))
                for j in range(length):
                    a = (j + 1) / (length + 1)
                    yield scene(n + offset + j) * (1 - a) + nxt(j) * a
            else:
                lo, li = (int(rng.integers(max(3, int(0.2 * fps)), int(1.0 * fps))) for _ in range(2))
                hold = int(rng.integers(0, int(0.4 * fps)))
                col = 0.0 if rng.random() < 0.75 else 255.0
                for j in range(lo):
                    a = (j + 1) / lo
                    yield scene(n + offset + j) * (1 - a) + col * a
                for _ in range(hold):
                    yield np.full((spec.height, spec.width, 3), col, np.float32)
                for j in range(li):
                    a = j / li
                    yield nxt(j) * a + col * (1 - a)
                length = lo + hold + li
            gt["gradual"].append([str(kind), i, i + length - 1])
            i += length
            scene, offset = nxt, length if kind == "dissolve" else li

    return frames(), gt


def _vfr_durations(rng: np.random.Generator) -> Iterator[int]:
    while True:
        d = int(rng.choice([25, 33, 40, 50]))
        for _ in range(int(rng.integers(5, 40))):
            yield d


def add_video_stream(out: Any, codec: str, fps: int, width: int, height: int) -> Any:
    """A yuv420p video stream on `out` with the codec's settings for the benchmark's videos."""
    stream = out.add_stream(codec, rate=fps)
    stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
    if codec == "libx264":
        stream.options = {"preset": "veryfast", "crf": "23"}
    elif codec == "libvpx-vp9":
        stream.options = {"deadline": "realtime", "cpu-used": "8", "crf": "34", "b": "0"}
    else:
        stream.bit_rate = 1_500_000
    return stream


def encode(spec: Spec, out_dir: Path) -> Path:
    """Render and encode `spec` (cached: skipped when the video and its ground truth exist)."""
    path = out_dir / f"{spec.name}.{spec.container}"
    gt_path = out_dir / f"{spec.name}.json"
    if path.exists() and gt_path.exists():
        return path
    out_dir.mkdir(parents=True, exist_ok=True)
    frames, gt = hard.timeline(spec) if spec.hard else timeline(spec)
    durations = _vfr_durations(np.random.default_rng(spec.seed + 100))
    with av.open(str(path), "w") as out:
        stream = add_video_stream(out, spec.codec, spec.fps, spec.width, spec.height)
        if spec.vfr:
            stream.time_base = MS
            stream.codec_context.time_base = MS
        pts, count = 0, 0
        for rgb in frames:
            frame = av.VideoFrame.from_ndarray(np.clip(rgb, 0, 255).astype(np.uint8), format="rgb24")
            if spec.vfr:
                frame.pts, frame.time_base = pts, MS
                pts += next(durations)
            for packet in stream.encode(frame):
                out.mux(packet)
            count += 1
        for packet in stream.encode(None):
            out.mux(packet)
    if gt["frames"] and gt["frames"] != count:
        raise RuntimeError(f"{spec.name}: planned {gt['frames']} frames, rendered {count}")
    gt["frames"] = count
    gt_path.write_text(json.dumps(gt))
    return path
