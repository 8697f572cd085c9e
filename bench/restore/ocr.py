"""Reading restored pages: OCR (Tesseract) of clean, degraded, Sauvola-binarised and restored pages of known text.

    apt-get install tesseract-ocr && pip install -e ".[bench]"
    python bench/restore/ocr.py --pages 20                 # the shipped model
    python bench/restore/ocr.py --pages 20 --ensemble 4 --ensemble 8   # + the model with self-ensembles
    python bench/restore/ocr.py --model old.pt --name old --model new.pt --name new     # models side by side

Each page holds lines of common English words set in 14-22 px text (system fonts where present), so the
reference text is known; it is degraded with the composed synthetic degradations (bleed-through from another
page included) and stored as 8-bit gray, as a scan would be, then read by Tesseract (``--psm 6``, one block of
text) as it is, binarised by Sauvola, and restored by the model (tiled, as the restoration job runs it). The
score is the character error rate (Levenshtein distance / reference length, whitespace collapsed), per page,
per degradation and per text size, beside PSNR and SSIM against the clean page; a page counts as "read worse"
when restoration raised its CER by more than 0.5 point.
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
from app.ml.infer import ENSEMBLES, default_model_path, load_model, restore_array  # noqa: E402
from app.ml.quality import psnr, ssim  # noqa: E402
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
    ap.add_argument("--model", type=Path, action="append", help="model file(s); default: the shipped one")
    ap.add_argument("--name", action="append", help="column names for the models, in order")
    ap.add_argument(
        "--ensemble",
        type=int,
        choices=[e for e in ENSEMBLES if e > 1],
        action="append",
        default=[],
        help="also restore with this self-ensemble (repeatable)",
    )
    args = ap.parse_args()
    fonts = FontBook([None, *find_system_fonts()])
    paths = args.model or [default_model_path()]
    names = args.name or (["restored"] if len(paths) == 1 else [f"restored ({p.name})" for p in paths])
    models = {n: load_model(p, device="cpu")[0] for n, p in zip(names, paths, strict=True)}
    sauvola = sauvola_method()
    variants = {f"{n} x{e}" if e > 1 else n: (m, e) for n, m in models.items() for e in [1, *args.ensemble]}
    rows: list[dict[str, float]] = []
    by_step: dict[str, list[dict[str, float]]] = defaultdict(list)
    for i in range(args.pages):
        rng = np.random.default_rng([SEED, i])
        clean, text, px = page_with_text(rng, fonts)
        back, _, _ = page_with_text(rng, fonts)
        degraded, applied = degrade(clean, rng, DegradeParams(), back)
        degraded = np.round(degraded * 255.0).astype(np.float32) / 255.0  # stored as 8-bit, as a scan is
        row = {"px": px, "clean": cer(text, read(clean)), "degraded": cer(text, read(degraded))}
        row["sauvola"] = cer(text, read(sauvola(degraded))) if sauvola else float("nan")
        row["psnr degraded"], row["ssim degraded"] = psnr(degraded, clean), ssim(degraded, clean)
        for name, (model, ensemble) in variants.items():
            out = restore_array(model, degraded[None], ensemble=ensemble)[0].astype(np.float32) / 255.0
            row[name] = cer(text, read(out))
            row[f"psnr {name}"], row[f"ssim {name}"] = psnr(out, clean), ssim(out, clean)
        rows.append(row)
        for step in applied:
            by_step[step].append(row)
        print(
            f"page {i:2d} ({px} px, {'+'.join(applied)}): "
            + ", ".join(f"{k} {row[k]:.1f}%" for k in ("clean", "degraded", "sauvola", *variants))
        )
    groups = [(f"all {len(rows)}", rows)]
    groups += [(f"{step} ({len(g)})", g) for step, g in sorted(by_step.items())]
    for lo, hi in ((14, 16), (17, 19), (20, 22)):
        g = [r for r in rows if lo <= r["px"] <= hi]
        groups.append((f"{lo}-{hi} px ({len(g)})", g))
    cols = ["clean", "degraded", "sauvola", *variants]
    print()
    print("Character error rate (mean over pages); read worse: restored CER > degraded CER + 0.5 point")
    print()
    print("| pages | " + " | ".join(cols) + " | " + " | ".join(f"read worse ({v})" for v in variants) + " |")
    print("|---|" + "---:|" * (len(cols) + len(variants)))
    for name, g in groups:
        print(table_row(name, g, cols, list(variants)))
    print()
    print("PSNR (dB) / SSIM against the clean page")
    print()
    print("| pages | degraded | " + " | ".join(variants) + " |")
    print("|---|---:|" + "---:|" * len(variants))
    for name, g in groups:
        cells = [
            f"{np.mean([r[f'psnr {v}'] for r in g]):.2f} / {np.mean([r[f'ssim {v}'] for r in g]):.4f}" if g else "-"
            for v in ("degraded", *variants)
        ]
        print(f"| {name} | " + " | ".join(cells) + " |")
    for v in variants:
        worse = [(i, r) for i, r in enumerate(rows) if r[v] > r["degraded"] + 0.5]
        listed = ", ".join(f"page {i} {r['degraded']:.1f}% -> {r[v]:.1f}%" for i, r in worse)
        print(f"\nRead worse ({v}): {listed or 'none'}")


def table_row(name: str, rows: list[dict[str, float]], cols: list[str], variants: list[str]) -> str:
    if not rows:
        return f"| {name} | " + " | ".join("-" for _ in cols + variants) + " |"
    means = [float(np.mean([r[k] for r in rows])) for k in cols]
    cells = " | ".join("n/a" if np.isnan(m) else f"{m:.2f}%" for m in means)
    worse = " | ".join(str(sum(r[v] > r["degraded"] + 0.5 for r in rows)) for v in variants)
    return f"| {name} | {cells} | {worse} |"


if __name__ == "__main__":
    main()
