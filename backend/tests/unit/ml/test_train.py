from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from app.ml.errors import MLInputError, TrainingCancelled, TrainingDiverged
from app.ml.infer import load_model
from app.ml.train import lr_at, train

from .conftest import tiny_config


def test_short_training_improves_over_input(tiny_dataset: Path, tmp_path: Path) -> None:
    updates: list[dict[str, Any]] = []
    result = train(tiny_dataset, tmp_path / "run", tiny_config(steps=60), progress=updates.append)
    assert result["steps"] == 60
    assert result["resumed_from_step"] == 0
    assert result["val_psnr"] > result["input_psnr"] + 1.0
    assert updates[-1]["loss"] < updates[0]["loss"]
    assert {"step", "steps", "loss", "lr", "patches_per_s", "percent", "message"} <= set(updates[0])
    assert updates[-1]["percent"] == pytest.approx(100.0)
    _model, meta = load_model(Path(result["model_path"]), device="cpu")
    assert meta["metrics"]["val_psnr"] == pytest.approx(result["val_psnr"])
    assert Path(result["checkpoint_path"]).is_file()


def test_cancel_keeps_checkpoint_and_resume_continues(tiny_dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    calls = {"n": 0}

    def stop_after_7() -> bool:
        calls["n"] += 1
        return calls["n"] > 7

    with pytest.raises(TrainingCancelled):
        train(tiny_dataset, out, tiny_config(steps=20), should_stop=stop_after_7)
    assert (out / "last.pt").is_file()
    assert not (out / "model.pt").exists()
    steps_seen: list[int] = []
    result = train(tiny_dataset, out, tiny_config(steps=20), progress=lambda p: steps_seen.append(p["step"]))
    assert result["resumed_from_step"] == 7
    assert result["steps"] == 20
    assert steps_seen[0] > 7
    again = train(tiny_dataset, out, tiny_config(steps=20))  # retried after completion: nothing left to do
    assert again["resumed_from_step"] == 20
    assert again["final_loss"] == pytest.approx(result["final_loss"])
    fresh = train(tiny_dataset, out, tiny_config(steps=5), resume=False)
    assert fresh["resumed_from_step"] == 0


def test_fine_tune_from_model(tiny_dataset: Path, tmp_path: Path) -> None:
    first = train(tiny_dataset, tmp_path / "a", tiny_config(steps=10))
    second = train(
        tiny_dataset,
        tmp_path / "b",
        tiny_config(steps=10, lr=5e-4),
        init_checkpoint=Path(first["model_path"]),
    )
    assert second["resumed_from_step"] == 0
    assert second["val_psnr"] > first["input_psnr"]


def test_absurd_learning_rate_diverges(tiny_dataset: Path, tmp_path: Path) -> None:
    with pytest.raises(TrainingDiverged, match=r"step \d+.*lower learning rate"):
        train(tiny_dataset, tmp_path / "run", tiny_config(steps=60, lr=1e30, warmup_steps=1, grad_clip=1e30))


def test_empty_or_missing_dataset_is_input_error(tmp_path: Path) -> None:
    (tmp_path / "empty" / "clean").mkdir(parents=True)
    (tmp_path / "empty" / "degraded").mkdir()
    with pytest.raises(MLInputError):
        train(tmp_path / "empty", tmp_path / "run", tiny_config())
    with pytest.raises(MLInputError):
        train(tmp_path / "missing", tmp_path / "run", tiny_config())
    with pytest.raises(MLInputError):
        train(tmp_path / "empty", tmp_path / "run", tiny_config(crop_size=30))


def test_time_budget_anneals_schedule() -> None:
    cfg = tiny_config(steps=1000, max_seconds=10.0, warmup_steps=0)
    assert lr_at(cfg, 10, 0.0) == pytest.approx(cfg.lr, rel=1e-3)
    assert lr_at(cfg, 10, 10.0) == pytest.approx(cfg.lr * cfg.min_lr_ratio)


def test_ssim_loss_term_matches_metric() -> None:
    import torch
    from app.ml.losses import ssim_torch
    from app.ml.quality import ssim

    gen = torch.Generator().manual_seed(0)
    x = torch.rand(1, 1, 40, 40, generator=gen)
    y = (x + 0.1 * torch.randn(x.shape, generator=gen)).clamp(0, 1)
    assert float(ssim_torch(x, x)) == pytest.approx(1.0, abs=1e-5)
    assert float(ssim_torch(x, y)) == pytest.approx(ssim(x, y), abs=1e-4)


def test_background_batches_are_the_samplers_own(tiny_dataset: Path) -> None:
    import torch
    from app.ml.data import PatchSampler, load_pairs
    from app.ml.loader import BatchLoader

    pairs = load_pairs(tiny_dataset, 1, min_size=32)
    reference = PatchSampler(pairs, 32, 4, seed=9)
    with BatchLoader(lambda i: PatchSampler(pairs, 32, 4, seed=9), torch.device("cpu"), workers=1) as loader:
        for _ in range(5):
            x, y = loader.next()
            rx, ry = reference.next_batch()
            assert x.dtype == torch.float32
            assert x.is_contiguous(memory_format=torch.channels_last)
            assert torch.equal(x, torch.from_numpy(rx))
            assert torch.equal(y, torch.from_numpy(ry))


def test_cpu_training_in_bfloat16_improves(tiny_dataset: Path, tmp_path: Path) -> None:
    import torch
    from app.ml.train import amp_dtype

    assert amp_dtype("bf16", torch.device("cpu")) == torch.bfloat16
    assert amp_dtype("auto", torch.device("cpu")) is None
    result = train(tiny_dataset, tmp_path / "run", tiny_config(steps=60, amp="bf16", loader_workers=2))
    assert result["val_psnr"] > result["input_psnr"] + 1.0
