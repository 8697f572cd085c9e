"""Thumbnails (JPEG) and clip export (MP4/H.264) with PyAV.

`export_clip` stream-copies when that is safe (H.264/HEVC without B-frame reordering, clip starting on a
keyframe) and otherwise re-encodes with libx264, keeping the source timestamps (variable frame rate
survives) and the display rotation. The first audio track comes along: stream-copied next to copied
video when MP4 can hold its codec, else re-encoded to AAC; it is written after the video (the muxer
interleaves) and a damaged audio track ends early instead of failing the export.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from .decode import (
    FrameCounter,
    Timeline,
    display_width,
    frame_rotation,
    frame_time,
    has_jumps,
    iter_frames,
    open_video,
    sample_aspect,
    stream_info,
)
from .errors import VideoError

log = logging.getLogger(__name__)

_COPY_CODECS = {"h264", "hevc"}
_MP4_AUDIO = {"aac", "mp3", "alac"}
_MS = Fraction(1, 1000)
_AUDIO_SLACK_S = 0.05  # a seek that puts the first audio packet later than this after the start lost audio
_AUDIO_LEAD_IN_S, _AUDIO_FOOTING_S = 1.0, 0.5  # audio decoded from before the start, the footing kept


def _seek(container: Any, stream: Any, abs_s: float) -> None:
    """Seek to the keyframe at or before `abs_s` (seconds on the stream clock); ignore failures.

    Always seeks, even to the very start: callers have usually consumed packets already (to read the
    first frame's timestamp), so the demuxer is not at the beginning any more.
    """
    if stream.time_base is None:
        return
    try:
        container.seek(max(0, int(abs_s / stream.time_base)), stream=stream, backward=True, any_frame=False)
    except (av.FFmpegError, OSError, ValueError) as exc:
        log.debug("seek failed (%s); decoding from the start", exc)


def _rewind(container: Any) -> None:
    """Seek to the very start of the file (no index needed), or leave it where it is if that fails."""
    try:
        container.seek(0, backward=True, any_frame=False)
    except (av.FFmpegError, OSError, ValueError) as exc:
        log.debug("rewind failed (%s)", exc)


def _frames_from(container: Any, stream: Any, abs_s: float, tolerance_s: float) -> Iterator[Any]:
    """Decoded frames of `stream` from one at or before `abs_s` on (callers skip the early ones).

    A seek lands on the keyframe before `abs_s` where the container has an index (MP4, Matroska, WebM).
    MPEG program and transport streams have none: FFmpeg searches their timestamps and can land a GOP
    late, or on a frame the decoder cannot start from, with no keyframe after it before the end (H.264 in
    MPEG-TS: no frame at all). So the first frame is checked, and where it is late or missing the frames
    come from the start of the file instead.
    """
    _seek(container, stream, abs_s)
    frames = iter_frames(container, stream, FrameCounter())
    first = next(frames, None)
    t = frame_time(first, stream) if first is not None else None
    if first is not None and (t is None or t <= abs_s + tolerance_s):
        yield first
        yield from frames
        return
    log.debug("seek to %.3f s landed at %s; decoding from the start", abs_s, "the end" if t is None else f"{t:.3f} s")
    _rewind(container)
    yield from iter_frames(container, stream, FrameCounter())


Timed = Iterator[tuple[Any, float | None]]


def _seeked(container: Any, stream: Any, abs_s: float) -> Timed:
    """Frames from one at or before `abs_s` on, each with its time on the stream clock."""
    for frame in _frames_from(container, stream, abs_s, _half_frame(container, stream)):
        yield frame, frame_time(frame, stream)


def _in_order(container: Any, stream: Any) -> Timed:
    """Every frame from the start, each with its time on the mended clock (`decode.Timeline`), as the
    analysis timed it: for a file whose timestamps jump, where a time on the stream clock can name two
    frames and a seek cannot be trusted."""
    _rewind(container)
    timeline = Timeline(container, 2 * _half_frame(container, stream))
    for frame in iter_frames(container, stream, FrameCounter()):
        raw = frame_time(frame, stream)
        yield frame, (timeline(raw) if raw is not None else None)


def _lands_late(container: Any, stream: Any, abs_s: float, tolerance_s: float) -> bool:
    """Whether a seek to `abs_s` puts the first packet of `stream` more than `tolerance_s` after it (or
    finds none): in a stream of packets that each start a frame, as audio is, where a seek landed."""
    _seek(container, stream, abs_s)
    try:
        for packet in container.demux(stream):
            if packet.pts is not None:
                return float(packet.pts * stream.time_base) > abs_s + tolerance_s
    except (av.FFmpegError, OSError, ValueError):
        return False
    return True


def _half_frame(container: Any, stream: Any) -> float:
    info = stream_info(container, stream)
    return 0.5 / info.fps if info.fps > 0 else 0.02


def _frame_at(path: str | Path, time_ms: int) -> tuple[Any, Fraction | None]:
    """The frame shown at `time_ms` (ms after the first frame), or the last one, and the stream's
    `sample_aspect`."""
    with open_video(path) as (container, stream):
        aspect = sample_aspect(stream)
        first = next(iter_frames(container, stream, FrameCounter()), None)
        if first is None:
            raise VideoError(f"{Path(path).name}: no decodable video frame")
        first_t = frame_time(first, stream)
        if first_t is None:
            return first, aspect
        target = first_t + max(0, time_ms) / 1000.0
        jumps = has_jumps(container, stream)
        best = None
        for frame, t in _in_order(container, stream) if jumps else _seeked(container, stream, target):
            if t is not None and t > target + 1e-6:
                return best or frame, aspect
            best = frame
        return best or first, aspect


def write_thumbnail(path: str | Path, time_ms: int, out_path: str | Path, max_width: int = 320) -> None:
    """Write the frame shown at `time_ms` as a JPEG at most `max_width` wide, as it is shown (anamorphic
    pixels widened, display rotation applied)."""
    frame, aspect = _frame_at(path, time_ms)
    image = frame.to_image()
    if aspect is not None:
        image = image.resize((display_width(image.width, aspect), image.height))
    rotation = frame_rotation(frame)
    if rotation:
        image = image.rotate(rotation, expand=True)
    if image.width > max_width:
        image = image.resize((max_width, max(1, round(image.height * max_width / image.width))))
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    image.convert("RGB").save(out, format="JPEG", quality=85)


class _AudioTrack:
    """The clip's audio: an output stream added before the first mux, filled by `write` at the end."""

    def __init__(self, out: Any, source: Any, copy: bool) -> None:
        self.source = source
        cc = source.codec_context
        self.copy = copy and cc.name in _MP4_AUDIO
        if self.copy:
            self.stream = out.add_stream_from_template(source)
            return
        self.rate = int(cc.sample_rate or 48000)
        layout = cc.layout.name if cc.channels in (1, 2) else "stereo"
        self.stream = out.add_stream("aac", rate=self.rate)
        self.stream.layout = layout
        self.resampler = av.AudioResampler(format="fltp", layout=layout, rate=self.rate)

    def write(
        self, container: Any, out: Any, start_abs: float, end_abs: float, origin: float, jumps: bool = False
    ) -> None:
        """Audio of [start_abs, end_abs) on the source clock, shifted so that `origin` becomes 0; with
        `jumps`, on the mended clock (`decode.Timeline`), decoded from the start (re-encoding only)."""
        if jumps:
            _rewind(container)
            try:
                self._encode(container, out, start_abs, end_abs, origin, Timeline(container, _AUDIO_SLACK_S))
            except (av.FFmpegError, ValueError) as exc:
                log.info("audio stopped early (%s); the clip keeps the audio written so far", exc)
            return
        # from a second before the start: a decoder can need a few packets to find its footing after a seek
        # (MPEG audio in a program stream refuses a quarter of a second of them), so a landing that leaves
        # less than half a second of them is late; the early audio is skipped
        lead_in = max(0.0, start_abs - _AUDIO_LEAD_IN_S)
        if _lands_late(container, self.source, lead_in, max(_AUDIO_SLACK_S, start_abs - lead_in - _AUDIO_FOOTING_S)):
            _rewind(container)  # no index (MPEG-PS/TS): the seek landed past the start, see `_frames_from`
        else:
            _seek(container, self.source, lead_in)
        try:
            if self.copy:
                self._copy(container, out, start_abs, end_abs, origin)
            else:
                self._encode(container, out, start_abs, end_abs, origin)
        except (av.FFmpegError, ValueError) as exc:
            log.info("audio stopped early (%s); the clip keeps the audio written so far", exc)

    def _copy(self, container: Any, out: Any, start_abs: float, end_abs: float, origin: float) -> None:
        tb = self.source.time_base
        shift = round(origin / tb)
        for packet in container.demux(self.source):
            if packet.pts is None or packet.dts is None:
                continue
            t = float(packet.pts * tb)
            if t < start_abs - 1e-6 or packet.pts < shift:
                continue
            if t >= end_abs - 1e-6:
                break
            packet.pts -= shift
            packet.dts = max(packet.dts - shift, 0)
            packet.stream = self.stream
            out.mux(packet)

    def _frames(self, container: Any) -> Iterator[Any]:
        """The source's decoded audio frames; a packet the decoder refuses (the partial one a seek into an
        MPEG program stream starts on, a damaged one) is skipped, not the end of the audio."""
        for packet in container.demux(self.source):
            try:
                yield from packet.decode()
            except (av.InvalidDataError, av.error.UndefinedError) as exc:
                log.debug("audio packet at %s skipped: %s", packet.pts, exc)

    def _encode(
        self,
        container: Any,
        out: Any,
        start_abs: float,
        end_abs: float,
        origin: float,
        timeline: Timeline | None = None,
    ) -> None:
        next_pts: int | None = None
        for frame in self._frames(container):
            if frame.time is None:
                continue
            t = timeline(frame.time) if timeline is not None else frame.time
            if t + frame.samples / frame.sample_rate <= start_abs:
                continue
            if t >= end_abs - 1e-6:
                break
            if next_pts is None:
                next_pts = max(0, round((t - origin) * self.rate))
            frame.pts = None
            for chunk in self.resampler.resample(frame):
                next_pts = self._encode_chunk(out, chunk, next_pts)
        if next_pts is not None:
            for chunk in self.resampler.resample(None):
                next_pts = self._encode_chunk(out, chunk, next_pts)
        for packet in self.stream.encode(None):
            out.mux(packet)

    def _encode_chunk(self, out: Any, chunk: Any, pts: int) -> int:
        chunk.pts, chunk.time_base = pts, Fraction(1, self.rate)
        for packet in self.stream.encode(chunk):
            out.mux(packet)
        return pts + chunk.samples


def _keyframe_start(container: Any, stream: Any, start_abs: float, tolerance_s: float) -> bool:
    """True when a keyframe sits at the clip start (within `tolerance_s`)."""
    _seek(container, stream, start_abs)
    for packet in container.demux(stream):
        if packet.pts is None:
            continue
        t = float(packet.pts * stream.time_base)
        if packet.is_keyframe:
            return abs(t - start_abs) <= tolerance_s
        return False
    return False


def _copy(
    container: Any, stream: Any, audio: Any, start_abs: float, end_abs: float, out_path: Path
) -> tuple[float, float]:
    """Stream-copy packets with pts in [start, end); returns (first, last_end) times in seconds."""
    _seek(container, stream, start_abs)
    tb = stream.time_base
    first_pts = None
    last_end = start_abs
    with av.open(str(out_path), mode="w", format="mp4") as out:
        ostream = out.add_stream_from_template(stream)
        track = _AudioTrack(out, audio, copy=True) if audio is not None else None
        for packet in container.demux(stream):
            if packet.pts is None or packet.dts is None:
                continue
            t = float(packet.pts * tb)
            if t < start_abs - 1e-6:
                continue
            if t >= end_abs - 1e-6:
                break
            if first_pts is None:
                first_pts = packet.pts
            packet.pts -= first_pts
            packet.dts -= first_pts
            packet.stream = ostream
            last_end = t + float((packet.duration or 0) * tb)
            out.mux(packet)
        if first_pts is None:
            raise VideoError("no video frames in the requested range")
        if track is not None:
            track.write(container, out, start_abs, end_abs, float(first_pts * tb))
    return float(first_pts * tb), last_end


def _reencode(
    container: Any, stream: Any, audio: Any, start_abs: float, end_abs: float, out_path: Path, jumps: bool = False
) -> tuple[float, float]:
    """Decode [start, end) and encode H.264 (yuv420p, even size, ms timestamps). With `jumps` (the file's
    timestamps jump: `decode.has_jumps`) the times are on the mended clock and every frame is decoded."""
    info = stream_info(container, stream)
    rate = Fraction(info.fps).limit_denominator(1001) if info.fps > 0 else Fraction(30)
    first_t: float | None = None
    last_t, last_pts = start_abs, -1
    with av.open(str(out_path), mode="w", format="mp4") as out:
        ostream: Any = None
        track: _AudioTrack | None = None
        for frame, t in _in_order(container, stream) if jumps else _seeked(container, stream, start_abs):
            if t is None or t < start_abs - 1e-6:
                continue
            if t >= end_abs - 1e-6:
                break
            if ostream is None:
                ostream = out.add_stream("libx264", rate=rate)
                ostream.width, ostream.height = frame.width - frame.width % 2, frame.height - frame.height % 2
                ostream.pix_fmt = "yuv420p"
                ostream.time_base = _MS
                ostream.codec_context.time_base = _MS
                ostream.options = {"preset": "veryfast", "crf": "20"}
                if frame_rotation(frame):
                    ostream.set_display_rotation(frame_rotation(frame))
                aspect = sample_aspect(stream)
                if aspect is not None:  # anamorphic: the clip is shown as its source is
                    ostream.codec_context.sample_aspect_ratio = aspect
                track = _AudioTrack(out, audio, copy=False) if audio is not None else None
                first_t = t
            assert first_t is not None
            pts = max(round((t - first_t) * 1000), last_pts + 1)
            img = frame.reformat(width=ostream.width, height=ostream.height, format="yuv420p")
            img.pts, img.time_base = pts, _MS
            last_pts, last_t = pts, t
            for packet in ostream.encode(img):
                out.mux(packet)
        if ostream is None or first_t is None:
            raise VideoError("no video frames in the requested range")
        for packet in ostream.encode(None):
            out.mux(packet)
        if track is not None:
            track.write(container, out, start_abs, end_abs, first_t, jumps)
    step = 1.0 / info.fps if info.fps > 0 else 0.0
    return first_t, last_t + step


def export_clip(path: str | Path, start_ms: int, end_ms: int, out_path: str | Path) -> dict[str, Any]:
    """Export `[start_ms, end_ms)` (ms after the first frame) as an MP4.

    Returns `{"mode": "copy" | "reencode", "duration_ms": int, "size": bytes}`.
    """
    if end_ms <= start_ms or start_ms < 0:
        raise ValueError(f"invalid clip range {start_ms}..{end_ms} ms")
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open_video(path) as (container, stream):
        first = next(iter_frames(container, stream, FrameCounter()), None)
        if first is None:
            raise VideoError(f"{Path(path).name}: no decodable video frame")
        origin = frame_time(first, stream) or 0.0
        info = stream_info(container, stream)
        start_abs, end_abs = origin + start_ms / 1000.0, origin + end_ms / 1000.0
        half_frame = _half_frame(container, stream)
        jumps = has_jumps(container, stream)
        can_copy = (
            not jumps
            and info.codec in _COPY_CODECS
            and not stream.codec_context.has_b_frames
            and _keyframe_start(container, stream, start_abs, half_frame)
        )
        mode = "copy" if can_copy else "reencode"
        audio = container.streams.audio[0] if container.streams.audio else None
        try:
            if can_copy:
                span = _copy(container, stream, audio, start_abs, end_abs, out)
            else:
                span = _reencode(container, stream, audio, start_abs, end_abs, out, jumps)
        except (av.FFmpegError, ValueError) as exc:
            if not can_copy:
                raise
            log.info("stream copy failed (%s); re-encoding", exc)
            mode, span = "reencode", _reencode(container, stream, audio, start_abs, end_abs, out)
    return {"mode": mode, "duration_ms": round((span[1] - span[0]) * 1000), "size": out.stat().st_size}
