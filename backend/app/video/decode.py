"""PyAV decoding helpers: open/probe a file, iterate decoded frames robustly, read the luma plane.

Why this shape: analysis only needs luma, so `luma_plane` returns a zero-copy numpy view of the Y plane
of planar YUV frames (the common case for every codec FFmpeg decodes) and only reformats to gray for
other pixel formats. `iter_frames` demuxes packet by packet and decodes each inside try/except, so a
corrupt packet in the middle of a file is counted and skipped instead of aborting the whole analysis.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, NamedTuple

import av
import numpy as np
from av.video.plane import VideoPlane

from .errors import VideoError
from .features import MAX_FPS, MIN_FPS

log = logging.getLogger(__name__)

_IMAGE_FORMATS = ("image2", "_pipe", "gif", "apng", "webp")
# Semi-planar YUV (a luma plane, then one plane of interleaved chroma); of them, V before U, and MSB-aligned
_VU_FIRST = ("nv21", "nv42")
_MSB_ALIGNED = ("p010", "p012", "p016", "p210", "p212", "p216", "p410", "p412", "p416")
_SEMI_PLANAR = ("nv12", "nv21", "nv16", "nv24", "nv42", "nv20le", *_MSB_ALIGNED)
# Planar and semi-planar formats whose first plane is luma
_LUMA_FIRST = ("yuv", "yuvj", "gray", *_SEMI_PLANAR)
_PACKED = ("yuyv", "uyvy", "yvyu", "y210", "ayuv", "vuya", "xv30", "xv36", "v30x")


@dataclass
class StreamInfo:
    """Static facts about the chosen video stream."""

    width: int
    height: int
    fps: float
    duration_s: float | None
    frames_estimate: int | None
    codec: str
    container: str
    rotation: int
    time_base: Fraction | None
    start_s: float


def _open_error(path: Path, exc: BaseException) -> VideoError:
    if isinstance(exc, FileNotFoundError) or not path.exists():
        return VideoError(f"file not found: {path.name}")
    if path.stat().st_size == 0:
        return VideoError("the file is empty (0 bytes); upload it again")
    # only the reason: str(exc) of FFmpeg/OS errors repeats the full server-side path, and this message is
    # shown to the uploader as is
    reason = getattr(exc, "strerror", None) or type(exc).__name__
    return VideoError(
        f"could not read {path.name} as a video ({reason}); the file is not a video or is truncated/corrupt"
    )


# Frame threads are also the depth of the decoder's pipeline: the Python work done for each frame between two
# decoder calls overlaps the decoding of the frames in flight. FFmpeg's own choice (a thread per core and one
# more) leaves that pipeline 3 frames deep on 2 cores; 8 made the analysis pass 4 % faster there (H.264, 320x240
# to 1280x720; VP9 unchanged). Frames up to this many pixels get at least that depth: each thread holds frames.
PIPELINE_THREADS, PIPELINE_MAX_PIXELS = 8, 1920 * 1088


def decoder_threads(stream: Any) -> int:
    """Decoder threads for a pass over every frame with work of its own per frame (the analysis): FFmpeg's
    choice (0), or PIPELINE_THREADS for frames up to PIPELINE_MAX_PIXELS where FFmpeg would choose fewer.
    Not for decoding a frame or two: the deeper the pipeline, the later its first frame comes out."""
    cc = stream.codec_context
    area = int(cc.width or 0) * int(cc.height or 0)
    auto = min(16, (os.cpu_count() or 1) + 1)  # FFmpeg's choice for frame threads
    return PIPELINE_THREADS if 0 < area <= PIPELINE_MAX_PIXELS and auto < PIPELINE_THREADS else 0


@contextmanager
def open_video(path: str | Path, threads: int = 0) -> Iterator[tuple[Any, Any]]:
    """Open `path` and yield `(container, video_stream)`; raise `VideoError` for unusable input. `threads`
    decoder threads; 0 lets FFmpeg choose."""
    p = Path(path)
    if p.exists() and p.is_file() and p.stat().st_size == 0:
        raise VideoError("the file is empty (0 bytes); upload it again")
    try:
        container = av.open(str(p), mode="r")
    except (av.FFmpegError, OSError, UnicodeDecodeError) as exc:
        raise _open_error(p, exc) from exc
    try:
        fmt = container.format.name or ""
        if any(tag in fmt for tag in _IMAGE_FORMATS):
            raise VideoError(f"{p.name} is an image file ({fmt}), not a video")  # animated GIFs included
        # cover art (an MP3's or M4A's picture, a Matroska file's cover attachment) is a one-picture video
        # stream marked attached_pic: no video, wherever it comes in the file
        moving = [s for s in container.streams.video if not s.disposition & av.stream.Disposition.attached_pic]
        if not moving:
            kinds = sorted({s.type for s in container.streams})
            what = "audio-only" if "audio" in kinds else "without any video stream"
            cover = " (its only picture is cover art)" if container.streams.video else ""
            raise VideoError(f"{p.name} is {what}{cover}; upload a file that contains video")
        stream = next((s for s in moving if s.disposition & av.stream.Disposition.default), moving[0])
        if stream.codec_context is None or not stream.codec_context.name:
            raise VideoError(f"{p.name}: the video codec is not supported")
        stream.thread_type = "AUTO"
        stream.thread_count = threads
        yield container, stream
    finally:
        container.close()


def stream_info(container: Any, stream: Any) -> StreamInfo:
    """Collect size, fps, duration and frame-count estimates (each may be missing in the file).

    The frame rate is the stream's average, or FFmpeg's guess from the timestamps where the average is no
    video rate (a Matroska or WebM file can declare 1,000 frames a second, a frame a millisecond, for
    frames 40 ms apart)."""
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    if rate and not MIN_FPS <= float(rate) <= MAX_FPS and stream.guessed_rate:
        rate = stream.guessed_rate
    fps = float(rate) if rate else 0.0
    duration_s: float | None = None
    if stream.duration is not None and stream.time_base is not None:
        duration_s = float(stream.duration * stream.time_base)
    elif container.duration is not None:
        duration_s = container.duration / 1_000_000
    frames = int(stream.frames or 0) or None
    if frames is None and duration_s and fps > 0:
        frames = round(duration_s * fps)
    start_s = float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0
    cc = stream.codec_context
    return StreamInfo(
        width=int(cc.width or 0),
        height=int(cc.height or 0),
        fps=fps,
        duration_s=duration_s,
        frames_estimate=frames,
        codec=getattr(cc.codec, "canonical_name", None) or cc.name,  # "av1", not the decoder ("libdav1d")
        container=container.format.name,
        rotation=0,
        time_base=stream.time_base,
        start_s=start_s,
    )


class FrameCounter:
    """Mutable counters filled by `iter_frames` (decoded, corrupt)."""

    def __init__(self) -> None:
        self.decoded = 0
        self.corrupt = 0
        self.demux_failed = False


def _decode_packet(stream: Any, packet: Any, counter: FrameCounter) -> list[Any]:
    try:
        frames = stream.decode(packet)
    except (av.InvalidDataError, av.FFmpegError, ValueError) as exc:
        counter.corrupt += 1
        log.debug("skipping undecodable packet pts=%s: %s", getattr(packet, "pts", None), exc)  # None: flush
        return []
    good = []
    for frame in frames:
        if getattr(frame, "is_corrupt", False):
            counter.corrupt += 1
            continue
        good.append(frame)
    return good


def iter_frames(container: Any, stream: Any, counter: FrameCounter) -> Iterator[Any]:
    """Yield decoded `av.VideoFrame`s in presentation order, skipping (and counting) corrupt ones.

    A demuxer error (e.g. truncated file) ends the iteration early after flushing the decoder.
    """
    packets = container.demux(stream)
    while True:
        try:
            packet = next(packets)
        except StopIteration:
            break
        except (av.FFmpegError, ValueError, OSError) as exc:
            counter.demux_failed = True
            log.info("demuxing stopped early (file truncated or damaged): %s", exc)
            break
        if packet.size == 0 and packet.pts is None and packet.dts is None:
            continue  # the flush packet; flushed explicitly below
        for frame in _decode_packet(stream, packet, counter):
            counter.decoded += 1
            yield frame
    for frame in _decode_packet(stream, None, counter):
        counter.decoded += 1
        yield frame


_LAYOUTS: dict[str, tuple[int, int]] = {}


def _luma_layout(fmt: Any) -> tuple[int, int]:
    """(sample bits 8/16 when plane 0 is directly usable luma else 0, shift to 8 bits); cached by name."""
    name = fmt.name
    layout = _LAYOUTS.get(name)
    if layout is None:
        layout = (0, 0)
        if name.startswith(_LUMA_FIRST) and not name.startswith(_PACKED) and not fmt.is_rgb:
            bits = fmt.components[0].bits
            if bits <= 8:
                layout = (8, 0)
            elif bits <= 16 and not fmt.is_big_endian:
                layout = (16, 8 if name.startswith(_MSB_ALIGNED) else bits - 8)
        _LAYOUTS[name] = layout  # a benign race between threads writes the same value
    return layout


def plane_bits(fmt: Any) -> int:
    """8 or 16 when plane 0 of frames in `av.VideoFormat` `fmt` is directly usable luma of that many bits a
    sample, else 0 (`luma_plane` reformats such frames to gray)."""
    return _luma_layout(fmt)[0]


class ChromaLayout(NamedTuple):
    """Where a frame's colour samples lie, for frames of one `av.VideoFormat` (see `chroma_layout`).

    `samples` are (plane, byte offset in a pixel) of U and V, or of R, G and B where `rgb`; `step` is the
    bytes between a row's neighbouring samples; each sample is a `dtype` (uint8, or little-endian
    uint16) whose value shifted right by `shift` is its 8-bit value."""

    samples: tuple[tuple[int, int], ...]
    step: int
    dtype: str
    shift: int
    rgb: bool


# Packed RGB: (byte offsets of R, G, B in a pixel, bytes a pixel, bytes a sample)
_PACKED_RGB: dict[str, tuple[tuple[int, int, int], int, int]] = {
    "rgb24": ((0, 1, 2), 3, 1),
    "bgr24": ((2, 1, 0), 3, 1),
    "rgba": ((0, 1, 2), 4, 1),
    "rgb0": ((0, 1, 2), 4, 1),
    "bgra": ((2, 1, 0), 4, 1),
    "bgr0": ((2, 1, 0), 4, 1),
    "argb": ((1, 2, 3), 4, 1),
    "0rgb": ((1, 2, 3), 4, 1),
    "abgr": ((3, 2, 1), 4, 1),
    "0bgr": ((3, 2, 1), 4, 1),
    "rgb48le": ((0, 2, 4), 6, 2),
    "bgr48le": ((4, 2, 0), 6, 2),
    "rgba64le": ((0, 2, 4), 8, 2),
    "bgra64le": ((4, 2, 0), 8, 2),
}
_CHROMA: dict[str, ChromaLayout | None] = {}


def _sample_type(bits: int, name: str) -> tuple[str, int] | None:
    """(dtype, shift to 8 bits) of samples of `bits` bits stored as FFmpeg names them, LSB-aligned."""
    if bits == 8:
        return "u1", 0
    if 8 < bits <= 16 and name.endswith("le"):
        return "<u2", bits - 8
    return None  # big-endian, float or packed bit fields: not read


def chroma_layout(fmt: Any) -> ChromaLayout | None:
    """How to read the colour of frames of `av.VideoFormat` `fmt` straight from their planes: the U and V
    samples of planar and semi-planar YUV of 8 to 16 bits (NV12/NV21, P010, ...), the R, G and B samples of
    packed and planar RGB; None for gray, palette, packed YUV, big-endian and float samples (no colour
    statistics)."""
    name = fmt.name
    if name in _CHROMA:
        return _CHROMA[name]
    layout = None
    comps = fmt.components
    if name in _PACKED_RGB:
        offsets, pixel, size = _PACKED_RGB[name]
        layout = ChromaLayout(tuple((0, o) for o in offsets), pixel, "u1" if size == 1 else "<u2", 8 * (size - 1), True)
    elif fmt.is_rgb and name.startswith(("gbrp", "gbrap")) and len(comps) >= 3:
        kind = _sample_type(comps[0].bits, name)
        if kind is not None:
            step = 1 if kind[0] == "u1" else 2
            layout = ChromaLayout(tuple((c.plane, 0) for c in comps[:3]), step, *kind, True)
    elif name.startswith(_LUMA_FIRST) and not name.startswith(_PACKED) and not fmt.is_rgb and len(comps) >= 3:
        kind = _sample_type(comps[1].bits, name)
        if kind is not None and name.startswith(_SEMI_PLANAR):
            size = 1 if kind[0] == "u1" else 2
            if name.startswith(_MSB_ALIGNED):
                kind = (kind[0], 8)
            u, v = (size, 0) if name.startswith(_VU_FIRST) else (0, size)
            layout = ChromaLayout(((1, u), (1, v)), 2 * size, *kind, False)
        elif kind is not None and comps[1].plane == 1 and comps[2].plane == 2:
            layout = ChromaLayout(((1, 0), (2, 0)), 1 if kind[0] == "u1" else 2, *kind, False)
    _CHROMA[name] = layout  # a benign race between threads writes the same value
    return layout


def luma_plane(frame: Any) -> tuple[np.ndarray, int]:
    """Return `(Y, bit_shift)`: a 2-D view of the frame's luma and the shift that maps it to 8 bits.

    Planar YUV / NV12 / gray frames are read straight from plane 0 honouring the line stride (no copy,
    no colour conversion); anything else (RGB, palette, packed YUV) is reformatted to gray8 first.
    """
    w, h = frame.width, frame.height
    kind, shift = _luma_layout(frame.format)
    if kind == 8:
        plane: Any = VideoPlane(frame, 0)  # `frame.planes` would build every plane, at 3x the cost
        buf = np.frombuffer(plane, dtype=np.uint8)
        return buf.reshape(-1, plane.line_size)[:h, :w], 0
    if kind == 16:
        plane = VideoPlane(frame, 0)
        buf = np.frombuffer(plane, dtype="<u2")
        return buf.reshape(-1, plane.line_size // 2)[:h, :w], shift
    gray = frame.reformat(format="gray")
    plane = gray.planes[0]
    buf = np.frombuffer(plane, dtype=np.uint8)
    return buf.reshape(-1, plane.line_size)[:h, :w], 0


TS_DISCONT = 0x0200  # AVFMT_TS_DISCONT: the format's timestamps may jump (MPEG-TS, MPEG-PS)
JUMP_BACK_S = 0.5  # a step back this long (and over 3 frames) is the clock restarting, not jitter
JUMP_AHEAD_S = 10.0  # a step ahead this long, where timestamps may jump, is one too (FFmpeg's threshold)


def timestamps_may_jump(container: Any) -> bool:
    """Whether the container's format allows its timestamps to jump (FFmpeg's AVFMT_TS_DISCONT)."""
    return bool(int(container.format.flags or 0) & TS_DISCONT)


class Timeline:
    """Presentation times of a stream's frames, in the order they are shown, made continuous where the
    timestamps jump: back by more than JUMP_BACK_S (and 3 frames) in any file, as where recordings were
    concatenated or spliced or a DVD's cells restart the clock, or ahead by more than JUMP_AHEAD_S in a
    format whose timestamps may jump. The frame after a jump follows the one before it by a frame (`step`
    seconds); smaller irregularities are left to the caller. `jumps` counts the jumps mended."""

    def __init__(self, container: Any, step_s: float) -> None:
        self.step = step_s
        self.back = max(JUMP_BACK_S, 3 * step_s)
        self.ahead = JUMP_AHEAD_S if timestamps_may_jump(container) else math.inf
        self.offset = 0.0
        self.last = math.nan  # no frame yet (every comparison with it is false)
        self.jumps = 0

    def __call__(self, raw_s: float) -> float:  # on every frame: kept to a few comparisons
        t = raw_s + self.offset
        last = self.last
        if t < last - self.back or t > last + self.ahead:
            self.offset += last + self.step - t
            t = last + self.step
            self.jumps += 1
        if not t <= last:  # later, or the first frame
            self.last = t
        return t


def has_jumps(container: Any, stream: Any) -> bool:
    """Whether the decoding timestamps of `stream` jump as `Timeline` mends (only looked for in formats
    whose timestamps may jump; reads every packet, decodes none, and leaves the file wherever it ends)."""
    if not timestamps_may_jump(container) or stream.time_base is None:
        return False
    tb = float(stream.time_base)
    last: float | None = None
    try:
        for packet in container.demux(stream):
            if packet.dts is None:
                continue
            t = packet.dts * tb
            if last is not None and (t < last - JUMP_BACK_S or t > last + JUMP_AHEAD_S):
                return True
            last = t if last is None else max(last, t)
    except (av.FFmpegError, OSError, ValueError):
        return False
    return False


def frame_time(frame: Any, stream: Any) -> float | None:
    """Presentation time in seconds from pts and the stream time base (None when unknown).

    Computed from the stream's time base because frames returned while flushing the decoder may
    carry no time base of their own.
    """
    if frame.pts is None or stream.time_base is None:
        return None
    return float(frame.pts * stream.time_base)


def frame_rotation(frame: Any) -> int:
    """Display rotation in degrees (0/90/180/270, counter-clockwise as FFmpeg reports) or 0."""
    try:
        rot = round(float(frame.rotation or 0))
    except (AttributeError, TypeError, ValueError):
        return 0
    return rot % 360


def sample_aspect(stream: Any) -> Fraction | None:
    """The width a coded pixel is shown at over its height, where it is not 1 (anamorphic video: DVD and
    broadcast 720x480 or 720x576 shown at 4:3 or 16:9, HDV 1440x1080 shown at 1920x1080); None for square
    pixels or when unknown or absurd."""
    for sar in (stream.sample_aspect_ratio, stream.codec_context.sample_aspect_ratio):
        try:
            value = Fraction(sar) if sar else None
        except (TypeError, ValueError, ZeroDivisionError):
            value = None
        if value is not None and Fraction(1, 5) <= value <= 5 and value != 1:
            return value
    return None


def display_width(width: int, aspect: Fraction | None) -> int:
    """The width `width` coded pixels are shown at (see `sample_aspect`)."""
    return width if aspect is None else max(1, round(width * aspect))


def probe_video(path: str | Path) -> dict[str, Any]:
    """Quick upload-time check: open the file and decode its first frame.

    Returns `{"duration_ms", "fps", "width", "height", "codec", "container", "frames", "rotation"}`
    (`frames` is an estimate, possibly None). Raises `VideoError` if there is no decodable video.

    One decoder thread: frame threading holds the first frame back until a frame per thread has been sent,
    and starts the threads, which costs more than the one frame it decodes here (1.4 against 2.1 ms for a
    320x240 H.264 file, 12 against 13 at 1280x720).
    """
    with open_video(path, threads=1) as (container, stream):
        info = stream_info(container, stream)
        counter = FrameCounter()
        first = next(iter_frames(container, stream, counter), None)
        if first is None:
            raise VideoError(f"{Path(path).name}: no video frame could be decoded; the file is truncated or corrupt")
        rotation = frame_rotation(first)
        width, height = display_width(first.width, sample_aspect(stream)), first.height
    duration_ms = round(info.duration_s * 1000) if info.duration_s else None
    return {
        "duration_ms": duration_ms,
        "fps": round(info.fps, 3),
        "width": width,
        "height": height,
        "codec": info.codec,
        "container": info.container,
        "frames": info.frames_estimate,
        "rotation": rotation,
    }
