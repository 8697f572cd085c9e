"""Small media files made on the fly for tests: videos with known cuts (PyAV), document images."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np


def make_video(
    path: Path,
    shots: int = 3,
    seconds_per_shot: float = 1.0,
    fps: int = 25,
    size: tuple[int, int] = (160, 120),
    codec: str = "libx264",
) -> list[int]:
    """Write a video of `shots` visually distinct moving scenes; returns the first frame of each new shot."""
    rng = np.random.default_rng(7)
    width, height = size
    per_shot = int(seconds_per_shot * fps)
    cuts = []
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for shot in range(shots):
            if shot:
                cuts.append(shot * per_shot)
            scene = _scene(rng, width, height)
            for i in range(per_shot):
                frame = np.roll(scene, shift=i * 2, axis=1)
                for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                    container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return cuts


def _scene(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """A scene with its own palette and layout: a colour gradient with a few solid shapes on it."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    c0, c1 = rng.integers(20, 235, 3), rng.integers(20, 235, 3)
    t = (x / width * rng.uniform(0.3, 1.0) + y / height * rng.uniform(0.0, 0.7))[..., None] % 1.0
    img = c0 * (1 - t) + c1 * t
    for _ in range(4):
        cx, cy, r = rng.integers(0, width), rng.integers(0, height), rng.integers(8, max(9, height // 3))
        img[(x - cx) ** 2 + (y - cy) ** 2 < r * r] = rng.integers(0, 255, 3)
    return img.astype(np.uint8)


def make_audio_only(path: Path) -> None:
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("aac", rate=16000)
        samples = (np.sin(np.linspace(0, 440 * 2 * np.pi, 16000)) * 0.3).astype(np.float32).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
        frame.sample_rate = 16000
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def make_audio_with_cover(path: Path) -> None:
    """Music as an MP4 (an M4A) with its album cover: FFmpeg shows the cover as a one-picture video stream
    marked attached_pic, as it does an MP3's or a Matroska file's."""
    with av.open(str(path), "w", format="mp4") as container:
        audio = container.add_stream("aac", rate=16000)
        cover = container.add_stream("mjpeg", rate=1)
        cover.width, cover.height, cover.pix_fmt = 160, 120, "yuvj420p"
        cover.disposition = av.stream.Disposition.attached_pic
        picture = av.VideoFrame.from_ndarray(np.full((120, 160, 3), 200, np.uint8), format="rgb24")
        for packet in [*cover.encode(picture.reformat(format="yuvj420p")), *cover.encode(None)]:
            container.mux(packet)
        samples = (np.sin(np.linspace(0, 440 * 2 * np.pi, 16000)) * 0.3).astype(np.float32).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
        frame.sample_rate = 16000
        for packet in [*audio.encode(frame), *audio.encode(None)]:
            container.mux(packet)
