"""Bad inputs, probing, thumbnails and clip export."""

from __future__ import annotations

import io
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from app.video import VideoError, analyze_video, export_clip, probe_video, write_thumbnail
from app.video.models import AnalysisOptions
from PIL import Image

from tests.support.media import make_audio_with_cover


def test_probe_reports_basic_facts(videos: dict[str, Path]) -> None:
    info = probe_video(videos["cuts"])
    assert (info["width"], info["height"]) == (160, 120)
    assert info["codec"] == "h264"
    assert info["fps"] == pytest.approx(25.0)
    assert info["duration_ms"] == pytest.approx(3000, abs=100)


@pytest.mark.parametrize("kind", ["random", "truncated", "empty", "audio"])
def test_bad_input_raises_video_error(kind: str, tmp_path: Path, videos: dict[str, Path], audio_only: Path) -> None:
    path = tmp_path / "bad.mp4"
    if kind == "random":
        path.write_bytes(bytes(range(256)) * 64)
    elif kind == "truncated":
        data = videos["cuts"].read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif kind == "empty":
        path.write_bytes(b"")
    else:
        path = audio_only
    with pytest.raises(VideoError) as probe_err:
        probe_video(path)
    with pytest.raises(VideoError):
        analyze_video(path)
    assert str(probe_err.value)
    if kind == "audio":
        assert "audio" in str(probe_err.value)
    if kind == "empty":
        assert "empty" in str(probe_err.value)


def test_cover_art_is_no_video(tmp_path: Path, videos: dict[str, Path]) -> None:
    """A song with its album cover is audio-only, said so, not a one-frame video; a video that carries a
    cover as well is analysed on its video, whichever stream comes first."""
    song = tmp_path / "song.m4a"
    make_audio_with_cover(song)
    with pytest.raises(VideoError, match=r"audio-only \(its only picture is cover art\)"):
        probe_video(song)
    with pytest.raises(VideoError, match="audio-only"):
        analyze_video(song)
    covered = tmp_path / "covered.mp4"
    with av.open(str(videos["cuts"])) as src, av.open(str(covered), "w", format="mp4") as out:
        cover = out.add_stream("mjpeg", rate=1)
        cover.width, cover.height, cover.pix_fmt = 160, 120, "yuvj420p"
        cover.disposition = av.stream.Disposition.attached_pic
        video = out.add_stream_from_template(src.streams.video[0])
        picture = av.VideoFrame.from_ndarray(np.full((120, 160, 3), 90, np.uint8), format="rgb24")
        for packet in [*cover.encode(picture.reformat(format="yuvj420p")), *cover.encode(None)]:
            out.mux(packet)
        for packet in src.demux(src.streams.video[0]):
            if packet.dts is not None:
                packet.stream = video
                out.mux(packet)
    assert analyze_video(covered).frames == analyze_video(videos["cuts"]).frames
    assert probe_video(covered)["codec"] == "h264"


def test_thumbnail_is_a_jpeg(videos: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "thumbs" / "t.jpg"
    write_thumbnail(videos["cuts"], 1500, out, max_width=80)
    with Image.open(out) as img:
        assert img.format == "JPEG"
        assert img.size == (80, 60)
        pixels = img.convert("L").getextrema()
    assert pixels[1] - pixels[0] > 20  # real content, not a blank frame


@pytest.mark.parametrize(
    ("start", "end", "mode"),
    [(0, 1000, "copy"), (1240, 2520, "reencode")],  # keyframe start (no B-frames) / mid-GOP start
)
def test_export_clip_decodable_with_right_duration(
    videos: dict[str, Path], tmp_path: Path, start: int, end: int, mode: str
) -> None:
    out = tmp_path / f"clip_{start}.mp4"
    info = export_clip(videos["long"], start, end, out)
    assert info["mode"] == mode
    assert info["size"] == out.stat().st_size > 0
    assert info["duration_ms"] == pytest.approx(end - start, abs=45)
    with av.open(str(out)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        frames = sum(1 for _ in container.decode(stream))
    assert frames == pytest.approx((end - start) / 40, abs=1)


def _panning_av(path: Path, fmt: str, codec: str, audio_codec: str, seed: int = 5) -> list[np.ndarray]:
    """10 s at 25 fps of a texture panning 3 px a frame (every frame another picture), with a tone; the
    luma of each frame as the file decodes it."""
    rng = np.random.default_rng(seed)
    tex = np.kron(rng.integers(0, 256, (12, 80, 3), dtype=np.uint8), np.ones((10, 10, 1), np.uint8))
    with av.open(str(path), "w", format=fmt) as out:
        video = out.add_stream(codec, rate=25)
        video.width, video.height, video.pix_fmt = 160, 120, "yuv420p"
        audio = out.add_stream(audio_codec, rate=48000)
        audio.layout = "mono"
        for k in range(250):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(tex[:, 3 * k : 3 * k + 160]), format="rgb24")
            for packet in video.encode(frame):
                out.mux(packet)
        for packet in video.encode(None):
            out.mux(packet)
        tone = (0.3 * np.sin(np.arange(480000) * 2 * np.pi * 440 / 48000)).astype(np.float32)
        size = audio.codec_context.frame_size or 1152
        for i in range(0, tone.size - size + 1, size):
            chunk = av.AudioFrame.from_ndarray(tone[None, i : i + size], format="fltp", layout="mono")
            chunk.sample_rate = 48000
            for packet in audio.encode(chunk):
                out.mux(packet)
        for packet in audio.encode(None):
            out.mux(packet)
    with av.open(str(path)) as src:
        return [f.to_ndarray(format="gray").astype(np.float32) for f in src.decode(src.streams.video[0])]


def _clip_starts_on(frames: list[np.ndarray], source: Path, tmp_path: Path, at_ms: int, first: int) -> None:
    """The clip exported from `at_ms` for 1 s is `frames[first]` to `frames[first + 24]` (25 fps) with a
    second of audio from its start, and the thumbnail at `at_ms` is `frames[first]`: each frame named by the
    nearest of `frames` (the source's own, decoded)."""

    def nearest(image: np.ndarray) -> int:
        return int(np.argmin([np.abs(image - f).mean() for f in frames]))

    out = tmp_path / "clip.mp4"
    export_clip(source, at_ms, at_ms + 1000, out)
    with av.open(str(out)) as clip:
        got = [f.to_ndarray(format="gray").astype(np.float32) for f in clip.decode(clip.streams.video[0])]
    with av.open(str(out)) as clip:
        sound = list(clip.decode(clip.streams.audio[0]))
    assert len(got) == 25
    assert [nearest(got[0]), nearest(got[-1])] == [first, first + 24]
    assert sound[0].time is not None
    assert sound[0].time <= 0.05
    assert sum(f.samples for f in sound) / 48000 == pytest.approx(1.0, abs=0.1)
    thumb = tmp_path / "thumb.jpg"
    write_thumbnail(source, at_ms, thumb)
    assert nearest(np.asarray(Image.open(thumb).convert("L"), np.float32)) == first


@pytest.mark.parametrize(
    ("fmt", "codec", "audio_codec"),
    [
        ("mpeg", "mpeg2video", "mp2"),  # MPEG-PS (.mpg, DVD): no index, a seek lands a GOP late
        ("mpegts", "mpeg2video", "mp2"),  # MPEG-TS (broadcast)
        ("mpegts", "libx264", "aac"),  # MPEG-TS with H.264 (AVCHD .mts): one keyframe, so nothing after a seek
        ("mp4", "libx264", "aac"),
    ],
)
def test_export_and_thumbnail_start_on_their_frame_in_any_container(
    tmp_path: Path, fmt: str, codec: str, audio_codec: str
) -> None:
    """The clip from 2 s to 3 s has the source's frames 50 to 74 and a second of audio from its start,
    and the thumbnail at 2 s is frame 50, in containers with an index and without one. Without one, the
    seek landed late: clips of 13-21 frames, none at all from MPEG-TS with H.264 ("no video frames in the
    requested range"), and a thumbnail of a later frame."""
    source = tmp_path / f"source.{fmt}"
    frames = _panning_av(source, fmt, codec, audio_codec)
    _clip_starts_on(frames, source, tmp_path, 2000, 50)


def test_recordings_joined_end_to_end_keep_their_time(tmp_path: Path) -> None:
    """Two 10 s MPEG-TS recordings joined byte for byte (as `cat` joins them; a splice or a DVD's cells
    do the same): the second restarts the clock. The analysis times it after the first (20 s, the cut at
    10 s), and the clip and thumbnail from 12 s are the second's frames 50 on, with their audio. The
    second recording's frames all had the first's last time: one 10 s clip, and none from the second."""
    first, second = tmp_path / "first.ts", tmp_path / "second.ts"
    frames = _panning_av(first, "mpegts", "libx264", "aac", seed=5)
    frames += _panning_av(second, "mpegts", "libx264", "aac", seed=6)  # the joined file's frames 0-499
    joined = tmp_path / "joined.ts"
    joined.write_bytes(first.read_bytes() + second.read_bytes())
    result = analyze_video(joined)
    assert result.frames == 500
    assert result.duration_ms == pytest.approx(20000, abs=50)
    assert [(t.kind, t.start_frame, round(t.start_ms, -2)) for t in result.transitions] == [("cut", 250, 10000)]
    assert sorted((c.start_ms, c.end_ms) for c in result.clips)[-1][1] == pytest.approx(20000, abs=50)
    _clip_starts_on(frames, joined, tmp_path, 12000, 300)


def test_anamorphic_video_is_shown_as_its_pixels_say(tmp_path: Path) -> None:
    """360x240 coded with pixels 32:27 wide (NTSC DVD's 16:9) is shown 427x240: the sizes reported, the
    thumbnails of the analysis and of `write_thumbnail` (a disc drawn narrow in the coded frame is round in
    them) and the re-encoded clip (its pixels keep their shape) all say so. They were 360x240, the disc an
    ellipse 0.84 as wide as high, and the clip square-pixelled."""
    path = tmp_path / "anamorphic.mpg"
    yy, xx = np.mgrid[0:240, 0:360]
    disc = ((xx - 180) * 32 / 27) ** 2 + (yy - 120) ** 2 < 90**2
    with av.open(str(path), "w", format="mpeg") as out:
        stream = out.add_stream("mpeg2video", rate=25)
        stream.width, stream.height, stream.pix_fmt = 360, 240, "yuv420p"
        stream.codec_context.sample_aspect_ratio = Fraction(32, 27)
        for k in range(50):
            rgb = np.full((240, 360, 3), 30, np.uint8)
            rgb[disc] = (220, 150, 60) if k < 25 else (60, 150, 220)
            for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)

    def disc_shape(jpeg: Image.Image) -> float:
        lit = np.asarray(jpeg.convert("L"), np.float32) > 80
        rows, cols = np.flatnonzero(lit.any(axis=1)), np.flatnonzero(lit.any(axis=0))
        return (cols[-1] - cols[0] + 1) / (rows[-1] - rows[0] + 1)

    assert (probe_video(path)["width"], probe_video(path)["height"]) == (427, 240)
    result = analyze_video(path, AnalysisOptions(thumbnails=True, min_clip_ms=400))
    assert (result.width, result.height) == (427, 240)
    shots = [Image.open(io.BytesIO(jpeg)) for jpeg in result.thumbnails if jpeg is not None]
    assert shots
    for shot in shots:
        assert shot.size == (320, 180)
        assert disc_shape(shot) == pytest.approx(1.0, abs=0.06)
    thumb = tmp_path / "thumb.jpg"
    write_thumbnail(path, 500, thumb)
    assert Image.open(thumb).size == (320, 180)
    assert disc_shape(Image.open(thumb)) == pytest.approx(1.0, abs=0.06)
    clip = tmp_path / "clip.mp4"
    assert export_clip(path, 0, 1000, clip)["mode"] == "reencode"
    with av.open(str(clip)) as exported:
        assert exported.streams.video[0].sample_aspect_ratio == Fraction(32, 27)
        assert exported.streams.video[0].display_aspect_ratio == Fraction(16, 9)


def test_export_clip_rejects_bad_range(videos: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="invalid clip range"):
        export_clip(videos["long"], 2000, 1000, tmp_path / "x.mp4")


def test_rotation_metadata_is_applied(videos: dict[str, Path], tmp_path: Path) -> None:
    info = probe_video(videos["rotated"])
    assert info["rotation"] in (90, 270)
    res = analyze_video(videos["rotated"])
    assert (res.width, res.height) == (120, 160)
    out = tmp_path / "portrait.jpg"
    write_thumbnail(videos["rotated"], 200, out)
    with Image.open(out) as img:
        assert img.size == (120, 160)


def test_corrupt_middle_is_skipped_not_fatal(videos: dict[str, Path], tmp_path: Path) -> None:
    data = bytearray(videos["cuts"].read_bytes())
    mid = len(data) // 2
    data[mid : mid + 400] = bytes(400)  # wipe part of one frame's data
    path = tmp_path / "damaged.mp4"
    path.write_bytes(bytes(data))
    res = analyze_video(path)
    assert res.frames + res.corrupt_frames >= 74
    assert res.frames >= 70
    cut_ms = [t.start_ms for t in res.transitions if t.kind == "cut"]
    assert cut_ms == [pytest.approx(1000, abs=45), pytest.approx(2000, abs=45)]  # times come from pts


@pytest.mark.parametrize(("cores", "size", "threads"), [(2, (160, 120), 8), (2, (3840, 2160), 0), (16, (160, 120), 0)])
def test_decoder_threads_are_eight_for_small_frames_on_small_hosts(
    monkeypatch: pytest.MonkeyPatch, cores: int, size: tuple[int, int], threads: int
) -> None:
    """FFmpeg's own choice (a frame thread per core and one more) where it gives 8 or more, or where frames
    are larger than 1920x1088; else 8 frame threads, so the analysis's per-frame work overlaps decoding."""
    from types import SimpleNamespace

    from app.video import decode

    monkeypatch.setattr(decode.os, "cpu_count", lambda: cores)
    stream = SimpleNamespace(codec_context=SimpleNamespace(width=size[0], height=size[1]))
    assert decode.decoder_threads(stream) == threads


def test_decoding_is_the_same_at_any_thread_count(videos: dict[str, Path]) -> None:
    """The analysis's decoder threads change its speed, never its frames (FFmpeg's threading is bit-exact): the
    same features bit for bit, so the same transitions and clips, and the same thumbnails byte for byte."""
    from app.video import AnalysisOptions
    from app.video.analyze import _decode_features

    (f1, _), (f8, _) = (_decode_features(videos["cuts"], AnalysisOptions(threads=n), None, None) for n in (1, 8))
    for name in ("t_ms", "mean", "std", "dpix", "dhist", "sharp", "sig", "grad2", "chroma"):
        assert np.array_equal(getattr(f1, name), getattr(f8, name), equal_nan=True), name
    one, eight = (analyze_video(videos["cuts"], AnalysisOptions(threads=n, thumbnails=True)) for n in (1, 8))
    assert one.frames == eight.frames == 75
    assert one.transitions == eight.transitions
    assert one.clips == eight.clips
    assert one.thumbnails == eight.thumbnails
    assert any(one.thumbnails)
