"""Frame features do not depend on how frames are batched or whether batches go to the worker thread."""

from __future__ import annotations

import numpy as np
import pytest
from app.video.features import FrameFeatures
from app.video.sampling import FeatureExtractor

from .conftest import scene


def _luma(frames: list[np.ndarray]) -> list[np.ndarray]:
    return [np.clip(f @ np.array([0.299, 0.587, 0.114]), 0, 255).astype(np.uint8) for f in frames]


def _features(planes: list[np.ndarray], batch: int, background: bool, shift: int = 0) -> FrameFeatures:
    with FeatureExtractor(64, 25.0, batch, background=background) as ex:
        for i, y in enumerate(planes):
            ex.add(y, shift, i * 40.0)
        return ex.finish()


@pytest.mark.parametrize(("batch", "background"), [(7, False), (7, True), (32, True), (200, True)])
def test_features_do_not_depend_on_batching(batch: int, background: bool) -> None:
    planes = _luma(scene(1, 40) + scene(2, 45))  # a cut at frame 40, blend spans across batches
    ref = _features(planes, 128, False)
    got = _features(planes, batch, background)
    for name in ("mean", "std", "dpix", "dhist", "sharp", "sig", "hist", "grad2", "blend_rr", "blend_de", "blend_se"):
        np.testing.assert_array_equal(getattr(got, name), getattr(ref, name), err_msg=name)


def test_ten_bit_luma_matches_eight_bit() -> None:
    planes = _luma(scene(3, 30))
    ref = _features(planes, 16, False)
    got = _features([p.astype(np.uint16) << 2 for p in planes], 16, False, shift=2)
    for name in ("dpix", "sharp", "blend_rr", "grad2"):
        np.testing.assert_array_equal(getattr(got, name), getattr(ref, name), err_msg=name)


def test_worker_error_surfaces_and_thread_stops() -> None:
    ex = FeatureExtractor(64, 25.0, 4, background=True)
    ex.add(np.zeros((120, 160), np.uint8), 0, 0.0)
    with pytest.raises(ValueError, match="broadcast"), ex:
        ex.add(np.zeros((120, 160, 3), np.uint8), 0, 40.0)  # not a 2-D plane
    assert ex._pool is None


@pytest.mark.parametrize(("analysis_width", "w", "h"), [(32, 49, 16), (32, 49, 23), (64, 49, 27), (16, 17, 9)])
def test_frame_sizes_whose_rounding_shrinks_the_signature_block(analysis_width: int, w: int, h: int) -> None:
    """The analysis image is rounded to whole signature blocks; the block the maths uses must be the one
    the size was rounded to (recomputed from the rounded width it can come out smaller and not divide it)."""
    rng = np.random.default_rng(0)
    with FeatureExtractor(analysis_width, 25.0, 8) as ex:
        for i in range(30):
            ex.add(rng.integers(0, 256, (h, w), dtype=np.uint8), 0, i * 40.0)
        f = ex.finish()
    assert len(f.t_ms) == 30
    assert np.isfinite(f.dpix).all()
    assert f.sig.shape[0] == 30
