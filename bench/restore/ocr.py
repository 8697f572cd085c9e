"""Reading restored pages: OCR (Tesseract) of clean, degraded, Sauvola-binarised and restored pages of known text.

    apt-get install tesseract-ocr && pip install -e ".[bench]"
    python bench/restore/ocr.py --pages 20

Each page holds lines of common English words set in 14-22 px text (system fonts where present), so the
reference text is known; it is degraded with the composed synthetic degradations (bleed-through from another
page included), restored by the shipped model, and read by Tesseract (``--psm 6``, one block of text). The
score is the character error rate (Levenshtein distance / reference length, whitespace collapsed), per page
and per degradation; a page counts as "read worse" when restoration raised its CER by more than 0.5 point.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent / "backend"))

from app.ml.degrade import DegradeParams, degrade  # noqa: E402
from app.ml.infer import default_model_path, load_model, restore_array  # noqa: E402
from app.ml.render import FontBook, find_system_fonts  # noqa: E402
from run import sauvola_method  # noqa: E402

SEED = 990_001
_WORD_TEXT = (
    "the of and to in is was that for on with as by at from his her they be this have not are or an which "
    "one had but all were their there been has when who will more no if out so said what up its about "
    "into than them can only other new some could time these two may then do first any my now such like "
    "our over man me even most made after also did many before must through back years where much your "
    "way well down should because each just those people how too little state good very make world still "
    "own see men work long get here between both life being under never day same another know while last "
    "might us great old year off come since against go came right used take three house paper letter "
    "number office report court public"
)
WORDS = _WORD_TEXT.split()


def page_with_text(rng: np.random.Generator, fonts: FontBook, size: tuple[int, int] = (720, 540)) -> tuple:  # type: ignore[type-arg]
    """(float32 page, its text): black lines of words on white, one text size per page."""
    img = Image.new("L", size, 255)
    draw = ImageDraw.Draw(img)
    px = int(rng.integers(14, 23))
    font = fonts.pick(rng, px)
    lines, y = [], 20
    while y + 2 * px < size[1] - 20:
        words: list[str] = []
        while True:
            word = WORDS[int(rng.integers(len(WORDS)))]
            if draw.textlength(" ".join([*words, word]), font=font) > size[0] - 60:
                break
            words.append(word)
        draw.text((30, y), " ".join(words), fill=0, font=font)
        lines.append(" ".join(words))
        y += int(px * 1.6)
    return np.asarray(img, dtype=np.float32) / 255.0, "\n".join(lines), px


def read(img: np.ndarray) -> str:
    import pytesseract

    u8 = (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)
    return str(pytesseract.image_to_string(Image.fromarray(u8), config="--psm 6"))


def cer(reference: str, text: str) -> float:
    from rapidfuzz.distance import Levenshtein

    ref, hyp = " ".join(reference.split()), " ".join(text.split())
    return 100.0 * Levenshtein.distance(ref, hyp) / max(1, len(ref))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pages", type=int, default=20)
    ap.add_argument("--model", type=Path, default=default_model_path())
    args = ap.parse_args()
    fonts = FontBook([None, *find_system_fonts()])
    model, _ = load_model(args.model, device="cpu")
    sauvola = sauvola_method()
    rows, by_step = [], defaultdict(list)
    for i in range(args.pages):
        rng = np.random.default_rng([SEED, i])
        clean, text, px = page_with_text(rng, fonts)
        back, _, _ = page_with_text(rng, fonts)
        degraded, applied = degrade(clean, rng, DegradeParams(), back)
        restored = restore_array(model, degraded[None])[0].astype(np.float32) / 255.0
        row = {"px": px, "clean": cer(text, read(clean)), "degraded": cer(text, read(degraded))}
        row["restored"] = cer(text, read(restored))
        row["sauvola"] = cer(text, read(sauvola(degraded))) if sauvola else float("nan")
        rows.append(row)
        for step in applied:
            by_step[step].append(row)
        print(
            f"page {i:2d} ({px} px, {'+'.join(applied)}): "
            + ", ".join(f"{k} {v:.1f}%" for k, v in row.items() if k != "px")
        )
    worse = [r for r in rows if r["restored"] > r["degraded"] + 0.5]
    print()
    print("| pages | clean | degraded | sauvola | restored | read worse after restoration |")
    print("|---|---:|---:|---:|---:|---:|")
    print(table_row(f"all {len(rows)}", rows, len(worse)))
    for step, group in sorted(by_step.items()):
        print(table_row(f"{step} ({len(group)})", group, sum(r["restored"] > r["degraded"] + 0.5 for r in group)))


def table_row(name: str, rows: list[dict[str, float]], worse: int) -> str:
    means = [float(np.mean([r[k] for r in rows])) for k in ("clean", "degraded", "sauvola", "restored")]
    cells = " | ".join("n/a" if np.isnan(m) else f"{m:.2f}%" for m in means)
    return f"| {name} | {cells} | {worse} |"


if __name__ == "__main__":
    main()
