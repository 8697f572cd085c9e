"""Document-restoration benchmark: the shipped NAFNet model vs classical baselines.

Usage (from the repository root):
    python bench/restore/run.py                     # evaluate the shipped model (~1 min on 2 CPU cores)
    python bench/restore/run.py --train-minutes 10  # also train from scratch with the default TrainConfig
                                                    # for 10 minutes and evaluate that model too

Generates a held-out synthetic test set with a seed no training run uses (training: seed 1,
unit tests: other small seeds), then scores PSNR/SSIM (app.ml.quality) of
  * input        : the degraded page as is,
  * median3      : 3x3 median filter (Pillow),
  * sauvola      : Sauvola binarisation (scikit-image, window 25, k 0.2; skipped if not installed),
  * nafnet-*     : the model(s), tiled inference as used in production,
and measures training throughput (patches/s, default config) and inference time per megapixel.
Prints a Markdown table and writes it into bench/restore/README.md between the result markers.
"""

from __future__ import annotations

import argparse
import logging
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageFilter

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT / "backend"))

from app.ml.images import read_image  # noqa: E402
from app.ml.infer import default_model_path, load_model, restore_array, restore_image  # noqa: E402
from app.ml.quality import psnr, ssim  # noqa: E402
from app.ml.synth import SynthConfig, generate_dataset  # noqa: E402
from app.ml.train import TrainConfig, train  # noqa: E402

MARK_BEGIN, MARK_END = "<!-- results:begin -->", "<!-- results:end -->"
TEST_SEED = 777_001
TRAIN_SEED = 1
Method = Callable[[np.ndarray], np.ndarray]


def median3(img: np.ndarray) -> np.ndarray:
    u8 = Image.fromarray((img * 255 + 0.5).astype(np.uint8))
    return np.asarray(u8.filter(ImageFilter.MedianFilter(3)), dtype=np.float32) / 255.0


GPU_BATCH = {"batch_size": 64, "crop_size": 128}  # the training batch GPU figures use besides the default


def sauvola_method() -> Method | None:
    try:
        from skimage.filters import threshold_sauvola
    except ImportError:
        return None
    return lambda img: (img > threshold_sauvola(img, window_size=25, k=0.2)).astype(np.float32)


def model_method(path: Path, device: str = "cpu", ensemble: int = 1) -> Method:
    model, _ = load_model(path, device=device)
    return lambda img: (
        restore_array(model, img[None], tile=256, overlap=32, ensemble=ensemble)[0].astype(np.float32) / 255.0
    )


def score(method: Method, pairs: list[tuple[np.ndarray, np.ndarray]]) -> tuple[float, float]:
    res = [(psnr(out, clean), ssim(out, clean)) for out, clean in ((method(d), c) for d, c in pairs)]
    return float(np.mean([r[0] for r in res])), float(np.mean([r[1] for r in res]))


def load_test_set(root: Path, count: int) -> list[tuple[np.ndarray, np.ndarray]]:
    generate_dataset(root, SynthConfig(count=count, seed=TEST_SEED, size=256))
    names = sorted(p.name for p in (root / "clean").glob("*.png"))
    return [(read_image(root / "degraded" / n), read_image(root / "clean" / n)) for n in names]


def train_throughput(dataset: Path, out: Path, device: str, steps: int, **overrides: Any) -> float:
    cfg = TrainConfig(
        steps=steps, device=device, checkpoint_every=10**9, log_every=steps // 2, val_fraction=0.05, **overrides
    )
    seen: list[float] = []
    train(dataset, out, cfg, resume=False, progress=lambda p: seen.append(p["patches_per_s"]))
    return seen[-1]  # second half of the run: warm caches, no validation


def inference_s_per_mp(model_path: Path, work: Path, threads: int, device: str = "cpu", tile: int = 256) -> float:
    """Best of two timed runs of restore_image on a 2048x1536 page with ``threads`` torch threads."""
    if not (work / "degraded" / "00000.png").exists():
        generate_dataset(work, SynthConfig(count=1, seed=TEST_SEED + 1, width=2048, height=1536))
    src = work / "degraded" / "00000.png"
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        restore_image(model_path, src, work / "warm.png", device=device, tile=tile)  # warm-up (cache, allocator)
        times = []
        for _ in range(2):
            t0 = time.perf_counter()
            restore_image(model_path, src, work / "out.png", device=device, tile=tile)
            times.append(time.perf_counter() - t0)
    finally:
        torch.set_num_threads(previous)
    return min(times) / (2048 * 1536 / 1e6)


def table(rows: list[tuple[str, float, float]]) -> list[str]:
    lines = ["| method | PSNR (dB) | SSIM |", "|---|---:|---:|"]
    lines += [f"| {name} | {p:.2f} | {s:.4f} |" for name, p, s in rows]
    return lines


def verdict(rows: list[tuple[str, float, float]]) -> list[str]:
    """Compare every model row with the best classical baseline against the targets (+3 dB, +0.05 SSIM)."""
    classical = [r for r in rows if not r[0].startswith("nafnet")]
    best_p, best_s = max(r[1] for r in classical), max(r[2] for r in classical)
    out = [f"Best classical baseline: PSNR {best_p:.2f} dB, SSIM {best_s:.4f}."]
    for name, p, s in rows:
        if name.startswith("nafnet"):
            status = "met" if p - best_p >= 3.0 and s - best_s >= 0.05 else "MISSED"
            out.append(f"- {name}: {p - best_p:+.2f} dB, {s - best_s:+.4f} SSIM -> target {status}")
    return out


def write_readme(block: list[str]) -> None:
    readme = HERE / "README.md"
    text = readme.read_text() if readme.exists() else f"# Restoration benchmark\n\n{MARK_BEGIN}\n{MARK_END}\n"
    head, rest = text.split(MARK_BEGIN, 1)
    tail = rest.split(MARK_END, 1)[1]
    readme.write_text(head + MARK_BEGIN + "\n" + "\n".join(block) + "\n" + MARK_END + tail)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=default_model_path())
    ap.add_argument("--count", type=int, default=60, help="held-out test pages (256x256)")
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    ap.add_argument("--train-minutes", type=float, default=0.0, help="also train from scratch this long")
    ap.add_argument("--train-device", default="cpu", help="device of the from-scratch run (cuda: batch 64 x 128x128)")
    ap.add_argument("--throughput-steps", type=int, default=60)
    ap.add_argument("--no-readme", action="store_true")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(args.threads)
    t_start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        pairs = load_test_set(tmp / "test", args.count)
        methods: list[tuple[str, Method | None]] = [
            ("input (degraded)", lambda x: x),
            ("median3", median3),
            ("sauvola", sauvola_method()),
            (f"nafnet-shipped ({args.model.name})", model_method(args.model)),
        ]
        if torch.cuda.is_available():
            methods.append((f"nafnet-shipped ({args.model.name}) on CUDA, fp16", model_method(args.model, "cuda")))
        n_train = 600 if args.train_minutes else 64
        generate_dataset(tmp / "train", SynthConfig(count=n_train, seed=TRAIN_SEED, size=256))
        extra: list[str] = []
        if args.train_minutes:
            on_gpu = args.train_device != "cpu"  # a GPU-sized batch; the rest of the default recipe unchanged
            sizes = {**GPU_BATCH, "steps": 20_000} if on_gpu else {}
            cfg = TrainConfig(max_seconds=60 * args.train_minutes, device=args.train_device, **sizes)
            where = (
                f"{torch.cuda.get_device_name()}, batch 64 x 128x128, steps=20000"
                if on_gpu
                else f"CPU, {args.threads} thread(s)"
            )
            res = train(tmp / "train", tmp / "scratch", cfg, resume=False)
            name = f"nafnet-scratch-{args.train_minutes:g}min" + (f"-{cfg.device}" if on_gpu else "")
            methods.append((name, model_method(Path(res["model_path"]))))
            extra.append(
                f"From-scratch run: default TrainConfig, max_seconds={cfg.max_seconds:.0f}, {where}: "
                f"{res['steps']} steps in {res['seconds']:.0f} s, {res['patches_per_s']:.0f} patches/s at the end."
            )
        rows = []
        for name, method in methods:
            if method is None:
                print(f"skipping {name}: scikit-image not installed")
                continue
            rows.append((name, *score(method, pairs)))
        speed = [
            f"Training throughput (default config, batch 8 x 64x64 crops, CPU, {args.threads} thread(s)): "
            f"{train_throughput(tmp / 'train', tmp / 'tp', 'cpu', args.throughput_steps):.0f} patches/s"
        ]
        if torch.cuda.is_available():
            gpu = torch.cuda.get_device_name()
            steps = args.throughput_steps * 5
            speed += [
                f"Training throughput on {gpu} (default config, mixed precision): "
                f"{train_throughput(tmp / 'train', tmp / 'tpg', 'cuda', steps):.0f} patches/s",
                f"Training throughput on {gpu} (batch 64 x 128x128 crops, mixed precision): "
                f"{train_throughput(tmp / 'train', tmp / 'tpg2', 'cuda', steps, **GPU_BATCH):.0f}"
                " patches/s",
            ]
            speed += [
                f"Inference (2048x1536 page, restore_image, tile {tile}, {gpu}, float16 autocast): "
                f"{inference_s_per_mp(args.model, tmp / 'big', args.threads, 'cuda', tile):.3f} s per megapixel"
                for tile in (256, 1024)
            ]
        for threads in (1, 2):
            speed.append(
                f"Inference (2048x1536 page, restore_image, tile 256, CPU, {threads} thread(s)): "
                f"{inference_s_per_mp(args.model, tmp / 'big', threads):.2f} s per megapixel"
            )
    block = [
        f"Test set: {args.count} pages 256x256, seed {TEST_SEED}; model: `{args.model.name}`. "
        f"Machine: {platform.machine()} {platform.processor() or ''}, torch {torch.__version__}, "
        f"run took {time.perf_counter() - t_start:.0f} s.",
        "",
        *table(rows),
        "",
        *verdict(rows),
        "",
        *[f"- {s}" for s in speed + extra],
    ]
    print("\n".join(block))
    if not args.no_readme:
        write_readme(block)


if __name__ == "__main__":
    main()
