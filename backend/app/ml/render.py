"""Render clean synthetic document pages (text lines of varied size, headings, tables, rules).

Pages are drawn with Pillow: its built-in scalable font (``ImageFont.load_default(size=...)``,
Pillow >= 10.1) plus, optionally, TrueType/OpenType fonts found in the usual system font folders.
All randomness comes from the numpy ``Generator`` passed in, so a page is a pure function of it
(and of the font list, which is sorted for determinism on a given machine).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

FontSpec = str | None  # a font file path, or None for Pillow's built-in font
AnyFont = ImageFont.FreeTypeFont | ImageFont.ImageFont

_FONT_DIRS = (
    "/usr/share/fonts",
    "/usr/local/share/fonts",
    "~/.fonts",
    "~/.local/share/fonts",
    "/Library/Fonts",
    "/System/Library/Fonts",
    "C:/Windows/Fonts",
)
_SKIP_FONT_WORDS = ("emoji", "symbol", "dingbat", "wingding", "webding", "math", "icon")
_MAX_SYSTEM_FONTS = 24
_ALPHABET = "abcdefghijklmnopqrstuvwxyz"
_PUNCT = ",.;:!?"


def find_system_fonts(limit: int = _MAX_SYSTEM_FONTS) -> list[str]:
    """Sorted list of readable .ttf/.otf files from common font folders (may be empty)."""
    found: set[str] = set()
    for folder in _FONT_DIRS:
        root = Path(os.path.expanduser(folder))
        if not root.is_dir():
            continue
        for path in root.rglob("*"):
            name = path.name.lower()
            if path.suffix.lower() in (".ttf", ".otf") and not any(w in name for w in _SKIP_FONT_WORDS):
                found.add(str(path))
    return sorted(found)[:limit]


class FontBook:
    """Caches font objects per (spec, size). One instance per thread/call (not shared)."""

    def __init__(self, specs: list[FontSpec]) -> None:
        self.specs = specs or [None]
        self._cache: dict[tuple[FontSpec, int], AnyFont] = {}

    def get(self, spec: FontSpec, size: int) -> AnyFont:
        key = (spec, size)
        if key not in self._cache:
            try:
                self._cache[key] = (
                    ImageFont.load_default(size=size) if spec is None else ImageFont.truetype(spec, size=size)
                )
            except OSError:
                self._cache[key] = ImageFont.load_default(size=size)
        return self._cache[key]

    def pick(self, rng: np.random.Generator, size: int) -> AnyFont:
        return self.get(self.specs[int(rng.integers(len(self.specs)))], size)


def random_word(rng: np.random.Generator) -> str:
    """A pseudo-word: letters (sometimes capitalised), numbers, occasional punctuation."""
    if rng.random() < 0.12:
        return str(int(rng.integers(0, 100_000)))
    n = int(rng.integers(1, 11))
    word = "".join(_ALPHABET[i] for i in rng.integers(0, 26, n))
    if rng.random() < 0.2:
        word = word.capitalize()
    if rng.random() < 0.12:
        word += _PUNCT[int(rng.integers(len(_PUNCT)))]
    return word


def _line_text(rng: np.random.Generator, draw: ImageDraw.ImageDraw, font: AnyFont, max_w: int) -> str:
    words: list[str] = []
    while True:
        candidate = " ".join([*words, random_word(rng)])
        if draw.textlength(candidate, font=font) > max_w:
            return " ".join(words) if words else candidate
        words.append(candidate.rsplit(" ", 1)[-1])


def _draw_paragraph(
    draw: ImageDraw.ImageDraw,
    rng: np.random.Generator,
    fonts: FontBook,
    y: int,
    box: tuple[int, int, int],
    heading: bool,
) -> int:
    """Draw a few text lines starting at ``y``; returns the next free y."""
    left, right, height = box
    size = int(rng.integers(16, 30)) if heading else int(rng.integers(8, 22))
    font = fonts.pick(rng, size)
    n_lines = 1 if heading else int(rng.integers(1, 7))
    indent = int(rng.integers(0, 3 * size)) if rng.random() < 0.3 else 0
    for _ in range(n_lines):
        if y > height:
            break
        text = _line_text(rng, draw, font, max(10, right - left - indent))
        draw.text((left + indent, y), text, fill=0, font=font)
        y += int(size * rng.uniform(1.15, 1.6))
        indent = 0
    return y + int(rng.integers(2, size + 4))


def _draw_table(
    draw: ImageDraw.ImageDraw, rng: np.random.Generator, fonts: FontBook, y: int, box: tuple[int, int, int]
) -> int:
    """Draw a ruled grid with short cell texts; returns the next free y."""
    left, right, _ = box
    rows, cols = int(rng.integers(2, 6)), int(rng.integers(2, 6))
    size = int(rng.integers(8, 16))
    font = fonts.pick(rng, size)
    cell_h = int(size * rng.uniform(1.5, 2.2))
    edges = np.sort(rng.uniform(left, right, cols - 1)).astype(int).tolist()
    xs = [left, *edges, right]
    line_w = int(rng.integers(1, 3))
    for r in range(rows + 1):
        draw.line([(left, y + r * cell_h), (right, y + r * cell_h)], fill=0, width=line_w)
    for x in xs:
        draw.line([(x, y), (x, y + rows * cell_h)], fill=0, width=line_w)
    for r in range(rows):
        for c in range(cols):
            text = random_word(rng)
            if draw.textlength(text, font=font) < xs[c + 1] - xs[c] - 4:
                draw.text((xs[c] + 3, y + r * cell_h + (cell_h - size) // 2), text, fill=0, font=font)
    return y + rows * cell_h + int(rng.integers(6, 20))


def render_page(rng: np.random.Generator, width: int, height: int, fonts: FontBook) -> np.ndarray:
    """A clean page: black (0) ink on white (1) paper, float32 (H, W)."""
    img = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(img)
    margin = int(rng.integers(0, max(1, width // 8)))
    box = (margin - int(rng.integers(0, 40)), width - margin + int(rng.integers(0, 40)), height)
    y = int(rng.integers(-12, 12))
    while y < height:
        kind = rng.choice(["text", "heading", "table", "rule"], p=[0.62, 0.12, 0.14, 0.12])
        if kind == "text":
            y = _draw_paragraph(draw, rng, fonts, y, box, heading=False)
        elif kind == "heading":
            y = _draw_paragraph(draw, rng, fonts, y, box, heading=True)
        elif kind == "table":
            y = _draw_table(draw, rng, fonts, y, box)
        else:
            draw.line([(box[0], y), (box[1], y)], fill=0, width=int(rng.integers(1, 4)))
            y += int(rng.integers(6, 18))
    return np.asarray(img, dtype=np.float32) / 255.0
