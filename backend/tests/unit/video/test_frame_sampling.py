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
