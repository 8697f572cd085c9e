"""Cross-dissolve evidence from the detail-energy curve (``FrameFeatures.grad2``), free of pixel positions.

For a cross-dissolve M = (1-a)A + aB the mean squared neighbour difference obeys
g(M) = (1-a)^2 g(A) + a^2 g(B) + 2a(1-a) cov, and the fine detail of two different shots is uncorrelated
(cov ~ 0) even when their layouts look alike. So the energy dips to about half in the middle of the
dissolve however fast either shot moves, while motion keeps it level and a lighting ramp between the
same content follows a different, predictable curve. The pixel blend test in `detect` compares pixel
positions and fails on fast motion; these tests complement it.
"""

from __future__ import annotations

import numpy as np

from .features import FrameFeatures

DIP_MARGIN = 0.4
DIP_MIN_GAP = 0.15
DIP_QUARTER = 0.9
DIP_LEVEL = 0.85
DIP_MIN_ENERGY = 4.0
ANISO_MAX = 1.8


def _dip_ratio(g: np.ndarray, c: np.ndarray, h: int) -> tuple[np.ndarray, np.ndarray]:
    """(q, q_ramp) at centres c: middle detail energy over the mean of the ends' energies, and what that
    ratio would be for a pure intensity ramp between the ends (same content, contrast changing linearly).

    A blend of uncorrelated details gives q = 1/2 exactly; motion gives ~1; a lighting ramp gives q_ramp.
    """
    ga, gb, gm = g[c - h], g[c + h], g[c]
    mean_ends = np.maximum(0.5 * (ga + gb), 1e-6)
    q_ramp = (0.5 * (np.sqrt(ga) + np.sqrt(gb))) ** 2 / mean_ends
    return gm / mean_ends, q_ramp


def energy_dip(f: FrameFeatures, c: np.ndarray, h: int) -> np.ndarray:
    """Detail energy of the window follows the cross-dissolve law (1-a)^2 g(A) + a^2 g(B).

    Position-free, so it holds for dissolves into or out of fast motion and between shots of similar
    layout, where pixel blend tests fail. Required: the middle is closer to the blend value (1/2) than to
    a lighting ramp's, the test can tell the two apart, the quarter points dip too (a smooth parabola,
    not one odd frame), both ends have detail, and the windows one span away do not dip (the energy of
    ordinary busy content wanders; a dissolve is an isolated dip).
    """
    g = f.grad2.astype(np.float64)
    n = g.shape[0]
    q, q_ramp = _dip_ratio(g, c, h)
    ok = (q < 0.5 + DIP_MARGIN * (q_ramp - 0.5)) & (q_ramp - 0.5 > DIP_MIN_GAP)
    ga, gb = g[c - h], g[c + h]
    q1 = g[c - h // 2] / np.maximum(0.75 * ga + 0.25 * gb, 1e-6)
    q2 = g[c + h // 2] / np.maximum(0.25 * ga + 0.75 * gb, 1e-6)
    ok &= (q1 < DIP_QUARTER) & (q2 < DIP_QUARTER) & (np.minimum(ga, gb) > DIP_MIN_ENERGY)
    for off in (-2 * h, 2 * h):
        cn = c + off
        inside = (cn - h >= 0) & (cn + h < n)
        qn, _ = _dip_ratio(g, np.clip(cn, h, n - 1 - h), h)
        ok &= ~inside | (qn >= DIP_LEVEL)
    return ok


def dip_fit(f: FrameFeatures, c: np.ndarray, h: int) -> np.ndarray:
    """Largest deviation of the detail energy over [c-h, c+h] from the dissolve law
    (1-a)^2 g(c-h) + a^2 g(c+h), relative to the larger end energy.

    A tight fit over the whole window is evidence of a dissolve that needs no pixel correspondence, so
    it stands in for the pixel blend test when content moves too fast for that one.
    """
    g = f.grad2.astype(np.float64)
    t = np.arange(-h, h + 1)
    a = (t + h) / (2.0 * h)
    ga, gb = g[c - h][:, None], g[c + h][:, None]
    pred = (1.0 - a) ** 2 * ga + a**2 * gb
    return (np.abs(g[c[:, None] + t[None, :]] - pred) / np.maximum(np.maximum(ga, gb), 1e-6)).max(axis=1)


def isotropic_dip(f: FrameFeatures, c: np.ndarray, h: int) -> np.ndarray:
    """Whether the middle of each window [c-h, c+h] lost detail alike in both directions.

    A blend of two shots scales the horizontal and the vertical detail energy by the same law
    ((1-a)^2 and a^2 of the ends'), so the two ratios middle/ends agree; the motion blur of a whip pan or
    of fast motion removes detail along the motion only (a horizontal swing keeps the vertical detail),
    and the ratios part. Windows whose ends have too little detail in one direction pass.
    """
    gx = f.grad2_x.astype(np.float64)
    gy = f.grad2.astype(np.float64) - gx
    ex = 0.5 * (gx[c - h] + gx[c + h])
    ey = 0.5 * (gy[c - h] + gy[c + h])
    judged = (np.minimum(ex, ey) > DIP_MIN_ENERGY / 2) & (np.minimum(gx[c], gy[c]) > 0)
    qx = gx[c] / np.maximum(ex, 1e-6)
    qy = gy[c] / np.maximum(ey, 1e-6)
    ratio = np.maximum(qx, qy) / np.maximum(np.minimum(qx, qy), 1e-6)
    return ~judged | (ratio <= ANISO_MAX)
