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


@pytest.fixture
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
    assert flat["sharpness"] == 0.0
    assert flat["contrast"] == 0.0
    assert set(clean) == {"sharpness", "noise_sigma", "contrast", "dynamic_range", "mean_brightness"}


def test_compare_images(tmp_path: Path, page: np.ndarray) -> None:
    Image.fromarray((page * 255).astype(np.uint8)).save(tmp_path / "a.png")
    Image.fromarray((page * 255).astype(np.uint8)).save(tmp_path / "b.png")
    Image.new("L", (10, 10)).save(tmp_path / "small.png")
    same = compare_images(tmp_path / "a.png", tmp_path / "b.png")
    assert same["ssim"] == pytest.approx(1.0)
    assert same["psnr"] is None
    assert same["identical"] is True
    Image.fromarray((np.clip(page + 0.05, 0, 1) * 255).astype(np.uint8)).save(tmp_path / "c.png")
    near = compare_images(tmp_path / "a.png", tmp_path / "c.png")
    assert 15 < near["psnr"] < 60
    assert near["identical"] is False
    json.dumps(same, allow_nan=False)  # storable as a job result
    with pytest.raises(MLInputError):
        compare_images(tmp_path / "a.png", tmp_path / "small.png")
    (tmp_path / "bad.png").write_bytes(b"\x89PNG garbage")
    with pytest.raises(MLInputError):
        compare_images(tmp_path / "a.png", tmp_path / "bad.png")


def _whole_page_reference(img: np.ndarray) -> dict[str, float]:
    """The metrics computed the direct way, on the whole page in float64 at once."""
    y = img.astype(np.float64) / 255.0
    y = y @ np.array([0.299, 0.587, 0.114]) if y.ndim == 3 else y

    def conv3(x: np.ndarray, k: list[list[int]]) -> np.ndarray:
        h, w = x.shape[0] - 2, x.shape[1] - 2
        return sum(k[i][j] * x[i : i + h, j : j + w] for i in range(3) for j in range(3))

    lap = conv3(y, [[0, 1, 0], [1, -4, 1], [0, 1, 0]])
    hp = conv3(y, [[1, -2, 1], [-2, 4, -2], [1, -2, 1]])
    p1, p99 = np.percentile(y, [1, 99])
    return {
        "sharpness": float(lap.var()),
        "noise_sigma": float(np.median(np.abs(hp)) / 0.6745 / 6.0),
        "contrast": float(y.std()),
        "dynamic_range": float(p99 - p1),
        "mean_brightness": float(y.mean()),
    }


@pytest.mark.parametrize("shape", [(301, 97), (130, 57, 3)])
def test_metrics_of_a_page_scored_in_many_bands_equal_the_whole_page_figures(
    monkeypatch: pytest.MonkeyPatch, shape: tuple[int, ...]
) -> None:
    from app.ml import quality

    monkeypatch.setattr(quality, "_BAND_VALUES", 1000)  # a band of a few rows: dozens of bands per page
    rng = np.random.default_rng(3)
    page = (rng.random(shape) * 255).astype(np.uint8)
    page[40:60] = 20  # a dark block straddling band edges
    banded = no_reference_metrics(page)
    for key, value in _whole_page_reference(page).items():
        assert banded[key] == pytest.approx(value, rel=1e-5, abs=1e-6), key
    other = np.clip(page.astype(np.int16) + rng.integers(-30, 30, shape), 0, 255).astype(np.uint8)
    monkeypatch.setattr(quality, "_BAND_VALUES", 1 << 30)  # one band: the whole page at once
    whole_ssim, whole_psnr = ssim(page, other), psnr(page, other)
    monkeypatch.setattr(quality, "_BAND_VALUES", 1000)
    assert ssim(page, other) == pytest.approx(whole_ssim, rel=1e-9)
    assert psnr(page, other) == pytest.approx(whole_psnr, rel=1e-9)


def test_quality_figures_of_a_large_page_allocate_a_few_bytes_per_pixel() -> None:
    import tracemalloc

    rng = np.random.default_rng(4)
    page = (rng.random((1500, 2000, 3)) * 255).astype(np.uint8)  # 3 MP colour
    noisy = np.clip(page.astype(np.int16) + rng.integers(-20, 20, page.shape), 0, 255).astype(np.uint8)
    pixels = page.shape[0] * page.shape[1]
    tracemalloc.start()
    try:
        no_reference_metrics(page)
        _, nr_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        ssim(page, noisy)
        psnr(page, noisy)
        _, fr_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # A whole-page float64 copy alone is 24 bytes a pixel for colour; the direct way took ~40 (no-reference)
    # and ~240 (SSIM) bytes a pixel. Band by band: one float32 a pixel (the median's buffer) plus a few bands
    # of 2 MB, whatever the page's size.
    assert nr_peak < 4 * pixels + 32e6
    assert fr_peak < 32e6
