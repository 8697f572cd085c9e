"""Clip thumbnails taken during the analysis pass, so the job never decodes the video a second time.

Re-opening the file for each clip's thumbnail and decoding again from the keyframe before it cost
about as much as the analysis itself. Instead, while frames are decoded, every SHARP_EVERY-th frame is
scored with the clips' still-image quality (`clips.still_quality`: sharpness, contrast and exposure of
its 64 x 64 centre crop) and, per time bucket, the best such frame is kept as a small JPEG (at most
`max_width` wide, display rotation applied). A clip then takes the best candidate inside it. A bucket
is at most half the shortest clip, so every clip holds a whole bucket and thus at least one candidate
(unless frames are missing there); memory is one JPEG per bucket (~10 KB a second of video).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import numpy as np
from av.video.reformatter import VideoReformatter

from .clips import still_quality
from .decode import frame_rotation
from .features import CROP, SHARP_EVERY, laplacian_var
from .models import ClipProposal


@dataclass
class Candidate:
    t_ms: float
    quality: float
    jpeg: bytes


class ThumbnailPicker:
    """Feed decoded frames with `offer`; `finish` then `pick` the best candidate inside each clip."""

    def __init__(self, bucket_ms: float, rotation: int = 0, max_width: int = 320) -> None:
        self.bucket_ms = max(1.0, bucket_ms)
        self.rotation = rotation
        self.max_width = max_width
        self.candidates: list[Candidate] = []
        self._count = 0
        self._bucket = -1
        self._best: tuple[float, float, Any] | None = None  # quality, t_ms, frame
        self._reformatter = VideoReformatter()  # keeps its scaler between frames (10x faster than frame.reformat)

    def offer(self, frame: Any, y: np.ndarray, shift: int, t_ms: float) -> None:
        """Consider a decoded frame (its luma plane `y`, shown at `t_ms`); cheap except on sampled frames."""
        k = self._count
        self._count += 1
        if k == 0:
            self.rotation = frame_rotation(frame)
        if k % SHARP_EVERY:
            return
        bucket = int(t_ms // self.bucket_ms)
        if bucket != self._bucket:
            self._close()
            self._bucket = bucket
        quality = _quality(y, shift)
        if self._best is None or quality > self._best[0]:
            self._best = (quality, t_ms, frame)

    def finish(self) -> list[Candidate]:
        self._close()
        return self.candidates

    def pick(self, clip: ClipProposal) -> Candidate | None:
        """The best candidate shown within the clip (earliest on ties), or None."""
        inside = [c for c in self.candidates if clip.start_ms <= c.t_ms < clip.end_ms]
        return max(inside, key=lambda c: (c.quality, -c.t_ms)) if inside else None

    def _close(self) -> None:
        if self._best is None:
            return
        quality, t_ms, frame = self._best
        self._best = None
        self.candidates.append(Candidate(t_ms, quality, self._jpeg(frame)))

    def _jpeg(self, frame: Any) -> bytes:
        w, h = frame.width, frame.height
        if w > self.max_width:
            w, h = self.max_width, max(1, round(h * self.max_width / w))
        # swscale's fast bilinear filter: 3x cheaper than its default here (5.7 -> 1.7 ms for a 720p frame
        # to 320 px), which made the thumbnails ~15 % of a 720p analysis
        image = self._reformatter.reformat(
            frame, width=w, height=h, format="rgb24", interpolation="FAST_BILINEAR"
        ).to_image()
        if self.rotation:
            image = image.rotate(self.rotation, expand=True)
        out = io.BytesIO()
        image.save(out, format="JPEG", quality=85)
        return out.getvalue()


def _quality(y: np.ndarray, shift: int) -> float:
    """Still-image quality of the 64 x 64 centre crop of a luma plane (the clips' formula; the whole plane,
    subsampled, and sharpness 0.5 for frames smaller than the crop)."""
    h, w = y.shape
    if min(h, w) >= CROP:
        cy, cx = (h - CROP) // 2, (w - CROP) // 2
        crop = y[cy : cy + CROP, cx : cx + CROP]
        crop8 = (crop >> shift if shift else crop).astype(np.uint8)
        return float(still_quality(float(laplacian_var(crop8[None])[0]), float(crop8.std()), float(crop8.mean())))
    sample = y.astype(np.float32) / float(1 << shift)
    return float(still_quality(200.0, float(sample.std()), float(sample.mean())))
