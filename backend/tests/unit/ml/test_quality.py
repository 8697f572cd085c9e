from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from app.ml.errors import MLInputError
from app.ml.quality import compare_images, no_reference_metrics, psnr, ssim
from PIL import Image


@pytest.fixture()
def page() -> np.ndarray:
    rng = np.random.default_rng(0)
    img = np.ones((64, 80), np.float32)
    for _ in range(30):
        y, x = rng.integers(0, 60), rng.integers(0, 70)
        img[y : y + 3, x : x + 9] = 0.0
    return img


def test_identical_images(page: np.ndarray) -> None:
    assert psnr(page, page) == math.inf
    assert ssim(page, page) == pytest.approx(1.0)
    u8 = (page * 255).astype(np.uint8)
    assert psnr(u8, page) == math.inf
    assert ssim(torch.from_numpy(page)[None], page) == pytest.approx(1.0)


def test_more_noise_scores_lower(page: np.ndarray) -> None:
    rng = np.random.default_rng(1)
    light = np.clip(page + rng.normal(0, 0.02, page.shape), 0, 1)
    heavy = np.clip(page + rng.normal(0, 0.2, page.shape), 0, 1)
    assert psnr(light, page) > psnr(heavy, page) > 0
    assert 1.0 > ssim(light, page) > ssim(heavy, page)
    mid = page * 0.5 + 0.25  # no clipping, so PSNR = -20 log10(sigma)
    assert psnr(mid + rng.normal(0, 0.02, page.shape), mid) == pytest.approx(34.0, abs=0.5)


def test_color_and_gray_inputs(page: np.ndarray) -> None:
    rgb = np.repeat(page[..., None], 3, axis=2)
    assert ssim(rgb, rgb) == pytest.approx(1.0)
    assert psnr(rgb, page) > 100  # gray vs color compares luma (float rounding only)


def test_no_reference_metrics_track_noise_and_blur(page: np.ndarray) -> None:
    rng = np.random.default_rng(2)
    clean = no_reference_metrics(page)
    noisy = no_reference_metrics(np.clip(page + rng.normal(0, 0.1, page.shape), 0, 1))
    assert clean["noise_sigma"] < 0.01 < noisy["noise_sigma"]
    flat = no_reference_metrics(np.full((32, 32), 0.5))
    assert flat["sharpness"] == 0.0 and flat["contrast"] == 0.0
    assert set(clean) == {"sharpness", "noise_sigma", "contrast", "dynamic_range", "mean_brightness"}


def test_compare_images(tmp_path: Path, page: np.ndarray) -> None:
    Image.fromarray((page * 255).astype(np.uint8)).save(tmp_path / "a.png")
    Image.fromarray((page * 255).astype(np.uint8)).save(tmp_path / "b.png")
    Image.new("L", (10, 10)).save(tmp_path / "small.png")
    same = compare_images(tmp_path / "a.png", tmp_path / "b.png")
    assert same["ssim"] == pytest.approx(1.0) and same["psnr"] is None and same["identical"] is True
    Image.fromarray((np.clip(page + 0.05, 0, 1) * 255).astype(np.uint8)).save(tmp_path / "c.png")
    near = compare_images(tmp_path / "a.png", tmp_path / "c.png")
    assert 15 < near["psnr"] < 60 and near["identical"] is False
    json.dumps(same, allow_nan=False)  # storable as a job result
    with pytest.raises(MLInputError):
        compare_images(tmp_path / "a.png", tmp_path / "small.png")
    (tmp_path / "bad.png").write_bytes(b"\x89PNG garbage")
    with pytest.raises(MLInputError):
        compare_images(tmp_path / "a.png", tmp_path / "bad.png")
