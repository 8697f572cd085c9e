"""Shot-boundary detection over per-frame features: hard cuts, fades and cross-dissolves.

All thresholds are relative to the video itself (rolling medians / MAD of the same signal), plus small
absolute floors so that static or black footage (where the local spread is ~0) stays quiet.

* Cuts: the change signal ``s = 2*dpix/255 + dhist*min(dpix/20, 1)`` must spike above the statistics
  (median + several MADs, and 2.5x the median) of the frames on one side and be well above (1.8x) the
  median level on the other side, so the onset of fast motion (high level after) is not a cut but a
  cut out of a fast-motion shot (high, noisy level before) still is. Flash rejection: a cut is real
  only if every pair of frames (before the cut, after it) within ~0.25 s still differs by at least
  half of the jump, and also in structure (1 - NCC >= 0.2: codecs often smear the frames after a flash,
  changing brightness and detail but not layout); a flash returns to the previous content, so some
  pair is similar again.
* Fades: runs of near-black (or near-white) flat frames reached by a monotonic luma ramp of several
  frames (a cut to black has no ramp and is left to the cut detector).
* Dissolves: for many (centre c, half-span h) pairs, a vote needs: the middle frame close to the
  average of the frames at c-h and c+h (``rr`` small, and a dip compared with ``rr`` one span away, since
  smooth motion of soft content looks blend-like everywhere); the ends differing structurally more than
  motion explains (``se`` above its level in the neighbouring windows); the middle frame's contrast equal
  to that of a blend of the ends (moving content keeps its contrast); enough contrast to judge; and no
  single frame carrying most of the change (plateau, not a spike). Votes are clustered; a cluster
  needs >= 3 votes including one clean blend of unrelated images; its span is the union of the "inner"
  votes (ends still inside the blend).
* Dissolves the blend test cannot see (fast motion moves the pixels it compares; similar shots keep
  ``se`` at the level of motion) vote through the position-free detail-energy dip (`energy`): the
  energy curve dips as a blend of uncorrelated detail does, the middle is still roughly a pixel blend
  (``rr`` < DIP_RR_MAX) or the whole window fits the dissolve energy law within DIP_FIT, and no detected
  hard cut lies inside the window. Such a vote is strong (can carry a cluster) when ``rr`` <= RR_MAX or
  the fit holds.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .energy import dip_fit, energy_dip
from .features import FLAT_STD as FLAT_SIG_STD
from .features import FrameFeatures
from .models import Shot, Transition

log = logging.getLogger(__name__)

CUT_K_SIGMA = 6.0
CUT_RATIO = 1.5
CUT_ABS_MIN = 0.10
CUT_OTHER_RATIO = 1.8
FLASH_PERSIST = 0.5
FLASH_STRUCT = 0.2
DARK_MEAN, BRIGHT_MEAN, FLAT_STD = 28.0, 228.0, 12.0
FADE_MIN_RISE = 15.0
RR_MAX = 0.4
DE_MIN = 8.0
SPIKE_MAX = 0.5
MIN_VOTES = 3
SE_MARGIN = 0.3
SE_MIN = 0.35
BLEND_STD_TOL = 0.06
SE_STRONG = 0.8
RR_LOCAL = 0.7
RR_STRONG = 0.25
LOW_CONTRAST = 8.0
DIP_RR_MAX = 0.6
DIP_FIT = 0.15


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


def _side_windows(x: np.ndarray, w: int, gap: int) -> tuple[np.ndarray, np.ndarray]:
    """For every t, views of x[t-gap-w : t-gap] and x[t+gap+1 : t+gap+1+w] (NaN outside the video)."""
    n = x.shape[0]
    pad = np.full(w + gap + 1, np.nan)
    win = sliding_window_view(np.concatenate([pad, x.astype(np.float64), pad]), w)
    return win[1 : n + 1], win[w + 2 * gap + 2 : w + 2 * gap + 2 + n]


def cut_signal(f: FrameFeatures) -> np.ndarray:
    """Per-frame change signal for cuts: pixel difference plus histogram difference.

    The histogram term is gated by the pixel difference (full weight from 20 luma levels on): a flat
    area sitting on a bin edge can flip a histogram with almost no visible change.
    """
    dpix = f.dpix.astype(np.float64)
    return 2.0 * dpix / 255.0 + f.dhist.astype(np.float64) * np.clip(dpix / 20.0, 0.0, 1.0)


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


def _side_threshold(window: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(median, threshold) of each row of `window`: median + max(K*MAD-sigma, RATIO*median, ABS_MIN)."""
    med = _nanmedian(window)
    sigma = 1.4826 * _nanmedian(np.abs(window - med[:, None]))
    med, sigma = np.nan_to_num(med), np.nan_to_num(sigma)
    return med, med + np.maximum(np.maximum(CUT_K_SIGMA * sigma, CUT_RATIO * med), CUT_ABS_MIN)


def _normalised(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Zero-mean unit-variance rows (for NCC) and a mask of flat rows (std below FLAT_SIG_STD)."""
    sd = x.std(axis=1, keepdims=True)
    flat = sd[:, 0] < FLAT_SIG_STD
    return np.where(flat[:, None], 0.0, (x - x.mean(axis=1, keepdims=True)) / np.maximum(sd, 1e-6)), flat


def _flash_check(sig: np.ndarray, t: int, kmax: int) -> tuple[float, float]:
    """(persistence, structural persistence) of a change at frame t.

    Over all pairs (frame t-1-a, frame t+b) with a + b <= kmax: the smallest mean absolute difference
    relative to the jump between t-1 and t, and the smallest structural distance 1 - NCC.
    """
    pre = sig[max(0, t - 1 - kmax) : t][::-1].astype(np.float32)  # t-1, t-2, ...
    post = sig[t : t + kmax + 1].astype(np.float32)
    if pre.shape[0] == 0 or post.shape[0] == 0:
        return 0.0, 0.0
    raw = np.abs(pre[:, None, :] - post[None, :, :]).mean(axis=2)
    zp, fp = _normalised(pre)
    zq, fq = _normalised(post)
    ncc = (zp @ zq.T) / pre.shape[1]
    both, one = fp[:, None] & fq[None, :], fp[:, None] | fq[None, :]
    struct = np.where(both, 0.0, np.where(one, 1.0, 1.0 - ncc))
    mask = np.add.outer(np.arange(pre.shape[0]), np.arange(post.shape[0])) <= kmax
    jump = float(raw[0, 0])
    persistence = float(raw[mask].min()) / jump if jump > 1e-6 else 0.0
    return persistence, float(struct[mask].min())


def detect_cuts(f: FrameFeatures, fps: float) -> list[tuple[int, float]]:
    """Return `(frame, confidence)` for each hard cut; `frame` is the first frame of the new shot."""
    s = cut_signal(f)
    n = s.shape[0]
    if n < 3:
        return []
    rate = fps if fps > 0 else 30.0
    w, gap = max(5, int(round(0.5 * rate))), 2
    # side statistics over the 3-frame envelope: a frame-rate cadence (content that changes only every
    # other frame, e.g. duplicated frames) alternates the signal, and its median would sit near 0
    env = sliding_window_view(np.pad(_without_isolated_spikes(s), 1, mode="edge"), 3).max(axis=1)
    before, after = _side_windows(env, w, gap)
    med_b, thr_b = _side_threshold(before)
    med_a, thr_a = _side_threshold(after)
    base = np.maximum(med_b, med_a)
    # A spike over one calm side's statistics that is also well above both sides' levels: a cut out of
    # (or into) a noisy fast-motion shot is judged against the calm side; the onset of motion is not
    # (its spike is not above the level after it).
    spike = ((s > thr_a) & (s > CUT_OTHER_RATIO * med_b)) | ((s > thr_b) & (s > CUT_OTHER_RATIO * med_a))
    local_max = s >= sliding_window_view(np.pad(s, gap, constant_values=-1.0), 2 * gap + 1).max(axis=1)
    candidates = np.flatnonzero(spike & local_max)
    kmax = f.flash_lags - 1
    cuts: list[tuple[int, float]] = []
    for t in candidates:
        if t == 0:
            continue
        persistence, structural = _flash_check(f.sig, int(t), kmax)
        if persistence < FLASH_PERSIST or structural < FLASH_STRUCT:
            log.debug("frame %d: change does not persist (flash?)", t)
            continue
        conf = float(np.clip((s[t] - base[t]) / max(s[t], 1e-6), 0.0, 1.0))
        if cuts and t - cuts[-1][0] <= gap:
            if conf > cuts[-1][1]:
                cuts[-1] = (int(t), conf)
            continue
        cuts.append((int(t), conf))
    return cuts


def _ramp(mean: np.ndarray, start: int, step: int, sign: float, max_len: int) -> tuple[int, int]:
    """Walk from `start` in direction `step` while `sign*mean` keeps rising; return (end, length)."""
    n = mean.shape[0]
    j, length, stalls = start, 0, 0
    while 0 <= j + step < n and length < max_len:
        d = sign * (mean[j + step] - mean[j])
        if d > 0.05:
            j, length = j + step, length + 1
            continue
        nxt = j + 2 * step
        if stalls == 0 and d > -1.0 and 0 <= nxt < n and sign * (mean[nxt] - mean[j]) > 0.05:
            j, length, stalls = j + step, length + 1, 1
            continue
        break
    return j, length


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(edges == 1).tolist(), (np.flatnonzero(edges == -1) - 1).tolist()
    return list(zip(starts, ends, strict=True))


def _smooth_ramp(values: np.ndarray) -> bool:
    """A fade ramp (from the black/white run outwards) rises enough and starts without a jump.

    A cut from a dimmed scene into black has a big first step compared with the rest of the ramp.
    """
    steps = np.abs(np.diff(values))
    if steps.size < 2 or abs(values[-1] - values[0]) < FADE_MIN_RISE:
        return False
    return bool(steps[0] <= 3.0 * np.median(steps[1:]) + 2.0)


def detect_fades(f: FrameFeatures, fps: float) -> list[tuple[int, int, float]]:
    """Return `(start, end, confidence)` spans of fades to/from black or white."""
    rate = fps if fps > 0 else 30.0
    mean = f.mean.astype(np.float64)
    min_ramp, max_ramp = max(2, int(round(0.08 * rate))), int(round(4 * rate))
    fades: list[tuple[int, int, float]] = []
    dark = (mean < DARK_MEAN) & (f.std < FLAT_STD)
    bright = (mean > BRIGHT_MEAN) & (f.std < FLAT_STD)
    for mask, sign in ((dark, 1.0), (bright, -1.0)):
        for r0, r1 in _runs(mask):
            out_start, out_len = _ramp(mean, r0, -1, sign, max_ramp)
            in_end, in_len = _ramp(mean, r1, 1, sign, max_ramp)
            out_ok = out_len >= min_ramp and _smooth_ramp(mean[out_start : r0 + 1][::-1])
            in_ok = in_len >= min_ramp and _smooth_ramp(mean[r1 : in_end + 1])
            if out_ok and in_ok and r1 - r0 <= 2 * rate:
                fades.append((out_start, in_end, 1.0))
                continue
            if out_ok:
                fades.append((out_start, r0, 0.8))
            if in_ok:
                fades.append((r1, in_end, 0.8))
    return sorted(fades)


def _neighbour_level(x: np.ndarray, c: np.ndarray, h: int) -> np.ndarray:
    """Level of x (indexed by window centre) in the windows just before and just after [c-h, c+h].

    Per side the smaller of the windows 2h and 3h away (to step over a neighbouring transition); the
    result is the larger side, so steady motion (same structural change everywhere) never stands out.
    Frames outside the video are ignored; with no neighbour at all the level is 0.
    """
    n = x.shape[0]
    xp = np.concatenate([np.full(3 * h, np.nan), x, np.full(3 * h, np.nan)])
    at = lambda off: xp[c + off + 3 * h]  # noqa: E731
    before = np.fmin(at(-2 * h), at(-3 * h))
    after = np.fmin(at(2 * h), at(3 * h))
    return np.nan_to_num(np.fmax(before, after), nan=0.0) if n else np.zeros(0)


@dataclass
class _Vote:
    start: int
    end: int
    de: float
    rr: float
    se: float
    dip: bool = False  # found by the detail-energy dip test (see `energy.energy_dip`)
    fit: bool = False  # ... and the whole window follows the dissolve energy law (see `energy.dip_fit`)


def _neighbour_mean(x: np.ndarray, c: np.ndarray, h: int) -> np.ndarray:
    """Mean of x at c-2h and c+2h (NaN-aware; +inf when neither exists).

    Used for the blend residual: a dissolve is a local dip of ``rr``, while smooth motion of soft or
    periodic content looks blend-like everywhere in the shot.
    """
    xp = np.concatenate([np.full(2 * h, np.nan), x, np.full(2 * h, np.nan)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        m = np.nanmean(np.stack([xp[c], xp[c + 4 * h]]), axis=0)
    return np.where(np.isnan(m), np.inf, m)


def _blend_contrast_ok(sig_std: np.ndarray, se: np.ndarray, c: np.ndarray, h: int) -> np.ndarray:
    """Contrast of the middle frame matches a blend of the ends: var(M) = (sA^2 + sB^2 + 2 rho sA sB) / 4.

    For M = (A + B) / 2 with correlation rho = 1 - se this holds exactly; moving content keeps its full
    contrast instead, which is what separates smooth pans of periodic/soft content from dissolves.
    """
    sa, sb, sm = (sig_std[i].astype(np.float64) for i in (c - h, c + h, c))
    rho = 1.0 - se[c]
    expected = 0.5 * np.sqrt(np.maximum(sa**2 + sb**2 + 2.0 * rho * sa * sb, 0.0))
    return np.abs(sm - expected) <= BLEND_STD_TOL * np.maximum(sa, sb) + 1.0


def _dissolve_votes(f: FrameFeatures, fps: float, blocked: np.ndarray, cut_at: np.ndarray) -> list[_Vote]:
    """Votes (window, statistics) from the pixel blend test and from the detail-energy dip test.

    The dip test is position-free, so it must not see a hard cut (`cut_at`) inside its window: the
    frames around a cut can have any energy.
    """
    n = f.n
    cut_sum = np.concatenate([[0], np.cumsum(cut_at)])
    dpix = f.dpix.astype(np.float64)
    csum = np.concatenate([[0.0], np.cumsum(dpix)])
    blocked_sum = np.concatenate([[0], np.cumsum(blocked)])
    votes: list[_Vote] = []
    for j, h in enumerate(f.half_spans):
        if 2 * h >= n:
            break
        rr, de, se = f.blend_rr[:, j], f.blend_de[:, j], f.blend_se[:, j]
        c = np.arange(h, n - h)
        level = _neighbour_level(se, c, h)
        thr_se = np.maximum(level + SE_MARGIN, SE_MIN)
        wsum = csum[c + h + 1] - csum[c - h + 1]
        wmax = sliding_window_view(dpix[1:], 2 * h).max(axis=1)[c - h]
        rr_level = _neighbour_mean(rr, c, h)
        common = (
            (de[c] > DE_MIN)
            & (wmax < SPIKE_MAX * np.maximum(wsum, 1e-6))
            & (blocked_sum[c + h + 1] - blocked_sum[c - h] == 0)
            # the NCC of two near-flat images is noise
            & (np.maximum(f.sig_std[c - h], f.sig_std[c + h]) >= LOW_CONTRAST)
        )
        ok = common & (rr[c] < RR_MAX) & (rr[c] <= RR_LOCAL * rr_level) & (se[c] > thr_se)
        ok &= _blend_contrast_ok(f.sig_std, se, c, h)
        dip = common & ~ok & (cut_sum[c + h + 1] - cut_sum[c - h] == 0)
        dip[dip] = energy_dip(f, c[dip], h)
        fit = np.zeros_like(dip)
        fit[dip] = dip_fit(f, c[dip], h) < DIP_FIT
        dip &= (rr[c] < DIP_RR_MAX) | fit
        for i in np.flatnonzero(ok | dip):
            ci = int(c[i])
            votes.append(_Vote(ci - h, ci + h, float(de[ci]), float(rr[ci]), float(se[ci]), bool(dip[i]), bool(fit[i])))
    return votes


def _strong(v: _Vote) -> bool:
    """A clean blend (small residual) of two unrelated images (structural distance near 1), or a clean
    detail-energy dip that is also roughly a pixel blend."""
    return (v.se >= SE_STRONG and v.rr <= RR_STRONG) or (v.dip and (v.rr <= RR_MAX or v.fit))


def detect_dissolves(
    f: FrameFeatures, fps: float, blocked: np.ndarray, cut_at: np.ndarray | None = None
) -> list[tuple[int, int, float]]:
    """Return `(start, end, confidence)` spans of cross-dissolves outside `blocked` frames."""
    cuts = np.zeros(f.n, bool) if cut_at is None else cut_at
    votes = sorted(_dissolve_votes(f, fps, blocked, cuts), key=lambda v: (v.start, v.end))
    clusters: list[list[_Vote]] = []
    for v in votes:
        if clusters and v.start <= max(u.end for u in clusters[-1]):
            clusters[-1].append(v)
        else:
            clusters.append([v])
    out: list[tuple[int, int, float]] = []
    for cl in clusters:
        if len(cl) < MIN_VOTES or not any(_strong(v) for v in cl):
            continue  # too little evidence, or never a clean blend of unrelated images
        max_de = max(v.de for v in cl)
        inner = [v for v in cl if v.de <= 0.85 * max_de] or [min(cl, key=lambda v: (v.end - v.start, v.rr))]
        start, end = min(v.start for v in inner), max(v.end for v in inner)
        conf = float(np.clip(1.0 - min(v.rr for v in cl) / RR_MAX, 0.0, 1.0)) * min(1.0, len(cl) / 10)
        out.append((start, end, conf))
    return out


def detect_transitions(f: FrameFeatures, fps: float) -> list[Transition]:
    """Run all detectors, resolve overlaps (gradual spans swallow cuts inside them), return sorted."""
    n = f.n
    fades = detect_fades(f, fps)
    blocked = np.zeros(n, bool)
    for s, e, _ in fades:
        blocked[s : e + 1] = True
    found_cuts = detect_cuts(f, fps)
    cut_at = np.zeros(n, bool)
    cut_at[[t for t, _ in found_cuts]] = True
    dissolves = detect_dissolves(f, fps, blocked, cut_at)
    gradual = [("fade", s, e, c) for s, e, c in fades] + [("dissolve", s, e, c) for s, e, c in dissolves]
    inside = np.zeros(n, bool)
    for _, s, e, _ in gradual:
        inside[max(0, s - 1) : e + 2] = True  # a cut at (or next to) a gradual span's edge is that span
    cuts = [("cut", t, t, c) for t, c in found_cuts if not inside[t]]
    t_ms = f.t_ms
    out = [
        Transition(kind, int(s), int(e), int(round(t_ms[s])), int(round(t_ms[e])), round(float(c), 4))
        for kind, s, e, c in gradual + cuts
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
        end_ms = int(round(float(t_ms[nxt]))) if nxt < n else duration_ms
        span = None if opening is None or opening.kind == "cut" else (opening.start_frame, opening.end_frame)
        kind = "start" if opening is None else opening.kind
        shots.append(Shot(i, b, nxt - 1, int(round(float(t_ms[b]))), end_ms, kind, span))
    return shots
