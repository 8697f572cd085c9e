"""Shot-boundary detection over per-frame features: hard cuts, fades and cross-dissolves.

All thresholds are relative to the video itself (rolling medians / MAD of the same signal), plus small
absolute floors so that static or black footage (where the local spread is ~0) stays quiet.

* Cuts: the change signal ``s = 2*dpix/255 + dhist*min(dpix/20, 1)`` must spike above the statistics
  (median + several MADs, and 2.5x the median) of the frames on one side and be well above (1.8x) the
  median level on the other side, so the onset of fast motion (high level after) is not a cut but a
  cut out of a fast-motion shot (high, noisy level before) still is. Flash rejection: a cut is real
  only if every pair of frames (before the cut, after it) within ~0.25 s still differs by at least
  half of the jump (unless the structure clearly changed: a cut into a flickering shot), and also in
  structure (1 - NCC >= 0.2: codecs often smear the frames after a flash, changing brightness and detail
  but not layout); a flash returns to the previous content, so some pair is similar again. Two flat
  frames have no structure to compare; there the raw difference decides. Inside busy content (smoke,
  water) a new framing of the place is found by the scale of its detail instead (`scale_signal`).
* Fades: runs of near-black (or near-white) flat frames reached by a monotonic luma ramp of several
  frames (a cut to black has no ramp and is left to the cut detector); a fade ends at a cut in its
  outermost part (`_fades_end_at_cuts`).
* Dissolves: see `dissolve`.
* The edges: a fade or a blend at the very start or end of the video, and a cut out of a black or white
  leader (held from the first frame) or into such a trailer, have no shot on one side: no boundary.
"""

from __future__ import annotations

import logging

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .dissolve import detect_dissolves
from .features import FLAT_STD as FLAT_SIG_STD
from .features import FrameFeatures
from .models import Shot, Transition
from .wipe import detect_wipes

log = logging.getLogger(__name__)

CUT_K_SIGMA = 6.0
CUT_RATIO = 1.5
CUT_ABS_MIN = 0.10
CUT_FULL_CONTRAST, CUT_MIN_CONTRAST = 40.0, 3.0
CUT_OTHER_RATIO = 1.8
FLASH_PERSIST = 0.5
FLASH_STRUCT = 0.2
FLASH_STRUCT_SURE = 0.8
FLASH_PERSIST_SURE, FLASH_STRUCT_REFRAMED = 0.6, 0.12
SHADE_SPAN, SHADE_DEPTH, SHADE_STEADY = 1.0, 15.0, 1.0
RETURN_SPAN, RETURN_STRUCT, RETURN_RAW = 1.0, 0.1, 0.2
STATIC_LEVELS = 2.0
DARK_MEAN, BRIGHT_MEAN, FLAT_STD = 28.0, 223.0, 12.0  # 12 levels inside studio-range black (16) and white (235)
FADE_MIN_RISE = 15.0
RAMP_TAIL = 0.2
FADE_STD_GAIN, FADE_STD_SLACK = 1.25, 3.0
CUT_ISOLATION = 1.7
BLENDED_FRAME = 0.25
STRUCT_MIN = 0.15
MOTION_NCC = 0.7
LIGHT_SHARE = 0.05
LIGHT_CONTRAST = 1.25
FADE_CUT_EDGE = 0.15
SCALE_LAYOUT, SCALE_STEP, SCALE_SPREAD, SCALE_ABRUPT, SCALE_WINDOW = 0.6, 0.3, 3.0, 0.5, 0.3
CHROMA_STEP, CHROMA_SPREAD, CHROMA_ABRUPT, CHROMA_WINDOW = 6.0, 4.0, 0.8, 0.3
PLAIN_LEVELS, PLAIN_SHARE = 6, 0.8


def _nanmedian(x: np.ndarray) -> np.ndarray:
    """Row (axis 1) medians ignoring NaN; NaN for all-NaN rows.

    Side windows hold NaN only near the ends of the video, so the plain (partition-based) median
    serves every other row: `np.nanmedian` is several times slower per row.
    """
    has_nan = np.isnan(x).any(axis=1)
    if not has_nan.any():
        return np.median(x, axis=1)
    out = np.empty(x.shape[0], np.float64)
    out[~has_nan] = np.median(x[~has_nan], axis=1)
    part = np.sort(x[has_nan], axis=1)  # NaN sort last
    count = (~np.isnan(part)).sum(axis=1)
    rows = np.arange(part.shape[0])
    low, high = part[rows, np.maximum(count - 1, 0) // 2], part[rows, count // 2 - (count == 0)]
    out[has_nan] = np.where(count > 0, 0.5 * (low + high), np.nan)
    return out


def _side_stats(x: np.ndarray, w: int, gap: int, idx: np.ndarray) -> tuple[np.ndarray, ...]:
    """(median, MAD-sigma) of x[t-gap-w : t-gap] (before) and of x[t+gap+1 : t+gap+1+w] (after) for every
    t in `idx`, NaN outside the video ignored (NaN where a side has no frame): med_b, sigma_b, med_a, sigma_a.

    The window after frame t is the window before frame t + w + 2*gap + 1, so both sides are rows of one
    sliding window, and each row's statistics are computed once."""
    pad = np.full(w + gap + 1, np.nan)
    win = sliding_window_view(np.concatenate([pad, x.astype(np.float64), pad]), w)
    before, after = idx + 1, idx + w + 2 * gap + 2  # rows of `win`: win[1 : n + 1] are the windows before
    used = np.zeros(win.shape[0], bool)
    used[before] = used[after] = True
    window = win[used]
    med = _nanmedian(window)
    sigma = 1.4826 * _nanmedian(np.abs(window - med[:, None]))
    at = np.cumsum(used) - 1  # a used row's place among them
    return med[at[before]], sigma[at[before]], med[at[after]], sigma[at[after]]


def cut_signal(f: FrameFeatures) -> np.ndarray:
    """Per-frame change signal for cuts: pixel difference plus histogram difference.

    The histogram term is gated by the pixel difference (full weight from 20 luma levels on): a flat
    area sitting on a bin edge can flip a histogram with almost no visible change.
    """
    dpix = f.dpix.astype(np.float64)
    return 2.0 * dpix / 255.0 + f.dhist.astype(np.float64) * np.clip(dpix / 20.0, 0.0, 1.0)


def structure_signal(z: np.ndarray, flat: np.ndarray) -> np.ndarray:
    """Per-frame structural change: 1 - NCC of consecutive signature images (0 where either is flat), from the
    signatures `_normalised` (rows `z`, their `flat` mask).

    Blind to brightness and contrast (flicker, ramps, a flash's afterglow scale the picture, not its
    layout), so a cut into or out of a flickering shot stands out here when the pixel signal does not.
    """
    out = np.zeros(z.shape[0], np.float64)
    if z.shape[0] > 1:
        ncc = np.einsum("ij,ij->i", z[1:], z[:-1]) / z.shape[1]
        out[1:] = np.where(flat[1:] | flat[:-1], 0.0, 1.0 - ncc)
    return out


def _without_isolated_spikes(s: np.ndarray) -> np.ndarray:
    """`s` with each isolated spike (over CUT_ABS_MIN and CUT_OTHER_RATIO times every frame within 2 of it,
    i.e. another cut) lowered to the largest of those frames; for the side statistics only.

    The 3-frame envelope widens a spike to 3 frames, the majority of a 5-frame side window: where shots
    last a handful of frames (a 1 fps slideshow, a fast montage) the neighbouring cuts would set the
    level every cut is judged against, and none would be found. Cadence and motion are not isolated.
    """
    padded = np.pad(s, 2)
    near = np.maximum.reduce([padded[0:-4], padded[1:-3], padded[3:-1], padded[4:]])
    return np.where((s > CUT_ABS_MIN) & (s > CUT_OTHER_RATIO * near), near, s)


def _side_threshold(med: np.ndarray, sigma: np.ndarray, floor: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(median, threshold) of a side (its median and MAD-sigma, see `_side_stats`): the median + max(K*MAD-sigma,
    RATIO*median, floor), where NaN (no frame on that side) counts as 0."""
    med, sigma = np.nan_to_num(med), np.nan_to_num(sigma)
    return med, med + np.maximum(np.maximum(CUT_K_SIGMA * sigma, CUT_RATIO * med), floor)


def _abs_floor(f: FrameFeatures) -> np.ndarray:
    """The smallest change that can be a cut at each frame: CUT_ABS_MIN, scaled down (to a quarter at
    most) where both frames have little contrast (fog, night, a close-up of a plain wall): there every
    pixel difference is small, a new framing of the same place included."""
    std = f.std.astype(np.float64)
    contrast = np.maximum(std, np.concatenate([std[:1], std[:-1]]))
    scaled = CUT_ABS_MIN * np.clip(contrast / CUT_FULL_CONTRAST, 0.25, 1.0)
    return np.where(contrast < CUT_MIN_CONTRAST, CUT_ABS_MIN, scaled)  # flat frames: only brightness moves


def _normalised(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Zero-mean unit-variance rows (for NCC) and a mask of flat rows (std below FLAT_SIG_STD)."""
    sd = x.std(axis=1, keepdims=True)
    flat = sd[:, 0] < FLAT_SIG_STD
    return np.where(flat[:, None], 0.0, (x - x.mean(axis=1, keepdims=True)) / np.maximum(sd, 1e-6)), flat


def _live_pixels(window: np.ndarray) -> np.ndarray:
    """Signature pixels that change at all over `window` (frames x pixels); all of them when fewer than
    a quarter would be left.

    Black bars (letterboxed or pillarboxed footage) never change; left in, they dominate the layout of
    every frame, so any two frames correlate (1 - NCC small) and every cut looks like a flash coming
    back to the same content. Only pixels that carry picture can tell a cut from a flash.
    """
    live = (window.max(axis=0) - window.min(axis=0)) > STATIC_LEVELS
    return live if live.sum() >= 0.25 * live.size else np.ones(window.shape[1], bool)


def _pairwise(pre: np.ndarray, post: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(mean absolute difference, structural distance 1 - NCC on the pixels that change) of every frame of
    `pre` against every frame of `post` (float signature rows), and which frames of each are flat (a flat
    frame has no layout: its distance to any frame is 1)."""
    return (_raw_distance(pre, post), *_layout_distance(pre, post))


def _raw_distance(pre: np.ndarray, post: np.ndarray) -> np.ndarray:
    """`_pairwise`'s mean absolute difference alone."""
    return np.abs(pre[:, None, :] - post[None, :, :]).mean(axis=2)


def _layout_distance(pre: np.ndarray, post: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`_pairwise`'s structural distance and flat frames alone."""
    live = _live_pixels(np.concatenate([pre, post]))
    zp, fp = _normalised(pre[:, live])
    zq, fq = _normalised(post[:, live])
    return 1.0 - (zp @ zq.T) / int(live.sum()), fp, fq


def _flash_check(sig: np.ndarray, t: int, kmax: int, reframed: bool = True) -> bool:
    """Whether the change at frame t persists (a cut) rather than coming back (a flash).

    Over all pairs (frame t-1-a, frame t+b) with a + b <= kmax: the structural distance 1 - NCC must stay
    at least FLASH_STRUCT, and the mean absolute difference at least FLASH_PERSIST of the jump between t-1
    and t, unless the structure clearly changed (>= FLASH_STRUCT_SURE: the new shot may flicker, so its
    brightness can come back while its content does not). Two flat frames have no structure to compare;
    for those pairs the raw difference alone decides. The structure is compared on the pixels that
    change over the window (`_live_pixels`: not on black bars).

    A cut to another framing of the same place changes the layout less than FLASH_STRUCT, but its picture
    never comes back: with the layout changed by FLASH_STRUCT_REFRAMED at least, a difference that stays
    FLASH_PERSIST_SURE of the jump over every pair is a cut too. (A light switched or a flicker keeps the
    layout closer than that; the floor keeps them out.)
    """
    pre = sig[max(0, t - 1 - kmax) : t][::-1].astype(np.float32)  # t-1, t-2, ...
    post = sig[t : t + kmax + 1].astype(np.float32)
    if pre.shape[0] == 0 or post.shape[0] == 0:
        return False
    raw, layout, fp, fq = _pairwise(pre, post)
    both = fp[:, None] & fq[None, :]
    mask = np.add.outer(np.arange(pre.shape[0]), np.arange(post.shape[0])) <= kmax
    jump = float(raw[0, 0])
    if jump <= 1e-6:
        return False
    persistence = raw / jump
    structural = float(np.where(both, np.inf, layout)[mask].min())
    flat_persistence = float(persistence[mask & both].min()) if (mask & both).any() else np.inf
    persists = float(persistence[mask].min())
    sure = structural >= FLASH_STRUCT_SURE or persists >= FLASH_PERSIST
    reframed = reframed and structural >= FLASH_STRUCT_REFRAMED and persists >= FLASH_PERSIST_SURE
    return (structural >= FLASH_STRUCT or reframed) and flat_persistence >= FLASH_PERSIST and sure


def _one_frame_jump(s: np.ndarray, sig: np.ndarray, t: int, hold: np.ndarray | None = None) -> bool:
    """Whether the change at frame t stands out over the changes of the frames next to it.

    A cut replaces the picture between two frames, so its change is CUT_ISOLATION times those of its
    neighbours, which only carry the shots' own motion. Motion that builds up and dies down (a whip pan
    swinging, an occluder sweeping into the frame, fast content) changes the neighbouring frames almost
    as much. A cut spread over two frames counts when both of its frames stand out over the frames around
    the pair and the frame between is a mix of the frames either side (a blended frame) or, where `hold`
    marks it, one plain frame (black, white or a flat colour: a cut through a dip to black or a flash
    frame; whether the picture after it is another one is `_flash_check`'s to say).
    """
    n = s.shape[0]
    at = lambda i: float(s[i]) if 0 <= i < n else 0.0  # noqa: E731
    if at(t) >= CUT_ISOLATION * max(at(t - 1), at(t + 1)):
        return True
    return any(
        1 <= a < n - 1
        and min(at(a), at(a + 1)) >= CUT_ISOLATION * max(at(a - 1), at(a + 2))
        and ((hold is not None and bool(hold[a])) or _mixed_frame(sig, a))
        for a in (t - 1, t)
    )


def _shifted_match(f: FrameFeatures, t: int, enough: float = np.inf) -> float:
    """Largest correlation between frame t-1 and frame t over shifts of up to a quarter of the picture
    either way (on their signatures, overlapping parts only): high when t is t-1 moved (a pan, a
    swing), low across a cut. The first one of at least `enough` is returned at once."""
    grid = f.sig_grid
    if grid is None or t < 1:
        return -1.0
    h, w = grid
    a, b = (f.sig[i].reshape(h, w).astype(np.float64) for i in (t - 1, t))
    best = -1.0
    for dy in range(-(h // 4), h // 4 + 1):
        for dx in range(-(w // 4), w // 4 + 1):
            pa = a[max(0, dy) : h + min(0, dy), max(0, dx) : w + min(0, dx)].ravel()
            pb = b[max(0, -dy) : h + min(0, -dy), max(0, -dx) : w + min(0, -dx)].ravel()
            sa, sb = pa.std(), pb.std()
            if sa < FLAT_SIG_STD or sb < FLAT_SIG_STD:
                continue
            best = max(best, float(((pa - pa.mean()) * (pb - pb.mean())).mean() / (sa * sb)))
            if best >= enough:
                return best
    return best


def _moved(f: FrameFeatures, t: int) -> bool:
    """Whether the change at t is the picture moving rather than replaced: the pixel difference alone does
    not stand out (under CUT_ISOLATION times its neighbours': the jump is in the histogram, as when a
    whip pan's motion blur clears on its last frame) and a shifted frame t-1 matches frame t."""
    d = f.dpix.astype(np.float64)
    near = max(d[t - 1], d[t + 1] if t + 1 < d.shape[0] else 0.0)
    return bool(d[t] < CUT_ISOLATION * near and _shifted_match(f, t, MOTION_NCC) >= MOTION_NCC)


def _mixed_frame(sig: np.ndarray, a: int) -> bool:
    """Whether frame a is a mix of frames a-1 and a+1 (residual from their mean under BLENDED_FRAME of
    their difference): the one blended frame of a cut spread over two frames, not a frame of motion."""
    prev, mid, nxt = (sig[i].astype(np.float32) for i in (a - 1, a, a + 1))
    span = float(np.abs(nxt - prev).mean())
    return span > 0 and float(np.abs(mid - 0.5 * (prev + nxt)).mean()) <= BLENDED_FRAME * span


def residual_change(f: FrameFeatures) -> np.ndarray:
    """Per-frame pixel change net of the change in brightness: dpix - |change of the mean luma|.

    A global gain or offset (flicker, a ramp, a flash) moves every pixel the same way, so its mean
    absolute difference equals the change of the mean and this is ~0; motion and cuts remain."""
    mean = f.mean.astype(np.float64)
    step = np.abs(np.diff(mean, prepend=mean[:1]))
    return np.maximum(f.dpix.astype(np.float64) - step, 0.0)


def _isolated(x: np.ndarray) -> np.ndarray:
    """Frames where x is CUT_ISOLATION times its value at both neighbours (a one-frame jump)."""
    padded = np.pad(x, 1)
    return x >= CUT_ISOLATION * np.maximum(padded[:-2], padded[2:])


def _peaks(x: np.ndarray, reach: int = 1) -> np.ndarray:
    """Frames where x is at least as large as at every frame within `reach` of it."""
    padded = np.pad(x.astype(np.float64), reach, constant_values=-np.inf)
    return x >= sliding_window_view(padded, 2 * reach + 1).max(axis=1)


def _holds(f: FrameFeatures) -> np.ndarray:
    """Frames of a black or white hold: flat, and near black or near white (what fades pass through)."""
    mean, std = f.mean.astype(np.float64), f.std.astype(np.float64)
    return ((mean < DARK_MEAN) | (mean > BRIGHT_MEAN)) & (std < FLAT_STD)


def _spikes(
    s: np.ndarray, floor: np.ndarray | float, w: int, gap: int, rows: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(spike mask, level of the sides) of a change signal: over one calm side's statistics and well above
    both sides' levels, at a local maximum. With `rows` (a mask) only those frames are judged (the
    side medians are most of the cost), the others are no spike at level 0."""
    # side statistics over the 3-frame envelope: a frame-rate cadence (content that changes only every
    # other frame, e.g. duplicated frames) alternates the signal, and its median would sit near 0
    env = sliding_window_view(np.pad(_without_isolated_spikes(s), 1, mode="edge"), 3).max(axis=1)
    floor = np.broadcast_to(np.asarray(floor, np.float64), s.shape)
    idx = np.arange(s.shape[0]) if rows is None else np.flatnonzero(rows)
    med_b, sigma_b, med_a, sigma_a = _side_stats(env, w, gap, idx)
    med_b, thr_b = _side_threshold(med_b, sigma_b, floor[idx])
    med_a, thr_a = _side_threshold(med_a, sigma_a, floor[idx])
    x = s[idx]
    # A spike over one calm side's statistics that is also well above both sides' levels: a cut out of
    # (or into) a noisy fast-motion shot is judged against the calm side; the onset of motion is not
    # (its spike is not above the level after it).
    spike_at = ((x > thr_a) & (x > CUT_OTHER_RATIO * med_b)) | ((x > thr_b) & (x > CUT_OTHER_RATIO * med_a))
    spike, level = np.zeros(s.shape[0], bool), np.zeros(s.shape[0], np.float64)
    spike[idx], level[idx] = spike_at, np.maximum(med_b, med_a)
    return spike & _peaks(s, gap), level


def _passing_shade(f: FrameFeatures, t: int, rate: float) -> bool:
    """Whether frames t-1 and t lie at the bottom of a dip in brightness (or the top of a peak): the three
    frames before them darken step by step into it, the frames from t on lighten step by step out of it, and
    both frames are darker by SHADE_DEPTH than the brightest frame on either side within SHADE_SPAN seconds.
    Something passing close to the lens does that, covering the picture and uncovering it; where it covers
    most of it the signatures' layout jumps, while the picture before it and after it is one. Brightness
    that wanders (boiling smoke, flicker) has no such steady descent and ascent on both sides of a cut."""
    w = max(3, round(SHADE_SPAN * rate))
    if t < 4 or t + 3 >= f.n:
        return False
    m = f.mean.astype(np.float64)
    into, out = np.diff(m[t - 4 : t]), np.diff(m[t : t + 4])  # 3 steps into frame t-1, 3 out of frame t
    before, after = m[max(0, t - 1 - w) : t - 1], m[t + 1 : t + 1 + w]
    lo, hi = min(m[t - 1], m[t]), max(m[t - 1], m[t])
    dip = bool((into <= SHADE_STEADY).all() and (out >= -SHADE_STEADY).all())
    peak = bool((into >= -SHADE_STEADY).all() and (out <= SHADE_STEADY).all())
    darker = min(before.max(), after.max()) - hi
    brighter = lo - max(before.min(), after.min())
    return (dip and darker >= SHADE_DEPTH) or (peak and brighter >= SHADE_DEPTH)


def _comes_back(sig: np.ndarray, t: int, w: int) -> bool:
    """Whether the picture of before frame t is there again within w frames after it: some frame of the w
    before t and some frame of t and the w after it differ by under FLASH_PERSIST of the jump at t, with a
    layout within RETURN_STRUCT (1 - NCC, on the pixels that change). Something passing close to the lens,
    a flash or a swing of the camera and back leave the picture as it was; a cut does not, even to another
    framing of the same place (its picture stays FLASH_PERSIST_SURE of the jump away)."""
    n = sig.shape[0]
    pre = sig[max(0, t - w) : t].astype(np.float32)
    post = sig[t : min(n, t + w + 1)].astype(np.float32)
    if pre.shape[0] < 2 or post.shape[0] < 2:
        return False
    raw = _raw_distance(pre, post)
    jump = float(raw[-1, 0])  # frame t against the one before it
    close = raw < FLASH_PERSIST * jump
    return jump > 1e-6 and bool(close.any()) and _same_picture(close, *_layout_distance(pre, post))


def _span_comes_back(sig: np.ndarray, s: int, e: int, w: int) -> bool:
    """Whether the picture of before frames s..e is there again within w frames after them: some frame of
    the w before s and some frame of the w after e differ by under FLASH_PERSIST of the farthest the span
    departs from the frame before it, with a layout within RETURN_STRUCT. A transition leads to another
    picture; a shade passing the lens, a light going down and up again or a flash leave the one there was."""
    n = sig.shape[0]
    pre = sig[max(0, s - w) : s].astype(np.float32)
    post = sig[e + 1 : min(n, e + 1 + w)].astype(np.float32)
    if pre.shape[0] < 1 or post.shape[0] < 1:
        return False
    departure = float(np.abs(sig[s : e + 1].astype(np.float32) - pre[-1]).mean(axis=1).max())
    raw = _raw_distance(pre, post)
    close = raw < FLASH_PERSIST * departure
    if departure <= 0 or not close.any():  # no pair is close: the layouts need not be compared
        return False
    contrast = 0.5 * (pre.std(axis=1)[:, None] + post.std(axis=1)[None, :])
    close &= raw < RETURN_RAW * contrast
    return bool(close.any()) and _same_picture(close, *_layout_distance(pre, post))


def _same_picture(close: np.ndarray, layout: np.ndarray, fp: np.ndarray, fq: np.ndarray) -> bool:
    """Whether some pair of `_pairwise` frames, neither flat, is `close` with a layout within RETURN_STRUCT."""
    return bool((close & (layout < RETURN_STRUCT) & ~fp[:, None] & ~fq[None, :]).any())


def detect_cuts(f: FrameFeatures, fps: float) -> list[tuple[int, float]]:
    """Return `(frame, confidence)` for each hard cut; `frame` is the first frame of the new shot."""
    s = cut_signal(f)
    n = s.shape[0]
    if n < 3:
        return []
    rate = fps if fps > 0 else 30.0
    w, gap = max(5, round(0.5 * rate)), 2
    floor = _abs_floor(f)
    z, flat = _normalised(f.sig.astype(np.float32))
    st = structure_signal(z, flat)
    # the pixel change, as it is or net of brightness (flicker), must jump there too (`_isolated`): a
    # low-contrast picture's layout can swing on little change, and a shaking camera moves fine detail
    # across the signature's tiles
    dpix = f.dpix.astype(np.float64)
    pixel_peak = (s > floor) & (_isolated(dpix) | _isolated(residual_change(f)))
    # where the layout's change peaks over its floor with the pixel change: a layout spike (`_spikes` keeps
    # peaks only, within `gap`) or a joint one (below) can be nowhere else, nor are st's sides read elsewhere
    maybe_joint = pixel_peak & _peaks(st) & (st > STRUCT_MIN)
    st_spike, st_base = _spikes(st, STRUCT_MIN, w, gap, rows=maybe_joint)
    scaled = _scale_steps(f, fps, s, st, floor)
    hued, hue_conf = _chroma_steps(f, fps)
    # Neither signal clears its side statistics, but both stand well above both sides' levels at the
    # same frame: a cut inside busy content (an evolving texture) whose every frame changes a lot
    # the side statistics of s (most of the cost) count only where it can spike (a peak over the floor,
    # see `_spikes`) and where its sides' level is read: a possible joint spike, another kind of candidate
    judged = (_peaks(s, gap) & (s > floor)) | maybe_joint | st_spike | scaled | hued
    spike, base = _spikes(s, floor, w, gap, rows=judged)
    joint = (s > CUT_OTHER_RATIO * base) & (st > CUT_OTHER_RATIO * st_base) & (s > floor) & maybe_joint
    # a jump of the pixel change that is all brightness (the change net of brightness a small share of
    # it) while the layout changes no more than at the frames beside it: a light switched, a square-wave
    # flicker stepping, not a new picture (frames with no structure to compare excepted: a cut to black)
    # and the contrast follows the brightness (a gain scales both; a cut into a plainer shot does not)
    lit = (residual_change(f) < LIGHT_SHARE * dpix) & ~_isolated(st) & ~flat
    lit[1:] &= ~flat[:-1]
    lum = np.log(np.maximum(f.mean.astype(np.float64), 1.0))
    con = np.log(np.maximum(f.std.astype(np.float64), 1.0))
    lit[1:] &= np.abs(np.diff(con) - np.diff(lum)) < np.log(LIGHT_CONTRAST)
    spike &= ~lit
    candidates = np.flatnonzero(spike | st_spike | joint | scaled | hued)
    kmax = f.flash_lags - 1
    # plain frames, which carry no picture: black or white (a dip, a flash frame) or any flat colour
    plain = _holds(f) | flat
    cuts: list[tuple[int, float]] = []
    for t in candidates:
        if t == 0:
            continue
        s_jump, st_jump = _one_frame_jump(s, f.sig, int(t), plain), _one_frame_jump(st, f.sig, int(t))
        pixel_jump = bool(spike[t] and s_jump and not _moved(f, int(t)))
        joint_jump = bool(joint[t] and s_jump and st_jump)
        layout_jump = bool(st_spike[t] and st_jump)
        if layout_jump and not (pixel_jump or joint_jump) and _passing_shade(f, int(t), rate):
            log.debug("frame %d: the layout jumps inside a passing shade (an occluder?)", t)
            layout_jump = False
        jump = pixel_jump or layout_jump or joint_jump
        # a cut through a plain frame or two: on the frame after them, and judged without them
        at = _after_a_short_hold(plain, int(t), gap)
        without = _without_a_short_hold(f.sig, plain, at, gap)
        sig, k = without or (f.sig, int(t))
        if scaled[t] and not _moved(f, int(t)):  # a persistent step by construction: no flash check
            beside = max(st[t - 1], st[t + 1] if t + 1 < n else 0.0)
            conf = float(np.clip((st[t] - beside) / max(st[t], 1e-6), 0.0, 1.0))
        elif hued[t]:  # a persistent step by construction, between plain frames: no flash check
            conf = float(hue_conf[t])
        elif not jump:
            log.debug("frame %d: change builds up over several frames (motion?)", t)
            continue
        elif not _flash_check(sig, k, kmax, reframed=without is None):
            log.debug("frame %d: change does not persist (flash?)", t)
            continue
        else:
            conf = float(np.clip((s[t] - base[t]) / max(s[t], 1e-6), 0.0, 1.0))
            if st_spike[t] or joint[t]:
                conf = max(conf, float(np.clip((st[t] - st_base[t]) / max(st[t], 1e-6), 0.0, 1.0)))
        if _comes_back(sig, k, max(kmax, round(RETURN_SPAN * rate))):
            log.debug("frame %d: the picture comes back (something passed the lens?)", t)
            continue
        t = at
        if cuts and t - cuts[-1][0] <= gap:
            if plain[cuts[-1][0] : t].all():  # into a plain frame or two and out: one cut, after them
                cuts[-1] = (t, max(conf, cuts[-1][1]))
            elif conf > cuts[-1][1]:
                cuts[-1] = (t, conf)
            continue
        cuts.append((t, conf))
    return cuts


def _without_a_short_hold(sig: np.ndarray, hold: np.ndarray, t: int, most: int) -> tuple[np.ndarray, int] | None:
    """(signatures, frame t in them) with the run of at most `most` plain frames (`hold`) just before frame t
    left out, where one lies between two pictures and the change across it stands out (CUT_ISOLATION times
    the change of each side's own picture over as many frames): whether the picture after a flash frame or
    a dip is another one is then judged as a cut between the frames either side, the jumps into and out of
    the held frames, far larger than any change of picture, being no measure for it. So judged, a picture
    that moved on over the frames left out is no other framing of its place (`_flash_check`'s `reframed`
    is not for it). Else None."""
    n = sig.shape[0]
    run = 0
    while run < t and hold[t - 1 - run]:
        run += 1
    a, b = t - 1 - run, t  # the last frame before the run, the first after it
    # each side needs as many frames of its own as the gap, to measure its change over as many
    if not 0 < run <= most or a - run - 1 < 0 or b + run + 1 >= n or hold[b]:
        return None
    d = lambda i, j: float(np.abs(sig[i].astype(np.float32) - sig[j].astype(np.float32)).mean())  # noqa: E731
    if d(a, b) < CUT_ISOLATION * max(d(a - run - 1, a), d(b, b + run + 1)):
        return None
    return np.delete(sig, np.s_[a + 1 : b], axis=0), a + 1


def _after_a_short_hold(hold: np.ndarray, t: int, most: int) -> int:
    """The frame of a cut found at `t`: where `t` starts a run of at most `most` plain frames (`hold`) between
    two pictures (a cut through a dip to black, or a flash frame between two shots), the frame after the
    run, so that the cut is on the first frame of the new picture whichever of its jumps is the larger;
    else `t`."""
    n = hold.shape[0]
    if not (0 < t < n and hold[t] and not hold[t - 1]):
        return t
    end = t
    while end < n and hold[end]:
        end += 1
    return end if end < n and end - t <= most else t


def scale_signal(f: FrameFeatures) -> np.ndarray:
    """Per-frame log of the detail energy over the contrast squared: the picture's scale of detail.

    A gain or an offset (flicker, a ramp, a flash) changes neither side of the ratio's balance, and
    motion keeps it; a new framing of a place (a close-up of part of a wide view) changes how much of the
    picture's contrast sits in fine detail, at once and for good."""
    g = f.grad2.astype(np.float64)
    sd = np.maximum(f.std.astype(np.float64), 1.0)
    return np.log(np.maximum(g, 1e-3) / (sd * sd))


def _scale_steps(f: FrameFeatures, fps: float, s: np.ndarray, st: np.ndarray, floor: np.ndarray) -> np.ndarray:
    """Cuts between two framings of one busy place: the scale of detail (`scale_signal`) steps in one
    frame and stays, where the layout and the pixel change both peak.

    Inside an evolving texture (smoke, water) every frame changes as much as the cut and the layout is
    swapped all the time, so neither the pixel nor the structural signal clears its side statistics, and
    a reframing keeps the texture's look. What a new framing does change is the scale of its detail.
    Required at frame t: the layout change (1 - NCC) over SCALE_LAYOUT and the largest within 2 frames,
    so is the pixel change (and over the floor); the medians of the scale signal over SCALE_WINDOW
    seconds before and after t differ by SCALE_STEP and by SCALE_SPREAD times the spread (MAD) within
    those windows; and most of the step (SCALE_ABRUPT) is taken between t-1 and t (a crash zoom moves it
    over many frames)."""
    n = f.n
    rate = fps if fps > 0 else 30.0
    w = max(4, round(SCALE_WINDOW * rate))
    out = np.zeros(n, bool)
    if n < 2 * w + 1:
        return out
    rows = np.flatnonzero((st >= SCALE_LAYOUT) & _peaks(st, 2) & _peaks(s, 2) & (s > floor))
    rows = rows[(rows >= w) & (rows <= n - w)]
    if not rows.size:
        return out
    sc = scale_signal(f)
    win = sliding_window_view(sc, w)  # win[i] = sc[i : i + w]
    before, after = win[rows - w], win[rows]
    mb, ma = np.median(before, axis=1), np.median(after, axis=1)
    spread = 0.5 * (np.median(np.abs(before - mb[:, None]), axis=1) + np.median(np.abs(after - ma[:, None]), axis=1))
    step = np.abs(ma - mb)
    ok = (
        (step >= SCALE_STEP)
        & (step >= SCALE_SPREAD * spread)
        & (np.abs(sc[rows] - sc[rows - 1]) >= SCALE_ABRUPT * step)
    )
    out[rows[ok]] = True
    return out


def _plain(sig: np.ndarray) -> np.ndarray:
    """Frames (rows of signature images) that are mostly one level: PLAIN_SHARE of the pixels within
    PLAIN_LEVELS of the frame's median (a backdrop with a small object in front, a title card)."""
    med = np.median(sig, axis=1, keepdims=True)
    plain: np.ndarray = (np.abs(sig.astype(np.int16) - med) <= PLAIN_LEVELS).mean(axis=1) >= PLAIN_SHARE
    return plain


def _chroma_steps(f: FrameFeatures, fps: float) -> tuple[np.ndarray, np.ndarray]:
    """Cuts between two plain shots that only their colour tells apart: the mean chroma steps in one frame
    and stays.

    With little layout to compare and about the same brightness on both sides, every other signal reads
    nothing. Required at frame t: frames t-1 and t are plain (`_plain`); the medians of the mean U and V over
    CHROMA_WINDOW seconds before and after t are CHROMA_STEP apart (0..255) and CHROMA_SPREAD times the
    largest departure from them within those windows, so a flash, which returns, and a flicker (of colour,
    or of brightness, which moves the chroma of a coloured picture too), which does not stay put, are no
    step; and most of it (CHROMA_ABRUPT) is taken between t-1 and t, where a colour grade moves over many
    frames. Frames whose chroma could not be read (NaN) give no step. A coloured light switched in a shot
    with a picture (a stage) is not judged here: such frames are not plain.

    Returns (step mask, confidence): how far the step stands above the chroma change at the frames beside
    it."""
    n = f.n
    out, conf = np.zeros(n, bool), np.zeros(n)
    w = max(4, round(CHROMA_WINDOW * (fps if fps > 0 else 30.0)))
    if f.chroma is None or n < 2 * w + 1:
        return out, conf
    uv = f.chroma[:, :2].astype(np.float64)
    jump = np.zeros(n)
    jump[1:] = np.hypot(*np.diff(uv, axis=0).T)  # NaN where either frame has no chroma: never a step
    rows = np.flatnonzero(jump >= CHROMA_STEP)
    rows = rows[(rows >= w) & (rows <= n - w)]
    rows = rows[_plain(f.sig[rows - 1]) & _plain(f.sig[rows])]
    if not rows.size:
        return out, conf
    win = sliding_window_view(uv, w, axis=0)  # win[i] = uv[i : i + w].T, (2, w)
    before, after = win[rows - w], win[rows]
    mb, ma = np.median(before, axis=2), np.median(after, axis=2)
    spread = np.maximum(  # the largest departure, not a median's: a flicker's duty cycle can pass a median
        np.abs(before - mb[..., None]).max(axis=(1, 2)),
        np.abs(after - ma[..., None]).max(axis=(1, 2)),
    )
    step = np.hypot(*(ma - mb).T)
    ok = (step >= CHROMA_STEP) & (step >= CHROMA_SPREAD * spread) & (jump[rows] >= CHROMA_ABRUPT * step)
    rows = rows[ok]
    out[rows] = True
    beside = np.maximum(jump[rows - 1], jump[rows + 1])  # rows <= n - w: a frame follows
    conf[rows] = np.clip(1.0 - np.nan_to_num(beside) / jump[rows], 0.0, 1.0)
    return out, conf


def _ramp(mean: np.ndarray, start: int, step: int, sign: float, max_len: int) -> tuple[int, int]:
    """Walk from `start` in direction `step` while `sign*mean` keeps rising; return (end, length).

    Once the ramp has a few steps, a step under RAMP_TAIL of their median ends it: the shot the fade
    reached may drift in brightness by a fraction of a level a frame, and a walk on through that drift
    would swallow the next boundary (a cut into a short shot right after the fade)."""
    n = mean.shape[0]
    j, length, stalls = start, 0, 0
    steps: list[float] = []
    while 0 <= j + step < n and length < max_len:
        d = sign * (mean[j + step] - mean[j])
        least = max(0.05, RAMP_TAIL * sorted(steps)[len(steps) // 2]) if len(steps) >= 3 else 0.05
        if d > least:
            j, length = j + step, length + 1
            steps.append(d)
            continue
        nxt = j + 2 * step
        if stalls == 0 and d > -1.0 and 0 <= nxt < n and sign * (mean[nxt] - mean[j]) > least:
            j, length, stalls = j + step, length + 1, 1
            continue
        break
    return j, length


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(edges == 1).tolist(), (np.flatnonzero(edges == -1) - 1).tolist()
    return list(zip(starts, ends, strict=True))


def _smooth_ramp(values: np.ndarray, std: np.ndarray) -> bool:
    """A fade ramp (from the black/white run outwards) rises enough, starts without a jump, and never has
    more contrast than the shot it fades (`std` along the ramp, the shot's frame last).

    A cut from a dimmed scene into black has a big first step compared with the rest of the ramp. A fade
    scales the picture towards black or white, so its contrast shrinks with it; a dark shape sweeping
    across the lens until it covers the frame adds its edge to the picture on the way.
    """
    steps = np.abs(np.diff(values))
    if steps.size < 2 or abs(values[-1] - values[0]) < FADE_MIN_RISE:
        return False
    if float(std.max()) > FADE_STD_GAIN * float(std[-1]) + FADE_STD_SLACK:
        return False
    return bool(steps[0] <= 3.0 * np.median(steps[1:]) + 2.0)


def _returns(f: FrameFeatures, before: int, jump: int, after: int) -> bool:
    """Whether the picture at `after` is the one at `before` again: their mean absolute signature
    difference is under FLASH_PERSIST of the jump from `before` to `jump`. A short white (or black) hold
    entered by a jump and left by a ramp back to the same picture is a flash and its afterglow, not a
    fade between two shots (nor is a ramp into a short hold and a jump back)."""
    sig = f.sig.astype(np.float32)
    step = float(np.abs(sig[jump] - sig[before]).mean())
    return step > 0 and float(np.abs(sig[after] - sig[before]).mean()) < FLASH_PERSIST * step


def _fade_spans(f: FrameFeatures, fps: float) -> list[tuple[int, int, float, bool]]:
    """`(start, end, confidence, at_edge)` of fades to/from black or white; `at_edge` marks a fade in from
    a run that opens the video or out to one that ends it (no shot on the other side: not a boundary)."""
    rate = fps if fps > 0 else 30.0
    mean, std = f.mean.astype(np.float64), f.std.astype(np.float64)
    n = mean.shape[0]
    min_ramp, max_ramp = max(2, round(0.08 * rate)), round(4 * rate)
    fades: list[tuple[int, int, float, bool]] = []
    dark = (mean < DARK_MEAN) & (f.std < FLAT_STD)
    bright = (mean > BRIGHT_MEAN) & (f.std < FLAT_STD)
    for mask, sign in ((dark, 1.0), (bright, -1.0)):
        for r0, r1 in _runs(mask):
            out_start, out_len = _ramp(mean, r0, -1, sign, max_ramp)
            in_end, in_len = _ramp(mean, r1, 1, sign, max_ramp)
            out_ok = out_len >= min_ramp and _smooth_ramp(mean[out_start : r0 + 1][::-1], std[out_start : r0 + 1][::-1])
            in_ok = in_len >= min_ramp and _smooth_ramp(mean[r1 : in_end + 1], std[r1 : in_end + 1])
            if out_ok and in_ok and r1 - r0 <= 2 * rate:
                fades.append((out_start, in_end, 1.0, False))
                continue
            short = r1 - r0 < f.flash_lags
            if out_ok and not (short and r1 < n - 1 and _returns(f, out_start, r1, r1 + 1)):
                fades.append((out_start, r0, 0.8, r1 == n - 1))
            if in_ok and not (short and r0 > 0 and _returns(f, r0 - 1, r0, in_end)):
                fades.append((r1, in_end, 0.8, r0 == 0))
    return sorted(fades)


def detect_fades(f: FrameFeatures, fps: float) -> list[tuple[int, int, float]]:
    """Return `(start, end, confidence)` spans of fades to/from black or white between two shots."""
    return [(s, e, c) for s, e, c, edge in _fade_spans(f, fps) if not edge]


def _clip_at_cuts(dissolves: list[tuple[int, int, float]], cuts: list[int]) -> list[tuple[int, int, float]]:
    """Dissolve spans ended (or started) at a hard cut found in their outer thirds.

    A cross-dissolve changes every frame a little; a hard cut is a one-frame jump that persists, so a
    cut inside a dissolve's span near one end means the span ran on into the next shot (a cut a few
    frames after a dissolve). The dissolve keeps the part on its middle's side and the cut stays. A cut
    in the middle third is left to the dissolve (a span that is the cut itself is not split in two).
    Fades keep their cuts: a fade-in from black can step by a cut-sized jump as detail appears.
    """
    out = []
    for s, e, c in dissolves:
        third = (e - s + 1) / 3.0
        for t in cuts:
            if s < t <= e and not s + third <= t <= e - third:
                s, e = (t, e) if t < (s + e) / 2 else (s, t - 1)
                third = (e - s + 1) / 3.0
        if e - s >= 1:
            out.append((s, e, c))
    return out


def _fades_end_at_cuts(
    f: FrameFeatures, spans: list[tuple[int, int, float, bool]], cuts: list[int]
) -> list[tuple[int, int, float, bool]]:
    """Fade spans that stop at a hard cut in their outermost FADE_CUT_EDGE share: the walk along a fade's
    ramp goes on while the brightness keeps moving the same way, so a cut into a brighter shot just after a
    fade-in (or from a brighter one just before a fade-out) extends the ramp by its jump. The fade ends
    before the cut (starts at it), and the cut stays. Cuts further inside are the fade's own steps, and
    so is a jump out of the black or white hold or into it (an eased fade takes its largest step there)."""
    hold = _holds(f)
    out = []
    for s, e, c, edge in spans:
        edge_frames = max(1, int(FADE_CUT_EDGE * (e - s + 1)))
        for t in cuts:
            if hold[t] or hold[t - 1]:
                continue
            if e - edge_frames < t <= e and t - 1 > s:
                e = t - 1
            elif s < t <= s + edge_frames and t < e:
                s = t
        out.append((s, e, c, edge))
    return out


def _merge_through_holds(
    f: FrameFeatures, gradual: list[tuple[str, int, int, float]]
) -> list[tuple[str, int, int, float]]:
    """Join a fade and a gradual transition next to it when only black or white flat frames (a hold) lie
    between them: a fade out to black and a blend in from it are one fade (the in-ramp of a textured
    shot need not rise smoothly enough for the fade detector, and the dissolve detector finds it)."""
    hold = _holds(f)
    out: list[tuple[str, int, int, float]] = []
    for g in sorted(gradual, key=lambda x: (x[1], x[2])):
        if out:
            kind, s, e, c = out[-1]
            gap = hold[e + 1 : g[1]]
            if "fade" in (kind, g[0]) and g[1] > e and bool(gap.all()) and (gap.size > 0 or hold[e] or hold[g[1]]):
                out[-1] = ("fade", s, max(e, g[2]), max(c, g[3]))
                continue
        out.append(g)
    return out


def _edge_frames(f: FrameFeatures, spans: list[tuple[int, int, float, bool]]) -> np.ndarray:
    """Frames with no shot on one side, where a cut is no boundary: an opening or closing fade with the black
    or white hold between it and the edge of the video (a step of the ramp, the first frame that is not quite
    black or a hold frame a level off the next, can jump like a cut), and a leader or a trailer (a hold that
    runs from the first frame or to the last: many files open on a black frame or a few), up to the first
    frame with a picture and from the frame after the last."""
    n = f.n
    hold = _holds(f)
    out = np.zeros(n, bool)
    for s, e, _, edge in spans:
        if edge:
            lo, hi = (0, e) if hold[:s].all() else (s, n - 1)  # fade in after a hold, or out into one
            out[lo : hi + 1] = True
    picture = np.flatnonzero(~hold)
    if picture.size:
        out[: picture[0] + 1] = True
        out[picture[-1] + 1 :] = True
    return out


def cuts_and_fades(
    f: FrameFeatures, fps: float
) -> tuple[list[tuple[int, float]], list[tuple[int, int, float, bool]], np.ndarray, np.ndarray]:
    """(cuts, fade spans, frames in a fade, frames a cut leads into): what the dissolve detector is run
    against (fades block it; its sides stop at cuts)."""
    found_cuts = detect_cuts(f, fps)
    spans = _fades_end_at_cuts(f, _fade_spans(f, fps), [t for t, _ in found_cuts])
    blocked = np.zeros(f.n, bool)
    for s, e, _, _ in spans:
        blocked[s : e + 1] = True
    cut_at = np.zeros(f.n, bool)
    cut_at[[t for t, _ in found_cuts]] = True
    return found_cuts, spans, blocked, cut_at


def detect_transitions(f: FrameFeatures, fps: float) -> list[Transition]:
    """Run all detectors, resolve overlaps (gradual spans swallow cuts inside them), return sorted."""
    n = f.n
    found_cuts, spans, blocked, cut_at = cuts_and_fades(f, fps)
    fades = [(s, e, c) for s, e, c, edge in spans if not edge]
    # a blend that starts on the first frame or ends on the last has no shot on one side: an opening or
    # closing fade (from or to any colour), not a boundary
    dissolves = [(s, e, c) for s, e, c in detect_dissolves(f, fps, blocked, cut_at) if s > 1 and e < n - 2]
    dissolves = _clip_at_cuts(dissolves, [t for t, _ in found_cuts])
    gradual = [("fade", s, e, c) for s, e, c in fades] + [("dissolve", s, e, c) for s, e, c in dissolves]
    gradual = _merge_through_holds(f, gradual)
    reach = max(3, round(RETURN_SPAN * (fps if fps > 0 else 30.0)))
    gradual = [g for g in gradual if not _span_comes_back(f.sig, g[1], g[2], reach)]
    inside = np.zeros(n, bool)
    for _, s, e, _ in gradual:
        inside[s : e + 1] = True  # a cut inside a gradual span is that span
    inside |= _edge_frames(f, spans)
    cuts = [("cut", t, t, c) for t, c in found_cuts if not inside[t]]
    taken = inside.copy()
    taken[[t for _, t, _, _ in cuts]] = True
    # a wipe is looked for only where nothing else was found; like a blend, one touching an end is no boundary
    wipes = [
        ("wipe", s, e, c)
        for s, e, c in detect_wipes(f, fps, taken)
        if s > 1 and e < n - 2 and not _span_comes_back(f.sig, s, e, reach)
    ]
    t_ms = f.t_ms
    out = [
        Transition(kind, int(s), int(e), round(t_ms[s]), round(t_ms[e]), round(float(c), 4))
        for kind, s, e, c in gradual + cuts + wipes
    ]
    return sorted(out, key=lambda tr: (tr.start_frame, tr.end_frame))


def build_shots(transitions: list[Transition], t_ms: np.ndarray, duration_ms: int) -> list[Shot]:
    """Partition the frames into shots; gradual transitions are split at their middle frame."""
    n = t_ms.shape[0]
    bounds: list[tuple[int, Transition | None]] = [(0, None)]
    for tr in transitions:
        b = tr.start_frame if tr.kind == "cut" else (tr.start_frame + tr.end_frame + 1) // 2
        if bounds[-1][0] < b < n:
            bounds.append((b, tr))
    shots: list[Shot] = []
    for i, (b, opening) in enumerate(bounds):
        nxt = bounds[i + 1][0] if i + 1 < len(bounds) else n
        end_ms = round(float(t_ms[nxt])) if nxt < n else duration_ms
        span = None if opening is None or opening.kind == "cut" else (opening.start_frame, opening.end_frame)
        kind = "start" if opening is None else opening.kind
        shots.append(Shot(i, b, nxt - 1, round(float(t_ms[b])), end_ms, kind, span))
    return shots
