"""Image inputs found by a robustness sweep: float TIFFs, color-key transparency, tiny images."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import numpy as np
import pytest
from app.ml.errors import MLInputError
from app.ml.images import probe_image, read_image
from app.ml.quality import compare_images, no_reference_metrics
from PIL import Image


@pytest.fixture
def page() -> np.ndarray:
    """A light page with dark marks, float32 in [0, 1]."""
    img = np.full((24, 32), 0.9, np.float32)
    img[2:8, 2:12] = 0.0
    img[12:15, 5:28] = 0.2
    return img


def test_float_tiff_normalised_to_unit_range_is_read_as_is(page: np.ndarray, tmp_path: Path) -> None:
    Image.fromarray(page).save(tmp_path / "unit.tif")
    Image.fromarray(np.ones_like(page)).save(tmp_path / "white.tif")
    assert np.allclose(read_image(tmp_path / "unit.tif"), page, atol=1e-6)  # was divided by 255: near black
    assert np.allclose(read_image(tmp_path / "white.tif"), 1.0)
    Image.fromarray(page * 255.0).save(tmp_path / "bytes.tif")  # 8-bit data stored as float still works
    assert np.allclose(read_image(tmp_path / "bytes.tif"), page, atol=1e-6)


def test_float_tiff_with_nan_is_a_clear_input_error(page: np.ndarray, tmp_path: Path) -> None:
    page[0, :4] = np.nan
    Image.fromarray(page).save(tmp_path / "holes.tif")
    with pytest.raises(MLInputError, match=r"holes\.tif: .*NaN"):
        read_image(tmp_path / "holes.tif")
    with pytest.raises(MLInputError, match="NaN"):
        compare_images(tmp_path / "holes.tif", tmp_path / "holes.tif")


@pytest.mark.parametrize("mode", ["L", "RGB"])
def test_color_key_transparency_is_composited_on_white(mode: str, tmp_path: Path) -> None:
    # PNG optimisers turn a binary alpha channel into a tRNS color key on an L/RGB image.
    ink = np.zeros((16, 20), bool)
    ink[4:10, 3:15] = True
    data = np.where(ink, 40, 0).astype(np.uint8)
    im = Image.fromarray(data) if mode == "L" else Image.fromarray(np.dstack([data] * 3))
    key = 0 if mode == "L" else (0, 0, 0)
    im.save(tmp_path / "keyed.png", transparency=key)
    assert "transparency" in Image.open(tmp_path / "keyed.png").info
    img = read_image(tmp_path / "keyed.png")
    gray = img if img.ndim == 2 else img.mean(axis=2)
    assert np.allclose(gray[~ink], 1.0)  # the transparent background is white, not black
    assert np.allclose(gray[ink], 40 / 255)


@pytest.mark.parametrize("shape", [(1, 1), (2, 40), (40, 2)])
def test_no_reference_metrics_of_tiny_image_is_an_input_error(shape: tuple[int, int]) -> None:
    # The quality job handler maps MLInputError to a failed job; a bare ValueError crashed it.
    with pytest.raises(MLInputError, match="too small"):
        no_reference_metrics(np.full(shape, 0.5, np.float32))


@pytest.mark.parametrize("mode", ["LA", "L"])
def test_a_gray_page_with_alpha_stays_gray(mode: str, tmp_path: Path) -> None:
    """A gray page with an alpha channel (LA) or a colour key (L with tRNS) is composited on white and read
    as gray, as the same page without alpha is: it was read as RGB, and restored and written as a colour
    page."""
    ink = np.zeros((16, 20), bool)
    ink[4:10, 3:15] = True
    data = np.where(ink, 40, 200).astype(np.uint8)
    if mode == "LA":
        Image.fromarray(np.dstack([data, np.where(ink, 255, 0).astype(np.uint8)]), "LA").save(tmp_path / "page.png")
    else:
        Image.fromarray(data).save(tmp_path / "page.png", transparency=200)
    img = read_image(tmp_path / "page.png")
    assert img.ndim == 2
    assert np.allclose(img[~ink], 1.0)  # transparent: white
    assert np.allclose(img[ink], 40 / 255)


@pytest.mark.parametrize("fmt", ["TIFF", "PNG", "JPEG", "WEBP"])
def test_a_damaged_image_is_an_input_error_however_it_is_damaged(fmt: str, tmp_path: Path) -> None:
    """Cut short anywhere or with bytes overwritten, an image is read, or refused as MLInputError (a 415 at
    upload, a failed job naming the file): a TIFF cut short made Pillow raise TypeError ("Missing
    dimensions"), which the upload's check let through as a 500."""
    pages = [Image.new("L", (120, 80), 40 * (k + 1)) for k in range(3)]
    buffer = io.BytesIO()
    if fmt in ("TIFF", "WEBP"):
        pages[0].save(buffer, format=fmt, save_all=True, append_images=pages[1:])
    else:
        pages[0].save(buffer, format=fmt)
    data = buffer.getvalue()
    rng = np.random.default_rng(3)
    damaged = [data[:cut] for cut in sorted({*rng.integers(8, len(data), 24).tolist(), len(data) // 2})]
    for _ in range(24):
        flipped = bytearray(data)
        for at in rng.integers(8, len(data), 4):
            flipped[at] = int(rng.integers(0, 256))
        damaged.append(bytes(flipped))
    refused = {probe_image: 0, read_image: 0}
    for k, bad in enumerate(damaged):
        path = tmp_path / f"bad{k}.img"
        path.write_bytes(bad)
        for check in (probe_image, read_image):
            with contextlib.suppress(MLInputError):  # anything else fails the test
                check(path)
                continue
            refused[check] += 1
    assert all(refused.values()), refused  # the damage reached both checks' refusals, not only sound reads


def test_the_size_probed_is_the_size_read_for_a_photo_turned_by_exif(tmp_path: Path) -> None:
    """A phone's photo of a page, stored landscape with an EXIF orientation that turns it upright: the
    upload's check reports the size `read_image` gives (portrait), not the stored one."""
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to show
    Image.new("L", (80, 50), 200).save(tmp_path / "photo.jpg", exif=exif)
    probed = probe_image(tmp_path / "photo.jpg")
    assert (probed["width"], probed["height"]) == (50, 80)
    assert read_image(tmp_path / "photo.jpg").shape == (80, 50)


@pytest.mark.parametrize("tagged", [False, True])
@pytest.mark.parametrize(("fmt", "suffix"), [("PNG", "png"), ("JPEG", "jpg"), ("TIFF", "tif"), ("WEBP", "webp")])
def test_a_sound_image_passes_the_upload_check_with_its_size(
    fmt: str, suffix: str, tagged: bool, tmp_path: Path
) -> None:
    """Every kind of image the upload takes passes its check whole, with an EXIF block or none: looking for
    the EXIF orientation before Pillow's verify made verify refuse every PNG without one ("verify must be
    called directly after open"), a 415 for a sound page."""
    exif = Image.Exif()
    if tagged:
        exif[0x0112] = 1  # shown as stored
    Image.new("RGB", (60, 40), (200, 180, 160)).save(tmp_path / f"page.{suffix}", format=fmt, exif=exif)
    assert probe_image(tmp_path / f"page.{suffix}") == {"width": 60, "height": 40, "mode": "RGB", "pages": 1}
