"""Training in 2 CPU processes on gloo (DistributedDataParallel): result, files, progress, cancel and resume."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from app.ml.distributed import train_distributed
from app.ml.errors import MLInputError, TrainingCancelled
from app.ml.infer import load_model

from .conftest import tiny_config


def test_two_processes_train_resume_after_cancel_and_write_one_model(tiny_dataset: Path, tmp_path: Path) -> None:
    out, seen = tmp_path / "run", []

    def stop_after_first_report() -> bool:
        return bool(seen)

    with pytest.raises(TrainingCancelled, match="checkpoint saved"):
        train_distributed(
            tiny_dataset,
            out,
            tiny_config(steps=400),
            processes=2,
            progress=seen.append,
            should_stop=stop_after_first_report,
        )
    assert (out / "last.pt").is_file()
    assert not (out / "model.pt").exists()
    updates: list[dict[str, Any]] = []
    result = train_distributed(tiny_dataset, out, tiny_config(steps=60), processes=2, progress=updates.append)
    assert result["processes"] == 2
    assert result["backend"] == "gloo"
    assert 5 <= result["resumed_from_step"] < 60
    assert result["steps"] == 60
    assert updates
    assert updates[0]["step"] > result["resumed_from_step"]
    assert updates[-1]["percent"] == 100.0
    assert result["val_psnr"] > result["input_psnr"] + 1.0
    _model, meta = load_model(Path(result["model_path"]), device="cpu")
    assert meta["metrics"]["steps"] == 60


def test_process_count_is_checked(tiny_dataset: Path, tmp_path: Path) -> None:
    with pytest.raises(MLInputError, match="processes"):
        train_distributed(tiny_dataset, tmp_path / "run", tiny_config(), processes=0)
