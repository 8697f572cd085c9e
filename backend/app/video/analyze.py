"""`analyze_video`: decode once, extract features, detect shots, propose clips.

Thread-safe (no shared mutable state; every call owns its container and buffers) and free of asyncio, so a
queue handler can run it with `asyncio.to_thread`. Progress is reported from the calling thread.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .clips import propose_clips
from .decode import (
    FrameCounter,
    StreamInfo,
    Timeline,
    decoder_threads,
    display_width,
    frame_rotation,
    iter_frames,
    open_video,
    sample_aspect,
    stream_info,
)
from .detect import build_shots, detect_transitions
from .errors import AnalysisCancelled, VideoError
from .features import FrameFeatures
from .learned import TransNetFrames, learned_transitions
from .models import AnalysisOptions, AnalysisResult, ClipProposal
from .sampling import FeatureExtractor
from .thumbnails import ThumbnailPicker

FrameObserver = ThumbnailPicker | TransNetFrames

log = logging.getLogger(__name__)

ProgressFn = Callable[[float, str], None]
TIMING_SLACK = 1.5


class _Progress:
    """Monotonic percent-of-frames-decoded reporter, throttled to ~2 % steps or 0.5 s."""

    def __init__(self, callback: ProgressFn | None, total_frames: int | None, duration_s: float | None) -> None:
        self.callback = callback
        self.total = total_frames if total_frames and total_frames > 0 else None
        self.duration_s = duration_s if duration_s and duration_s > 0 else None
        self.last_pct = 0.0
        self.last_emit = time.monotonic()

    def update(self, frames: int, t_s: float) -> None:
        if self.callback is None:
            return
        if self.total is not None:
            pct = 100.0 * frames / self.total
        elif self.duration_s is not None:
            pct = 100.0 * t_s / self.duration_s
        else:  # length unknown: approach 95 % asymptotically
            pct = 95.0 * (1.0 - math.exp(-frames / 3000.0))
        pct = min(99.0, max(self.last_pct, pct))
        now = time.monotonic()
        if pct - self.last_pct >= 2.0 or (now - self.last_emit >= 0.5 and pct > self.last_pct):
            self.last_pct, self.last_emit = pct, now
            self.callback(round(pct, 2), f"decoded {frames} frames")

    def done(self, message: str) -> None:
        if self.callback is not None:
            self.last_pct = 100.0
            self.callback(100.0, message)


def _decode_features(
    path: str | Path,
    opt: AnalysisOptions,
    progress: _Progress | None,
    should_stop: Callable[[], bool] | None,
    observers: tuple[FrameObserver, ...] = (),
) -> tuple[FrameFeatures, dict[str, float | int]]:
    with open_video(path) as (container, stream):
        stream.thread_count = opt.threads or decoder_threads(stream)  # before the first frame opens the decoder
        info = stream_info(container, stream)
        reporter = progress or _Progress(None, None, None)
        reporter.total = reporter.total or info.frames_estimate
        reporter.duration_s = reporter.duration_s or info.duration_s
        fps_hint = info.fps if info.fps > 0 else 30.0
        picker = next((o for o in observers if isinstance(o, ThumbnailPicker)), None)
        aspect = sample_aspect(stream)
        if picker is not None:
            picker.aspect = aspect  # thumbnails are shown as the video is, anamorphic pixels widened
        crops = picker.resolve if picker is not None else None  # the picker scores frames by their crop
        with FeatureExtractor(
            opt.analysis_width, fps_hint, opt.batch_frames, background=True, on_crops=crops
        ) as extractor:
            counter = FrameCounter()
            others = tuple(o for o in observers if o is not picker)
            meta = _feed(
                container, stream, info, extractor, counter, opt.batch_frames, reporter, should_stop, others, picker
            )
            if counter.decoded == 0:
                reason = "truncated or corrupt" if counter.corrupt or counter.demux_failed else "empty"
                raise VideoError(f"{Path(path).name}: no video frame could be decoded; the file is {reason}")
            meta["corrupt"] = counter.corrupt
            meta["width"] = display_width(int(meta["width"]), aspect)
            return extractor.finish(), meta


def _feed(
    container: Any,
    stream: Any,
    info: StreamInfo,
    extractor: FeatureExtractor,
    counter: FrameCounter,
    every: int,
    reporter: _Progress,
    should_stop: Callable[[], bool] | None,
    observers: tuple[FrameObserver, ...] = (),
    picker: ThumbnailPicker | None = None,
) -> dict[str, float | int]:
    """Decode every frame into `extractor` (and the `observers`); poll `should_stop` and report progress
    every `every` frames. The thumbnail `picker`, where there is one, is the extractor's `on_crops`: its
    frames' quality comes from the crop statistics the batch maths hands over (both sample every
    SHARP_EVERY-th frame counting from the first)."""
    fps_hint = extractor.fps
    first_s: float | None = None
    last_ms = -math.inf
    meta: dict[str, float | int] = {"fps": info.fps, "rotation": 0, "width": info.width, "height": info.height}
    tb = float(stream.time_base) if stream.time_base is not None else None  # float maths: Fraction is slow
    timeline = Timeline(container, 1.0 / fps_hint)
    for i, frame in enumerate(iter_frames(container, stream, counter)):
        pts = frame.pts
        t_s = timeline(pts * tb) if pts is not None and tb is not None else None
        if t_s is None:
            t_s = (first_s or 0.0) + (max(last_ms, 0.0) / 1000.0 + 1.0 / fps_hint if i else 0.0)
        if first_s is None:
            first_s = t_s
            meta.update(rotation=frame_rotation(frame), width=frame.width, height=frame.height)
        ms = max((t_s - first_s) * 1000.0, last_ms + 1e-3)  # broken pts: keep time increasing
        last_ms = ms
        extractor.add_frame(frame, ms)
        if picker is not None:
            picker.offer(frame, ms, extractor.crop is not None)
        for observer in observers:
            observer.offer(frame, ms)
        if (i + 1) % every == 0:
            if should_stop is not None and should_stop():
                raise AnalysisCancelled(f"analysis cancelled after {i + 1} frames")
            reporter.update(i + 1, t_s - (info.start_s or 0.0))
    if timeline.jumps:
        log.info("%d jumps of the timestamps mended (the clock restarted or leapt)", timeline.jumps)
    return meta


def _timing(f: FrameFeatures, declared_fps: float) -> tuple[float, int]:
    """(fps, duration_ms): fps from the stream when declared, else from timestamps; from the timestamps
    too where the declared rate is off the frames' median spacing by over TIMING_SLACK either way (the
    detectors' windows are sized by it: a fade was missed at a declared 1,000 for 25 frames a second)."""
    diffs = np.diff(f.t_ms)
    step = float(np.median(diffs)) if diffs.size else 0.0
    measured = 1000.0 / step if step > 0 else 0.0
    fps = declared_fps if declared_fps > 0 else measured
    if measured > 0 and fps > 0 and not 1.0 / TIMING_SLACK <= fps / measured <= TIMING_SLACK:
        fps = measured
    if step <= 0:
        step = 1000.0 / fps if fps > 0 else 0.0
    return fps, round(float(f.t_ms[-1]) + step)


def analyze_video(
    path: str | Path,
    options: AnalysisOptions | None = None,
    *,
    progress: ProgressFn | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> AnalysisResult:
    """Analyse a video file: shots, transitions (cut/fade/dissolve) and ranked clip proposals.

    `progress(percent, message)` is called from this thread with a monotonic percent of frames decoded
    (100 at the end); `should_stop()` is polled between frame batches and raises `AnalysisCancelled`.
    Raises `VideoError` for unusable input. Width/height are the display size (rotation applied).
    """
    opt = options or AnalysisOptions()
    reporter = _Progress(progress, None, None)
    started = time.monotonic()
    picker = ThumbnailPicker(min(1000.0, opt.min_clip_ms / 2)) if opt.thumbnails else None
    learned = TransNetFrames() if opt.detector == "transnetv2" else None
    observers = tuple(o for o in (picker, learned) if o is not None)
    features, meta = _decode_features(path, opt, reporter, should_stop, observers)
    fps, duration_ms = _timing(features, float(meta["fps"]))
    if learned is not None:
        transitions = learned_transitions(learned.frames, features.t_ms)
    else:
        transitions = detect_transitions(features, fps)
    shots = build_shots(transitions, features.t_ms, duration_ms)
    clips = propose_clips(shots, features, duration_ms, opt)
    thumbnails = _clip_thumbnails(picker, clips) if picker is not None else []
    rotation = int(meta["rotation"])
    width, height = int(meta["width"]), int(meta["height"])
    if rotation in (90, 270):
        width, height = height, width
    log.info(
        "analysed %s: %d frames, %d transitions, %d clips in %.2fs",
        Path(path).name,
        features.n,
        len(transitions),
        len(clips),
        time.monotonic() - started,
    )
    reporter.done(f"analysed {features.n} frames: {len(shots)} shots, {len(clips)} clips")
    return AnalysisResult(
        duration_ms=duration_ms,
        fps=round(fps, 3),
        frames=features.n,
        width=width,
        height=height,
        corrupt_frames=int(meta["corrupt"]),
        shots=shots,
        transitions=transitions,
        clips=clips,
        rotation=rotation,
        thumbnails=thumbnails,
    )


def _clip_thumbnails(picker: ThumbnailPicker, clips: list[ClipProposal]) -> list[bytes | None]:
    """Each clip's JPEG from the analysis pass (its `thumbnail_frame_ms` becomes that frame's time), or
    None where no sampled frame fell inside the clip."""
    picker.finish()
    chosen = [picker.choose(clip) for clip in clips]
    picker.encode([c for c in chosen if c is not None])
    out: list[bytes | None] = []
    for clip, best in zip(clips, chosen, strict=True):
        if best is not None:
            clip.thumbnail_frame_ms = round(best.t_ms)
        out.append(best.jpeg if best is not None else None)
    picker.release()
    return out
