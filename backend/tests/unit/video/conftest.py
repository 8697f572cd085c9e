"""Tiny synthetic videos (160x120, 25 fps, ~3 s) written with PyAV for the video unit tests."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import av
import numpy as np
import pytest

W, H, FPS = 160, 120, 25


def scene(seed: int, n: int, speed: int = 2) -> list[np.ndarray]:
    """A blocky random colour texture panning `speed` px per frame (float RGB frames)."""
    rng = np.random.default_rng(seed)
    tex = np.kron(rng.uniform(0, 255, (H // 10, (W + speed * n) // 10 + 1, 3)), np.ones((10, 10, 1)))
    return [tex[:, i * speed : i * speed + W].astype(np.float32) for i in range(n)]


def encode(path: Path, frames: Iterable[np.ndarray], fps: int = FPS, rotation: int = 0) -> Path:
    """H.264 (libx264, crf 18) at the size of the frames."""
    frames = list(frames)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = "yuv420p"
        stream.options = {"preset": "ultrafast", "crf": "18"}
        if rotation:
            stream.set_display_rotation(rotation)
        for rgb in frames:
            frame = av.VideoFrame.from_ndarray(np.clip(rgb, 0, 255).astype(np.uint8), format="rgb24")
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


@pytest.fixture(scope="session")
def videos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("videos")
    out: dict[str, Path] = {}
    # cuts at frames 25 and 50
    out["cuts"] = encode(d / "cuts.mp4", scene(1, 25) + scene(2, 25) + scene(3, 25))
    # one shot with a 2-frame camera flash at frames 35-36
    flash = scene(4, 75)
    for k in (35, 36):
        flash[k] = flash[k] * 0.3 + 255 * 0.7
    out["flash"] = encode(d / "flash.mp4", flash)
    # fade to black: frames 30..49 (8 out, 4 black, 8 in)
    a, b = scene(5, 38), scene(6, 38)
    fade = a[:30] + [a[30 + j] * (1 - (j + 1) / 8) for j in range(8)] + [np.zeros_like(a[0])] * 4
    fade += [b[j] * (j / 8) for j in range(8)] + b[8:38]
    out["fade"] = encode(d / "fade.mp4", fade)
    # a long single shot for clip splitting
    out["long"] = encode(d / "long.mp4", scene(7, 100))
    # phone-style portrait video: landscape pixels plus a 90 degree display rotation
    out["rotated"] = encode(d / "rotated.mp4", scene(8, 20), rotation=90)
    return out


@pytest.fixture(scope="session")
def audio_only(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("audio") / "tone.m4a"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("aac", rate=44100)
        stream.layout = "mono"
        t = np.arange(44100, dtype=np.float32) / 44100
        samples = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
        for i in range(0, samples.size - 1024, 1024):
            frame = av.AudioFrame.from_ndarray(samples[None, i : i + 1024], format="fltp", layout="mono")
            frame.sample_rate = 44100
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path
