"""Train the shipped restoration model (``backend/app/ml/weights/default.pt``) with the stronger recipe.

Usage (from the repository root):
    python bench/restore/train_default.py --out DIR [--minutes 30] [--pages 700] [--init MODEL or none]

Recipe: a fresh synthetic training set (seed 2, pages 384x384, more and heavier blur and more bleed-through
than the generator's defaults; never the benchmark's held-out seeds), then the project's own ``train``
(L1 + 0.5 (1 - SSIM), AdamW, warm-up and cosine decay over the time budget) on batches of 8 crops of 128x128,
fine-tuning the given model (or from scratch with ``--init none``). Writes ``DIR/model.pt`` (float32), ``DIR/
default.pt`` (float16 export) and ``DIR/run.json`` (the recipe, steps, seconds and validation figures).
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import sys
import time
from dataclasses import asdict
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT / "backend"))

from app.ml.checkpoint import export_model, read_checkpoint  # noqa: E402
from app.ml.degrade import DegradeParams  # noqa: E402
from app.ml.infer import load_model  # noqa: E402
from app.ml.synth import SynthConfig, generate_dataset  # noqa: E402
from app.ml.train import TrainConfig, train  # noqa: E402

TRAIN_SEED = 2
DEGRADE = DegradeParams(p_bleed=0.5, p_blur=0.6, blur_sigma=(0.3, 1.8))


def export(model_path: Path, out: Path) -> None:
    """The float16 copy that ships, with the metrics and recipe of the float32 model file."""
    data = read_checkpoint(model_path)
    model, _ = load_model(model_path, device="cpu")
    export_model(model, out, metrics=data["metrics"], train_config=data["train_config"], half=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--minutes", type=float, default=30.0, help="wall-clock budget of the whole run")
    ap.add_argument("--pages", type=int, default=700)
    ap.add_argument("--size", type=int, default=384)
    ap.add_argument("--init", default=str(ROOT / "backend/app/ml/weights/default.pt"), help="'none': from scratch")
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    torch.set_num_threads(args.threads)
    t0 = time.time()
    data = args.out / "data"
    if not (data / "manifest.json").exists():
        generate_dataset(data, SynthConfig(count=args.pages, seed=TRAIN_SEED, size=args.size, degrade=DEGRADE))
    gen_s = time.time() - t0
    budget = max(60.0, args.minutes * 60 - gen_s - 60)  # leave a minute for validation and export
    init = None if args.init == "none" else Path(args.init)
    cfg = TrainConfig(
        steps=100_000,
        batch_size=8,
        crop_size=128,
        lr=args.lr,
        warmup_steps=50,
        max_seconds=budget,
        val_fraction=0.03,
        max_val_images=24,
        checkpoint_every=200,
        log_every=50,
        device="cpu",
    )
    log = logging.getLogger("train_default")
    res = train(
        data,
        args.out / "run",
        cfg,
        init_checkpoint=init,
        resume=True,
        progress=lambda p: log.info("%s lr %.2e %.1f patches/s", p["message"], p["lr"], p["patches_per_s"]),
    )
    export(Path(res["model_path"]), args.out / "default.pt")
    record = {
        "init": Path(args.init).name if init else None,
        "dataset": {
            "generator": "app.ml.synth.generate_dataset",
            "count": args.pages,
            "seed": TRAIN_SEED,
            "size": args.size,
            "degrade": asdict(DEGRADE),
            "seconds": round(gen_s, 1),
        },
        "config": asdict(cfg),
        "result": {k: v for k, v in res.items() if k != "model_path"},
        "torch": torch.__version__,
        "machine": platform.machine(),
        "threads": args.threads,
        "wall_seconds": round(time.time() - t0, 1),
    }
    (args.out / "run.json").write_text(json.dumps(record, indent=1, default=str))
    print(json.dumps(record, indent=1, default=str))


if __name__ == "__main__":
    main()
