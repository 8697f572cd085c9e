"""The training recipe: hyper-parameters and architecture (:class:`TrainConfig`), learning-rate schedule and
mixed-precision choice. Pure data and arithmetic; the loop that uses them is :mod:`train`."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from .errors import MLInputError
from .nafnet import NAFNetConfig
from .restormer import RestormerConfig
from .stages import ARCHITECTURES

AMP_MODES = ("auto", "bf16", "fp16", "off")


@dataclass
class TrainConfig:
    """Training hyper-parameters. The defaults are the shipped recipe (CPU-friendly, ~0.44 M params).

    ``architecture`` picks the network: ``"nafnet"`` (the shipped model) or ``"restormer"`` (the first of
    the two stages); width and block counts apply to either, ``refinement_blocks`` and ``ffn_expansion``
    to Restormer only. ``loader_workers`` background threads prepare batches while the model trains (on a
    busy 2-core host a loader thread cost more CPU time than it saved, so the CPU default is none).
    """

    architecture: str = "nafnet"
    width: int = 16
    enc_blocks: list[int] = field(default_factory=lambda: [1, 1, 2])
    middle_blocks: int = 2
    dec_blocks: list[int] = field(default_factory=lambda: [1, 1, 1])
    refinement_blocks: int = 1
    ffn_expansion: float = 2.0
    unshuffle: int = 2
    channels: int = 1
    steps: int = 4000
    batch_size: int = 8
    crop_size: int = 64
    lr: float = 1e-3
    min_lr_ratio: float = 0.01
    warmup_steps: int = 100
    weight_decay: float = 1e-4
    ssim_weight: float = 0.5
    grad_clip: float = 1.0
    flips: bool = True
    val_fraction: float = 0.1
    max_val_images: int = 32
    checkpoint_every: int = 500
    log_every: int = 10
    seed: int = 0
    max_seconds: float | None = None
    device: str = "auto"
    amp: str = "auto"  # CUDA: "auto" (bf16 where supported, else fp16), "bf16", "fp16", "off"; CPU: "bf16" or float32
    loader_workers: int | None = None  # None: 2 on CUDA, 0 on the CPU (the training itself needs the cores there)

    def arch(self) -> NAFNetConfig | RestormerConfig:
        if self.architecture == "restormer":
            return RestormerConfig(
                self.channels,
                self.width,
                list(self.enc_blocks),
                self.middle_blocks,
                list(self.dec_blocks),
                self.refinement_blocks,
                RestormerConfig.default_heads(self.width, len(self.enc_blocks)),
                self.ffn_expansion,
                self.unshuffle,
            )
        return NAFNetConfig(
            self.channels,
            self.width,
            list(self.enc_blocks),
            self.middle_blocks,
            list(self.dec_blocks),
            self.unshuffle,
        )

    def check(self) -> None:
        if self.architecture not in ARCHITECTURES:
            raise MLInputError(f"architecture must be one of {', '.join(ARCHITECTURES)}, got {self.architecture!r}")
        if self.steps < 1 or self.batch_size < 1 or self.lr <= 0:
            raise MLInputError("steps and batch_size must be >= 1 and lr > 0")
        multiple = self.unshuffle * 2 ** len(self.enc_blocks)
        if self.crop_size < multiple or self.crop_size % multiple:
            raise MLInputError(f"crop_size must be a positive multiple of {multiple}, got {self.crop_size}")
        if not 0 <= self.val_fraction < 1:
            raise MLInputError("val_fraction must be in [0, 1)")
        if self.amp not in AMP_MODES:
            raise MLInputError(f"amp must be one of {', '.join(AMP_MODES)}, got {self.amp!r}")
        if self.loader_workers is not None and self.loader_workers < 0:
            raise MLInputError("loader_workers must be >= 0 (0: batches are made in the training loop)")


def amp_dtype(mode: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for ``mode`` on ``device``; None means full float32.

    On the CPU only an explicit ``"bf16"`` turns autocast on (about a quarter more patches per CPU-second
    where the CPU has bfloat16 instructions, slower where it has not); ``"auto"`` keeps float32 there.
    """
    if device.type != "cuda":
        return torch.bfloat16 if mode == "bf16" else None
    if mode == "off":
        return None
    if mode == "fp16" or (mode == "auto" and not torch.cuda.is_bf16_supported()):
        return torch.float16
    return torch.bfloat16


def lr_at(config: TrainConfig, step: int, elapsed: float) -> float:
    """Warm-up then cosine decay; progress is the larger of step and time fractions."""
    if step < config.warmup_steps:
        return config.lr * (step + 1) / config.warmup_steps
    frac = step / config.steps
    if config.max_seconds:
        frac = max(frac, elapsed / config.max_seconds)
    floor = config.lr * config.min_lr_ratio
    return floor + 0.5 * (config.lr - floor) * (1.0 + math.cos(math.pi * min(1.0, frac)))
