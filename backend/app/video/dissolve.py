"""Cross-dissolve detection over per-frame features (see `features` for the blend statistics).

For many (centre c, half-span h) pairs, a vote needs: the middle frame close to the
average of the frames at c-h and c+h (``rr`` small, and a dip compared with ``rr`` one span away, since
smooth motion of soft content looks blend-like everywhere); the ends differing structurally more than
motion explains (``se`` above its level in the neighbouring windows); the middle frame's contrast equal
to that of a blend of the ends (moving content keeps its contrast); enough contrast to judge; and no
single frame carrying most of the change (plateau, not a spike). Votes are clustered; a cluster
needs >= 3 votes including one clean blend of unrelated images; its span is the union of the "inner"
votes (ends still inside the blend).
Dissolves the blend test cannot see (fast motion moves the pixels it compares; similar shots keep
``se`` at the level of motion) vote through the position-free detail-energy dip (`energy`): the
energy curve dips as a blend of uncorrelated detail does, the middle is still roughly a pixel blend
(``rr`` < DIP_RR_MAX) or the whole window fits the dissolve energy law within DIP_FIT, and no detected
hard cut lies inside the window. Such a vote is strong (can carry a cluster) when ``rr`` <= RR_MAX or
the fit holds. Every vote also needs the middle frame to have lost detail alike horizontally and
vertically (`energy.isotropic_dip`): a blend scales both, the motion blur of a swing only one.
Each cluster's chains of strong votes are candidates (`dissolve_candidates`); the two-shots test
(`_between_two_shots`) and the learned verifier (`verifier`, over statistics of the candidate and its
sides, colour among them) decide which are dissolves (`detect_dissolves`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .energy import dip_fit, energy_dip, isotropic_dip
from .features import FLAT_STD, FrameFeatures
from .verifier import dissolve_probability

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
HIST_GAIN, VALUES_GAIN = 1.0, 1.5
RAMP_LAYOUT, RAMP_VALUES = 0.6, 0.1
LIGHT_VALUES, LIGHT_CONTRAST = 0.12, 1.25
SAME_LAYOUT, SAME_VALUES, SAME_MARGIN = 0.8, 0.12, 0.4
MIN_SCORE = 0.15
LAW_MIN_FRAMES = 9
VERIFIER_MIN, VERIFIER_WITH_RULES = 0.5, 0.25


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
    a, b = xp[c], xp[c + 4 * h]
    na, nb = np.isnan(a), np.isnan(b)
    # np.nanmean of the two, in its arithmetic (their sum over their count), at a fraction of its cost
    total = np.where(na, 0, a) + np.where(nb, 0, b)
    count = (~na).astype(np.intp) + ~nb
    with np.errstate(invalid="ignore"):
        m = (total / count).astype(total.dtype)
    return np.where(count == 0, np.inf, m)


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
        # a blend loses detail alike in both directions; motion blur only along the motion
        both = ok | dip
        both[both] = isotropic_dip(f, c[both], h)
        ok &= both
        dip &= both
        for i in np.flatnonzero(ok | dip):
            ci = int(c[i])
            votes.append(_Vote(ci - h, ci + h, float(de[ci]), float(rr[ci]), float(se[ci]), bool(dip[i]), bool(fit[i])))
    return votes


def _strong(v: _Vote) -> bool:
    """A clean blend (small residual) of two unrelated images (structural distance near 1), or a clean
    detail-energy dip that is also roughly a pixel blend."""
    return (v.se >= SE_STRONG and v.rr <= RR_STRONG) or (v.dip and (v.rr <= RR_MAX or v.fit))


@dataclass
class Candidate:
    """A dissolve the votes support: its span, the votes' confidence, the two-shots margin (see
    `_between_two_shots`) and the verifier's inputs (`verifier.FEATURES`, in that order)."""

    start: int
    end: int
    conf: float
    margin: float
    features: np.ndarray
    lighting: bool = False  # the change across it is light changing on one picture (see `_lighting`)

    @property
    def score(self) -> float:
        """The rules' score: votes and two-shots margin together."""
        return 0.5 * self.conf + 0.5 * self.margin

    @property
    def rules_pass(self) -> bool:
        """Whether the rules alone take it: it leads from one shot to another, with a score of MIN_SCORE."""
        return self.margin > 0 and self.score >= MIN_SCORE


def dissolve_candidates(f: FrameFeatures, fps: float, blocked: np.ndarray, cut_at: np.ndarray) -> list[Candidate]:
    """Every span the votes support as a dissolve (clusters with a clean blend, chains of strong votes
    with enough support), before the two-shots test and the verifier judge it."""
    votes = sorted(_dissolve_votes(f, fps, blocked, cut_at), key=lambda v: (v.start, v.end))
    clusters: list[list[_Vote]] = []
    for v in votes:
        if clusters and v.start <= max(u.end for u in clusters[-1]):
            clusters[-1].append(v)
        else:
            clusters.append([v])
    out: list[Candidate] = []
    for cl in clusters:
        if len(cl) < MIN_VOTES or not any(_strong(v) for v in cl):
            continue  # too little evidence, or never a clean blend of unrelated images
        for core in _cores(cl):
            support = [v for v in cl if core[0] <= (v.start + v.end) // 2 <= core[1]]
            if len(support) < MIN_VOTES:
                continue
            if sum(_strong(v) for v in support) < 2 and len(support) < 2 * MIN_VOTES:
                continue  # one clean blend among a few loose votes: a moment of an evolving texture
            start, end, conf = _span(support, core)
            sides = _sides(f, fps, start, end, blocked, cut_at)
            margin = _margin(f, sides)
            change = _shape_change(f, sides[1], sides[2])  # from the frame before the span to the one after it
            features = _features(f, fps, start, end, support, conf, margin, sides, change)
            out.append(Candidate(start, end, conf, margin, features, _lighting(f, sides, change)))
    return out


def detect_dissolves(
    f: FrameFeatures, fps: float, blocked: np.ndarray, cut_at: np.ndarray | None = None
) -> list[tuple[int, int, float]]:
    """Return `(start, end, confidence)` spans of cross-dissolves outside `blocked` frames.

    The verifier (`verifier.dissolve_probability`) judges every candidate: one the rules pass (a positive
    two-shots margin, and votes and margin together over MIN_SCORE) needs a probability of
    VERIFIER_WITH_RULES, one they refuse (two shots of one look, a side still busy with the rest of the
    transition) VERIFIER_MIN; one whose change is light changing (`_lighting`) is refused. The
    confidence is the mean of the probability and the rules' score."""
    cuts = np.zeros(f.n, bool) if cut_at is None else cut_at
    out: list[tuple[int, int, float]] = []
    for c in dissolve_candidates(f, fps, blocked, cuts):
        if c.lighting:
            continue
        p = dissolve_probability(c.features)
        if p >= (VERIFIER_WITH_RULES if c.rules_pass else VERIFIER_MIN):
            out.append((c.start, c.end, round(0.5 * p + 0.5 * c.score, 4)))
    return out


def _features(
    f: FrameFeatures,
    fps: float,
    start: int,
    end: int,
    support: list[_Vote],
    conf: float,
    margin: float,
    sides: tuple[int, int, int, int],
    change: tuple[float, float],
) -> np.ndarray:
    """The verifier's inputs for one candidate (see `verifier.FEATURES`); `change`: `_shape_change` across it."""
    a0, a1, b0, b1 = sides
    across = _hist_change(f, a1, b0)
    within = (_hist_change(f, a0, a1), _hist_change(f, b0, b1))
    layout, values = change
    g = f.grad2.astype(np.float64)
    dip = g[(start + end) // 2] / max(0.5 * (g[a1] + g[b0]), 1e-6)
    rate = fps if fps > 0 else 30.0
    eps = 1e-3
    return np.array(
        [
            np.log(sum(_strong(v) for v in support) + 1.0),
            np.log(len(support)),
            np.log((across + eps) / (min(within) + eps)),
            np.log((across + eps) / (max(within) + eps)),
            margin,
            np.log(sum(v.dip for v in support) + 1.0),
            np.log((end - start + 1) / rate),
            dip,
            conf,
            values,
            layout,
            np.log(min(v.rr for v in support) + 0.01),
            *_colour_inputs(f, sides),
        ],
        np.float64,
    )


def _colour_inputs(f: FrameFeatures, sides: tuple[int, int, int, int]) -> tuple[float, float, float, float]:
    """The verifier's colour inputs: the change of mean colour (U, V) across the span, over the calmer and
    over the busier side's, and the change of colour spread across it. NaN where any of those frames has
    no chroma (palette, packed YUV): an unknown colour is no evidence either way (`verifier` reads NaN
    as the training mean), where a grey picture's unchanging colour is."""
    if f.chroma is None:
        return (np.nan,) * 4
    a0, a1, b0, b1 = sides
    c = f.chroma[[a0, a1, b0, b1]].astype(np.float64)
    if np.isnan(c).any():
        return (np.nan,) * 4
    move = lambda i, j: float(np.hypot(*(c[j, :2] - c[i, :2])))  # noqa: E731
    across, within = move(1, 2), (move(0, 1), move(2, 3))
    spread = abs(np.log((c[2, 2:].mean() + 1.0) / (c[1, 2:].mean() + 1.0)))
    return (
        float(np.log(across + 1.0)),
        float(np.log((across + 1.0) / (min(within) + 1.0))),
        float(np.log((across + 1.0) / (max(within) + 1.0))),
        float(spread),
    )


def _lighting(f: FrameFeatures, sides: tuple[int, int, int, int], change: tuple[float, float]) -> bool:
    """Whether the change from the frame before a span to the frame after it is light changing on one
    picture: the layout kept (as in `_margin`'s ramp test), the brightness-free distribution of values kept
    within LIGHT_VALUES, and the contrast scaled as the brightness was (within LIGHT_CONTRAST, as a gain
    does). No verifier overrules that: a blend of two pictures that alike, one a brighter copy of the
    other, cannot be told from light changing on one. (A dissolve between two shots of one look whose
    brightness stays while the contrast changes is left to the verifier.)"""
    _, a1, b0, _ = sides
    layout, values = change  # `_shape_change` from a1 to b0
    if layout >= RAMP_LAYOUT or values >= LIGHT_VALUES:
        return False
    lum = np.log(np.maximum(f.mean[[a1, b0]].astype(np.float64), 1.0))
    con = np.log(np.maximum(f.std[[a1, b0]].astype(np.float64), 1.0))
    return bool(abs((con[1] - con[0]) - (lum[1] - lum[0])) < np.log(LIGHT_CONTRAST))


def _hist_change(f: FrameFeatures, i: int, j: int) -> float:
    return float(0.5 * np.abs(f.hist[i].astype(np.float32) - f.hist[j].astype(np.float32)).sum())


def _shape_change(f: FrameFeatures, i: int, j: int) -> tuple[float, float]:
    """(structural distance 1 - NCC, distance between the sorted z-scored values) of two signatures: how
    much the layout and the brightness-free distribution of values changed (a lighting ramp changes neither)."""
    a, b = f.sig[i].astype(np.float32), f.sig[j].astype(np.float32)
    sa, sb = float(a.std()), float(b.std())
    if min(sa, sb) < FLAT_STD:
        return (0.0 if max(sa, sb) < FLAT_STD else 1.0), 1.0
    za, zb = (a - a.mean()) / sa, (b - b.mean()) / sb
    return float(1.0 - (za * zb).mean()), float(np.abs(np.sort(za) - np.sort(zb)).mean())


def _side(stop: np.ndarray, frm: int, length: int, step: int) -> int:
    """The far end of the stretch of up to `length` frames from `frm` in direction `step` that stays in one
    shot: it stops before a frame in `stop` (a fade) or across a cut (`stop` marks both, see the caller)."""
    n = stop.shape[0]
    j = frm
    while 0 <= j + step < n and abs(j + step - frm) <= length and not stop[j + step]:
        j += step
    return j


def _between_two_shots(
    f: FrameFeatures,
    fps: float,
    start: int,
    end: int,
    blocked: np.ndarray | None = None,
    cut_at: np.ndarray | None = None,
) -> float:
    """How clearly [start, end] leads from one shot to another, in [0, 1] (0: it does not).

    A dissolve leaves one shot for another: the luma histogram, or the brightness-free distribution of
    values (unmoved by a lighting change inside a shot), changes more across the span than over as many
    frames on either side of it (an evolving texture, fast motion or an occluder sweeping past change it
    as much within the shot); and the change is not a lighting ramp (layout and brightness-free value
    distribution both kept). The margin is the share of the change across not matched within a side.
    The sides stay inside their shots: they end before a fade or a cut (`blocked`, `cut_at`), so a cut
    a few frames after a dissolve or a fade next to it does not count as change within the shot."""
    n = f.n
    blocked = np.zeros(n, bool) if blocked is None else blocked
    cut_at = np.zeros(n, bool) if cut_at is None else cut_at
    return _margin(f, _sides(f, fps, start, end, blocked, cut_at))


def _sides(
    f: FrameFeatures, fps: float, start: int, end: int, blocked: np.ndarray, cut_at: np.ndarray
) -> tuple[int, int, int, int]:
    """(a0, a1, b0, b1): the stretches [a0, a1] before the span and [b0, b1] after it, as long as the span
    (at most a second), each inside its shot (see `_between_two_shots`)."""
    n = f.n
    length = int(np.clip(end - start + 1, 2, max(2, round(fps))))
    a1, b0 = max(0, start - 1), min(n - 1, end + 1)
    # a side ends before a fade's frames, and before the frame a cut leads from (after) or into (before)
    before_stop = blocked | np.concatenate([cut_at[1:], [False]])
    a0 = _side(before_stop, a1, length, -1)
    b1 = _side(blocked | cut_at, b0, length, 1)
    # a side of under two frames is no shot to compare with: judge it as before, over the full length
    a0 = a0 if a1 - a0 >= 2 else max(0, a1 - length)
    b1 = b1 if b1 - b0 >= 2 else min(n - 1, b0 + length)
    return a0, a1, b0, b1


def _margin(f: FrameFeatures, sides: tuple[int, int, int, int]) -> float:
    a0, a1, b0, b1 = sides
    pairs = [(a0, a1), (b0, b1)]
    across = _hist_change(f, a1, b0)
    within = max(_hist_change(f, i, j) for i, j in pairs)
    layout, values = _shape_change(f, a1, b0)
    if layout < RAMP_LAYOUT and values < RAMP_VALUES:
        return 0.0
    values_within = max(_shape_change(f, i, j)[1] for i, j in pairs)
    margins = [1.0 - within / across if across >= HIST_GAIN * within and across > 0 else 0.0]
    if values >= VALUES_GAIN * values_within and values > 0:
        margins.append(1.0 - values_within / values)
    margin = float(np.clip(max(margins), 0.0, 1.0))
    # the same look on both sides (value distribution kept, layout only partly replaced: an evolving
    # texture, or a dissolve between two shots of one kind) needs a clear margin over the change within
    if layout < SAME_LAYOUT and values < SAME_VALUES and margin < SAME_MARGIN:
        return 0.0
    return margin


def _cores(cl: list[_Vote]) -> list[tuple[int, int]]:
    """Spans of the chains of overlapping strong votes in a cluster.

    Weak votes (large windows, loose blends) overlap widely and chain a dissolve to whatever blend-like
    stretch lies next to it (fast motion, an evolving texture); only strong votes delimit a dissolve.
    """
    strong = sorted((v for v in cl if _strong(v)), key=lambda v: v.start)
    cores: list[tuple[int, int]] = []
    for v in strong:
        if cores and v.start <= cores[-1][1]:
            cores[-1] = (cores[-1][0], max(cores[-1][1], v.end))
        else:
            cores.append((v.start, v.end))
    return cores


def _span(support: list[_Vote], core: tuple[int, int]) -> tuple[int, int, float]:
    """(start, end, confidence) of a dissolve: the union of the "inner" votes (ends still inside the
    blend) among those overlapping its core."""
    near = [v for v in support if v.start <= core[1] and v.end >= core[0]] or support
    max_de = max(v.de for v in near)
    inner = [v for v in near if v.de <= 0.85 * max_de] or [min(near, key=lambda v: (v.end - v.start, v.rr))]
    start, end = max(core[0], min(v.start for v in inner)), min(core[1], max(v.end for v in inner))
    # a clean pixel blend, or (where motion hides it) the share of votes whose whole window follows the
    # dissolve energy law over at least LAW_MIN_FRAMES frames (a handful of frames fit it by chance)
    blend = float(np.clip(1.0 - min(v.rr for v in support) / RR_MAX, 0.0, 1.0))
    law = sum(v.fit and v.end - v.start + 1 >= LAW_MIN_FRAMES for v in support) / len(support)
    conf = max(blend, law) * min(1.0, len(support) / 10)
    return start, end, conf
