"""Exported clips keep the source's audio: stream-copied next to copied video, re-encoded to AAC otherwise."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
from app.video import export_clip

from .conftest import FPS, H, W, scene

RATE = 44100


def _with_audio(path: Path, codec: str, seconds: float = 4.0) -> Path:
    """A panning-texture video with a 440 Hz tone track (`codec`), muxed in presentation order."""
    frames = scene(11, int(seconds * FPS))
    t = np.arange(int(seconds * RATE), dtype=np.float32) / RATE
    tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=FPS)
        video.width, video.height, video.pix_fmt = W, H, "yuv420p"
        video.options = {"preset": "ultrafast", "crf": "18"}
        audio = out.add_stream(codec, rate=RATE)
        audio.layout = "mono"
        step = 1024
        for i, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(np.clip(rgb, 0, 255).astype(np.uint8), format="rgb24")
            for packet in video.encode(frame):
                out.mux(packet)
            for k in range(i * RATE // FPS // step, (i + 1) * RATE // FPS // step):
                chunk = av.AudioFrame.from_ndarray(tone[None, k * step : (k + 1) * step], format="fltp", layout="mono")
                chunk.sample_rate, chunk.pts = RATE, k * step
                for packet in audio.encode(chunk):
                    out.mux(packet)
        for stream in (video, audio):
            for packet in stream.encode(None):
                out.mux(packet)
    return path


def _audio_of(path: Path) -> tuple[str, float, float]:
    """(codec, decoded seconds, RMS level) of the first audio track of `path`."""
    with av.open(str(path)) as container:
        assert container.streams.audio, "the clip has no audio track"
        stream = container.streams.audio[0]
        samples = np.concatenate([f.to_ndarray().reshape(-1) for f in container.decode(stream)])
        rate = stream.codec_context.sample_rate
        return stream.codec_context.name, samples.size / rate, float(np.sqrt(np.mean(samples**2)))


@pytest.mark.parametrize(
    ("codec", "start", "end", "mode"),
    [
        ("aac", 0, 1000, "copy"),  # keyframe start: video and audio packets copied
        ("aac", 1240, 2520, "reencode"),  # mid-GOP start: both re-encoded
        ("mp2", 0, 1000, "copy"),  # video copied; MP2 audio re-encoded to AAC for MP4
    ],
)
def test_exported_clip_carries_the_audio(tmp_path: Path, codec: str, start: int, end: int, mode: str) -> None:
    source = _with_audio(tmp_path / f"src_{codec}.mkv", codec)
    out = tmp_path / "clip.mp4"
    info = export_clip(source, start, end, out)
    assert info["mode"] == mode
    name, seconds, level = _audio_of(out)
    assert name == "aac"
    assert seconds == pytest.approx((end - start) / 1000, abs=0.1)
    assert level > 0.1  # the tone, not silence (a 0.3 sine has RMS 0.21)
    with av.open(str(out)) as container:
        assert sum(1 for _ in container.decode(container.streams.video[0])) == pytest.approx((end - start) / 40, abs=1)


def test_clip_of_a_silent_video_has_no_audio_track(videos: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "clip.mp4"
    export_clip(videos["long"], 0, 1000, out)
    with av.open(str(out)) as container:
        assert not container.streams.audio
