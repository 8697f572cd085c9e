"""Clip proposals from shots, ranked by a deterministic visual score.

Each frame gets four components in [0, 1] computed from the features of `features.py` (luma in 0..255):

* sharpness ``S = v / (v + 200)`` where ``v`` is the variance of the 4-neighbour Laplacian of the luma on a
  full-resolution 64x64 centre crop, sampled every 8th frame and carried forward (blurred or flat
  frames have low ``v``); ``S = 0.5`` when the frame is smaller than 64x64;
* contrast ``C = min(std / 64, 1)`` with ``std`` the luma standard deviation;
* motion ``M = exp(-0.5 * ln((d + 0.5) / 5.5)**2)`` where ``d`` is the mean absolute luma difference to the
  previous frame: 1 for moderate motion (d ~ 5), falling towards 0 for static (d -> 0) or chaotic frames;
* exposure ``E = 1 - |mean - 118| / 118`` clipped to [0, 1]: 1 for mid-grey average luma, 0 for black/white.

``visual_score = 0.35*S + 0.25*C + 0.20*M + 0.20*E`` averaged over the frames of the clip, so it lies in
[0, 1]. The thumbnail is the frame of the clip with the highest still-image quality
``0.5*S + 0.25*C + 0.25*E``.

Proposal rules: transition frames are excluded from clips; shots longer than ``max_clip_ms`` are split into
equal windows (each at most ``max_clip_ms``); consecutive shots shorter than ``min_clip_ms`` are merged
until the group is long enough (groups still too short are dropped). The best ``max_clips`` are returned,
sorted by score (ties: earlier first). No randomness: the same features always give the same clips.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .features import FrameFeatures
from .models import AnalysisOptions, ClipProposal, Shot

WEIGHTS = {"sharpness": 0.35, "contrast": 0.25, "motion": 0.20, "exposure": 0.20}


def _ffill(x: np.ndarray, default: float) -> np.ndarray:
    """Replace NaN by the last valid value before it (sharpness is sampled on every 8th frame)."""
    valid = ~np.isnan(x)
    if not valid.any():
        return np.full_like(x, default)
    idx = np.maximum.accumulate(np.where(valid, np.arange(x.shape[0]), 0))
    out = x[idx]
    out[np.isnan(out)] = x[valid][0]
    return out


def frame_components(f: FrameFeatures) -> dict[str, np.ndarray]:
    """Per-frame score components in [0, 1] (see module docstring)."""
    v = _ffill(f.sharp.astype(np.float64), default=200.0)
    d = f.dpix.astype(np.float64)
    mean = f.mean.astype(np.float64)
    return {
        "sharpness": v / (v + 200.0),
        "contrast": np.minimum(f.std.astype(np.float64) / 64.0, 1.0),
        "motion": np.exp(-0.5 * np.log((d + 0.5) / 5.5) ** 2),
        "exposure": np.clip(1.0 - np.abs(mean - 118.0) / 118.0, 0.0, 1.0),
    }


def still_quality(sharp_var: Any, std: Any, mean: Any) -> Any:
    """Still-image quality ``0.5*S + 0.25*C + 0.25*E`` in [0, 1] from the Laplacian variance, luma std and
    mean (scalars or arrays): how good a frame looks as a thumbnail."""
    sharpness = sharp_var / (sharp_var + 200.0)
    contrast = np.minimum(std / 64.0, 1.0)
    exposure = np.clip(1.0 - np.abs(mean - 118.0) / 118.0, 0.0, 1.0)
    return 0.5 * sharpness + 0.25 * contrast + 0.25 * exposure


def frame_scores(f: FrameFeatures) -> tuple[np.ndarray, np.ndarray]:
    """Return (visual score per frame, still-image quality per frame), both in [0, 1]."""
    comp = frame_components(f)
    visual = sum(WEIGHTS[k] * comp[k] for k in WEIGHTS)
    v = _ffill(f.sharp.astype(np.float64), default=200.0)
    still = still_quality(v, f.std.astype(np.float64), f.mean.astype(np.float64))
    return np.asarray(visual), np.asarray(still)


def _clean_ranges(shots: list[Shot]) -> list[tuple[int, int, int]]:
    """(shot_index, first_frame, last_frame) of each shot without its transition frames."""
    out = []
    for i, shot in enumerate(shots):
        start, end = shot.start_frame, shot.end_frame
        if shot.transition_in_span is not None:
            start = max(start, shot.transition_in_span[1] + 1)
        next_span = shots[i + 1].transition_in_span if i + 1 < len(shots) else None
        if next_span is not None:
            end = min(end, next_span[0] - 1)
        if end >= start:
            out.append((shot.index, start, end))
    return out


class _Timeline:
    def __init__(self, t_ms: np.ndarray, duration_ms: int) -> None:
        self.t = t_ms
        self.duration_ms = duration_ms

    def start(self, frame: int) -> float:
        return float(self.t[frame])

    def end(self, frame: int) -> float:
        """End time of `frame` (start of the next frame, or the video duration)."""
        return float(self.t[frame + 1]) if frame + 1 < self.t.shape[0] else float(self.duration_ms)

    def frame_at(self, ms: float) -> int:
        return int(np.clip(np.searchsorted(self.t, ms, side="right") - 1, 0, self.t.shape[0] - 1))


def _groups(ranges: list[tuple[int, int, int]], tl: _Timeline, opt: AnalysisOptions) -> list[tuple[int, int, int]]:
    """Merge consecutive too-short ranges; drop groups that stay too short."""
    out: list[tuple[int, int, int]] = []
    pending: tuple[int, int, int] | None = None
    for shot_index, a, b in ranges:
        if tl.end(b) - tl.start(a) >= opt.min_clip_ms:
            out.append((shot_index, a, b))
            pending = None
            continue
        if pending is not None and tl.end(b) - tl.start(pending[1]) <= opt.max_clip_ms:
            pending = (pending[0], pending[1], b)
        else:
            pending = (shot_index, a, b)
        if tl.end(pending[2]) - tl.start(pending[1]) >= opt.min_clip_ms:
            out.append(pending)
            pending = None
    return out


def _windows(a: int, b: int, tl: _Timeline, opt: AnalysisOptions) -> list[tuple[float, float]]:
    """Split [start(a), end(b)) into equal windows within [min_clip_ms, max_clip_ms]."""
    t0, t1 = tl.start(a), tl.end(b)
    length = t1 - t0
    k = max(1, math.ceil(length / opt.max_clip_ms))
    if length / k < opt.min_clip_ms:
        k = max(1, int(length // opt.min_clip_ms))
    win = length / k
    spans = []
    for i in range(k):
        s = t0 + i * win
        e = min(s + win, s + opt.max_clip_ms)
        spans.append((s, e))
    return spans


def propose_clips(
    shots: list[Shot], f: FrameFeatures, duration_ms: int, options: AnalysisOptions
) -> list[ClipProposal]:
    """Turn shots into at most `options.max_clips` ranked clip proposals (see module docstring)."""
    if f.n == 0 or options.max_clips == 0:
        return []
    tl = _Timeline(f.t_ms, duration_ms)
    visual, still = frame_scores(f)
    csum = np.concatenate([[0.0], np.cumsum(visual)])
    clips: list[ClipProposal] = []
    for shot_index, a, b in _groups(_clean_ranges(shots), tl, options):
        for s_ms, e_ms in _windows(a, b, tl, options):
            fa = max(a, tl.frame_at(s_ms))
            fb = min(b, max(fa, tl.frame_at(e_ms - 1)))
            score = float(np.clip((csum[fb + 1] - csum[fa]) / (fb - fa + 1), 0.0, 1.0))
            thumb = fa + int(np.argmax(still[fa : fb + 1]))
            clips.append(
                ClipProposal(
                    round(s_ms),
                    round(e_ms),
                    round(score, 4),
                    shot_index,
                    round(tl.start(thumb)),
                )
            )
    clips.sort(key=lambda c: (-c.visual_score, c.start_ms))
    return clips[: options.max_clips]
