"""Train a restoration network (NAFNet or Restormer) on a paired dataset: resumable, cancellable, time-bounded.

Recipe (:mod:`recipe`): L1 + SSIM loss on random crops (+flips), AdamW, linear warm-up then cosine decay of
the learning rate, gradient clipping, bf16/fp16 autocast on CUDA, channels-last tensors, batches made ahead
by background threads (:mod:`loader`). The schedule follows ``max(step / steps, elapsed / max_seconds)`` so
that a time-limited run still anneals fully. One process, or several in step (:mod:`distributed`).
Run as ``python -m app.ml.train --dataset DIR --out DIR`` (see ``--help``).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .checkpoint import FORMAT, atomic_torch_save, build_model, export_model, read_checkpoint, resolve_device
from .collective import Group
from .data import Pair, PatchSampler, load_pairs, split_pairs
from .errors import TrainingCancelled, TrainingDiverged
from .loader import BatchLoader, to_device
from .losses import ssim_torch
from .quality import psnr, ssim
from .recipe import AMP_MODES, TrainConfig, amp_dtype, lr_at
from .stages import ARCHITECTURES, Network, network_from_arch

__all__ = ["AMP_MODES", "TrainConfig", "amp_dtype", "evaluate", "lr_at", "train"]
log = logging.getLogger(__name__)
_STOP_TIME, _STOP_ASKED = 1, 2


@torch.no_grad()
def evaluate(model: nn.Module, pairs: list[Pair], device: torch.device) -> dict[str, float]:
    """Mean PSNR/SSIM of the model output (and of the raw input) against the clean images."""
    model.eval()
    out: dict[str, list[float]] = {"val_psnr": [], "val_ssim": [], "input_psnr": [], "input_ssim": []}
    for pair in pairs:
        x = to_device(pair.degraded.transpose(2, 0, 1)[None], device)
        y = model(x).float().clamp(0, 1)[0].permute(1, 2, 0).cpu().numpy()
        out["val_psnr"].append(psnr(y, pair.clean))
        out["val_ssim"].append(ssim(y, pair.clean))
        out["input_psnr"].append(psnr(pair.degraded, pair.clean))
        out["input_ssim"].append(ssim(pair.degraded, pair.clean))
    model.train()
    return {k: float(np.mean([min(v, 100.0) for v in vals])) for k, vals in out.items() if vals}


@dataclass
class _State:
    """Mutable training state shared by the loop helpers. ``net`` is what runs the steps: the model itself,
    or its DistributedDataParallel wrapper when several processes train together."""

    model: Network
    optimizer: torch.optim.Optimizer
    net: nn.Module
    step: int = 0
    elapsed: float = 0.0
    resumed_from: int = 0
    metrics: dict[str, Any] = field(default_factory=dict)


def _build_network(
    config: TrainConfig, out_dir: Path, init_checkpoint: Path | None, resume: bool
) -> tuple[Network, dict[str, Any] | None]:
    """(model, checkpoint dict or None): from last.pt (resume), an init model (fine-tune) or from scratch."""
    last = out_dir / "last.pt"
    ckpt = read_checkpoint(last) if resume and last.is_file() else None
    if ckpt is not None:
        return build_model(ckpt), ckpt
    if init_checkpoint is not None:
        log.info("fine-tuning from %s", Path(init_checkpoint).name)
        return build_model(read_checkpoint(init_checkpoint)), None
    torch.manual_seed(config.seed)  # every process of a run starts from the same weights
    return network_from_arch(config.arch().to_dict()), None


def _initial_state(
    config: TrainConfig,
    out_dir: Path,
    init_checkpoint: Path | None,
    resume: bool,
    device: torch.device,
    group: Group,
) -> _State:
    model, ckpt = _build_network(config, out_dir, init_checkpoint, resume)
    model = model.to(device).to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    net: nn.Module = model
    if group.world > 1:
        # (1, C, 1, 1) scales get channels-last strides that their gradients do not have; DDP would then copy
        # every such gradient into its bucket (and warn). Both layouts are the same bytes, so take the plain one.
        for param in model.parameters():
            if param.dim() == 4 and param.shape[0] == 1:
                param.data = param.data.flatten().clone().view(param.shape)  # .contiguous() keeps the strides
        ids = [device.index] if device.type == "cuda" else None
        net = torch.nn.parallel.DistributedDataParallel(model, device_ids=ids)
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay, betas=(0.9, 0.9))
    state = _State(model, opt, net)
    if ckpt is not None:
        opt.load_state_dict(ckpt["optimizer"])
        state.step = state.resumed_from = int(ckpt["step"])
        state.elapsed = float(ckpt["scheduler"]["elapsed"])
        state.metrics = dict(ckpt.get("metrics", {}))
        log.info("resuming from %s at step %d", out_dir / "last.pt", state.step)
    return state


def _save_checkpoint(state: _State, config: TrainConfig, path: Path) -> None:
    atomic_torch_save(
        {
            "format": FORMAT,
            "kind": "checkpoint",
            "arch": state.model.config.to_dict(),
            "model": {k: v.detach().cpu() for k, v in state.model.state_dict().items()},
            "optimizer": state.optimizer.state_dict(),
            "scheduler": {
                "step": state.step,
                "elapsed": state.elapsed,
                "lr": lr_at(config, state.step, state.elapsed),
            },
            "step": state.step,
            "config": asdict(config),
            "metrics": state.metrics,
        },
        path,
    )


class _Reporter:
    """Throttled progress callback with a patches/s estimate (over all processes of the run)."""

    def __init__(
        self, config: TrainConfig, progress: Callable[[dict[str, Any]], None] | None, start_step: int, world: int
    ) -> None:
        self.config, self.progress, self.world = config, progress, world
        self.t0, self.n0 = time.perf_counter(), start_step
        self.losses: list[float] = []
        self.patches_per_s = 0.0

    def update(self, step: int, loss: float, lr: float) -> None:
        self.losses.append(loss)
        if step % self.config.log_every and step != self.config.steps:
            return
        now = time.perf_counter()
        patches = (step - self.n0) * self.config.batch_size * self.world
        self.patches_per_s = patches / max(now - self.t0, 1e-9)
        self.t0, self.n0 = now, step
        mean_loss = float(np.mean(self.losses))
        self.losses = []
        if self.progress is not None:
            self.progress(
                {
                    "step": step,
                    "steps": self.config.steps,
                    "loss": mean_loss,
                    "lr": lr,
                    "patches_per_s": self.patches_per_s,
                    "percent": 100.0 * step / self.config.steps,
                    "message": f"step {step}/{self.config.steps} loss {mean_loss:.4f}",
                }
            )


def _train_step(
    state: _State,
    config: TrainConfig,
    batch: tuple[torch.Tensor, torch.Tensor],
    amp: torch.dtype | None,
    scaler: torch.amp.GradScaler,
    group: Group,
) -> tuple[float, float]:
    lr = lr_at(config, state.step, state.elapsed)
    for param_group in state.optimizer.param_groups:
        param_group["lr"] = lr
    x, y = batch
    with torch.autocast(x.device.type, dtype=amp or torch.float32, enabled=amp is not None):
        pred = state.net(x).float()
    loss = F.l1_loss(pred, y)
    if config.ssim_weight:
        loss = loss + config.ssim_weight * (1.0 - ssim_torch(pred, y))
    value = group.mean(loss)
    if not math.isfinite(value):
        raise TrainingDiverged(
            f"loss became {value} at step {state.step + 1} (lr {lr:.2e}); "
            f"retry with a lower learning rate, e.g. lr={config.lr / 10:.1e}"
        )
    state.optimizer.zero_grad(set_to_none=True)
    scaler.scale(loss).backward()
    scaler.unscale_(state.optimizer)
    torch.nn.utils.clip_grad_norm_(state.model.parameters(), config.grad_clip)
    scaler.step(state.optimizer)
    scaler.update()
    state.step += 1
    return value, lr


def _finish(
    state: _State,
    config: TrainConfig,
    val_pairs: list[Pair],
    device: torch.device,
    out_dir: Path,
    final_loss: float,
    patches_per_s: float,
) -> dict[str, Any]:
    """Final validation, last checkpoint and exported model; builds the result dict of :func:`train`."""
    loss: float | None = final_loss if math.isfinite(final_loss) else state.metrics.get("final_loss")
    state.metrics = {
        **evaluate(state.model, val_pairs, device),
        "final_loss": loss,
        "steps": state.step,
        "patches_per_s": patches_per_s,
    }
    _save_checkpoint(state, config, out_dir / "last.pt")
    export_model(state.model, out_dir / "model.pt", metrics=state.metrics, train_config=asdict(config))
    keys = ("val_psnr", "val_ssim", "input_psnr", "input_ssim")
    return {
        "steps": state.step,
        "final_loss": loss,
        **{k: state.metrics[k] for k in keys},
        "arch": state.model.config.to_dict(),
        "model_path": str(out_dir / "model.pt"),
        "checkpoint_path": str(out_dir / "last.pt"),
        "device": str(device),
        "patches_per_s": patches_per_s,
        "seconds": state.elapsed,
        "resumed_from_step": state.resumed_from,
    }


def _halt(state: _State, config: TrainConfig, should_stop: Callable[[], bool] | None, group: Group) -> int:
    """0 to go on; why to stop otherwise, the same answer in every process of the run."""
    code = 0
    if config.max_seconds is not None and state.elapsed >= config.max_seconds:
        code = _STOP_TIME
    if should_stop is not None and should_stop():
        code = _STOP_ASKED
    return group.agree_max(code, next(state.model.parameters()).device)


def _loader(config: TrainConfig, pairs: list[Pair], state: _State, device: torch.device, group: Group) -> BatchLoader:
    base = config.seed * 100_003 + state.step + 7919 * group.rank  # each process crops its own patches

    def sampler(i: int) -> PatchSampler:
        return PatchSampler(pairs, config.crop_size, config.batch_size, base + 1_000_003 * i, flips=config.flips)

    workers = config.loader_workers if config.loader_workers is not None else (2 if device.type == "cuda" else 0)
    return BatchLoader(sampler, device, workers=workers)


def train(
    dataset_dir: Path,
    out_dir: Path,
    config: TrainConfig,
    *,
    init_checkpoint: Path | None = None,
    resume: bool = True,
    progress: Callable[[dict[str, Any]], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    group: Group | None = None,
) -> dict[str, Any]:
    """Train (or resume/fine-tune) and write ``out_dir/last.pt`` + ``out_dir/model.pt``; see module doc.

    ``group`` is this process's place in a multi-process run (set up by :mod:`distributed`); only its
    rank 0 evaluates, writes files and returns the full result.
    """
    group = group or Group()
    config.check()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    device = resolve_device(config.device)
    state = _initial_state(config, out_dir, init_checkpoint, resume, device, group)
    pairs = load_pairs(Path(dataset_dir), state.model.config.img_channels, min_size=config.crop_size)
    train_pairs, val_pairs = split_pairs(pairs, config.val_fraction, config.seed)
    val_pairs = val_pairs[: config.max_val_images] or train_pairs[: min(4, config.max_val_images)]
    amp = amp_dtype(config.amp, device)
    scaler = torch.amp.GradScaler(device.type, enabled=amp == torch.float16)
    reporter, last_path = _Reporter(config, progress, state.step, group.world), out_dir / "last.pt"
    state.net.train()
    final_loss, t_start = float("nan"), time.perf_counter() - state.elapsed
    with _loader(config, train_pairs, state, device, group) as batches:
        while state.step < config.steps:
            halt = _halt(state, config, should_stop, group)
            if halt == _STOP_TIME:
                log.info("time budget of %.0f s reached at step %d", config.max_seconds, state.step)
                break
            if halt == _STOP_ASKED:
                if group.is_main:
                    _save_checkpoint(state, config, last_path)
                raise TrainingCancelled(f"training cancelled at step {state.step}; checkpoint saved, resumable")
            final_loss, lr = _train_step(state, config, batches.next(), amp, scaler, group)
            state.elapsed = time.perf_counter() - t_start
            reporter.update(state.step, final_loss, lr)
            if state.step % config.checkpoint_every == 0 and group.is_main:
                state.metrics = evaluate(state.model, val_pairs, device)
                _save_checkpoint(state, config, last_path)
    if not group.is_main:
        return {"steps": state.step, "rank": group.rank}
    return _finish(state, config, val_pairs, device, out_dir, final_loss, reporter.patches_per_s)


def main(argv: list[str] | None = None) -> None:
    """CLI: optionally generate a synthetic dataset, train, and optionally export a float16 copy."""
    import argparse
    import json

    from .synth import SynthConfig, generate_dataset

    defaults = TrainConfig()
    ap = argparse.ArgumentParser(prog="python -m app.ml.train", description=__doc__)
    ap.add_argument("--dataset", type=Path, required=True, help="paired dataset folder (clean/ + degraded/)")
    ap.add_argument("--out", type=Path, required=True, help="output folder for last.pt and model.pt")
    ap.add_argument("--generate", type=int, default=0, help="first generate this many synthetic pairs")
    ap.add_argument("--data-seed", type=int, default=1, help="seed of the generated dataset")
    ap.add_argument(
        "--pillow-font-only", action="store_true", help="generate with Pillow's bundled font only (portable)"
    )
    ap.add_argument("--steps", type=int, default=defaults.steps)
    ap.add_argument("--max-seconds", type=float, default=None)
    ap.add_argument("--architecture", default=defaults.architecture, choices=ARCHITECTURES)
    ap.add_argument("--width", type=int, default=defaults.width)
    ap.add_argument("--batch-size", type=int, default=defaults.batch_size)
    ap.add_argument("--crop-size", type=int, default=defaults.crop_size)
    ap.add_argument("--loader-workers", type=int, default=defaults.loader_workers)
    ap.add_argument("--lr", type=float, default=defaults.lr)
    ap.add_argument("--seed", type=int, default=defaults.seed)
    ap.add_argument("--device", default=defaults.device)
    ap.add_argument("--amp", default=defaults.amp, choices=AMP_MODES, help="mixed precision on CUDA")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch default)")
    ap.add_argument("--no-resume", action="store_true")
    ap.add_argument("--export", type=Path, default=None, help="also write a float16 model file here")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.generate:
        synth = SynthConfig(count=args.generate, seed=args.data_seed, use_system_fonts=not args.pillow_font_only)
        print(generate_dataset(args.dataset, synth))
    config = TrainConfig(
        architecture=args.architecture,
        width=args.width,
        loader_workers=args.loader_workers,
        steps=args.steps,
        batch_size=args.batch_size,
        crop_size=args.crop_size,
        lr=args.lr,
        seed=args.seed,
        max_seconds=args.max_seconds,
        device=args.device,
        amp=args.amp,
        log_every=50,
    )
    result = train(
        args.dataset,
        args.out,
        config,
        resume=not args.no_resume,
        progress=lambda p: print(p["message"], f"lr {p['lr']:.2e} {p['patches_per_s']:.0f} patches/s", flush=True),
    )
    result["process_cpu_seconds"] = time.process_time()  # whole CLI process (generation + training)
    if args.export is not None:
        data = read_checkpoint(Path(result["model_path"]))
        export_model(
            build_model(data),
            args.export,
            metrics=data["metrics"],
            train_config=data["train_config"],
            half=True,
        )
        result["exported"] = str(args.export)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
