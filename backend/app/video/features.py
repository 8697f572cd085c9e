"""Per-frame features, computed in vectorised batches of frames while decoding (bounded memory).

For every decoded frame we keep only a few dozen float32 numbers, never the frame itself:

* ``mean``/``std``: luma mean and standard deviation (0..255) of the small analysis image;
* ``dpix``: mean absolute luma difference to the previous frame (0..255) on every other pixel of the
  analysis image, the classic cut signal;
* ``dhist``: half L1 distance between 32-bin luma histograms of consecutive frames (0..1), robust to
  motion, sensitive to content changes;
* ``sharp``: variance of the 4-neighbour Laplacian on a full-resolution centre crop (focus/detail),
  measured on every 8th frame (NaN on the others);
* ``sig``: the ~16 px wide "signature" image itself (uint8, <= 192 bytes: a 4x4-block average of the
  analysis image). Kept so that, for the few candidate cuts, content *after* the cut can be compared
  with content *before* it (camera flashes come back to the same content), both as mean absolute
  difference and as structural distance 1 - NCC (brightness/contrast invariant);
* ``blend_rr/blend_de/blend_se[c, j]`` for half-spans h_j: with A = frame c-h, M = frame c, B = frame c+h,
  ``rr = mean|M - (A+B)/2| / mean|A-B|`` (how far the middle frame is from a linear blend of the ends; ~0
  inside a cross-dissolve). ``rr`` uses point samples of the analysis image rather than block averages:
  blending commutes with any linear sampling, so dissolves stay exactly linear, while the aliasing
  makes moving content non-linear (block-averaged edges move *linearly*, which mimics a dissolve);
  ``de = mean|A-B|`` and ``se = 1 - NCC(A, B)`` (structural change between the ends, insensitive to
  brightness/contrast so lighting changes do not look like dissolves);
* ``hist``: the 32-bin luma histogram itself (float16, 64 bytes): content statistics stay put under
  motion but move from one shot's to the other's during a dissolve;
* ``sig_std``: standard deviation of the signature image (a blend of two images has a predictable,
  lower contrast than its ends; moving content keeps its contrast).
* ``chroma``: mean and standard deviation of U and of V over a CHROMA_GRID of chroma samples (colour
  statistics: a dissolve between shots of one brightness but other colours moves them, an evolving
  texture with its palette does not);
* ``grad2``: mean squared horizontal + vertical neighbour difference of the half-resolution analysis
  image (detail energy). It is linear-quadratic in the frame, so for a cross-dissolve M = (1-a)A + aB of unrelated
  shots (fine detail uncorrelated) it follows (1-a)^2 g(A) + a^2 g(B): a dip to ~half in the middle,
  *whatever the content does*, because it never compares pixel positions. Motion keeps it level.
  ``grad2_x`` is its horizontal part: a blend lowers both directions alike, while the motion blur of a
  fast pan removes detail along the motion only.

Only a ring of the last ``2*max(h)`` signature images is kept in float for the blend statistics; per
frame about 350 bytes are stored in total (about 40 MB for an hour at 30 fps) and never a frame.
The analysis image is the mean of two diagonal luma samples per block, taken straight from the luma
plane by `sampling.FeatureExtractor` (strided slicing; no RGB conversion, no full-frame float copy).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FLASH_LAGS = 12
SIG_WIDTH = 16
SHARP_EVERY = 8
CROP = 64
HIST_BINS = 32
FLAT_STD = 2.0
CHROMA_GRID = (9, 16)  # rows, columns of chroma samples a frame
MIN_FPS, MAX_FPS = 1.0, 240.0  # a video's plausible frame rates; outside them a declared rate is not trusted


def half_spans_for(fps: float) -> tuple[int, ...]:
    """Half-spans (frames) tested for dissolves: ~0.07 s to ~0.9 s, at least 2 frames, at most 64."""
    rate = fps if MIN_FPS <= fps <= MAX_FPS else 30.0
    spans = {min(64, max(2, round(rate * s))) for s in (0.08, 0.14, 0.22, 0.34, 0.5, 0.75)}
    return tuple(sorted(spans))


def flash_lags_for(fps: float) -> int:
    """How many frames either side of a cut the flash check looks at (~0.25 s, 4..FLASH_LAGS)."""
    rate = fps if MIN_FPS <= fps <= MAX_FPS else 30.0
    return int(min(FLASH_LAGS, max(4, round(0.25 * rate) + 1)))


@dataclass
class FrameFeatures:
    """Feature arrays, one row per decoded frame (see module docstring)."""

    t_ms: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    dpix: np.ndarray
    dhist: np.ndarray
    sharp: np.ndarray
    sig: np.ndarray  # (n, P) uint8 signature images
    flash_lags: int
    sig_std: np.ndarray
    hist: np.ndarray
    half_spans: tuple[int, ...]
    blend_rr: np.ndarray
    blend_de: np.ndarray
    blend_se: np.ndarray
    size: tuple[int, int]  # analysis image (height, width)
    grad2: np.ndarray  # detail energy per frame (see module docstring)
    grad2_x: np.ndarray  # its horizontal part (motion blur along one axis removes detail along it only)
    # (n, 4): mean U, mean V, std U, std V of the chroma samples (0..255); NaN where the frame's chroma
    # could not be read (gray, palette, packed YUV: `decode.chroma_layout`); None for features made without it
    chroma: np.ndarray | None = None

    @property
    def n(self) -> int:
        return int(self.t_ms.shape[0])

    @property
    def sig_grid(self) -> tuple[int, int] | None:
        """(rows, columns) of the signature images: SIG_WIDTH-ish tiles across the analysis image."""
        ah, aw = self.size
        block = max(1, -(-aw // SIG_WIDTH))
        h, w = ah // block, aw // block
        return (h, w) if h * w == self.sig.shape[1] else None


def _block_sums(twice: np.ndarray, block: int) -> np.ndarray:
    """Sums over non-overlapping block x block tiles of each image in `twice` ((k, h, w) uint16, <= 510).

    Integer sums of strided slices: exact, and several times faster than ``reshape(...).sum(axis=(2, 4))``.
    """
    acc = np.uint16 if block * block * 510 <= np.iinfo(np.uint16).max else np.uint32
    rows: np.ndarray = twice[:, 0::block, :].astype(acc)
    for i in range(1, block):
        rows += twice[:, i::block, :]
    out: np.ndarray = rows[:, :, 0::block].copy()
    for j in range(1, block):
        out += rows[:, :, j::block]
    return out


def _sum_abs(x: np.ndarray) -> np.ndarray:
    """Row sums of |x| (int16/int32 rows of a few hundred values), overwriting `x` (a temporary)."""
    return np.abs(x, out=x).sum(axis=1, dtype=np.int32)


_HIST_SHIFT = (512 // HIST_BINS).bit_length() - 1  # HIST_BINS is a power of two


def _histograms(twice: np.ndarray) -> np.ndarray:
    """HIST_BINS-bin luma histograms of the images `twice / 2` ((k, h, w) uint16, 0..510) -> (k, bins)."""
    k, h, w = twice.shape
    idx = twice >> _HIST_SHIFT  # a new contiguous array, so the in-place steps below are cheap
    if k * HIST_BINS > np.iinfo(idx.dtype).max:
        idx = idx.astype(np.intp)
    idx += (np.arange(k, dtype=idx.dtype) * HIST_BINS)[:, None, None]
    counts = np.bincount(idx.reshape(-1), minlength=k * HIST_BINS).reshape(k, HIST_BINS)
    return counts.astype(np.float32) / float(h * w)


def laplacian_var(crops: np.ndarray) -> np.ndarray:
    """Variance of the 4-neighbour Laplacian of each (uint8) crop at half scale, the unit `sharp` is in."""
    c = crops.astype(np.int16)
    lap = 4 * c[:, 1:-1, 1:-1] - c[:, :-2, 1:-1] - c[:, 2:, 1:-1] - c[:, 1:-1, :-2] - c[:, 1:-1, 2:]
    flat = lap.reshape(lap.shape[0], -1).astype(np.int64)
    n = flat.shape[1]
    mean = flat.sum(axis=1) / n
    return 0.25 * (np.einsum("kp,kp->k", flat, flat) / n - mean * mean)


# Per centre crop of a batch, in frame order: the Laplacian's variance as `laplacian_var` gives it (the
# `sharp` feature before its float32 rounding), the sum and the sum of squares of the crop's samples.
CropStats = tuple[list[float], list[float], list[float]]


class LumaBatch:
    """Luma samples of up to `size` consecutive frames, filled by `sampling.FeatureExtractor`.

    ``pair[i]``: two luma samples per analysis pixel (their mean is the analysis image); ``crop[i]``: a
    full-resolution CROP x CROP centre crop, present where ``has_crop[i]`` (every SHARP_EVERY-th frame).
    ``slots[i]`` holds views of frame i's pair, crop, U and V samples, made once: copying into a view
    costs half of what assigning to ``pair[i]`` or ``chroma[i, 0]`` does, which indexes the array first.
    """

    def __init__(self, size: int, ah: int, aw: int) -> None:
        self.pair = np.empty((size, 2, ah, aw), np.uint8)
        self.crop = np.zeros((size, CROP, CROP), np.uint8)
        self.has_crop = np.zeros(size, bool)
        self.chroma = np.zeros((size, 2, *CHROMA_GRID), np.uint8)
        self.has_chroma = np.zeros(size, bool)
        self.slots = [(self.pair[i], self.crop[i], self.chroma[i, 0], self.chroma[i, 1]) for i in range(size)]


class BatchFeatures:
    """Features of consecutive `LumaBatch`es, in order; keeps the short history that spans batches.

    `size` (ah, aw) are multiples of `sig_block`, the side of the tiles averaged into the signatures.
    """

    def __init__(self, size: tuple[int, int], sig_block: int, fps: float) -> None:
        ah, aw = size
        self.size = size
        self.sig_block = sig_block
        self.half_spans = half_spans_for(fps)
        self.lags = flash_lags_for(fps)
        self.history_len = 2 * max(self.half_spans)
        self._chunks: dict[str, list[np.ndarray]] = {}
        self._prev_a: np.ndarray | None = None
        self._prev_h: np.ndarray | None = None
        pixels = (ah // self.sig_block) * (aw // self.sig_block)
        # blend statistics in exact integer arithmetic on block sums and doubled point samples (int16 is
        # twice as fast as float32 and gives the same means: every partial sum is exact in either)
        self._sum_type = np.int16 if self.sig_block**2 * 510 <= np.iinfo(np.int16).max else np.int32
        self._sum_hist = np.empty((0, pixels), self._sum_type)
        self._detail_hist = np.empty((0, pixels), np.int16)
        self._z_hist = np.empty((0, pixels), np.float32)
        self._flat_hist = np.empty(0, bool)

    # ------------------------------------------------------------------ batch maths
    def _store(self, **arrays: np.ndarray) -> None:
        for key, arr in arrays.items():
            self._chunks.setdefault(key, []).append(arr)

    def process(self, batch: LumaBatch, k: int, crop_stats: bool = False) -> CropStats | None:
        """Compute and keep the features of the first `k` frames of `batch`; with `crop_stats`, return the
        statistics of its centre crops (see `CropStats`)."""
        stats: CropStats | None = ([], [], []) if crop_stats else None
        if k == 0:
            return stats
        pair = batch.pair[:k]
        twice = np.add(pair[:, 0], pair[:, 1], dtype=np.uint16)  # twice the analysis image, exact
        half = twice[:, ::2, ::2]  # global statistics need no full resolution
        sub = np.multiply(half, np.float32(0.5), dtype=np.float32)
        flat_sub = sub.reshape(k, -1)
        mean = flat_sub.mean(axis=1)
        std = flat_sub.std(axis=1)
        hist = _histograms(half)
        prev_a = sub[:1] if self._prev_a is None else self._prev_a
        prev_h = hist[:1] if self._prev_h is None else self._prev_h
        seq = np.concatenate([prev_a, sub]).reshape(k + 1, -1)
        step = seq[1:] - seq[:-1]
        dpix = np.abs(step, out=step).mean(axis=1)
        dhist = 0.5 * np.abs(np.diff(np.concatenate([prev_h, hist]), axis=0)).sum(axis=1)
        self._prev_a, self._prev_h = sub[-1:].copy(), hist[-1:].copy()
        sharp = np.full(k, np.nan, np.float32)
        rows = np.flatnonzero(batch.has_crop[:k])
        if rows.size:
            crops = batch.crop[rows]
            var = laplacian_var(crops)
            sharp[rows] = var
            if crop_stats:
                samples = crops.reshape(rows.size, -1).astype(np.float64)  # sums of integers: exact
                stats = (var.tolist(), samples.sum(axis=1).tolist(), np.einsum("kp,kp->k", samples, samples).tolist())
        gx = np.diff(sub, axis=2)  # the half-resolution image: 4x cheaper, same dissolve law
        gy = np.diff(sub, axis=1)
        grad2_x = np.einsum("kij,kij->k", gx, gx) / gx[0].size
        grad2 = grad2_x + np.einsum("kij,kij->k", gy, gy) / gy[0].size
        self._store(mean=mean, std=std, dpix=dpix, dhist=dhist, sharp=sharp, hist=hist.astype(np.float16), grad2=grad2)
        chroma = np.full((k, 4), np.nan, np.float32)
        rows = np.flatnonzero(batch.has_chroma[:k])
        if rows.size:
            samples = batch.chroma[rows].reshape(rows.size, 2, -1).astype(np.float32)
            chroma[rows, :2], chroma[rows, 2:] = samples.mean(axis=2), samples.std(axis=2)
        self._store(grad2_x=grad2_x, chroma=chroma)
        self._pairwise(twice)
        return stats

    def _pairwise(self, twice: np.ndarray) -> None:
        """Signatures and blend statistics for all half-spans, from twice the analysis images (uint16).

        Frame t is compared with t-h and t-2h: over a batch those are contiguous row ranges of the
        history + batch arrays, so each half-span needs slices, not gathers.
        """
        k = twice.shape[0]
        sb = self.sig_block
        sums = _block_sums(twice, sb).reshape(k, -1).astype(self._sum_type)  # 2 * sb * sb * signature
        sig = np.multiply(sums, np.float32(0.5 / (sb * sb)), dtype=np.float32)
        mu, sd = sig.mean(axis=1, keepdims=True), sig.std(axis=1, keepdims=True)
        flat = sd[:, 0] < FLAT_STD
        z = np.where(flat[:, None], 0.0, (sig - mu) / np.maximum(sd, 1e-6)).astype(np.float32)
        off = sb // 2
        # point samples (aliased on purpose) for the blend residual, see the module docstring
        detail = twice[:, off::sb, off::sb].reshape(k, -1).astype(np.int16)  # twice the samples
        m = self._sum_hist.shape[0]
        sx = np.concatenate([self._sum_hist, sums])
        dx = np.concatenate([self._detail_hist, detail])
        zx = np.concatenate([self._z_hist, z])
        fx = np.concatenate([self._flat_hist, flat])
        nh, npix = len(self.half_spans), sums.shape[1]
        de, rr, se = (np.full((k, nh), np.nan, np.float32) for _ in range(3))
        scratch = np.empty(sums.shape, self._sum_type)
        for j, h in enumerate(self.half_spans):
            lo = max(0, 2 * h - m)  # first batch row whose frame t-2h exists
            if lo >= k:
                continue
            ia, ic = slice(m + lo - 2 * h, m + k - 2 * h), slice(m + lo - h, m + k - h)
            da, dcur, buf = dx[ia], detail[lo:], scratch[lo:]
            de[lo:, j] = _sum_abs(np.subtract(sx[ia], sums[lo:], out=buf)) * (0.5 / (sb * sb * npix))
            mid = np.subtract(dx[ic], da, out=buf)  # |M - (A+B)/2| = |2M - A - B| / 2, in doubled samples
            mid += dx[ic]
            mid -= dcur
            rr[lo:, j] = (_sum_abs(mid) * 0.25) / np.maximum(_sum_abs(np.subtract(da, dcur, out=buf)) * 0.5, 0.5 * npix)
            ncc = np.einsum("kp,kp->k", zx[ia], z[lo:]) / npix
            fa, fb = fx[ia], flat[lo:]
            se[lo:, j] = np.where(fa & fb, 0.0, np.where(fa | fb, 1.0, 1.0 - ncc))
        self._store(sig=np.clip(np.rint(sig), 0, 255).astype(np.uint8), rr=rr, de=de, se=se, sig_std=sd[:, 0])
        keep = self.history_len
        self._sum_hist, self._z_hist, self._flat_hist = sx[-keep:], zx[-keep:], fx[-keep:]
        self._detail_hist = dx[-keep:]

    # ------------------------------------------------------------------ result
    def result(self, t_ms: list[float]) -> FrameFeatures:
        """All features so far (blend arrays indexed by centre); `t_ms` holds each frame's time."""
        if not t_ms:
            raise ValueError("no frames were added")
        cat = {key: np.concatenate(chunks) for key, chunks in self._chunks.items()}
        n = len(t_ms)
        by_centre = {}
        for key in ("rr", "de", "se"):
            arr = np.full_like(cat[key], np.nan)
            for j, h in enumerate(self.half_spans):
                if h < n:
                    arr[: n - h, j] = cat[key][h:, j]
            by_centre[key] = arr
        cat["dpix"][0] = 0.0
        cat["dhist"][0] = 0.0
        return FrameFeatures(
            t_ms=np.asarray(t_ms, np.float64),
            mean=cat["mean"],
            std=cat["std"],
            dpix=cat["dpix"],
            dhist=cat["dhist"],
            sharp=cat["sharp"],
            sig=cat["sig"],
            flash_lags=self.lags,
            sig_std=cat["sig_std"],
            hist=cat["hist"],
            half_spans=self.half_spans,
            blend_rr=by_centre["rr"],
            blend_de=by_centre["de"],
            blend_se=by_centre["se"],
            size=self.size,
            grad2=cat["grad2"].astype(np.float32),
            grad2_x=cat["grad2_x"].astype(np.float32),
            chroma=cat["chroma"],
        )
