"""The dissolve verifier: a logistic model over a dozen statistics of each dissolve candidate.

The rules of `dissolve` find candidates; which of them are dissolves and which are moments of an
evolving texture, a lighting ramp or a sweep past the lens is decided here, from how the evidence adds
up: the votes (how many, how many clean, how many detail-energy dips), how the luma histogram and the
brightness-free value distribution change across the span against within its sides, the detail-energy
dip in the middle, the span's length in seconds, its cleanest blend residual, and how the mean colour
and its spread change across the span against within its sides. The weights are fitted
by ``bench/cuts/train_verifier.py`` on labelled synthetic videos (never on a set that is reported as
held out) and pasted here; inputs are standardised with the training set's mean and spread.
"""

from __future__ import annotations

import numpy as np

# input: (mean, spread, weight); fitted by bench/cuts/train_verifier.py on 166 candidates of the sets
# train, hard, hard-more, hard-fresh2, hard-fresh3
FITTED: dict[str, tuple[float, float, float]] = {
    "log_strong_votes": (1.97954, 0.725568, 0),
    "log_votes": (2.3059, 0.788322, 0),
    "log_hist_across_over_calmer_side": (1.36341, 1.22713, 0.623819),
    "log_hist_across_over_busier_side": (0.408596, 0.858251, 0),
    "margin": (0.363106, 0.313722, 0.48913),
    "log_dip_votes": (1.93241, 0.92467, 1.01419),
    "log_seconds": (-0.402717, 0.910831, 0.118418),
    "energy_dip": (0.511195, 0.203186, -0.364287),
    "vote_confidence": (0.466019, 0.233388, 0),
    "values_across": (0.24349, 0.196248, 0.392724),
    "layout_across": (0.937262, 0.329339, 0.337588),
    "log_blend_residual": (-1.56416, 0.684365, -0.542212),
    "log_colour_across": (1.34293, 1.58844, 0),
    "log_colour_across_over_calmer_side": (0.889633, 1.30257, 0.205184),
    "log_colour_across_over_busier_side": (0.381157, 0.933735, 0.348154),
    "colour_spread_change": (0.293726, 0.49423, 0.324309),
}
BIAS = 1.09667
# end of the fitted block

FEATURES = tuple(FITTED)
MEAN, SCALE, WEIGHTS = (np.array([v[i] for v in FITTED.values()]) for i in range(3))


def dissolve_probability(x: np.ndarray) -> float:
    """Probability that a candidate with inputs `x` (in `FEATURES` order) is a dissolve; an input that could
    not be measured (NaN: no colour in the frames) counts as its training mean, evidence neither way."""
    z = float(np.dot(np.nan_to_num((np.asarray(x, np.float64) - MEAN) / SCALE, nan=0.0), WEIGHTS) + BIAS)
    return float(1.0 / (1.0 + np.exp(-np.clip(z, -50.0, 50.0))))
