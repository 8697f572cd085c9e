"""Per-frame luma sampling into batches, with the batch maths on a background thread.

Next to a threaded decoder, what limits analysis speed is the work done for each frame while holding
the GIL. So per frame only two strided copies of (ah, aw) luma samples (and, every SHARP_EVERY-th
frame, a small centre crop) go into a uint8 `LumaBatch`; the statistics of a full batch are computed
by `BatchFeatures` in a few vectorised passes, on a worker thread while the next batch fills (the
decoder and numpy release the GIL). Two batches exist at most, so memory stays bounded.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType
from typing import Any

import numpy as np
from av.video.plane import VideoPlane

from .decode import chroma_layout, luma_plane, plane_bits
from .features import CHROMA_GRID, CROP, SHARP_EVERY, SIG_WIDTH, BatchFeatures, CropStats, FrameFeatures, LumaBatch

Index = tuple[Any, ...]


def _offsets(block: int) -> tuple[int, int]:
    """Offsets of the two diagonal samples taken inside a block of `block` pixels."""
    if block == 1:
        return (0, 0)
    if block == 2:
        return (0, 1)
    return (block // 4, (3 * block) // 4)


class _Plan:
    """Where to sample a luma plane of one particular shape: two (ah, aw) sample grids and the crop."""

    def __init__(self, h: int, w: int, ah: int, aw: int) -> None:
        self.crop: Index | None = None
        if h < ah or w < aw:  # smaller than the first frame (resolution change): nearest sampling
            grid = np.ix_((np.arange(ah) * h) // ah, (np.arange(aw) * w) // aw)
            self.views: tuple[Index, Index] = (grid, grid)
            return
        br, bc = h // ah, w // aw
        r0, c0 = (h - ah * br) // 2, (w - aw * bc) // 2
        v0, v1 = (
            (slice(r0 + orow, r0 + orow + ah * br, br), slice(c0 + ocol, c0 + ocol + aw * bc, bc))
            for orow, ocol in zip(_offsets(br), _offsets(bc), strict=True)
        )
        self.views = (v0, v1)
        cs = min(CROP, h, w)
        cy, cx = (h - cs) // 2, (w - cs) // 2
        if cs == CROP:
            self.crop = (slice(cy, cy + cs), slice(cx, cx + cs))


class _Direct:
    """Byte offsets and strides that read both sample grids (and the crop) of an 8-bit luma plane with
    `line_size` bytes a row as numpy views straight on the plane's buffer: one view and one copy a frame
    instead of a view of the plane, two gathers and two copies; `chroma` reads the frame's U and V samples."""

    def __init__(self, plan: _Plan, line_size: int, frame: Any) -> None:
        (rows, cols), (rows1, cols1) = plan.views  # the same steps (the block), two offsets inside it
        self.offset = rows.start * line_size + cols.start
        between = (rows1.start - rows.start) * line_size + (cols1.start - cols.start)
        self.strides = (between, rows.step * line_size, cols.step)
        self.crop: tuple[int, tuple[int, int]] | None = None
        if plan.crop is not None:
            self.crop = (plan.crop[0].start * line_size + plan.crop[1].start, (line_size, 1))
        self.chroma = _ChromaReader(frame)


# BT.601 studio-range U and V of 8-bit R, G, B (the matrix FFmpeg converts RGB to YUV with by default)
_RGB_TO_UV = np.array([[-0.148223, -0.290993, 0.439216], [0.439216, -0.367788, -0.071427]], np.float32)


class _ChromaReader:
    """Reads a CHROMA_GRID of U and of V samples straight from the planes of frames laid out as the one it
    was made for (`decode.chroma_layout`: planar and semi-planar YUV of 8 to 16 bits, where U and V are
    read and shifted to 8 bits; RGB, whose R, G and B samples are read and turned into U and V), or reads
    nothing where they have no readable colour or are smaller than the grid. Where the samples lie is
    worked out once, and again only if a frame's planes come with other line sizes (allowed, not seen
    from a decoder)."""

    def __init__(self, frame: Any) -> None:
        self.layout = chroma_layout(frame.format)
        self.lines: tuple[int, ...] = ()
        self.plan: list[tuple[int, tuple[int, int]]] | None = None  # byte offset and strides of each grid
        self.dtype = np.dtype(self.layout.dtype if self.layout is not None else np.uint8)
        if self.layout is not None:
            self._locate(self._planes(frame))

    def _planes(self, frame: Any) -> tuple[Any, ...]:
        """The plane of each of the layout's samples (one object for samples in one plane)."""
        assert self.layout is not None
        samples = self.layout.samples
        first: Any = VideoPlane(frame, samples[0][0])
        if self.layout.rgb:
            return tuple(first if i == samples[0][0] else VideoPlane(frame, i) for i, _ in samples)
        return first, first if samples[1][0] == samples[0][0] else VideoPlane(frame, samples[1][0])

    def _locate(self, planes: tuple[Any, ...]) -> None:
        """The byte offset and strides of each sample grid, for planes laid out as `planes`."""
        assert self.layout is not None
        rows, cols = CHROMA_GRID
        step = self.layout.step
        self.lines, self.plan = tuple(p.line_size for p in planes), []
        for (_, byte), plane in zip(self.layout.samples, planes, strict=True):
            if plane.height < rows or plane.width < cols:
                self.plan = None
                return
            rs, cs = plane.height // rows, plane.width // cols
            offset = (rs // 2) * plane.line_size + (cs // 2) * step + byte
            self.plan.append((offset, (rs * plane.line_size, cs * step)))

    def read(self, frame: Any, u: np.ndarray, v: np.ndarray) -> bool:
        """Copy the frame's U and V samples into `u` and `v`; whether it had them. This runs for every frame
        on the decoding thread: 8-bit YUV, the common case, costs two plane objects and two copies."""
        if self.plan is None:
            return False
        layout = self.layout
        assert layout is not None
        planes = self._planes(frame)
        if tuple(p.line_size for p in planes) != self.lines:
            self._locate(planes)
            if self.plan is None:
                return False
        dtype, shift = self.dtype, layout.shift
        if not layout.rgb:
            (ou, su), (ov, sv) = self.plan
            if shift:
                u[...] = np.ndarray(CHROMA_GRID, dtype, planes[0], ou, su) >> shift
                v[...] = np.ndarray(CHROMA_GRID, dtype, planes[1], ov, sv) >> shift
            else:
                u[...] = np.ndarray(CHROMA_GRID, dtype, planes[0], ou, su)
                v[...] = np.ndarray(CHROMA_GRID, dtype, planes[1], ov, sv)
            return True
        grids = [np.ndarray(CHROMA_GRID, dtype, p, o, st) for p, (o, st) in zip(planes, self.plan, strict=True)]
        rgb = np.stack(grids).reshape(3, -1).astype(np.float32)
        if shift:
            rgb *= np.float32(1.0 / (1 << shift))
        uv = _RGB_TO_UV @ rgb + np.float32(128.0)
        u[...], v[...] = np.clip(np.rint(uv), 0, 255).reshape(2, *CHROMA_GRID)
        return True


def analysis_geometry(h: int, w: int, analysis_width: int) -> tuple[tuple[int, int], int]:
    """((ah, aw), sig_block) for an h x w first frame: the analysis image is about `analysis_width` wide,
    whole blocks of the frame per pixel, and a multiple of the signature block (its width / SIG_WIDTH,
    rounded up) both ways. The block is chosen before the size is rounded to it, and only here.

    At least 4 x 4 (the half-resolution statistics need two rows and columns) and one signature block
    each way: a very wide, short frame (e.g. a 1920x100 banner) would otherwise round to zero rows.
    Frames smaller than that are sampled nearest-neighbour (see `_Plan`)."""
    block = max(1, w // analysis_width)
    aw, ah = max(4, w // block), max(4, h // block)
    sig_block = max(1, -(-aw // SIG_WIDTH))
    return (max(1, ah // sig_block) * sig_block, max(1, aw // sig_block) * sig_block), sig_block


class FeatureExtractor:
    """Feed luma planes with `add`, get `FrameFeatures` from `finish`; `close` (or `with`) frees the worker.

    With `background=True` full batches are processed on one worker thread while the next one fills;
    batches are processed in order either way, so the features do not depend on it. `on_crops` is given
    the `CropStats` of each processed batch, in order, on the thread that adds the frames.
    """

    def __init__(
        self,
        analysis_width: int,
        fps: float,
        batch: int = 32,
        background: bool = False,
        on_crops: Callable[[CropStats], None] | None = None,
    ) -> None:
        self.analysis_width = analysis_width
        self.fps = fps
        self.batch = batch
        self.on_crops = on_crops
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="video-features") if background else None
        self._pending: Future[CropStats | None] | None = None
        self._maths: BatchFeatures | None = None
        self._fill: LumaBatch | None = None
        self._spare: LumaBatch | None = None
        self._plans: dict[tuple[int, ...], _Plan] = {}
        self._shape: tuple[int, ...] = ()
        self._views: tuple[Index, Index] = ((), ())
        self._crop_view: Index | None = None
        self._direct_key: tuple[Any, ...] = ()
        self._direct: _Direct | None = None
        self._chroma_key: tuple[Any, ...] = ()  # the layout of the frames whose luma is not read directly
        self._chroma: _ChromaReader | None = None  # ... and how their chroma is read
        self.crop: np.ndarray | None = None  # the centre crop of the last frame added, where one was taken
        self._count = 0
        self._k = 0
        self._t: list[float] = []

    def __enter__(self) -> FeatureExtractor:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()

    def _use_plan(self, shape: tuple[int, ...]) -> None:
        if self._maths is None:
            size, sig_block = analysis_geometry(shape[0], shape[1], self.analysis_width)
            self._maths = BatchFeatures(size, sig_block, self.fps)
            self._fill = LumaBatch(self.batch, *size)
        plan = self._plans.get(shape)
        if plan is None:
            plan = self._plans[shape] = _Plan(shape[0], shape[1], *self._maths.size)
        self._shape, self._views, self._crop_view = shape, plan.views, plan.crop

    def add_frame(self, frame: Any, t_ms: float) -> None:
        """Add a decoded `av.VideoFrame` shown at `t_ms`: the same samples as `add(*luma_plane(frame), t_ms)`,
        read straight from the buffer of 8-bit planar luma (the common case) with one strided copy, and a
        CHROMA_GRID of chroma samples where the frame's chroma can be read the same way.

        This runs for every frame on the decoding thread, so the way to read a frame is looked up once per
        layout (size, line sizes, pixel format) and a frame costs three plane objects and three copies
        (four on every SHARP_EVERY-th). `crop` is then the frame's centre crop, or None."""
        plane: Any = VideoPlane(frame, 0)  # a buffer (PyAV's stubs do not say so)
        key = (frame.height, frame.width, plane.line_size, frame.format.name)
        if key != self._direct_key:
            self._direct_key, self._direct = key, self._direct_plan(frame, plane.line_size)
        direct = self._direct
        if direct is None:
            y, shift = luma_plane(frame)
            if y.shape != self._shape:
                self._use_plan(y.shape)
            key = (frame.format.name, frame.width, frame.height)
            if key != self._chroma_key or self._chroma is None:
                self._chroma_key, self._chroma = key, _ChromaReader(frame)
            fill = self._fill
            assert fill is not None
            _, _, u, v = fill.slots[self._k]
            fill.has_chroma[self._k] = self._chroma.read(frame, u, v)
            self._add_luma(y, shift, t_ms)
            return
        fill, k = self._fill, self._k
        assert fill is not None
        pair, crop, u, v = fill.slots[k]
        fill.has_chroma[k] = direct.chroma.read(frame, u, v)
        pair[...] = np.ndarray(pair.shape, np.uint8, plane, direct.offset, direct.strides)
        if direct.crop is not None and self._count % SHARP_EVERY == 0:
            crop[...] = np.ndarray((CROP, CROP), np.uint8, plane, *direct.crop)
            fill.has_crop[k] = True
            self.crop = crop
        else:
            fill.has_crop[k] = False
            self.crop = None
        self._count += 1
        self._t.append(t_ms)
        self._k = k + 1
        if self._k == self.batch:
            self._submit()

    def _direct_plan(self, frame: Any, line_size: int) -> _Direct | None:
        """The direct reading of frames laid out as `frame`, or None where `add` must be used instead (not
        8-bit planar luma, or a frame smaller than the analysis image, sampled nearest-neighbour)."""
        if plane_bits(frame.format) != 8:
            return None
        shape = (frame.height, frame.width)
        if shape != self._shape:
            self._use_plan(shape)
        plan = self._plans[shape]
        if not isinstance(plan.views[0][0], slice):
            return None
        return _Direct(plan, line_size, frame)

    def add(self, y: np.ndarray, shift: int, t_ms: float) -> None:
        """Add one frame's luma plane `y` (uint8, or uint16 with `shift` bits above 8) shown at `t_ms` (no
        chroma: its colour statistics are NaN)."""
        if y.shape != self._shape:
            self._use_plan(y.shape)
        assert self._fill is not None
        self._fill.has_chroma[self._k] = False
        self._add_luma(y, shift, t_ms)

    def _add_luma(self, y: np.ndarray, shift: int, t_ms: float) -> None:
        if y.shape != self._shape:
            self._use_plan(y.shape)
        fill, k = self._fill, self._k
        assert fill is not None
        slot = fill.pair[k]
        v0, v1 = self._views
        crop = self._crop_view if self._count % SHARP_EVERY == 0 else None
        if shift:
            slot[0], slot[1] = y[v0] >> shift, y[v1] >> shift
            if crop is not None:
                fill.crop[k] = y[crop] >> shift
        else:
            slot[0], slot[1] = y[v0], y[v1]
            if crop is not None:
                fill.crop[k] = y[crop]
        fill.has_crop[k] = crop is not None
        self.crop = fill.crop[k] if crop is not None else None
        self._count += 1
        self._t.append(t_ms)
        self._k = k + 1
        if self._k == self.batch:
            self._submit()

    def _submit(self) -> None:
        full, maths = self._fill, self._maths
        assert full is not None
        assert maths is not None
        want = self.on_crops is not None
        if self._pool is None:
            self._deliver(maths.process(full, self._k, want))
        else:
            if self._pending is not None:
                self._deliver(self._pending.result())  # the spare batch is free again (and errors surface here)
            self._pending = self._pool.submit(maths.process, full, self._k, want)
            if self._spare is None:
                self._spare = LumaBatch(self.batch, *maths.size)
            self._fill, self._spare = self._spare, full
        self._k = 0

    def finish(self) -> FrameFeatures:
        """Process what is left and return the features of every frame added."""
        if self._pending is not None:
            pending, self._pending = self._pending, None
            self._deliver(pending.result())
        if self._maths is None:
            raise ValueError("no frames were added")
        assert self._fill is not None
        self._deliver(self._maths.process(self._fill, self._k, self.on_crops is not None))
        self._k = 0
        self.close()
        return self._maths.result(self._t)

    def _deliver(self, stats: CropStats | None) -> None:
        if stats is not None and self.on_crops is not None:
            self.on_crops(stats)

    def close(self) -> None:
        """Stop the worker thread (waiting for the batch it is on); idempotent."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
