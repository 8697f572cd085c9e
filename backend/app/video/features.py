"""Per-frame features computed in vectorised batches while decoding (bounded memory).

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
* ``grad2``: mean squared horizontal + vertical neighbour difference of the half-resolution analysis
  image (detail energy). It is linear-quadratic in the frame, so for a cross-dissolve M = (1-a)A + aB of unrelated
  shots (fine detail uncorrelated) it follows (1-a)^2 g(A) + a^2 g(B): a dip to ~half in the middle,
  *whatever the content does*, because it never compares pixel positions. Motion keeps it level.

Only a ring of the last ``2*max(h)`` signature images is kept in float for the blend statistics; per
frame about 350 bytes are stored in total (about 40 MB for an hour at 30 fps) and never a frame.
The analysis image is built straight from the luma plane by averaging two diagonal samples per block
(strided slicing; no RGB conversion, no full-frame float copy).
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


def half_spans_for(fps: float) -> tuple[int, ...]:
    """Half-spans (frames) tested for dissolves: ~0.07 s to ~0.9 s, at least 2 frames, at most 64."""
    rate = fps if 1.0 <= fps <= 240.0 else 30.0
    spans = {min(64, max(2, round(rate * s))) for s in (0.08, 0.14, 0.22, 0.34, 0.5, 0.75)}
    return tuple(sorted(spans))


def flash_lags_for(fps: float) -> int:
    """How many frames either side of a cut the flash check looks at (~0.25 s, 4..FLASH_LAGS)."""
    rate = fps if 1.0 <= fps <= 240.0 else 30.0
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

    @property
    def n(self) -> int:
        return int(self.t_ms.shape[0])


def _offsets(block: int) -> tuple[int, int]:
    if block == 1:
        return (0, 0)
    if block == 2:
        return (0, 1)
    return (block // 4, (3 * block) // 4)


def _block_mean(a: np.ndarray, block: int) -> np.ndarray:
    """Mean over non-overlapping block x block tiles of each image in `a` (k, h, w).

    Summing strided slices is several times faster than ``reshape(...).mean(axis=(2, 4))``.
    """
    rows = a[:, 0::block, :].copy()
    for i in range(1, block):
        rows += a[:, i::block, :]
    out = rows[:, :, 0::block].copy()
    for j in range(1, block):
        out += rows[:, :, j::block]
    out *= 1.0 / (block * block)
    return out


class _Plan:
    """How to turn a luma plane of one particular shape into the (ah, aw) analysis image."""

    def __init__(self, h: int, w: int, ah: int, aw: int) -> None:
        self.rows: np.ndarray | None = None
        self.cols: np.ndarray | None = None
        if h < ah or w < aw:  # smaller than the first frame (resolution change): nearest sampling
            self.rows = (np.arange(ah) * h) // ah
            self.cols = (np.arange(aw) * w) // aw
            return
        self.br, self.bc = h // ah, w // aw
        r0, c0 = (h - ah * self.br) // 2, (w - aw * self.bc) // 2
        self.views = [
            (
                slice(r0 + orow, r0 + orow + ah * self.br, self.br),
                slice(c0 + ocol, c0 + ocol + aw * self.bc, self.bc),
            )
            for orow, ocol in zip(_offsets(self.br), _offsets(self.bc), strict=True)
        ]
        cs = min(CROP, h, w)
        cy, cx = (h - cs) // 2, (w - cs) // 2
        self.crop = (slice(cy, cy + cs), slice(cx, cx + cs)) if cs == CROP else None


class FeatureExtractor:
    """Accumulate luma planes frame by frame; compute features for each full batch at once."""

    def __init__(self, analysis_width: int, fps: float, batch: int = 32) -> None:
        self.analysis_width = analysis_width
        self.batch = batch
        self.half_spans = half_spans_for(fps)
        self.lags = flash_lags_for(fps)
        self.history_len = 2 * max(self.half_spans)
        self._count = 0
        self._plans: dict[tuple[int, int], _Plan] = {}
        self._size: tuple[int, int] | None = None
        self._k = 0
        self._chunks: dict[str, list[np.ndarray]] = {}
        self._t: list[float] = []

    # ------------------------------------------------------------------ geometry
    def _setup(self, h: int, w: int) -> None:
        block = max(1, w // self.analysis_width)
        aw, ah = max(2, w // block), max(2, h // block)
        self.sig_block = max(1, -(-aw // SIG_WIDTH))
        aw, ah = (aw // self.sig_block) * self.sig_block, (ah // self.sig_block) * self.sig_block
        self._size = (ah, aw)
        self._buf = np.empty((self.batch, ah, aw), np.uint16)  # sum of two luma samples per pixel
        self._crop = np.zeros((self.batch, CROP, CROP), np.float32)
        self._has_crop = np.zeros(self.batch, bool)
        self._scale = np.ones(self.batch, np.float32)
        self._prev_a: np.ndarray | None = None
        self._prev_h: np.ndarray | None = None
        self._sig_hist = np.empty((0, (ah // self.sig_block) * (aw // self.sig_block)), np.float32)
        self._z_hist = self._sig_hist.copy()
        self._detail_hist = self._sig_hist.copy()
        self._flat_hist = np.empty(0, bool)

    def add(self, y: np.ndarray, shift: int, t_ms: float) -> None:
        """Add one frame's luma plane `y` (uint8, or uint16 with `shift` bits above 8) shown at `t_ms`."""
        h, w = y.shape
        if self._size is None:
            self._setup(h, w)
        assert self._size is not None
        plan = self._plans.get((h, w))
        if plan is None:
            plan = self._plans[(h, w)] = _Plan(h, w, *self._size)
        slot = self._buf[self._k]
        if plan.rows is not None:
            sample = y[plan.rows][:, plan.cols]
            np.add(sample, sample, out=slot, dtype=np.uint16)
        else:
            np.add(y[plan.views[0]], y[plan.views[1]], out=slot, dtype=np.uint16)
        self._scale[self._k] = 1.0 / (2 * (1 << shift))
        self._has_crop[self._k] = plan.rows is None and plan.crop is not None and self._count % SHARP_EVERY == 0
        self._count += 1
        if self._has_crop[self._k]:
            np.copyto(self._crop[self._k], y[plan.crop], casting="unsafe")
        self._t.append(t_ms)
        self._k += 1
        if self._k == self.batch:
            self._process()

    # ------------------------------------------------------------------ batch maths
    def _store(self, **arrays: np.ndarray) -> None:
        for key, arr in arrays.items():
            self._chunks.setdefault(key, []).append(arr)

    def _process(self) -> None:
        k = self._k
        if k == 0:
            return
        scale = self._scale[:k, None, None]
        a = self._buf[:k] * scale
        sub = np.ascontiguousarray(a[:, ::2, ::2])  # global statistics need no full resolution
        flat_sub = sub.reshape(k, -1)
        mean = flat_sub.mean(axis=1)
        std = flat_sub.std(axis=1)
        hist = self._histograms(sub)
        prev_a = sub[:1] if self._prev_a is None else self._prev_a
        prev_h = hist[:1] if self._prev_h is None else self._prev_h
        seq = np.concatenate([prev_a, sub]).reshape(k + 1, -1)
        step = seq[1:] - seq[:-1]
        dpix = np.abs(step, out=step).mean(axis=1)
        dhist = 0.5 * np.abs(np.diff(np.concatenate([prev_h, hist]), axis=0)).sum(axis=1)
        self._prev_a, self._prev_h = sub[-1:].copy(), hist[-1:].copy()
        sharp = np.full(k, np.nan, np.float32)
        rows = np.flatnonzero(self._has_crop[:k])
        if rows.size:
            crop = self._crop[rows] * self._scale[rows, None, None]
            c = crop[:, 1:-1, 1:-1]
            lap = 4 * c - crop[:, :-2, 1:-1] - crop[:, 2:, 1:-1] - crop[:, 1:-1, :-2] - crop[:, 1:-1, 2:]
            sharp[rows] = lap.var(axis=(1, 2))
        gx = np.diff(sub, axis=2)  # the half-resolution image: 4x cheaper, same dissolve law
        gy = np.diff(sub, axis=1)
        grad2 = np.einsum("kij,kij->k", gx, gx) / gx[0].size + np.einsum("kij,kij->k", gy, gy) / gy[0].size
        self._store(mean=mean, std=std, dpix=dpix, dhist=dhist, sharp=sharp, hist=hist.astype(np.float16), grad2=grad2)
        self._pairwise(a)
        self._k = 0

    def _histograms(self, a: np.ndarray) -> np.ndarray:
        k = a.shape[0]
        idx = np.minimum((a * (HIST_BINS / 256.0)).astype(np.int32), HIST_BINS - 1)
        idx += (np.arange(k, dtype=np.int32) * HIST_BINS)[:, None, None]
        counts = np.bincount(idx.ravel(), minlength=k * HIST_BINS).reshape(k, HIST_BINS)
        return counts.astype(np.float32) / float(a.shape[1] * a.shape[2])

    def _pairwise(self, a: np.ndarray) -> None:
        """Signatures and blend statistics for all half-spans (one gather per quantity)."""
        k, ah, aw = a.shape
        sb = self.sig_block
        sig = _block_mean(a, sb).reshape(k, -1)
        mu, sd = sig.mean(axis=1, keepdims=True), sig.std(axis=1, keepdims=True)
        flat = sd[:, 0] < FLAT_STD
        z = np.where(flat[:, None], 0.0, (sig - mu) / np.maximum(sd, 1e-6)).astype(np.float32)
        off = sb // 2
        # point samples (aliased on purpose) for the blend residual, see the module docstring
        detail = np.ascontiguousarray(a[:, off::sb, off::sb]).reshape(k, -1)
        m = self._sig_hist.shape[0]
        sx = np.concatenate([self._sig_hist, sig])
        dx = np.concatenate([self._detail_hist, detail])
        zx = np.concatenate([self._z_hist, z])
        fx = np.concatenate([self._flat_hist, flat])
        t = np.arange(m, m + k)[:, None]
        cur = sig[:, None, :]
        hs = np.asarray(self.half_spans)[None, :]
        ia, ic = t - 2 * hs, t - hs
        valid = ia >= 0
        ia, ic = np.maximum(ia, 0), np.maximum(ic, 0)
        sa = sx[ia]
        de = np.abs(sa - cur).mean(axis=2)
        da, dcur = dx[ia], detail[:, None, :]
        rr = np.abs(dx[ic] - 0.5 * (da + dcur)).mean(axis=2) / np.maximum(np.abs(da - dcur).mean(axis=2), 0.5)
        ncc = np.einsum("khp,kp->kh", zx[ia], z) / z.shape[1]
        fa, fb = fx[ia], flat[:, None]
        se = np.where(fa & fb, 0.0, np.where(fa | fb, 1.0, 1.0 - ncc))
        for arr in (de, rr, se):
            arr[~valid] = np.nan
        self._store(
            sig=np.clip(np.rint(sig), 0, 255).astype(np.uint8),
            rr=rr.astype(np.float32),
            de=de.astype(np.float32),
            se=se.astype(np.float32),
            sig_std=sd[:, 0],
        )
        keep = self.history_len
        self._sig_hist, self._z_hist, self._flat_hist = sx[-keep:], zx[-keep:], fx[-keep:]
        self._detail_hist = dx[-keep:]

    # ------------------------------------------------------------------ result
    def finish(self) -> FrameFeatures:
        """Process the last partial batch and return all features (blend arrays indexed by centre)."""
        self._process()
        if not self._t:
            raise ValueError("no frames were added")
        cat = {key: np.concatenate(chunks) for key, chunks in self._chunks.items()}
        n = len(self._t)
        by_centre = {}
        for key in ("rr", "de", "se"):
            arr = np.full_like(cat[key], np.nan)
            for j, h in enumerate(self.half_spans):
                if h < n:
                    arr[: n - h, j] = cat[key][h:, j]
            by_centre[key] = arr
        cat["dpix"][0] = 0.0
        cat["dhist"][0] = 0.0
        assert self._size is not None
        return FrameFeatures(
            t_ms=np.asarray(self._t, np.float64),
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
            size=self._size,
            grad2=cat["grad2"].astype(np.float32),
        )
