"""The dissolve verifier: a logistic model over a dozen statistics of each dissolve candidate.

The rules of `dissolve` find candidates; which of them are dissolves and which are moments of an
evolving texture, a lighting ramp or a sweep past the lens is decided here, from how the evidence adds
up: the votes (how many, how many clean, how many detail-energy dips), how the luma histogram and the
brightness-free value distribution change across the span against within its sides, the detail-energy
dip in the middle, the span's length in seconds, its cleanest blend residual. The weights are fitted
by ``bench/cuts/train_verifier.py`` on labelled synthetic videos (never on a set that is reported as
held out) and pasted here; inputs are standardised with the training set's mean and spread.
"""

from __future__ import annotations

import numpy as np

# input: (mean, spread, weight); fitted by bench/cuts/train_verifier.py on 113 candidates of the sets
# train, hard, hard-more, hard-fresh2, hard-fresh3
FITTED: dict[str, tuple[float, float, float]] = {
    "log_strong_votes": (2.16246, 0.743861, -0.0154124),
    "log_votes": (2.54309, 0.747287, -0.527056),
    "log_hist_across_over_calmer_side": (1.78199, 1.12104, 0.535733),
    "log_hist_across_over_busier_side": (0.79232, 0.67515, 0.198081),
    "margin": (0.530754, 0.23727, 0.211372),
    "log_dip_votes": (2.03091, 0.997628, 1.25452),
    "log_seconds": (-0.310915, 1.01803, 0.0245581),
    "energy_dip": (0.485377, 0.195045, -1.2197),
    "vote_confidence": (0.529794, 0.219776, 0.267162),
    "values_across": (0.262663, 0.202354, 1.05137),
    "layout_across": (0.987434, 0.271881, 0.953341),
    "log_blend_residual": (-1.7598, 0.644566, -0.124381),
}
BIAS = 2.506
# end of the fitted block

FEATURES = tuple(FITTED)
MEAN, SCALE, WEIGHTS = (np.array([v[i] for v in FITTED.values()]) for i in range(3))


def dissolve_probability(x: np.ndarray) -> float:
    """Probability that a candidate with inputs `x` (in `FEATURES` order) is a dissolve."""
    z = float(np.dot((np.asarray(x, np.float64) - MEAN) / SCALE, WEIGHTS) + BIAS)
    return float(1.0 / (1.0 + np.exp(-np.clip(z, -50.0, 50.0))))
