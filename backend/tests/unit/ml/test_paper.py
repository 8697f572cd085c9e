"""Colour pages: the paper's tint goes, the colour printed or drawn on it stays."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from app.ml.images import read_image, write_png
from app.ml.infer import default_model_path, restore_image
from app.ml.paper import paper_color, white_balance

CREAM = np.array([0.93, 0.87, 0.66], dtype=np.float32)


def tinted_page(seed: int = 0) -> tuple[np.ndarray, dict[str, tuple[slice, slice]]]:
    """A cream page with text lines, a red stamp and a yellow highlight over a line, a little noise."""
    rng = np.random.default_rng(seed)
    page = np.ones((240, 320, 3), np.float32) * CREAM
    for y in range(30, 220, 24):
        for x in range(20, 300, 14):
            page[y : y + 9, x : x + 8] = 0.12 * CREAM  # glyph-sized ink blocks
    yy, xx = np.mgrid[0:240, 0:320]
    ring = np.abs(np.hypot(yy - 150, xx - 240) - 40) < 6
    page[ring] = np.array([0.80, 0.12, 0.14]) * CREAM / CREAM.max()
    page[52:70, 20:200] *= np.array([1.0, 1.0, 0.35], np.float32)  # highlighter over the second line
    page += rng.normal(0, 0.02, page.shape).astype(np.float32)
    regions = {"paper": (slice(0, 25), slice(0, 320)), "highlight": (slice(53, 69), slice(20, 200))}
    return np.clip(page, 0, 1), {**regions, "stamp": ring}  # type: ignore[dict-item]


def test_paper_colour_is_found_despite_ink_stamps_and_highlighter() -> None:
    page, _ = tinted_page()
    assert np.abs(paper_color(page) - CREAM).max() < 0.02
    balanced = page.copy()
    white_balance(balanced)
    r, g, b = np.median(balanced[:25].reshape(-1, 3), axis=0)
    assert max(r, g, b) - min(r, g, b) < 0.02


def test_neutral_paper_is_left_alone() -> None:
    gray = np.full((64, 64, 3), 0.8, np.float32)
    gray[20:30] = 0.1
    before = gray.copy()
    white_balance(gray)
    assert np.array_equal(gray, before)


def test_restored_colour_page_has_white_paper_and_keeps_its_colours(tmp_path: Path) -> None:
    page, regions = tinted_page()
    write_png(page, tmp_path / "page.png")
    restore_image(default_model_path(), tmp_path / "page.png", tmp_path / "out.png", device="cpu")
    out = read_image(tmp_path / "out.png")
    paper = np.median(out[regions["paper"]].reshape(-1, 3), axis=0)
    assert paper.min() > 0.9, paper  # the cream tint is gone
    assert paper.max() - paper.min() < 0.04, paper
    stamp = np.median(out[regions["stamp"]], axis=0)
    assert stamp[0] - max(stamp[1], stamp[2]) > 0.3, stamp  # still red
    mark = out[regions["highlight"]].reshape(-1, 3)
    background = mark[mark.mean(axis=1) > 0.5]  # the highlighted paper between glyphs
    yellow = np.median(background, axis=0)
    assert min(yellow[0], yellow[1]) - yellow[2] > 0.25, yellow  # still yellow
