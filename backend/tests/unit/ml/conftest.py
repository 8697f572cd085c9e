"""Shared fixtures: a tiny synthetic dataset and a tiny, fast training config."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from app.ml.synth import SynthConfig, generate_dataset
from app.ml.train import TrainConfig

# One intra-op thread: on a shared 2-core machine two OpenMP threads can stall each other badly.
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ds") / "tiny"
    generate_dataset(out, SynthConfig(count=12, seed=123, size=96, use_system_fonts=False))
    return out


def tiny_config(**overrides: object) -> TrainConfig:
    """A model small enough for tens of CPU steps per second."""
    base = {
        "width": 8,
        "enc_blocks": [1, 1],
        "middle_blocks": 1,
        "dec_blocks": [1, 1],
        "unshuffle": 2,
        "steps": 40,
        "batch_size": 4,
        "crop_size": 32,
        "lr": 2e-3,
        "warmup_steps": 5,
        "checkpoint_every": 20,
        "log_every": 5,
        "val_fraction": 0.25,
        "device": "cpu",
        "seed": 0,
    }
    base.update(overrides)
    return TrainConfig(**base)  # type: ignore[arg-type]
