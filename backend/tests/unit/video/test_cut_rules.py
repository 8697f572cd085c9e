"""The general rules that keep motion from passing for a shot boundary, each on made-up signals or tiny clips:
a cut is a one-frame jump (motion that builds up over frames is not), and a dissolve loses detail alike in
both directions (the motion blur of a swing loses it along the motion only)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from app.video import analyze_video
from app.video.detect import CUT_ISOLATION, _comes_back, _flash_check, _one_frame_jump, _side_stats
from app.video.energy import ANISO_MAX, isotropic_dip
from PIL import Image

from .conftest import H, W, encode, scene


def _kinds(tmp_path: Path, frames: list[np.ndarray]) -> list[tuple[str, int, int]]:
    res = analyze_video(encode(tmp_path / "clip.mp4", frames))
    return [(t.kind, t.start_frame, t.end_frame) for t in res.transitions]


def _signatures(values: list[float]) -> np.ndarray:
    """Signature images (8 pixels each) whose content moves from one pattern to another by `values`."""
    a, b = np.linspace(0, 200, 8), np.linspace(200, 0, 8)
    return np.stack([(1 - v) * a + v * b for v in values]).astype(np.uint8)


STILL = _signatures([0.0] * 8)


def test_a_spike_over_calm_neighbours_is_a_one_frame_jump() -> None:
    s = np.array([0.02, 0.03, 0.02, 0.9, 0.03, 0.02, 0.02])
    assert _one_frame_jump(s, STILL, 3)


def test_change_that_builds_up_over_frames_is_no_one_frame_jump() -> None:
    # a swing accelerating and slowing down: every frame changes nearly as much as its neighbours
    s = np.array([0.01, 0.05, 0.09, 0.13, 0.11, 0.08, 0.04, 0.01])
    assert not _one_frame_jump(s, STILL, 3)
    assert not _one_frame_jump(s, STILL, 4)


def test_a_cut_spread_over_two_frames_is_a_jump_on_both() -> None:
    s = np.array([0.02, 0.02, 0.45, 0.5, 0.03, 0.02])
    blended = _signatures([0.0, 0.0, 0.5, 1.0, 1.0, 1.0])  # frame 2 half-way between frames 1 and 3
    assert _one_frame_jump(s, blended, 2)
    assert _one_frame_jump(s, blended, 3)


def test_two_big_changes_in_a_row_without_a_mixed_frame_between_are_motion() -> None:
    s = np.array([0.02, 0.02, 0.45, 0.5, 0.03, 0.02])
    swing = _signatures([0.0, 0.0, 0.9, 0.2, 1.0, 1.0])  # frame 2 is no mix of frames 1 and 3
    assert not _one_frame_jump(s, swing, 2)
    assert not _one_frame_jump(s, swing, 3)


def _picture(rng: np.random.Generator, n: int, base: np.ndarray) -> list[np.ndarray]:
    """n frames of one still picture (64-pixel signatures) with a level of sensor noise."""
    return [np.clip(base + rng.normal(0, 1.5, base.shape), 0, 255) for _ in range(n)]


def test_a_picture_uncovered_after_a_shade_passed_comes_back() -> None:
    rng = np.random.default_rng(0)
    base = rng.uniform(40, 220, 64)
    shade = [np.where(np.arange(64) < 8 * (k + 1), 12.0, base) for k in range(8)]  # a shape covering it
    sig = np.stack(_picture(rng, 20, base) + shade + _picture(rng, 20, base)).astype(np.uint8)
    for t in (20, 25, 28):  # where it comes in, half-way, where it leaves
        assert _comes_back(sig, t, 25)
    assert not _comes_back(sig, 28, 3)  # within three frames the picture has not come back yet


def test_a_cut_to_another_picture_or_framing_does_not_come_back() -> None:
    rng = np.random.default_rng(1)
    a = rng.uniform(40, 220, (8, 8))
    closer = np.kron(a[2:6, 2:6], np.ones((2, 2)))  # the middle of the same picture, twice as close
    for b in (rng.uniform(40, 220, (8, 8)), closer):
        sig = np.stack(_picture(rng, 20, a.ravel()) + _picture(rng, 20, b.ravel())).astype(np.uint8)
        assert not _comes_back(sig, 20, 25)


def _drifting_cut(to_other: bool) -> np.ndarray:
    """Frames 0-19 of a picture A whose camera drifts: the further back, the more it looks like another framing
    B of the same place (up to 35 %); at frame 20 a cut to B (or, `to_other` false, a flash of B for a frame and
    back to A). 144-pixel signatures with a level of noise."""
    rng = np.random.default_rng(3)
    a = rng.uniform(40, 220, (12, 12))
    b = np.clip(0.55 * a + 0.45 * rng.uniform(40, 220, (12, 12)) + 12, 0, 255)  # layout 1 - NCC about 0.26
    frames = [(1 - min(0.35, 0.06 * (19 - k))) * a + min(0.35, 0.06 * (19 - k)) * b for k in range(20)]
    frames += [b if to_other or k == 0 else a for k in range(20)]
    return np.clip(np.stack([f.ravel() + rng.normal(0, 1.0, 144) for f in frames]), 0, 255).astype(np.uint8)


def test_a_cut_to_another_framing_after_a_drifting_shot_persists() -> None:
    """The frames furthest back resemble the new framing most (the picture differs from them by 0.65 of the jump,
    the layout by under 0.2), yet it never comes back to the frames just before the cut: a cut, not a flash."""
    assert _flash_check(_drifting_cut(True), 20, 6)
    assert not _flash_check(_drifting_cut(False), 20, 6)


def test_isolation_is_a_ratio_not_a_level() -> None:
    level = np.array([0.3, 0.3, 0.3 * CUT_ISOLATION + 0.01, 0.3, 0.3])
    assert _one_frame_jump(level, STILL[:5], 2)
    assert not _one_frame_jump(level * np.array([1, 1.2, 1, 1, 1]), STILL[:5], 2)


def _energies(gx: list[float], gy: list[float]) -> SimpleNamespace:
    return SimpleNamespace(grad2_x=np.array(gx), grad2=np.array(gx) + np.array(gy))


def test_a_blend_loses_detail_alike_in_both_directions() -> None:
    # ends with 40 / 20 (x / y), middle of a blend of uncorrelated detail: a quarter of the sum in each
    f = _energies([40.0, 0.0, 20.0, 0.0, 40.0], [20.0, 0.0, 10.0, 0.0, 20.0])
    assert isotropic_dip(f, np.array([2]), 2).all()


def test_motion_blur_along_one_direction_is_no_blend() -> None:
    # a horizontal swing: the middle keeps its vertical detail and loses the horizontal
    f = _energies([40.0, 0.0, 40.0 / (2 * ANISO_MAX), 0.0, 40.0], [20.0, 0.0, 18.0, 0.0, 20.0])
    assert not isotropic_dip(f, np.array([2]), 2).any()


def _noise(rng: np.random.Generator, cells: int, h: int, w: int) -> np.ndarray:
    small = rng.uniform(0, 255, (max(2, cells * h // w), cells)).astype(np.uint8)
    return np.asarray(Image.fromarray(small).resize((w, h), Image.BICUBIC), np.float32) / 255.0


@pytest.mark.parametrize(
    ("seed", "frames_swinging"),
    [
        (21, 6),
        (22, 8),
        (23, 12),
        (26, 5),
    ],
)
def test_short_whip_pan_draws_no_cut(tmp_path: Path, seed: int, frames_swinging: int) -> None:
    """A swing of 2.5 frame widths over a few frames, motion-blurred, eased in and out: the frames at its
    start and end change a lot, but so do their neighbours."""
    rng = np.random.default_rng(seed)
    pano = np.stack([_noise(rng, 60, H, 6 * W)] * 3, axis=-1) * rng.uniform(80, 230, 3) + rng.uniform(0, 25, 3)
    n, k0 = 75, 30

    def pos(t: float) -> float:
        u = float(np.clip((t - k0) / frames_swinging, 0, 1))
        return 1.0 * t + 2.5 * W * u * u * (3 - 2 * u)

    frames = []
    for t in range(n):
        x0, x1 = pos(t - 1), pos(t)
        taps = max(1, min(24, int(abs(x1 - x0) / 4)))
        xs = [round(x0 + (x1 - x0) * (k + 1) / taps) % (5 * W) for k in range(taps)]
        frames.append(np.mean([pano[:, x : x + W] for x in xs], axis=0))
    assert [k for k, _, _ in _kinds(tmp_path, frames)] == []


def test_cut_with_one_blended_frame_between_is_one_boundary(tmp_path: Path) -> None:
    a, b = scene(24, 40), scene(25, 35)
    frames = [*a[:40], 0.5 * a[39] + 0.5 * b[0], *b[1:]]
    found = _kinds(tmp_path, frames)
    assert len(found) == 1, found
    assert 39 <= found[0][1] <= found[0][2] <= 41


def _letterboxed(frames: list[np.ndarray], bar: int) -> list[np.ndarray]:
    out = []
    for f in frames:
        g = f.copy()
        g[:bar], g[H - bar :] = 0.0, 0.0
        out.append(g)
    return out


@pytest.mark.parametrize("bar", [30, 40])
def test_cut_in_letterboxed_footage_is_found(tmp_path: Path, bar: int) -> None:
    """Black bars never change; they must not make two different shots look alike to the flash check."""
    a, b = _letterboxed(scene(31, 40), bar), _letterboxed(scene(32, 35), bar)
    assert _kinds(tmp_path, a + b) == [("cut", 40, 40)]


def test_flash_in_letterboxed_footage_is_no_cut(tmp_path: Path) -> None:
    frames = _letterboxed(scene(33, 75), 30)
    for k in (35, 36):
        frames[k][30 : H - 30] = frames[k][30 : H - 30] * 0.3 + 255 * 0.7
    assert _kinds(tmp_path, frames) == []


def _fade_in_frames() -> SimpleNamespace:
    """Mean and spread of 50 frames: a black hold (frames 10-36) and a fade-in ramp (37-40) into a shot."""
    mean = np.full(50, 120.0)
    std = np.full(50, 30.0)
    mean[10:37], std[10:37] = 16.0, 0.5
    mean[37:41], std[37:41] = [50.0, 80.0, 100.0, 115.0], [10.0, 20.0, 26.0, 29.0]
    return SimpleNamespace(mean=mean, std=std)


def test_a_fade_ends_before_a_cut_at_the_end_of_its_ramp() -> None:
    from app.video.detect import _fades_end_at_cuts

    assert _fades_end_at_cuts(_fade_in_frames(), [(10, 40, 0.8, False)], [40]) == [(10, 39, 0.8, False)]  # type: ignore[arg-type]


def test_a_fade_keeps_its_own_step_out_of_the_hold() -> None:
    """An eased fade-in takes its largest step as it leaves the black: a cut found there is the fade's."""
    from app.video.detect import _fades_end_at_cuts

    assert _fades_end_at_cuts(_fade_in_frames(), [(10, 40, 0.8, False)], [37]) == [(10, 40, 0.8, False)]  # type: ignore[arg-type]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_side_statistics_are_the_medians_of_each_side(seed: int) -> None:
    """`_side_stats` reads both sides of every frame from one sliding window: the same medians and MAD-sigmas
    as each side's own frames give, NaN where a side has none, for every frame or a chosen few."""
    rng = np.random.default_rng(seed)
    n, w, gap = 60, 7 + seed, 2
    x = rng.exponential(1.0, n)
    x[rng.integers(0, n, 5)] = 20.0  # spikes
    for idx in (np.arange(n), np.sort(rng.choice(n, 9, replace=False)), np.zeros(0, np.intp)):
        med_b, sig_b, med_a, sig_a = _side_stats(x, w, gap, idx)
        for i, t in enumerate(idx):
            for side, med, sig in ((x[max(0, t - gap - w) : max(0, t - gap)], med_b, sig_b),
                                   (x[t + gap + 1 : t + gap + 1 + w], med_a, sig_a)):  # fmt: skip
                if side.size == 0:
                    assert np.isnan(med[i])
                    assert np.isnan(sig[i])
                    continue
                assert med[i] == np.median(side)
                assert sig[i] == 1.4826 * np.median(np.abs(side - np.median(side)))
