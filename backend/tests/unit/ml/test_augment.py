"""augment_dataset: new, seeded, pixel-aligned degraded variants of a dataset's clean pages."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from app.ml.augment import augment_dataset
from app.ml.data import list_pairs, load_pairs
from app.ml.errors import MLInputError, OperationCancelled
from app.ml.images import read_image
from app.ml.synth import SynthConfig, generate_dataset


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    out = tmp_path / "ds"
    generate_dataset(out, SynthConfig(count=4, seed=31, size=64, use_system_fonts=False))
    return out


def test_variants_are_new_degradations_of_the_same_clean_pages(dataset: Path) -> None:
    result = augment_dataset(dataset, variants=2, seed=7)
    assert result["created"] == 8
    assert result["pairs"] == 12
    assert result["sources"] == 4
    for k in (0, 1):
        name = f"00001-a7v{k}.png"
        assert np.array_equal(read_image(dataset / "clean" / name), read_image(dataset / "clean" / "00001.png"))
        degraded = read_image(dataset / "degraded" / name)
        assert degraded.shape == (64, 64)
        assert not np.array_equal(degraded, read_image(dataset / "degraded/00001.png"))
    assert not np.array_equal(
        read_image(dataset / "degraded/00001-a7v0.png"), read_image(dataset / "degraded/00001-a7v1.png")
    )
    run = json.loads((dataset / "manifest.json").read_text())["augmentations"][0]
    assert run["seed"] == 7
    assert run["variants"] == 2
    assert len(run["samples"]) == 8
    assert run["samples"][0]["source"] == "00000.png"
    assert run["samples"][0]["degradations"]
    assert len(load_pairs(dataset, 1)) == 12


def test_same_seed_same_files_and_a_seed_is_used_once(dataset: Path, tmp_path: Path) -> None:
    twin = tmp_path / "twin"
    shutil.copytree(dataset, twin)
    augment_dataset(dataset, variants=1, seed=3)
    augment_dataset(twin, variants=1, seed=3)
    for name in ("00000-a3v0.png", "00003-a3v0.png"):
        assert (dataset / "degraded" / name).read_bytes() == (twin / "degraded" / name).read_bytes()
    with pytest.raises(MLInputError, match="seed 3"):
        augment_dataset(dataset, variants=1, seed=3)
    second = augment_dataset(dataset, variants=1, seed=4)
    assert second["sources"] == 4
    assert second["pairs"] == 12


def test_cancelled_augmentation_leaves_the_dataset_as_it_was(dataset: Path) -> None:
    before = sorted(p.name for p in (dataset / "degraded").iterdir())
    calls = {"n": 0}

    def stop_after_3() -> bool:
        calls["n"] += 1
        return calls["n"] > 3

    with pytest.raises(OperationCancelled):
        augment_dataset(dataset, variants=2, seed=5, should_stop=stop_after_3)
    assert sorted(p.name for p in (dataset / "degraded").iterdir()) == before
    assert len(list_pairs(dataset)[0]) == 4
    assert "augmentations" not in json.loads((dataset / "manifest.json").read_text())


def test_bad_requests_are_input_errors(dataset: Path, tmp_path: Path) -> None:
    with pytest.raises(MLInputError):
        augment_dataset(dataset, variants=0, seed=1)
    (tmp_path / "empty" / "clean").mkdir(parents=True)
    with pytest.raises(MLInputError, match="no clean pages"):
        augment_dataset(tmp_path / "empty", variants=1, seed=1)
