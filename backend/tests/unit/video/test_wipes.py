"""Wipes, on tiny generated clips (160x120, 25 fps): a shot replaced by another behind an edge that crosses
the picture is one transition of kind "wipe", whatever the edge's shape; things crossing the picture and
leaving it as it was are none."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from app.video import AnalysisOptions, analyze_video
from app.video.analyze import _decode_features
from app.video.wipe import WIPE_FRAMES, _judge, _switches, _switching
from PIL import Image

from .conftest import H, W, encode

SHOT = 40


def _view(seed: int, n: int) -> list[np.ndarray]:
    """A still colour landscape with film grain (float RGB frames)."""
    rng = np.random.default_rng(seed)
    small = rng.uniform(0, 255, (6, 8, 3)).astype(np.uint8)
    still = np.asarray(Image.fromarray(small).resize((W, H), Image.BICUBIC), np.float32)
    return [still + rng.normal(0, 3, still.shape).astype(np.float32) for _ in range(n)]


def _mask(shape: str, p: float) -> np.ndarray:
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    x, y = (xx + 0.5) / W, (yy + 0.5) / H
    u = {
        "left": x,
        "up": 1 - y,
        "diagonal": (x + y) / 2,
        "iris": np.hypot(x - 0.5, (y - 0.5) * H / W) / np.hypot(0.5, 0.5 * H / W),
        "clock": (np.arctan2(x - 0.5, 0.5 - y) / (2 * np.pi)) % 1.0,
    }[shape]
    return (u < p).astype(np.float32)[..., None]


def _wiped(seed: int, shape: str, frames: int) -> list[np.ndarray]:
    a, b = _view(seed, SHOT + frames), _view(seed + 100, SHOT + frames)
    middle = [a[SHOT + j] * (1 - m) + b[j] * m for j in range(frames) for m in [_mask(shape, (j + 1) / (frames + 1))]]
    return a[:SHOT] + middle + b[frames : frames + SHOT]


def _transitions(tmp_path: Path, frames: list[np.ndarray]) -> list[tuple[str, int, int]]:
    res = analyze_video(encode(tmp_path / "clip.mp4", frames))
    return [(t.kind, t.start_frame, t.end_frame) for t in res.transitions]


@pytest.mark.parametrize(("shape", "frames"), [("left", 15), ("up", 12), ("diagonal", 20), ("iris", 15), ("clock", 18)])
def test_a_wipe_is_one_transition_over_its_span(tmp_path: Path, shape: str, frames: int) -> None:
    found = _transitions(tmp_path, _wiped(3, shape, frames))
    assert len(found) == 1, found
    kind, start, end = found[0]
    assert kind == "wipe"
    assert start >= SHOT - 2  # inside the wipe, give or take a frame
    assert end <= SHOT + frames + 1
    assert end - start + 1 >= frames // 2  # and over most of it, not one frame of it


def test_a_shade_crossing_the_picture_and_leaving_is_no_wipe(tmp_path: Path) -> None:
    """A dark blob wider than the frame enters from the left, covers it and leaves on the right: its edges
    sweep across like a wipe's, once in and once out, and the picture behind is the same."""
    frames = _view(5, 110)
    xx = np.mgrid[0:H, 0:W][1].astype(np.float32)
    for j in range(40):
        cx = -W + (j + 0.5) / 40 * 3 * W
        alpha = np.clip((W * 0.9 - np.abs(xx - cx)) / 8.0, 0, 1)[..., None]
        frames[35 + j] = frames[35 + j] * (1 - alpha) + 20 * alpha
    assert _transitions(tmp_path, frames) == []


def test_a_cut_is_no_wipe(tmp_path: Path) -> None:
    assert _transitions(tmp_path, _view(7, SHOT) + _view(8, SHOT)) == [("cut", SHOT, SHOT)]


def test_the_batched_first_tests_are_judges_first_tests(tmp_path: Path) -> None:
    """`_switching` makes `_judge`'s first tests (`_switches`) on many windows at once, in chunks: window by
    window the same answer, over wipes, still shots and cuts; most windows stop there."""
    a, b = _view(7, SHOT + 30), _view(107, SHOT + 30)
    x = (np.arange(W, dtype=np.float32) + 0.5) / W
    # a long wipe whose edge is feathered over a third of the picture: each tile takes frames to cross
    soft = [np.clip((1.3 * (j + 1) / 31 - x) / 0.3, 0, 1)[None, :, None] for j in range(30)]
    middle = [a[SHOT + j] * (1 - m) + b[j] * m for j, m in enumerate(soft)]
    frames = _wiped(5, "diagonal", 16) + _wiped(6, "clock", 12) + a[:SHOT] + middle + b[30:]
    f, _ = _decode_features(encode(tmp_path / "clip.mp4", frames), AnalysisOptions(), None, None)
    sig = f.sig.astype(np.int16)
    grid = f.sig_grid
    assert grid is not None
    wipes = windows = 0
    for span in WIPE_FRAMES[1:]:
        starts = np.arange(0, f.n - span - 1)
        ok = _switching(sig, starts, span, chunk=7)  # chunks that end mid-way through the windows
        assert ok.tolist() == [_switches(sig[s : s + span + 2]) is not None for s in starts]
        wipes += sum(_judge(sig[s : s + span + 2], grid) is not None for s in starts[ok])
        windows += int(ok.sum())
    assert wipes > 0  # windows over the wipes are judged wipes ...
    assert windows < 0.5 * sum(f.n - span - 1 for span in WIPE_FRAMES[1:])  # ... and most windows stop early
