from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from app.ml.errors import MLInputError, OperationCancelled
from app.ml.synth import SynthConfig, generate_dataset, validate_dataset
from PIL import Image


def _bytes(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*.png"))}


def test_same_seed_gives_identical_bytes(tmp_path: Path) -> None:
    cfg = SynthConfig(count=4, seed=7, size=80)
    summary = generate_dataset(tmp_path / "a", cfg)
    generate_dataset(tmp_path / "b", SynthConfig(count=4, seed=7, size=80))
    a, b = _bytes(tmp_path / "a"), _bytes(tmp_path / "b")
    assert len(a) == 8
    assert a == b
    assert summary["count"] == 4
    assert summary["size_bytes"] > 0
    manifest = json.loads((tmp_path / "a" / "manifest.json").read_text())
    assert manifest["seed"] == 7
    assert manifest["count"] == 4
    assert len(manifest["samples"]) == 4


def test_different_seed_differs_and_pages_are_degraded(tmp_path: Path) -> None:
    generate_dataset(tmp_path / "a", SynthConfig(count=3, seed=1, size=64))
    generate_dataset(tmp_path / "b", SynthConfig(count=3, seed=2, size=64))
    assert _bytes(tmp_path / "a") != _bytes(tmp_path / "b")
    for name in ("00000.png", "00001.png", "00002.png"):
        clean = np.asarray(Image.open(tmp_path / "a" / "clean" / name))
        degraded = np.asarray(Image.open(tmp_path / "a" / "degraded" / name))
        assert clean.shape == degraded.shape == (64, 64)
        assert not np.array_equal(clean, degraded)


def test_generation_reports_progress_and_can_be_cancelled(tmp_path: Path) -> None:
    seen: list[float] = []
    generate_dataset(tmp_path / "a", SynthConfig(count=10, seed=3, size=48), progress=lambda f, m: seen.append(f))
    assert seen
    assert seen[-1] == pytest.approx(1.0)
    with pytest.raises(OperationCancelled):
        generate_dataset(tmp_path / "b", SynthConfig(count=10, seed=3, size=48), should_stop=lambda: True)


def test_invalid_config_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(MLInputError):
        generate_dataset(tmp_path, SynthConfig(count=0, seed=1))
    with pytest.raises(MLInputError):
        generate_dataset(tmp_path, SynthConfig(count=1, seed=1, size=8))


def test_validate_reports_each_problem(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    generate_dataset(root, SynthConfig(count=4, seed=5, size=48, use_system_fonts=False))
    assert validate_dataset(root) == {"ok": True, "pairs": 4, "problems": []}
    (root / "degraded" / "00000.png").unlink()  # missing pair
    (root / "clean" / "00001.png").write_bytes(b"not an image")  # unreadable
    Image.new("L", (40, 30), 255).save(root / "clean" / "00002.png")  # size mismatch
    report = validate_dataset(root)
    assert report["ok"] is False
    assert report["pairs"] == 1
    text = "\n".join(report["problems"])
    assert "00000" in text
    assert "00001" in text
    assert "00002" in text
    assert "mismatch" in text


def test_validate_empty_and_missing(tmp_path: Path) -> None:
    report = validate_dataset(tmp_path)
    assert report["ok"] is False
    assert report["pairs"] == 0
    assert report["problems"]
    with pytest.raises(MLInputError):
        validate_dataset(tmp_path / "nope")
