"""Cross-dissolves into and out of fast motion are found as gradual transitions (the detail-energy dip
test, `energy.energy_dip`, needs no pixel correspondence); fast motion alone is not a transition."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from app.video import analyze_video
from app.video.dissolve import _neighbour_mean
from app.video.energy import energy_dip
from app.video.features import FrameFeatures
from app.video.sampling import FeatureExtractor
from PIL import Image

from .conftest import encode, scene

N, START, LENGTH = 90, 30, 20


def _texture(seed: int, width: int) -> np.ndarray:
    """Smooth random luma texture (120 x width), 8 px grain."""
    rng = np.random.default_rng(seed)
    return np.kron(rng.uniform(0, 255, (15, width // 8 + 1)), np.ones((8, 8)))[:, :width]


def _features(frames: list[np.ndarray]) -> FrameFeatures:
    ex = FeatureExtractor(64, 25.0)
    for i, y in enumerate(frames):
        ex.add(np.clip(y, 0, 255).astype(np.uint8), 0, i * 40.0)
    return ex.finish()


def _pan(tex: np.ndarray, speed: int) -> list[np.ndarray]:
    return [tex[:, i * speed : i * speed + 160] for i in range(N)]


def test_energy_dip_at_dissolve_into_fast_motion() -> None:
    slow, fast = _pan(_texture(1, 400), 1), _pan(_texture(2, 160 + 12 * N), 12)
    mix = [slow[START + j] * (1 - (j + 1) / (LENGTH + 1)) + fast[j] * ((j + 1) / (LENGTH + 1)) for j in range(LENGTH)]
    f = _features(slow[:START] + mix + fast[: N - START - LENGTH])
    centre, h = START + LENGTH // 2, LENGTH // 2
    assert energy_dip(f, np.array([centre]), h)[0]


def test_no_energy_dip_in_fast_motion() -> None:
    f = _features(_pan(_texture(3, 160 + 12 * N), 12))
    for h in f.half_spans:
        c = np.arange(h, f.n - h)
        assert not energy_dip(f, c, h).any()


def _smooth_pan(seed: int, speed: int, n: int) -> list[np.ndarray]:
    """320x240 pan (`speed` px per frame) over a smooth bicubic colour-noise texture (float RGB)."""
    rng = np.random.default_rng(seed)
    width = 320 + speed * n
    small = rng.uniform(0, 255, (20, width // 12, 3)).astype(np.uint8)
    tex = np.asarray(Image.fromarray(small).resize((width, 240), Image.BICUBIC), np.float32)
    return [tex[:, i * speed : i * speed + 320] for i in range(n)]


def _blend(a: list[np.ndarray], b: list[np.ndarray], start: int, length: int, n: int) -> list[np.ndarray]:
    """Shot `a` until `start`, a linear cross-dissolve of `length` frames into `b`, then `b` (n frames)."""
    mix = [a[start + j] * (1 - (j + 1) / (length + 1)) + b[j] * ((j + 1) / (length + 1)) for j in range(length)]
    return a[:start] + mix + b[length : n - start]


@pytest.mark.parametrize("into_fast", [True, False])
def test_dissolve_with_fast_motion_is_gradual(tmp_path: Path, into_fast: bool) -> None:
    slow, fast = _smooth_pan(1, 1, 75), _smooth_pan(2, 10, 75)  # 10 px/frame: ~3 % of the width
    frames = _blend(slow, fast, 30, 15, 75) if into_fast else _blend(fast, slow, 30, 15, 75)
    res = analyze_video(encode(tmp_path / "dissolve.mp4", frames))
    assert len(res.transitions) == 1, res.transitions
    tr = res.transitions[0]
    assert tr.kind == "dissolve"
    assert 26 <= tr.start_frame <= 37 <= tr.end_frame <= 48  # ground truth: frames 30..44


@pytest.fixture(scope="module")
def fast_only(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return encode(tmp_path_factory.mktemp("fast") / "fast_only.mp4", scene(13, 75, speed=12))


def test_fast_motion_alone_is_no_transition(fast_only: Path) -> None:
    assert analyze_video(fast_only).transitions == []


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_neighbour_mean_is_the_nan_mean_of_the_two_neighbours(dtype: type) -> None:
    """`_neighbour_mean` is np.nanmean of x at c-2h and c+2h, bit for bit, +inf where neither exists."""
    rng = np.random.default_rng(4)
    x = rng.uniform(0, 2, 200).astype(dtype)
    x[rng.integers(0, 200, 40)] = np.nan
    for h in (2, 5, 9):
        c = np.arange(h, 200 - h)
        got = _neighbour_mean(x, c, h)
        xp = np.concatenate([np.full(2 * h, np.nan), x, np.full(2 * h, np.nan)])
        pairs = np.stack([xp[c], xp[c + 4 * h]])
        none = np.isnan(pairs).all(axis=0)
        assert np.isposinf(got[none]).all()
        with np.errstate(invalid="ignore"):
            ref = np.nanmean(pairs[:, ~none], axis=0)
        assert got.dtype == ref.dtype
        assert got[~none].tobytes() == ref.tobytes()
        assert none.any()
        assert (~np.isnan(pairs).any(axis=0)).any()
