"""Restormer, NAFNet and both in sequence, trained from scratch for the same CPU budget; training speed at 128².

    python bench/restore/stages.py --minutes 10       # each network trains 10 minutes on 1 thread
    python bench/restore/stages.py --throughput-only  # patches/s of 128x128 crops on 2 threads
    python bench/restore/stages.py --ddp-only         # only 2 single-thread processes, float32 and bf16

Both networks get the plain recipe (default TrainConfig: L1 + SSIM, AdamW, cosine, batch 8 of 64x64 crops)
on the same generated pages (seed 1), and are scored on the held-out test set of run.py (seed 777001):
NAFNet alone, Restormer alone, Restormer then NAFNet (each trained alone), and Restormer then the shipped
NAFNet (what restoration's stages='auto' runs once a Restormer is trained and no NAFNet is). Speed: seconds
per megapixel of the network alone (1024x1024, tile 256, 1 thread). The wall-clock figures move with the
load of a shared machine, so each line also gives the load average and patches per CPU-second.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent / "backend"))

from app.ml.distributed import train_distributed  # noqa: E402
from app.ml.infer import default_model_path, load_model, restore_array  # noqa: E402
from app.ml.quality import psnr, ssim  # noqa: E402
from app.ml.stages import Restorer, Stages  # noqa: E402
from app.ml.synth import SynthConfig, generate_dataset  # noqa: E402
from app.ml.train import TrainConfig, train  # noqa: E402
from run import TEST_SEED, TRAIN_SEED, load_test_set  # noqa: E402


def load() -> str:
    return f"load average {os.getloadavg()[0]:.1f}"


def throughput(dataset: Path, out: Path, threads: int, steps: int = 30, **overrides: Any) -> str:
    """Patches/s (wall) and per CPU-second over the second half of a short run."""
    torch.set_num_threads(threads)
    marks: list[tuple[int, float, float]] = []
    cfg = TrainConfig(steps=steps, device="cpu", checkpoint_every=10**9, log_every=steps // 2, val_fraction=0.05)
    for key, value in overrides.items():
        setattr(cfg, key, value)
    train(
        dataset,
        out,
        cfg,
        resume=False,
        progress=lambda p: marks.append((p["step"], time.perf_counter(), time.process_time())),
    )
    (s0, w0, c0), (s1, w1, c1) = marks[-2], marks[-1]
    patches = (s1 - s0) * cfg.batch_size
    return (
        f"Training, {cfg.architecture}, batch {cfg.batch_size} x {cfg.crop_size}x{cfg.crop_size}, {threads} thread(s), "
        f"loader_workers {cfg.loader_workers}, amp {cfg.amp}: {patches / (w1 - w0):.1f} patches/s wall, "
        f"{patches / (c1 - c0):.1f} per CPU-second ({load()})"
    )


def distributed_throughput(dataset: Path, out: Path, processes: int = 2, steps: int = 40, amp: str = "off") -> str:
    """Patches/s (wall, all ranks) of ``processes`` gloo ranks of one thread each, over the second half."""
    torch.set_num_threads(processes)  # each rank gets cores // processes = 1
    cfg = TrainConfig(
        steps=steps,
        device="cpu",
        checkpoint_every=10**9,
        log_every=steps // 2,
        val_fraction=0.05,
        crop_size=128,
        amp=amp,
    )
    seen: list[float] = []
    train_distributed(
        dataset, out, cfg, processes=processes, resume=False, progress=lambda p: seen.append(p["patches_per_s"])
    )
    return (
        f"Training, nafnet, batch {processes} x {cfg.batch_size} x 128x128, {processes} gloo processes of 1 thread "
        f"(DistributedDataParallel), amp {amp}: {seen[-1]:.1f} patches/s wall ({load()})"
    )


def seconds_per_mp(model: Restorer) -> float:
    page = np.random.default_rng(0).random((1, 1024, 1024), dtype=np.float32)
    restore_array(model, page[:, :256, :256])
    times = []
    for _ in range(2):
        t0 = time.perf_counter()
        restore_array(model, page, tile=256, overlap=32)
        times.append(time.perf_counter() - t0)
    return min(times) / 1.048576


def score(model: Restorer, pairs: list[tuple[np.ndarray, np.ndarray]]) -> tuple[float, float]:
    outs = [(restore_array(model, d[None])[0].astype(np.float32) / 255.0, c) for d, c in pairs]
    return float(np.mean([psnr(o, c) for o, c in outs])), float(np.mean([ssim(o, c) for o, c in outs]))


def compare(tmp: Path, minutes: float, count: int) -> list[str]:
    torch.set_num_threads(1)
    pairs = load_test_set(tmp / "test", count)
    generate_dataset(tmp / "train", SynthConfig(count=300, seed=TRAIN_SEED, size=256))
    trained: dict[str, Restorer] = {}
    notes = []
    for arch in ("nafnet", "restormer"):
        res = train(tmp / "train", tmp / arch, TrainConfig(architecture=arch, max_seconds=60 * minutes, device="cpu"))
        trained[arch] = load_model(Path(res["model_path"]), device="cpu")[0]
        speed = f"{res['patches_per_s']:.0f} patches/s at the end"
        notes.append(f"{arch}: {res['steps']} steps in {res['seconds']:.0f} s ({speed}, {load()})")
    shipped = load_model(default_model_path(), device="cpu")[0]
    rows = {
        f"nafnet, {minutes:g} min from scratch": trained["nafnet"],
        f"restormer, {minutes:g} min from scratch": trained["restormer"],
        "restormer -> nafnet (both from scratch)": Stages(trained["restormer"], trained["nafnet"]),
        "nafnet shipped (default.pt)": shipped,
        "restormer -> nafnet shipped": Stages(trained["restormer"], shipped),
    }
    lines = [
        f"Test set: {count} pages 256x256, seed {TEST_SEED}; training: 300 pages, seed {TRAIN_SEED}, 1 thread.",
        "",
        "| model | params | PSNR (dB) | SSIM | s/MP (1 thread) |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, model in rows.items():
        p, s = score(model, pairs)
        params = sum(x.numel() for x in model.parameters())
        lines.append(f"| {name} | {params:,} | {p:.2f} | {s:.4f} | {seconds_per_mp(model):.2f} |")
    return [*lines, "", *[f"- {n}" for n in notes]]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=10.0, help="training budget of each network")
    ap.add_argument("--count", type=int, default=60, help="held-out test pages")
    ap.add_argument("--throughput-only", action="store_true")
    ap.add_argument("--ddp-only", action="store_true", help="only the 2-process lines (float32 and bf16)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        generate_dataset(tmp / "tp", SynthConfig(count=48, seed=TRAIN_SEED, size=256))
        if args.ddp_only:
            print(distributed_throughput(tmp / "tp", tmp / "tp-ddp"))
            print(distributed_throughput(tmp / "tp", tmp / "tp-ddp-bf16", amp="bf16"))
            return
        lines = [
            throughput(tmp / "tp", tmp / "tp-run", threads, crop_size=128, loader_workers=workers, amp=amp)
            for threads, workers, amp in ((2, 0, "off"), (2, 1, "off"), (1, 0, "off"), (1, 1, "off"), (1, 1, "bf16"))
        ]
        lines.append(distributed_throughput(tmp / "tp", tmp / "tp-ddp"))
        lines.append(distributed_throughput(tmp / "tp", tmp / "tp-ddp-bf16", amp="bf16"))
        if not args.throughput_only:
            lines += ["", *compare(tmp, args.minutes, args.count)]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
