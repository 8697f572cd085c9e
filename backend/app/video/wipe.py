"""Wipes: one shot replaces another behind an edge that moves across the picture (a line, a diagonal, a
circle opening, a clock hand).

Every frame of a wipe is part old shot, part new, so no single frame changes much: neither the cut
detector (no one-frame jump) nor the dissolve detector (no frame is a blend of the two) sees one. What
does tell it apart is each place of the picture on its own. Across the span, every tile of the signature
image changes once, in one crossing of a few frames (the edge passing over it), from what it showed in the
old shot to what it shows in the new; before and after it moves only as the shots move. And the moments
of those crossings are ordered in space: neighbouring tiles are half way over at nearly the same frame,
while over the whole picture those moments spread across the span.

The hard negatives differ on one of these: motion of any kind (pans, whip pans, fast objects, boiling
textures) changes tiles many times over (their path is long against where they end); a flash, a
flicker or an occluder that passes comes back to where it started (the ends agree); a brightness ramp,
a fade and a dissolve change every tile a little at each frame (no one step); a cut switches every tile
at one frame (no spread in time). A wipe is only looked for where no other transition was found.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .features import FrameFeatures

WIPE_FRAMES = (40, 28, 19, 13, 9, 6)  # spans tried, longest first (up to WIPE_MAX_S), in frames
WIPE_MAX_S = 1.6
WIPE_LEVEL = 16  # a tile whose two ends differ by less (0..255 luma) carries no evidence either way
WIPE_CHANGED = 0.5  # the share of tiles whose ends differ that makes the two ends two shots
WIPE_PATH = 1.5  # the most the picture's summed step-by-step change may exceed its change end to end
WIPE_JUMP = 0.5  # the most of a window's summed change one frame's step may carry (more: a cut or a flash)
WIPE_CROSSING = 5  # a tile is crossed within a fifth of the span (two frames at least)
WIPE_STEP = 0.6  # the share of a tile's change that its largest crossing must carry
WIPE_TILE_PATH = 1.6  # ... and the most its own path may exceed its change (plus WIPE_TILE_SLACK levels)
WIPE_TILE_SLACK = 8  # levels of noise a tile's path may have on top
WIPE_SWITCHED = 0.65  # the share of changed tiles that must switch in one crossing
WIPE_NEIGHBOURS = 0.12  # the most neighbouring tiles' half-way frames may differ on average (x span; >= 1)
WIPE_SPREAD = 0.4  # the least the middle 80 % of half-way frames must spread over (x the span; >= 3)
WIPE_MIN_S = 0.28  # the shortest wipe reported (an edge crossing the picture faster is something passing)
WIPE_SURE = 0.45  # the least confidence reported: the share switched, lowered by how loosely neighbours agree
WIPE_CLEAR_S = 0.5  # how far from any other transition a wipe is looked for (a blend's tail is no wipe)
WIPE_BACK = 0.3  # the share of switched tiles back at their old values that makes a wipe something passing


def _first_tests(windows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """`_judge`'s first tests, on many windows at once ((windows, frames, tiles) int16 signature rows, from
    the last frame of the old shot to the first of the new, at most 42 frames): each window's change end to
    end, tiles that switched in one crossing, their share of the changed tiles, and whether enough tiles
    changed, went straight from end to end and switched."""
    change = np.abs(windows[:, 0] - windows[:, -1])
    changed = change >= WIPE_LEVEL
    run = np.cumsum(np.abs(np.diff(windows, axis=1)), axis=1, dtype=np.int32)  # <= 255 x 41 a tile
    direct = changed & (run[:, -1] <= WIPE_TILE_PATH * change + WIPE_TILE_SLACK)
    # the edge takes a few frames to cross a tile (two at least; more for a long wipe, or a feathered edge)
    k = max(2, (windows.shape[1] - 2) // WIPE_CROSSING)
    crossing = run[:, k - 1 :] - np.concatenate([np.zeros_like(run[:, :1]), run[:, :-k]], axis=1)
    switched = direct & (crossing.max(axis=1) >= WIPE_STEP * change)
    count = changed.sum(axis=1)
    share = switched.sum(axis=1) / np.maximum(1, count)
    passes = (
        (changed.mean(axis=1) >= WIPE_CHANGED)
        & (direct.sum(axis=1) >= WIPE_SWITCHED * count)
        & (share >= WIPE_SWITCHED)
    )
    return change, switched, share, passes


def _switches(window: np.ndarray) -> tuple[np.ndarray, np.ndarray, float] | None:
    """`_first_tests` of one window: (change end to end, tiles that switched, their share) where it passes,
    else None."""
    change, switched, share, passes = _first_tests(window[None])
    return (change[0], switched[0], float(share[0])) if passes[0] else None


def _judge(window: np.ndarray, grid: tuple[int, int]) -> tuple[int, int, float, np.ndarray] | None:
    """(first, last, confidence, tiles that switched) of the wipe inside `window` (signature rows from the
    last frame of the old shot to the first of the new), frames counted from the window's first;
    None if it is none."""
    first_tests = _switches(window)
    if first_tests is None:  # most windows end here, before the costlier part
        return None
    change, switched, share = first_tests
    a, span = window[0], window.shape[0] - 2
    when = np.argmax(2 * np.abs(window - a) >= change, axis=0)  # the frame a tile is half way over
    moments = np.where(switched, when.astype(np.float64), np.nan).reshape(grid)
    gaps = np.concatenate([np.abs(np.diff(moments, axis=1)).ravel(), np.abs(np.diff(moments, axis=0)).ravel()])
    gaps = gaps[~np.isnan(gaps)]
    times = moments[~np.isnan(moments)]
    q10, q90 = np.quantile(times, [0.1, 0.9])
    order = float(gaps.mean()) if gaps.size else np.inf
    if gaps.size < 10 or order > max(1.0, WIPE_NEIGHBOURS * span) or q90 - q10 < max(3.0, WIPE_SPREAD * span):
        return None
    first, last = np.quantile(times, [0.03, 0.97])
    confidence = share * (1.0 - 0.5 * order / max(1.0, WIPE_NEIGHBOURS * span))
    if confidence < WIPE_SURE:
        return None
    return int(np.floor(first)), int(np.ceil(last)), confidence, switched


def _switching(sig: np.ndarray, starts: np.ndarray, span: int, chunk: int = 256) -> np.ndarray:
    """Which windows `sig[s : s + span + 2]` (int16 signature rows) pass `_first_tests`, in chunks (bounded
    memory). Most windows end here, so `_judge` itself sees only the few that may be wipes."""
    out = np.zeros(starts.shape[0], bool)
    frames = np.arange(span + 2)
    for lo in range(0, starts.shape[0], chunk):
        out[lo : lo + chunk] = _first_tests(sig[starts[lo : lo + chunk, None] + frames])[3]
    return out


def _passing(sig: np.ndarray, old_at: int, new_at: int, tiles: np.ndarray, reach: tuple[int, int]) -> bool:
    """Whether the picture a wipe replaces (frame `old_at`, its last) comes back, or the one it brings (frame
    `new_at`, its first) was there just before: some frame of `reach` (around the wipe, up to the neighbouring
    transitions, a second at most either way) shows WIPE_BACK of the switched `tiles` clearly nearer (by
    half) their old values than their new ones after it, or their new values than their old ones before it.
    Something passing the lens switches the tiles one way and then back, and on a moving or evolving
    picture no frame matches its old self closely enough for a whole-picture comparison."""
    old, new = sig[old_at, tiles], sig[new_at, tiles]
    after, before = sig[new_at : reach[1], tiles], sig[reach[0] : old_at, tiles]
    back = (np.abs(after - old) < 0.5 * np.abs(after - new)).mean(axis=1) if after.size else np.zeros(0)
    ahead = (np.abs(before - new) < 0.5 * np.abs(before - old)).mean(axis=1) if before.size else np.zeros(0)
    return bool((back >= WIPE_BACK).any() or (ahead >= WIPE_BACK).any())


def _reach(taken: np.ndarray, s: int, e: int, w: int) -> tuple[int, int]:
    """(first, end) of the frames around s..e, w at most either way, that no other transition takes."""
    lo, hi = max(0, s - w), min(taken.shape[0], e + 1 + w)
    before, after = np.flatnonzero(taken[lo:s]), np.flatnonzero(taken[e + 1 : hi])
    return (lo + int(before[-1]) + 1 if before.size else lo), (e + 1 + int(after[0]) if after.size else hi)


def detect_wipes(f: FrameFeatures, fps: float, taken: np.ndarray) -> list[tuple[int, int, float]]:
    """(first frame, last frame, confidence) of each wipe, sorted. Windows touching a frame where `taken` is
    set (other transitions), or within WIPE_CLEAR_S of one, are not looked at. Long spans are tried first,
    so a wipe is reported as a whole; its span is where its tiles switch (the first and last 3 % left out)."""
    grid = f.sig_grid
    n = f.n
    if grid is None or n < 10:
        return []
    sig = f.sig.astype(np.int16)
    step = np.abs(np.diff(sig, axis=0)).sum(axis=1)  # step[k]: frame k to k+1, summed over the tiles
    path = np.concatenate([[0], np.cumsum(step)])
    rate = fps if fps > 0 else 30.0
    clear = round(WIPE_CLEAR_S * rate)
    busy = np.convolve(taken.astype(np.int32), np.ones(2 * clear + 1, np.int32), mode="same") > 0
    out: list[tuple[int, int, float]] = []
    for span in WIPE_FRAMES:
        if span > WIPE_MAX_S * rate or span + 2 > n or (span + 2) / rate < WIPE_MIN_S:
            continue  # too long, or too short to hold a wipe that would be reported
        stride = max(1, span // 4)  # a window a few frames off still holds most of a wipe's switches
        starts = np.arange(0, n - span - 1, stride)
        ends = np.abs(sig[starts] - sig[starts + span + 1])
        travelled = path[starts + span + 1] - path[starts]
        largest = sliding_window_view(step, span + 1)[starts].max(axis=1)
        candidate = (
            ((ends >= WIPE_LEVEL).mean(axis=1) >= WIPE_CHANGED)
            & (travelled <= WIPE_PATH * ends.sum(axis=1))
            & (largest <= WIPE_JUMP * travelled)  # no step of the window is most of its change (a cut)
        )
        held = np.concatenate([[0], np.cumsum(busy)])
        open_ = starts[candidate]
        open_ = open_[held[open_ + span + 2] == held[open_]]  # clear of other transitions (`busy` only grows)
        for s in open_[_switching(sig, open_, span)]:
            e = s + span + 1
            if busy[s : e + 1].any():
                continue
            found = _judge(sig[s : e + 1], grid)
            if found is None:
                continue
            first, last, confidence, tiles = s + found[0], s + found[1], found[2], found[3]
            busy[max(0, first - 2) : last + 3] = True
            if not _passing(sig, s, e, tiles, _reach(taken, s, e, round(rate))):
                out.append((int(first), int(last), round(float(confidence), 4)))
    return sorted(w for w in out if (w[1] - w[0] + 1) / rate >= WIPE_MIN_S)
