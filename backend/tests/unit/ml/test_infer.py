from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from app.ml.errors import MLInputError, OperationCancelled
from app.ml.images import read_image
from app.ml.infer import default_model_path, load_model, restore_array, restore_image
from app.ml.quality import psnr
from app.ml.synth import SynthConfig, generate_dataset
from PIL import Image


@pytest.fixture(scope="module")
def default_model() -> Path:
    path = default_model_path()
    assert path.is_file(), "the shipped default model is missing"
    return path


@pytest.fixture(scope="module")
def fresh_pair(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fresh")
    generate_dataset(root, SynthConfig(count=3, seed=424242, size=256))
    return root


def test_default_model_loads_and_improves_psnr(default_model: Path, fresh_pair: Path, tmp_path: Path) -> None:
    _model, meta = load_model(default_model, device="cpu")
    assert meta["arch"]["img_channels"] == 1
    assert meta["parameters"] > 0
    gains = []
    for name in ("00000.png", "00001.png", "00002.png"):
        result = restore_image(default_model, fresh_pair / "degraded" / name, tmp_path / name, device="cpu")
        assert (result["width"], result["height"]) == (256, 256)
        assert result["tiles"] == 1
        clean = read_image(fresh_pair / "clean" / name)
        gains.append(psnr(read_image(tmp_path / name), clean) - psnr(read_image(fresh_pair / "degraded" / name), clean))
    assert np.mean(gains) > 3.0


def test_large_image_tiled_matches_full(default_model: Path, tmp_path: Path) -> None:
    root = tmp_path / "big"
    generate_dataset(root, SynthConfig(count=1, seed=99, width=1500, height=1100, use_system_fonts=False))
    model, _ = load_model(default_model, device="cpu")
    img = read_image(root / "degraded" / "00000.png")[None]
    seen: list[float] = []
    tiled = restore_array(model, img, tile=256, overlap=32, progress=lambda f, m: seen.append(f))
    full = restore_array(model, img, tile=0)
    assert tiled.shape == full.shape == (1, 1100, 1500)
    assert len(seen) == 7 * 5
    assert seen[-1] == pytest.approx(1.0)
    assert psnr(tiled, full) > 35.0
    result = restore_image(default_model, root / "degraded" / "00000.png", tmp_path / "out.png", device="cpu")
    assert Image.open(tmp_path / "out.png").size == (1500, 1100)
    assert result["tiles"] == 35


def test_color_input_is_restored_via_luma(default_model: Path, fresh_pair: Path, tmp_path: Path) -> None:
    gray = Image.open(fresh_pair / "degraded" / "00000.png")
    Image.merge("RGB", [gray, gray, gray]).save(tmp_path / "color.jpg", quality=95)
    result = restore_image(default_model, tmp_path / "color.jpg", tmp_path / "out.png", device="cpu")
    assert result["color_mode"] == "luma"
    assert Image.open(tmp_path / "out.png").mode == "RGB"
    clean = read_image(fresh_pair / "clean" / "00000.png")
    assert psnr(read_image(tmp_path / "out.png"), clean) > psnr(read_image(tmp_path / "color.jpg"), clean)


def test_bad_inputs_raise_input_error(default_model: Path, fresh_pair: Path, tmp_path: Path) -> None:
    src = fresh_pair / "degraded" / "00000.png"
    (tmp_path / "garbage.png").write_bytes(b"this is not an image at all")
    (tmp_path / "trunc.png").write_bytes(src.read_bytes()[:2000])
    big = Image.new("L", (9000, 9000), 255)
    big.save(tmp_path / "bomb.png")
    cases = [
        (default_model, tmp_path / "garbage.png"),
        (default_model, tmp_path / "trunc.png"),
        (default_model, tmp_path / "missing.png"),
        (tmp_path / "no-model.pt", src),
    ]
    for model_path, image in cases:
        with pytest.raises(MLInputError):
            restore_image(model_path, image, tmp_path / "out.png", device="cpu")
    with pytest.raises(MLInputError, match="exceeds the limit"):
        restore_image(default_model, tmp_path / "bomb.png", tmp_path / "out.png", max_pixels=50_000_000, device="cpu")
    (tmp_path / "fake.pt").write_bytes(b"\x00" * 100)
    with pytest.raises(MLInputError):
        load_model(tmp_path / "fake.pt")
    assert not (tmp_path / "out.png").exists()


def test_restore_can_be_cancelled(default_model: Path, fresh_pair: Path, tmp_path: Path) -> None:
    with pytest.raises(OperationCancelled):
        restore_image(
            default_model,
            fresh_pair / "degraded" / "00000.png",
            tmp_path / "out.png",
            tile=64,
            overlap=8,
            should_stop=lambda: True,
            device="cpu",
        )
    assert not (tmp_path / "out.png").exists()


def test_exif_orientation_is_applied(default_model: Path, fresh_pair: Path, tmp_path: Path) -> None:
    page = Image.open(fresh_pair / "degraded" / "00000.png").crop((0, 0, 256, 160))  # landscape
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    page.save(tmp_path / "phone.jpg", quality=95, exif=exif)
    upright = read_image(tmp_path / "phone.jpg")
    assert upright.shape == (256, 160)  # shown as portrait
    plain = np.asarray(Image.open(tmp_path / "phone.jpg"), dtype=np.float32) / 255.0
    assert np.allclose(upright, np.rot90(plain, k=-1))
    result = restore_image(default_model, tmp_path / "phone.jpg", tmp_path / "out.png", device="cpu")
    assert (result["width"], result["height"]) == (160, 256)
    assert Image.open(tmp_path / "out.png").size == (160, 256)


def test_ensemble_averages_the_model_over_flips_and_transposes(default_model: Path, fresh_pair: Path) -> None:
    model, _ = load_model(default_model, device="cpu")
    img = read_image(fresh_pair / "degraded" / "00001.png")[:96, :96][None]
    single = restore_array(model, img, tile=0)
    flips, all8 = restore_array(model, img, tile=0, ensemble=4), restore_array(model, img, tile=0, ensemble=8)
    assert flips.shape == all8.shape == single.shape
    assert not np.array_equal(single, all8)
    # An average over a symmetry group does not depend on how the page was turned, up to rounding: the
    # 4-way ensemble for mirrored pages, the 8-way one for transposed ones too.
    mirrored = restore_array(model, img[:, :, ::-1].copy(), tile=0, ensemble=4)[:, :, ::-1]
    assert np.abs(mirrored.astype(int) - flips.astype(int)).max() <= 1
    turned = restore_array(model, img.transpose(0, 2, 1).copy(), tile=0, ensemble=8).transpose(0, 2, 1)
    assert np.abs(turned.astype(int) - all8.astype(int)).max() <= 1
    # tiled like whole, up to the seams: 30-44 dB on such crops for one pass or eight, by content and the
    # fonts installed; a tile turned the wrong way back would be far below
    assert psnr(restore_array(model, img, tile=64, overlap=16, ensemble=8), all8) > 28.0
    with pytest.raises(MLInputError, match="ensemble"):
        restore_array(model, img, ensemble=3)
