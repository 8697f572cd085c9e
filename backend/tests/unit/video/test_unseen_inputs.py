"""Inputs found by a robustness sweep: extreme frame shapes, low frame rates, broken streams, error texts."""

from __future__ import annotations

import warnings
from fractions import Fraction
from pathlib import Path
from types import SimpleNamespace

import av
import numpy as np
import pytest
from app.video import VideoError, analyze_video, probe_video
from app.video.analyze import _timing
from app.video.sampling import FeatureExtractor
from PIL import Image

from .conftest import H, W, encode, scene


def _slides(w: int, h: int, count: int, per: int) -> list[np.ndarray]:
    """`count` static, clearly different smooth images (w x h RGB), each shown for `per` frames."""
    frames = []
    for s in range(count):
        rng = np.random.default_rng(100 + s)
        small = rng.uniform(0, 255, (3, 3, 3)).astype(np.uint8)
        img = np.asarray(Image.fromarray(small).resize((w, h), Image.BICUBIC)).astype(np.float32)
        frames += [img + (i % 2) for i in range(per)]  # not bit-identical frames
    return frames


def _cuts(path: Path) -> list[int]:
    res = analyze_video(path)
    assert [t.kind for t in res.transitions] == ["cut"] * len(res.transitions), res.transitions
    return [t.start_frame for t in res.transitions]


@pytest.mark.parametrize(("w", "h"), [(320, 8), (640, 24)])
def test_wide_short_frames_are_analysed(tmp_path: Path, w: int, h: int) -> None:
    """Banner-shaped frames used to round the analysis image to zero rows (ZeroDivisionError)."""
    path = encode(tmp_path / "banner.mp4", _slides(w, h, 3, 25))
    assert _cuts(path) == [25, 50]


def test_tiny_frames_give_finite_features() -> None:
    """A 2x2 frame gave a 1x1 half-resolution image, so the detail energy was 0/0 (NaN, RuntimeWarning)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        with FeatureExtractor(64, 25.0, 8) as ex:
            for i in range(20):
                ex.add(np.full((2, 2), 40 * (i // 10) + i % 3, np.uint8), 0, i * 40.0)
            f = ex.finish()
    assert np.isfinite(f.grad2).all()
    assert np.isfinite(f.dpix).all()


@pytest.mark.parametrize(("fps", "per"), [(1, 5), (2, 4), (25, 5)])
def test_short_regular_shots_are_all_cut(tmp_path: Path, fps: int, per: int) -> None:
    """A 1 fps slideshow (5 s slides) or a fast montage: the neighbouring cuts used to dominate the side
    statistics each cut is judged against, and no cut at all was found."""
    path = encode(tmp_path / "slides.mp4", _slides(160, 120, 5, per), fps=fps)
    assert _cuts(path) == [per, 2 * per, 3 * per, 4 * per]


def test_stream_without_keyframe_is_a_video_error(tmp_path: Path) -> None:
    """Raw H.264 cut after its only keyframe: flushing the decoder raised, and logging the (None) flush
    packet's pts turned that into an AttributeError."""
    full = tmp_path / "full.h264"
    with av.open(str(full), "w", format="h264") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
        stream.options = {"preset": "ultrafast", "g": "250"}
        for rgb in _slides(160, 120, 2, 20):
            for packet in stream.encode(av.VideoFrame.from_ndarray(rgb.astype(np.uint8), format="rgb24")):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    data = full.read_bytes()
    path = tmp_path / "tail.h264"
    path.write_bytes(data[len(data) // 3 :])
    with pytest.raises(VideoError, match="no video frame could be decoded"):
        analyze_video(path)
    with pytest.raises(VideoError):
        probe_video(path)


def test_open_error_names_the_file_but_not_the_server_path(tmp_path: Path) -> None:
    """The message is shown to the uploader as is: FFmpeg's own text repeats the full storage path."""
    path = tmp_path / "upload-1234" / "holiday.mp4"
    path.parent.mkdir()
    path.write_text("this is not a video\n" * 10)
    with pytest.raises(VideoError) as err:
        analyze_video(path)
    assert "holiday.mp4" in str(err.value)
    assert str(path.parent) not in str(err.value)


def test_animated_gif_is_not_called_a_still_image(tmp_path: Path) -> None:
    path = tmp_path / "anim.gif"
    frames = [Image.fromarray(f.astype(np.uint8)) for f in _slides(32, 24, 2, 3)]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100)
    with pytest.raises(VideoError) as err:
        analyze_video(path)
    assert "image" in str(err.value)
    assert "still" not in str(err.value)


@pytest.mark.parametrize(("codec", "suffix"), [("libx264", "mkv"), ("libvpx-vp9", "webm")])
def test_a_declared_frame_rate_the_timestamps_deny_is_not_used(tmp_path: Path, codec: str, suffix: str) -> None:
    """A Matroska or WebM file that declares 1,000 frames a second (a frame a millisecond) for frames 40 ms
    apart: the detectors size their windows in frames by the rate, and at 1,000 a 24-frame fade through
    black was missed (or called a cut). The rate is 25, and the fade and the cut after it are found."""
    a, b, c = scene(1, 80), scene(2, 80), scene(3, 80)
    fade = [a[40 + j] * (1 - (j + 1) / 13) for j in range(12)] + [b[j] * ((j + 1) / 13) for j in range(12)]
    path = tmp_path / f"declared.{suffix}"
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=1000)
        stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
        stream.codec_context.time_base = Fraction(1, 1000)
        for i, rgb in enumerate(a[:40] + fade + b[12:50] + c[:40]):
            frame = av.VideoFrame.from_ndarray(np.clip(rgb, 0, 255).astype(np.uint8), format="rgb24")
            frame.pts, frame.time_base = 40 * i, Fraction(1, 1000)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    result = analyze_video(path)
    assert result.fps == pytest.approx(25.0)
    assert [t.kind for t in result.transitions] == ["fade", "cut"], result.transitions
    assert result.transitions[1].start_frame == 102


@pytest.mark.parametrize(
    ("declared", "step_ms", "fps"),
    [(1000.0, 40.0, 25.0), (6.0, 40.0, 25.0), (29.97, 1001 / 30, 29.97), (0.0, 40.0, 25.0), (24.0, 40.0, 24.0)],
)
def test_the_frame_rate_follows_the_timestamps_where_the_declared_one_is_far_off(
    declared: float, step_ms: float, fps: float
) -> None:
    """Within 1.5x either way of the frames' median spacing the declared rate stands (24 for 25 does);
    further off, or none, the spacing gives it."""
    times = SimpleNamespace(t_ms=np.arange(100) * step_ms)
    assert _timing(times, declared)[0] == pytest.approx(fps, rel=1e-3)  # type: ignore[arg-type]


def test_av1_is_analysed_and_named_by_its_codec(tmp_path: Path) -> None:
    """AV1 (phones, screen recorders, downloads) decodes through dav1d; the codec reported is "av1", not
    the decoder's name ("libdav1d")."""
    if "libsvtav1" not in av.codecs_available:
        pytest.skip("no AV1 encoder in this FFmpeg build")
    a, b = scene(1, 40), scene(2, 40)
    path = tmp_path / "av1.mp4"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libsvtav1", rate=25)
        stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
        for rgb in a + b:
            for packet in stream.encode(
                av.VideoFrame.from_ndarray(np.clip(rgb, 0, 255).astype(np.uint8), format="rgb24")
            ):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    assert probe_video(path)["codec"] == "av1"
    assert [(t.kind, t.start_frame) for t in analyze_video(path).transitions] == [("cut", 40)]
