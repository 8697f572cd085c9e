"""Behaviour of analyze_video on tiny synthetic clips: cuts, fades, flashes, clips, progress, cancel."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from app.video import AnalysisCancelled, AnalysisOptions, analyze_video


def test_cuts_found_at_the_right_frames(videos: dict[str, Path]) -> None:
    res = analyze_video(videos["cuts"])
    assert res.frames == 75
    assert (res.width, res.height) == (160, 120)
    assert res.fps == pytest.approx(25.0)
    assert res.duration_ms == pytest.approx(3000, abs=45)
    cuts = [t.start_frame for t in res.transitions if t.kind == "cut"]
    assert len(res.transitions) == 2
    assert cuts == [pytest.approx(25, abs=1), pytest.approx(50, abs=1)]
    assert [s.transition_in for s in res.shots] == ["start", "cut", "cut"]
    assert res.shots[1].start_ms == pytest.approx(1000, abs=45)
    assert res.shots[-1].end_ms == res.duration_ms
    json.dumps(res.to_dict())


def test_fade_detected_as_gradual(videos: dict[str, Path]) -> None:
    res = analyze_video(videos["fade"])
    assert len(res.transitions) == 1, res.transitions
    fade = res.transitions[0]
    assert fade.kind == "fade"
    assert fade.start_frame <= 32
    assert fade.end_frame >= 47
    assert fade.end_frame - fade.start_frame >= 10
    assert 0.0 <= fade.score <= 1.0
    assert res.shots[1].transition_in == "fade"
    assert res.shots[1].transition_in_span == (fade.start_frame, fade.end_frame)


def test_flash_is_not_a_cut(videos: dict[str, Path]) -> None:
    res = analyze_video(videos["flash"])
    assert res.transitions == []
    assert len(res.shots) == 1


def test_clips_within_bounds_and_scored(videos: dict[str, Path]) -> None:
    opts = AnalysisOptions(min_clip_ms=800, max_clip_ms=1500, max_clips=10)
    res = analyze_video(videos["long"], opts)
    assert len(res.clips) >= 2  # a 4 s shot split into windows of at most 1.5 s
    for clip in res.clips:
        assert opts.min_clip_ms <= clip.end_ms - clip.start_ms <= opts.max_clip_ms
        assert 0.0 <= clip.visual_score <= 1.0
        assert clip.start_ms <= clip.thumbnail_frame_ms < clip.end_ms
    scores = [c.visual_score for c in res.clips]
    assert scores == sorted(scores, reverse=True)
    again = analyze_video(videos["long"], opts)
    assert again.clips == res.clips  # deterministic


def test_short_shots_dropped_and_max_clips(videos: dict[str, Path]) -> None:
    merged = analyze_video(videos["cuts"], AnalysisOptions(min_clip_ms=2500, max_clip_ms=5000))
    assert [(c.start_ms, c.end_ms, c.shot_index) for c in merged.clips] == [(0, 3000, 0)]  # 3 x 1 s merged
    res = analyze_video(videos["cuts"], AnalysisOptions(min_clip_ms=3500, max_clip_ms=5000))
    assert res.clips == []  # even merged, the shots are too short
    res = analyze_video(videos["cuts"], AnalysisOptions(min_clip_ms=500, max_clip_ms=5000, max_clips=2))
    assert len(res.clips) == 2


def test_progress_monotonic_and_complete(videos: dict[str, Path]) -> None:
    seen: list[float] = []
    analyze_video(videos["long"], AnalysisOptions(batch_frames=8), progress=lambda p, m: seen.append(p))
    assert len(seen) >= 3
    assert seen == sorted(seen)
    assert seen[-1] == 100.0
    assert all(0.0 <= p <= 100.0 for p in seen)


def test_should_stop_cancels(videos: dict[str, Path]) -> None:
    calls: list[int] = []

    def stop() -> bool:
        calls.append(1)
        return len(calls) >= 2

    with pytest.raises(AnalysisCancelled):
        analyze_video(videos["long"], AnalysisOptions(batch_frames=8), should_stop=stop)
    assert len(calls) == 2
