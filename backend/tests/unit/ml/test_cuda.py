"""The CUDA paths of training and restoration: mixed precision, checkpoints across devices, inference.

Skipped on machines without a CUDA GPU (CI has none); run on one with
``python -m pytest backend/tests/unit/ml/test_cuda.py``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from app.ml.errors import TrainingCancelled
from app.ml.images import read_image
from app.ml.infer import default_model_path, load_model, restore_array, restore_image
from app.ml.quality import psnr
from app.ml.synth import SynthConfig, generate_dataset
from app.ml.train import amp_dtype, train

from .conftest import tiny_config

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def test_amp_modes_resolve_per_device() -> None:
    cuda, cpu = torch.device("cuda"), torch.device("cpu")
    assert amp_dtype("auto", cpu) is None
    assert amp_dtype("fp16", cpu) is None
    expected = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    assert amp_dtype("auto", cuda) == expected
    assert amp_dtype("fp16", cuda) == torch.float16
    assert amp_dtype("off", cuda) is None


@pytest.mark.parametrize("amp", ["auto", "fp16", "off"])
def test_training_on_cuda_improves_in_each_precision(tiny_dataset: Path, tmp_path: Path, amp: str) -> None:
    result = train(tiny_dataset, tmp_path / "run", tiny_config(steps=80, device="cuda", amp=amp))
    assert result["device"].startswith("cuda")
    assert np.isfinite(result["final_loss"])
    assert result["val_psnr"] > result["input_psnr"] + 1.0


def test_cuda_checkpoint_resumes_and_serves_on_cpu(tiny_dataset: Path, tmp_path: Path) -> None:
    out, calls = tmp_path / "run", {"n": 0}

    def stop_after_9() -> bool:
        calls["n"] += 1
        return calls["n"] > 9

    with pytest.raises(TrainingCancelled):
        train(tiny_dataset, out, tiny_config(steps=40, device="cuda"), should_stop=stop_after_9)
    result = train(tiny_dataset, out, tiny_config(steps=40, device="cuda"))
    assert result["resumed_from_step"] == 9
    assert result["steps"] == 40
    on_cpu, meta = load_model(Path(result["model_path"]), device="cpu")
    on_gpu, _ = load_model(Path(result["model_path"]), device="cuda")
    assert meta["device"] == "cpu"
    assert next(on_gpu.parameters()).is_cuda
    page = read_image(sorted((tiny_dataset / "degraded").glob("*.png"))[0])[None]
    assert np.abs(restore_array(on_cpu, page).astype(int) - restore_array(on_gpu, page).astype(int)).max() <= 3


def test_cuda_inference_matches_cpu_and_restores(tmp_path: Path) -> None:
    pages = SynthConfig(count=1, seed=5150, width=900, height=700, use_system_fonts=False)
    generate_dataset(tmp_path / "pages", pages)
    degraded, clean = tmp_path / "pages" / "degraded" / "00000.png", tmp_path / "pages" / "clean" / "00000.png"
    model_cpu, _ = load_model(default_model_path(), device="cpu")
    model_gpu, _ = load_model(default_model_path(), device="cuda")
    img = read_image(degraded)[None]
    for tile in (256, 0):  # tiled, and the whole page in one pass
        ref, out = restore_array(model_cpu, img, tile=tile), restore_array(model_gpu, img, tile=tile)
        diff = np.abs(ref.astype(int) - out.astype(int))
        assert diff.mean() < 0.5, (tile, diff.mean(), diff.max())  # float16 vs float32
        assert diff.max() <= 8, (tile, diff.mean(), diff.max())
    result = restore_image(default_model_path(), degraded, tmp_path / "out.png", device="cuda")
    gain = psnr(read_image(tmp_path / "out.png"), read_image(clean)) - psnr(read_image(degraded), read_image(clean))
    assert (result["width"], result["height"]) == (900, 700)
    assert gain > 3.0


@pytest.mark.parametrize("amp", ["auto", "fp16"])
def test_restormer_trains_on_cuda_with_background_batches(tiny_dataset: Path, tmp_path: Path, amp: str) -> None:
    config = tiny_config(architecture="restormer", steps=80, device="cuda", amp=amp, loader_workers=2)
    result = train(tiny_dataset, tmp_path / "run", config)
    assert result["device"].startswith("cuda")
    assert result["arch"]["type"] == "restormer"
    assert np.isfinite(result["final_loss"])
    assert result["val_psnr"] > result["input_psnr"]


def test_batches_reach_the_gpu_pinned_and_scaled() -> None:
    from app.ml.loader import to_device

    batch = np.random.default_rng(0).integers(0, 256, (4, 1, 32, 32), dtype=np.uint8)
    on_gpu = to_device(batch, torch.device("cuda"))
    assert on_gpu.is_cuda
    assert on_gpu.dtype == torch.float32
    assert on_gpu.is_contiguous(memory_format=torch.channels_last)
    assert torch.allclose(on_gpu.cpu(), torch.from_numpy(batch).float() / 255)


@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs two CUDA GPUs")
def test_two_gpu_processes_train_on_nccl(tiny_dataset: Path, tmp_path: Path) -> None:
    from app.ml.distributed import train_distributed

    result = train_distributed(tiny_dataset, tmp_path / "run", tiny_config(steps=40, device="cuda"), processes=2)
    assert result["backend"] == "nccl"
    assert result["steps"] == 40
    assert result["val_psnr"] > result["input_psnr"] + 1.0
