"""Clip thumbnails taken during the analysis pass, so the job never decodes the video a second time.

Re-opening the file for each clip's thumbnail and decoding again from the keyframe before it cost
about as much as the analysis itself. Instead, while frames are decoded, every SHARP_EVERY-th frame is
scored with the clips' still-image quality (`clips.still_quality`: sharpness, contrast and exposure of
its 64 x 64 centre crop) and, per time bucket, the best such frame is kept. A clip then takes the best
candidate inside it. A bucket is at most half the shortest clip, so every clip holds a whole bucket and
thus at least one candidate (unless frames are missing there).

Only the candidates that clips pick become JPEGs (at most `max_width` wide, display rotation applied):
a candidate keeps its decoded frame (a reference, no copy) until the clips are known, within a memory
budget (`hold_bytes`); past it the oldest held candidates are encoded right away (~10 KB each). Most
candidates are never picked, and scaling, converting and encoding one cost 1.5-2 ms, as much as decoding
several frames: on short or small videos that was the largest cost the thumbnails added. A JPEG is made
from the same frame by the same steps either way, so the budget changes when it is made, not its bytes.

A sampled frame's quality comes from statistics of its centre crop that the batch maths computes for the
`sharp` feature anyway (and two sums), handed to `resolve` after each batch: scored here, a frame cost
a dozen numpy calls, ~50 us next to a busy decoder (~6 us a frame at 192x108, where decoding costs ~70).
Meanwhile the sampled frames wait, held (at most `DEFER_BYTES` of luma; past it the oldest is scored
from the frame, the same value): the order in which they are considered, and so the choice, is the same.
"""

from __future__ import annotations

import io
import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np
from av.video.reformatter import VideoReformatter
from PIL import Image

from .clips import still_quality
from .decode import display_width, frame_rotation, luma_plane
from .features import CROP, SHARP_EVERY, CropStats
from .models import ClipProposal

HOLD_BYTES = 64 << 20  # decoded frames held per analysis until the clips are known
DEFER_BYTES = 8 << 20  # luma of the sampled frames held until the batch maths has their crop statistics
ENCODE_THREADS = 2  # the chosen thumbnails are encoded on this many threads at once (see `encode`)


@dataclass
class Candidate:
    """The best sampled frame of one bucket: its time, quality and JPEG (made when first needed)."""

    t_ms: float
    quality: float
    jpeg: bytes | None = None
    frame: Any = None  # the decoded frame, held until its JPEG is made
    held: int = 0  # bytes of decoded frame held


class ThumbnailPicker:
    """Feed decoded frames with `offer`; `finish` then `pick` the best candidate inside each clip, and
    `release` the frames still held."""

    def __init__(self, bucket_ms: float, rotation: int = 0, max_width: int = 320, hold_bytes: int = HOLD_BYTES) -> None:
        self.bucket_ms = max(1.0, bucket_ms)
        self.rotation = rotation
        self.aspect: Fraction | None = None  # `decode.sample_aspect` of the frames: None for square pixels
        self.max_width = max_width
        self.hold_bytes = hold_bytes
        self.candidates: list[Candidate] = []
        self._held: deque[Candidate] = deque()
        self._held_bytes = 0
        self._count = 0
        self._bucket = -1
        self._best: tuple[float, float, Any] | None = None  # quality, t_ms, frame
        # sampled frames in order, [t_ms, frame, quality], from the first whose quality is not known yet;
        # those whose crop statistics are still to come; the luma bytes of the waiting frames
        self._waiting: deque[list[Any]] = deque()
        self._expect: deque[list[Any]] = deque()
        self._waiting_bytes = 0
        self.defer_bytes = DEFER_BYTES
        self._local = threading.local()  # the JPEG encoding thread's VideoReformatter

    def offer(self, frame: Any, t_ms: float, crop_follows: bool = False) -> None:
        """Consider a decoded frame shown at `t_ms`; cheap except on sampled frames. `crop_follows`: the
        statistics of this frame's centre crop will be handed to `resolve` (the batch maths computes most
        of them anyway, `sampling.FeatureExtractor` taking the crop on the same frames), so its quality
        is not computed here; the frame waits, held, until they come (within `defer_bytes`)."""
        k = self._count
        self._count += 1
        if k % SHARP_EVERY:
            return
        if k == 0:
            self.rotation = frame_rotation(frame)
        entry: list[Any] = [t_ms, frame, None]
        if crop_follows:
            self._expect.append(entry)
        if not crop_follows or self._waiting_bytes > self.defer_bytes:
            entry[2] = _quality(*luma_plane(frame))
            if not self._waiting:
                self._consider(t_ms, frame, entry[2])
                return
        self._waiting.append(entry)
        self._waiting_bytes += frame.width * frame.height
        self._drain()

    def resolve(self, stats: CropStats) -> None:
        """The statistics of the next centre crops announced by `offer`, in order (see `features.CropStats`)."""
        for var, total, squares in zip(*stats, strict=True):
            entry = self._expect.popleft()
            if entry[2] is None:
                n = CROP * CROP
                mean = total / n
                entry[2] = _still_quality(var, max(0.0, squares / n - mean * mean) ** 0.5, mean)
        self._drain()

    def _drain(self) -> None:
        """Consider the waiting frames whose quality is known, in order; past `defer_bytes` of waiting
        frames, score the oldest from the frame itself (the same value, only sooner)."""
        waiting = self._waiting
        while waiting:
            t_ms, frame, quality = waiting[0]
            if quality is None:
                if self._waiting_bytes <= self.defer_bytes:
                    return
                quality = waiting[0][2] = _quality(*luma_plane(frame))
            waiting.popleft()
            self._waiting_bytes -= frame.width * frame.height
            self._consider(t_ms, frame, quality)

    def _consider(self, t_ms: float, frame: Any, quality: float) -> None:
        bucket = int(t_ms // self.bucket_ms)
        if bucket != self._bucket:
            self._close()
            self._bucket = bucket
        if self._best is None or quality > self._best[0]:
            self._best = (quality, t_ms, frame)

    def finish(self) -> list[Candidate]:
        """Close the last bucket (frames still waiting for their crop statistics are scored from the frame)
        and return the candidates."""
        self.defer_bytes = -1
        self._drain()
        self._expect.clear()
        self._close()
        return self.candidates

    def pick(self, clip: ClipProposal) -> Candidate | None:
        """The best candidate shown within the clip (earliest on ties), with its JPEG, or None."""
        best = self.choose(clip)
        if best is not None:
            self._encode(best)
        return best

    def choose(self, clip: ClipProposal) -> Candidate | None:
        """The best candidate shown within the clip (earliest on ties), its JPEG not made yet, or None."""
        inside = [c for c in self.candidates if clip.start_ms <= c.t_ms < clip.end_ms]
        if not inside:
            return None
        return max(inside, key=lambda c: (c.quality, -c.t_ms))

    def encode(self, chosen: list[Candidate], threads: int = ENCODE_THREADS) -> None:
        """Make the JPEGs of the `chosen` candidates that have none, on up to `threads` threads at once: the
        scaling and the encoding release the GIL, and they are what is left to do once the analysis is."""
        todo = list({id(c): c for c in chosen if c.jpeg is None}.values())
        if threads < 2 or len(todo) < 2:
            for cand in todo:
                self._encode(cand)
            return
        with ThreadPoolExecutor(min(threads, len(todo)), thread_name_prefix="video-thumbnails") as pool:
            jpegs = list(pool.map(self._jpeg, [c.frame for c in todo]))
        for cand, jpeg in zip(todo, jpegs, strict=True):
            cand.jpeg = jpeg
            self._let_go(cand)

    def release(self) -> None:
        """Drop the decoded frames still held (candidates without a JPEG stay without one)."""
        for cand in self._held:
            cand.frame, cand.held = None, 0
        self._held.clear()
        self._held_bytes = 0

    def _close(self) -> None:
        if self._best is None:
            return
        quality, t_ms, frame = self._best
        self._best = None
        size = sum(plane.buffer_size for plane in frame.planes)
        cand = Candidate(t_ms, quality, frame=frame, held=size)
        self.candidates.append(cand)
        self._held.append(cand)
        self._held_bytes += size
        while self._held_bytes > self.hold_bytes and self._held:
            self._encode(self._held[0])

    def _encode(self, cand: Candidate) -> None:
        """Make the candidate's JPEG from its held frame (once) and let the frame go."""
        if cand.jpeg is not None:
            return
        cand.jpeg = self._jpeg(cand.frame)
        self._let_go(cand)

    def _let_go(self, cand: Candidate) -> None:
        """Drop the decoded frame of a candidate whose JPEG is made."""
        self._held.remove(cand)  # the oldest when over budget; a picked one is usually near the front
        self._held_bytes -= cand.held
        cand.frame, cand.held = None, 0

    def _jpeg(self, frame: Any) -> bytes:
        w, h = display_width(frame.width, self.aspect), frame.height
        if w > self.max_width:
            w, h = self.max_width, max(1, round(h * self.max_width / w))
        # swscale's fast bilinear filter: 3x cheaper than its default here (5.7 -> 1.7 ms for a 720p frame
        # to 320 px), which made the thumbnails ~15 % of a 720p analysis
        reformatter = getattr(self._local, "reformatter", None)
        if reformatter is None:  # one a thread: it keeps its scaler between frames (10x faster than frame.reformat)
            reformatter = self._local.reformatter = VideoReformatter()
        rgb = reformatter.reformat(frame, width=w, height=h, format="rgb24", interpolation="FAST_BILINEAR")
        plane: Any = rgb.planes[0]  # wrapped as is (`to_image` would reformat again and copy)
        image = Image.frombuffer("RGB", (w, h), plane, "raw", "RGB", plane.line_size, 1)
        if self.rotation:
            image = image.rotate(self.rotation, expand=True)
        out = io.BytesIO()
        image.save(out, format="JPEG", quality=85)
        return out.getvalue()


def _quality(y: np.ndarray, shift: int) -> float:
    """Still-image quality of the 64 x 64 centre crop of a luma plane (the clips' formula; the whole plane,
    subsampled, and sharpness 0.5 for frames smaller than the crop).

    This runs on the decoding thread on the sampled frames whose crop statistics do not come from the batch
    maths, so in few numpy calls: the Laplacian in int16 (|value| <= 1020), its variance as
    `features.laplacian_var` computes it and the crop's mean and standard deviation from sums of integers,
    exact in float64 whatever the order of summation (`resolve` gets the same sums, so the same value)."""
    h, w = y.shape
    if min(h, w) >= CROP:
        cy, cx = (h - CROP) // 2, (w - CROP) // 2
        crop = y[cy : cy + CROP, cx : cx + CROP]
        c = (crop >> shift if shift else crop).astype(np.int16)
        lap = c[1:-1, 1:-1] * np.int16(4)
        lap -= c[:-2, 1:-1]
        lap -= c[2:, 1:-1]
        lap -= c[1:-1, :-2]
        lap -= c[1:-1, 2:]
        lf, cf = lap.astype(np.float64).reshape(-1), c.astype(np.float64).reshape(-1)
        mean, lmean = float(cf.sum()) / cf.size, float(lf.sum()) / lf.size
        sharp = 0.25 * (float(lf @ lf) / lf.size - lmean * lmean)
        std = max(0.0, float(cf @ cf) / cf.size - mean * mean) ** 0.5
        return _still_quality(sharp, std, mean)
    sample = y.astype(np.float32) / float(1 << shift)
    return float(still_quality(200.0, float(sample.std()), float(sample.mean())))


def _still_quality(sharp_var: float, std: float, mean: float) -> float:
    """`clips.still_quality` of one frame in Python floats (the same IEEE operations, without numpy's
    per-call cost on scalars)."""
    contrast = min(std / 64.0, 1.0)
    exposure = min(max(1.0 - abs(mean - 118.0) / 118.0, 0.0), 1.0)
    return 0.5 * (sharp_var / (sharp_var + 200.0)) + 0.25 * contrast + 0.25 * exposure
