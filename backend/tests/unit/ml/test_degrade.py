"""Degradations of clean pages: drum streaks (seeded, pixel-aligned, along the feed direction)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from app.ml.degrade import DegradeParams, degrade, drum_streaks
from app.ml.render import FontBook, render_page


def _page(seed: int = 5, size: int = 160) -> np.ndarray:
    return render_page(np.random.default_rng(seed), size, size, FontBook([None]))


def test_drum_streaks_are_seeded_thin_dark_lines_that_keep_the_page_aligned() -> None:
    page = _page()
    params = DegradeParams()
    a = drum_streaks(page, np.random.default_rng(3), params)
    b = drum_streaks(page, np.random.default_rng(3), params)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, drum_streaks(page, np.random.default_rng(4), params))
    assert a.shape == page.shape
    assert a.dtype == np.float32
    # Streaks only add toner: no pixel gets lighter, paper is darkened somewhere, ink stays where it was.
    assert np.all(a <= page + 1e-6)
    assert float((page - a).max()) > 0.05
    assert np.all(a[page < 0.5] < 0.5)
    for seed in range(20):
        out = drum_streaks(page, np.random.default_rng(seed), params)
        darker = page - out > 1e-4
        # Lines along one axis: the darkened pixels fill a few narrow bands of columns (vertical streaks) or of
        # rows (horizontal ones), and run along most of the page in that direction.
        cols, rows = darker.any(axis=0), darker.any(axis=1)
        narrow, long = (cols, rows) if cols.mean() < rows.mean() else (rows, cols)
        assert narrow.sum() <= 6 * (2 * (3 * 4.0 / 2.355 + 0.5) + 1)  # at most 6 streaks of 3 sigma each side
        assert long.mean() > 0.3


def test_degrade_applies_drum_streaks_and_records_them() -> None:
    page = _page(seed=9)
    off = ("p_bleed", "p_stain", "p_illumination", "p_shadow", "p_contrast", "p_blur", "p_noise", "p_salt_pepper")
    only_drum = replace(DegradeParams(p_drum=1.0, p_jpeg=0.0), **dict.fromkeys(off, 0.0))
    out, applied = degrade(page, np.random.default_rng(1), only_drum)
    assert applied == ["drum_streaks"]
    assert np.all(out <= page + 1e-6)
    assert not np.array_equal(out, page)
    again, _ = degrade(page, np.random.default_rng(1), only_drum)
    assert np.array_equal(out, again)
    # With the default probabilities, a share of pages gets streaks among the other degradations.
    hits = sum("drum_streaks" in degrade(page, np.random.default_rng(s), DegradeParams())[1] for s in range(60))
    assert 3 <= hits <= 25
    never = replace(DegradeParams(), p_drum=0.0)
    assert not any("drum_streaks" in degrade(page, np.random.default_rng(s), never)[1] for s in range(30))
