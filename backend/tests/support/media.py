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
            base = rng.integers(0, 255, (height // 8, width // 8, 3), dtype=np.uint8)
            scene = np.kron(base, np.ones((8, 8, 1), dtype=np.uint8))
            for i in range(per_shot):
                frame = np.roll(scene, shift=i * 2, axis=1)
                for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                    container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return cuts


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
