"""Reading samples straight from a decoded frame's buffer gives exactly the samples of its luma plane."""

from __future__ import annotations

import av
import numpy as np
import pytest
from app.video.decode import luma_plane
from app.video.features import FrameFeatures
from app.video.sampling import FeatureExtractor

NAMES = ("mean", "std", "dpix", "dhist", "sharp", "sig", "hist", "grad2", "blend_rr", "blend_de", "blend_se")


def _frames(w: int, h: int, n: int, fmt: str) -> list[av.VideoFrame]:
    rng = np.random.default_rng(w * h)
    base = rng.integers(0, 256, (h, w + 4 * n, 3), dtype=np.uint8)  # panning texture
    frames = []
    for i in range(n):
        rgb = np.ascontiguousarray(base[:, 4 * i : 4 * i + w])
        frames.append(av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format=fmt))
    return frames


def _features(frames: list[av.VideoFrame], direct: bool) -> FrameFeatures:
    with FeatureExtractor(64, 25.0, 16, background=True) as ex:
        for i, frame in enumerate(frames):
            if direct:
                ex.add_frame(frame, i * 40.0)
            else:
                ex.add(*luma_plane(frame), i * 40.0)
        return ex.finish()


@pytest.mark.parametrize(
    ("w", "h", "fmt"),
    [
        (320, 240, "yuv420p"),
        (642, 362, "yuv420p"),  # rows padded past the width (line size > width)
        (192, 108, "yuvj420p"),
        (33, 20, "yuv420p"),  # smaller than the crop
        (320, 180, "nv12"),
        (320, 180, "yuv420p10le"),  # 16-bit samples: through luma_plane
        (320, 180, "rgb24"),  # no luma plane: reformatted to gray
    ],
)
def test_direct_reading_matches_the_luma_plane(w: int, h: int, fmt: str) -> None:
    frames = _frames(w, h, 40, fmt)
    ref, got = _features(frames, False), _features(frames, True)
    for name in NAMES:
        np.testing.assert_array_equal(getattr(got, name), getattr(ref, name), err_msg=name)


def test_a_size_change_midway_is_followed() -> None:
    frames = _frames(320, 240, 20, "yuv420p") + _frames(160, 120, 20, "yuv420p") + _frames(320, 240, 10, "yuv420p")
    ref, got = _features(frames, False), _features(frames, True)
    for name in NAMES:
        np.testing.assert_array_equal(getattr(got, name), getattr(ref, name), err_msg=name)


def _plain(rgb: tuple[int, int, int], w: int, h: int, fmt: str) -> av.VideoFrame:
    frame = np.empty((h, w, 3), np.uint8)
    frame[:] = rgb
    return av.VideoFrame.from_ndarray(frame, format="rgb24").reformat(format=fmt)


# every kind of layout whose colour is read: planar and semi-planar YUV of 8 to 16 bits (LSB- and
# MSB-aligned), packed and planar RGB of 8 and 16 bits, with and without alpha
COLOUR_FORMATS = [
    "yuv420p", "yuvj420p", "yuv444p", "yuva420p", "nv12", "nv21", "nv16", "nv42",
    "yuv420p10le", "yuv422p10le", "yuv444p12le", "yuv420p16le", "p010le", "p210le", "nv20le",
    "rgb24", "bgr24", "rgba", "bgr0", "argb", "0bgr", "rgb48le", "bgra64le", "gbrp", "gbrap", "gbrp10le",
]  # fmt: skip


@pytest.mark.parametrize("fmt", COLOUR_FORMATS)
def test_chroma_statistics_follow_the_colour(fmt: str) -> None:
    """Mean U and V of a plain frame are those of its colour (BT.601: red is high in V, blue in U)."""
    frames = [_plain((200, 30, 30), 320, 180, fmt)] * 3 + [_plain((30, 30, 200), 320, 180, fmt)] * 3
    chroma = _features(frames, True).chroma
    assert chroma is not None
    red, blue = chroma[0], chroma[-1]
    assert red[1] > 190, red  # V of (200, 30, 30): 203
    assert red[0] < 110, red  # U: 103
    assert blue[0] > 190, blue  # U of (30, 30, 200): 203
    assert blue[1] < 125, blue  # V: 116
    np.testing.assert_allclose(chroma[:, 2:], 0.0, atol=1.0)  # plain frames: no spread


@pytest.mark.parametrize("fmt", COLOUR_FORMATS)
def test_chroma_statistics_are_alike_in_every_layout(fmt: str) -> None:
    """A frame whose colour changes across it and down it (red across, green down: every sample of the
    grid differs) gives the means and spreads of U and V that its 8-bit 4:4:4 YUV version gives, whatever
    its layout, sample depth or model, within the rounding of a conversion (full-range YUV against full-range
    4:4:4)."""
    rgb = np.empty((180, 320, 3), np.uint8)
    rgb[..., 0] = np.linspace(20, 235, 320)[None, :]
    rgb[..., 1] = np.linspace(40, 220, 180)[:, None]
    rgb[..., 2] = 128
    frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
    full = "yuvj444p" if fmt.startswith("yuvj") else "yuv444p"
    ref, got = (_features([frame.reformat(format=f)] * 2, True).chroma for f in (full, fmt))
    assert ref is not None
    assert got is not None
    assert not np.isnan(got).any()
    np.testing.assert_allclose(got, ref, atol=1.5)
    assert (got[:, 2:] > 10).all()  # the spread is read, not only the mean


@pytest.mark.parametrize(
    ("fmt", "w", "h"),
    [("gray", 320, 180), ("gray10le", 320, 180), ("yuyv422", 320, 180), ("yuv420p10be", 320, 180), ("yuv420p", 24, 12)],
)
def test_no_chroma_statistics_where_none_can_be_read(fmt: str, w: int, h: int) -> None:
    """Gray, packed YUV, big-endian samples and frames smaller than the chroma grid: NaN, never made-up
    values."""
    chroma = _features([_plain((200, 30, 30), w, h, fmt)] * 4, True).chroma
    assert chroma is not None
    assert np.isnan(chroma).all()


def test_luma_planes_added_by_hand_have_no_chroma() -> None:
    chroma = _features(_frames(320, 180, 4, "yuv420p"), False).chroma
    assert chroma is not None
    assert np.isnan(chroma).all()
