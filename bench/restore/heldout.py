"""Held-out scoring of restoration models: composed synthetic degradations and an augraphy-built set.

    python bench/restore/heldout.py                              # the shipped model and classical baselines
    python bench/restore/heldout.py --model a.pt --model b.pt    # several models side by side
    python bench/restore/heldout.py --ensemble 4 --ensemble 8    # + each model with 4- and 8-way self-ensembles

Two sets, neither ever trained on:
  * synthetic: run.py's test set (60 pages of 256x256, seed 777001, the generator's composed degradations),
    scored overall and per degradation;
  * augraphy (out of distribution): clean pages of seed 777101 (384x384) degraded by a random subset of
    augraphy's ink, paper and post-phase augmentations that keep the geometry (no shifts, folds, warps or
    added marks), seeded per page; every page is checked to be pixel-aligned with its clean page (phase
    correlation: zero shift) and dropped otherwise. augraphy is a `bench` extra.
Figures per method: PSNR, SSIM, text F-measure (ink = value below 128, as DIBCO scores binarised pages)
and the number of pages whose F-measure falls below the degraded input's.
"""

from __future__ import annotations

import argparse
import logging
import random
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent / "backend"))
sys.path.insert(0, str(HERE))

from app.ml.images import read_image  # noqa: E402
from app.ml.infer import default_model_path  # noqa: E402
from app.ml.quality import psnr, ssim  # noqa: E402
from app.ml.render import FontBook, find_system_fonts, render_page  # noqa: E402
from app.ml.synth import SynthConfig, generate_dataset  # noqa: E402
from run import TEST_SEED, Method, median3, model_method, sauvola_method  # noqa: E402

OOD_SEED = 777_101
Page = tuple[np.ndarray, np.ndarray, list[str]]  # degraded, clean (float32 (H, W) in [0, 1]), degradations


def f_measure(out: np.ndarray, clean: np.ndarray) -> float:
    """F-measure of the ink pixels (value < 0.5) of ``out`` against those of ``clean``."""
    pred, truth = out < 0.5, clean < 0.5
    tp = float(np.logical_and(pred, truth).sum())
    if tp == 0:
        return 0.0
    precision, recall = tp / float(pred.sum()), tp / float(truth.sum())
    return 2 * precision * recall / (precision + recall)


def synthetic_set(root: Path, count: int) -> list[Page]:
    import json

    generate_dataset(root, SynthConfig(count=count, seed=TEST_SEED, size=256))
    manifest = json.loads((root / "manifest.json").read_text())
    return [
        (read_image(root / "degraded" / s["name"]), read_image(root / "clean" / s["name"]), s["degradations"])
        for s in manifest["samples"]
    ]


def _augmentations() -> list[tuple[str, object]]:
    import augraphy as A

    return [
        ("InkBleed", A.InkBleed()),
        ("LowInkRandomLines", A.LowInkRandomLines()),
        ("LowInkPeriodicLines", A.LowInkPeriodicLines()),
        ("Letterpress", A.Letterpress()),
        ("InkMottling", A.InkMottling()),
        ("DirtyDrum", A.DirtyDrum()),
        ("DirtyRollers", A.DirtyRollers()),
        ("NoiseTexturize", A.NoiseTexturize()),
        ("BrightnessTexturize", A.BrightnessTexturize()),
        ("SubtleNoise", A.SubtleNoise()),
        ("LightingGradient", A.LightingGradient()),
        ("ShadowCast", A.ShadowCast()),
        ("Gamma", A.Gamma()),
        ("Jpeg", A.Jpeg()),
        ("BadPhotoCopy", A.BadPhotoCopy()),
    ]


def _aligned(degraded: np.ndarray, clean: np.ndarray) -> bool:
    from skimage.registration import phase_cross_correlation

    shift, _, _ = phase_cross_correlation(1.0 - clean, 1.0 - degraded, normalization=None)
    return bool(np.all(np.abs(shift) < 0.5))


def augraphy_set(count: int, size: int = 384, p: float = 0.35, cache: Path | None = None) -> tuple[list[Page], int]:
    """(pages, pages dropped as misaligned or failed); kept in ``cache`` (an .npz file) when given."""
    if cache is not None and cache.is_file():
        with np.load(cache, allow_pickle=False) as z:
            kinds = [str(k).split(",") for k in z["applied"]]
            deg, cln = z["degraded"].reshape(z["degraded"].shape[:3]), z["clean"].reshape(z["clean"].shape[:3])
            return [(deg[i], cln[i], kinds[i]) for i in range(len(kinds))], int(z["dropped"])
    import cv2

    fonts = FontBook([None, *find_system_fonts()])
    augs = _augmentations()
    pages: list[Page] = []
    dropped = 0
    for i in range(count):
        rng = np.random.default_rng([OOD_SEED, i])
        clean = render_page(rng, size, size, fonts)
        random.seed(OOD_SEED * 1000 + i)
        np.random.seed((OOD_SEED * 1000 + i) % 2**32)
        chosen = [(n, a) for n, a in augs if rng.random() < p] or [augs[int(rng.integers(len(augs)))]]
        img = cv2.cvtColor((clean * 255 + 0.5).astype(np.uint8), cv2.COLOR_GRAY2BGR)
        applied = []
        try:
            for name, aug in chosen:
                res = aug(img, force=True)
                if res is None or res.shape[:2] != img.shape[:2]:
                    continue
                img = res if res.ndim == 3 else cv2.cvtColor(res, cv2.COLOR_GRAY2BGR)
                applied.append(name)
        except Exception as exc:  # an augmentation that fails on this page: drop the page, say so
            logging.warning("page %d dropped: %s", i, exc)
            dropped += 1
            continue
        degraded = cv2.cvtColor(img[..., :3].astype(np.uint8), cv2.COLOR_BGR2GRAY).astype(np.float32) / 255.0
        if not applied or not _aligned(degraded, clean):
            dropped += 1
            continue
        pages.append((degraded, clean.astype(np.float32), applied))
    if cache is not None:
        np.savez_compressed(
            cache,
            degraded=np.stack([pg[0] for pg in pages]),
            clean=np.stack([pg[1] for pg in pages]),
            applied=np.array([",".join(pg[2]) for pg in pages]),
            dropped=dropped,
        )
    return pages, dropped


def score_set(methods: list[tuple[str, Method]], pages: list[Page]) -> dict[str, dict[str, list[float]]]:
    out: dict[str, dict[str, list[float]]] = {}
    for name, method in methods:
        rec: dict[str, list[float]] = defaultdict(list)
        for degraded, clean, _ in pages:
            y = np.clip(method(degraded), 0, 1).reshape(clean.shape)
            rec["psnr"].append(min(psnr(y, clean), 100.0))
            rec["ssim"].append(ssim(y, clean))
            rec["f"].append(f_measure(y, clean))
        out[name] = rec
    return out


def report(title: str, methods: list[str], pages: list[Page], res: dict[str, dict[str, list[float]]]) -> list[str]:
    f_in = np.array(res["input (degraded)"]["f"])
    lines = [f"**{title}** ({len(pages)} pages)", ""]
    lines += ["| method | PSNR (dB) | SSIM | text F-measure | pages with F below the input's | worst F change |"]
    lines += ["|---|---:|---:|---:|---:|---:|"]
    for name in methods:
        r = res[name]
        f = np.array(r["f"])
        below = int((f < f_in - 1e-9).sum()) if name != "input (degraded)" else 0
        worst = float((f - f_in).min())
        lines.append(
            f"| {name} | {np.mean(r['psnr']):.2f} | {np.mean(r['ssim']):.4f} | {np.mean(f):.3f} | {below} | "
            f"{worst:+.3f} |"
        )
    kinds = sorted({k for _, _, applied in pages for k in applied})
    models = [m for m in methods if m not in ("input (degraded)", "median3", "sauvola")]
    lines += ["", "PSNR (dB) per degradation (pages that have it):", ""]
    lines += ["| degradation | pages | input | " + " | ".join(models) + " |", "|---|---:|---:|" + "---:|" * len(models)]
    for kind in kinds:
        idx = [i for i, (_, _, applied) in enumerate(pages) if kind in applied]
        cells = [f"{np.mean([res[m]['psnr'][i] for i in idx]):.2f}" for m in ["input (degraded)", *models]]
        lines.append(f"| {kind} | {len(idx)} | " + " | ".join(cells) + " |")
    if "blur" in kinds:
        idx = [i for i, (_, _, a) in enumerate(pages) if "blur" not in a]
        cells = [f"{np.mean([res[m]['psnr'][i] for i in idx]):.2f}" for m in ["input (degraded)", *models]]
        lines.append(f"| (no blur) | {len(idx)} | " + " | ".join(cells) + " |")
    return [*lines, ""]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, action="append", help="model file(s); default: the shipped one")
    ap.add_argument("--name", action="append", help="row names for the models, in order")
    ap.add_argument("--count", type=int, default=60)
    ap.add_argument("--ood-count", type=int, default=40)
    ap.add_argument("--no-ood", action="store_true")
    ap.add_argument("--ood-cache", type=Path, help="keep the augraphy set in this .npz file (built once)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument(
        "--ensemble", type=int, choices=[4, 8], action="append", default=[], help="also run each model so averaged"
    )
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    models = args.model or [default_model_path()]
    names = args.name or [f"model {m.name}" for m in models]
    methods: list[tuple[str, Method]] = [("input (degraded)", lambda x: x), ("median3", median3)]
    sauvola = sauvola_method()
    if sauvola is not None:
        methods.append(("sauvola", sauvola))
    for n, m in zip(names, models, strict=True):
        methods.append((n, model_method(m)))
        methods += [(f"{n}, x{e} ensemble", model_method(m, ensemble=e)) for e in args.ensemble]
    order = [n for n, _ in methods]
    out: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        pages = synthetic_set(Path(tmp) / "test", args.count)
        out += report(
            f"Synthetic, composed degradations (seed {TEST_SEED}, 256x256)", order, pages, score_set(methods, pages)
        )
    if not args.no_ood:
        ood, dropped = augraphy_set(args.ood_count, cache=args.ood_cache)
        out += report(
            f"augraphy, pixel-aligned ink/paper/post augmentations (seed {OOD_SEED}, 384x384; "
            f"{dropped} of {args.ood_count} dropped as misaligned or failed)",
            order,
            ood,
            score_set(methods, ood),
        )
    out.append(f"Run took {time.perf_counter() - t0:.0f} s.")
    print("\n".join(out))


if __name__ == "__main__":
    main()
