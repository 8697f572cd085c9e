"""Inference: load a restoration model and restore images of any size with overlapping tiles.

Memory stays bounded for large pages: tiles are processed one horizontal band at a time and
only the rows still overlapped by the next band are kept in float accumulators; finished rows
go straight into the uint8 output. Overlapping tiles are blended with linear ramps, so tile
seams are invisible.

Color input with a gray (1-channel) model is restored via luma by default: the model restores
Y = 0.299 R + 0.587 G + 0.114 B and the correction Y' - Y is added to every channel, which keeps
colored stamps/highlights; before that the page is white-balanced to its paper colour (:mod:`paper`), so
that a tinted paper comes out white while stamps and highlights keep their colour.
``color_mode="per_channel"`` instead runs the model on R, G and B separately (3x slower, no white
balance). Gray input stays gray.

``ensemble`` averages the model over flipped copies of each tile (geometric self-ensemble): 4 runs over
the page and its horizontal, vertical and double flips (text lines stay horizontal, as in training), 8
adds the transposes (text turned vertical, which the model never saw in training). It costs that many
times the inference time, so the default is 1. Measured on held-out synthetic and augraphy pages
(bench/restore/README.md): 4 raises PSNR, SSIM and the text F-measure; 8 is read better by OCR (its
transposed passes damp strokes the model invents, such as bleed-through sharpened into legible mirrored
text) but blurs real text a little and scores lower on PSNR/SSIM.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .checkpoint import build_model, read_checkpoint, resolve_device
from .errors import MLInputError, OperationCancelled
from .images import DEFAULT_MAX_PIXELS, read_image, to_uint8, write_png
from .nafnet import count_parameters
from .paper import LUMA, white_balance
from .quality import no_reference_metrics
from .stages import Network, Restorer, Stages

log = logging.getLogger(__name__)

ProgressFn = Callable[[float, str], None]
StopFn = Callable[[], bool]
_cache: dict[tuple[str, int, int, str], tuple[Network, dict[str, Any]]] = {}
_cache_lock = threading.Lock()
_CACHE_SIZE = 4
MIN_SIDE = 8
ENSEMBLES = (1, 4, 8)


def default_model_path() -> Path:
    """The model shipped with the package (trained on synthetic pages, gray, ~0.9 MB)."""
    return Path(__file__).resolve().parent / "weights" / "default.pt"


def load_model(path: Path, device: str = "auto") -> tuple[Network, dict[str, Any]]:
    """Load a model or training checkpoint in eval mode; MLInputError if missing/corrupt/unknown."""
    data = read_checkpoint(Path(path))
    dev = resolve_device(device)
    model = build_model(data).to(dev).to(memory_format=torch.channels_last).eval()  # type: ignore[call-overload]
    meta = {
        "path": str(path),
        "kind": data.get("kind", "model"),
        "arch": data["arch"],
        "metrics": data.get("metrics", {}),
        "train_config": data.get("train_config", data.get("config", {})),
        "device": str(dev),
        "parameters": count_parameters(model),
    }
    return model, meta


def _cached_model(path: Path, device: str) -> tuple[Network, dict[str, Any]]:
    """load_model with a small thread-safe cache keyed on path, mtime and size (models are read-only)."""
    path = Path(path)
    try:
        st = path.stat()
    except OSError as exc:
        raise MLInputError(f"model file not found: {path.name}") from exc
    key = (str(path.resolve()), st.st_mtime_ns, st.st_size, device)
    with _cache_lock:
        if key in _cache:
            return _cache[key]
    loaded = load_model(path, device)
    with _cache_lock:
        if len(_cache) >= _CACHE_SIZE:
            _cache.pop(next(iter(_cache)))
        _cache[key] = loaded
    return loaded


def _starts(n: int, tile: int, stride: int) -> list[int]:
    if n <= tile:
        return [0]
    starts = list(range(0, n - tile + 1, stride))
    if starts[-1] + tile < n:
        starts.append(n - tile)
    return starts


def _ramp(length: int, overlap: int) -> np.ndarray:
    i = np.arange(length, dtype=np.float32)
    return np.minimum(1.0, np.minimum(i + 1, length - i) / (overlap + 1)).astype(np.float32)


def _orient(x: torch.Tensor, k: int) -> torch.Tensor:
    """The k-th of the 8 flips/transposes of an (N, C, H, W) tensor (bit 2: transpose, bit 0: flip W, bit 1: flip H)."""
    if k & 4:
        x = x.transpose(-1, -2)
    dims = [d for bit, d in ((1, -1), (2, -2)) if k & bit]
    return x.flip(dims) if dims else x


def _unorient(x: torch.Tensor, k: int) -> torch.Tensor:
    dims = [d for bit, d in ((1, -1), (2, -2)) if k & bit]
    x = x.flip(dims) if dims else x
    return x.transpose(-1, -2) if k & 4 else x


@torch.inference_mode()
def _run(model: Restorer, patch: np.ndarray, ensemble: int = 1) -> np.ndarray:
    """Model on one (C, h, w) float32 patch -> (C, h, w) float32 in [0, 1], averaged over ``ensemble`` orientations.

    On CUDA the convolutions run in float16 under autocast (LayerNorm stays float32), which keeps
    the uint8 output within a level or two of the float32 result at a fraction of the time.
    """
    device = next(model.parameters()).device
    x = torch.from_numpy(np.ascontiguousarray(patch))[None].to(device)
    outs = []
    for k in range(ensemble):
        xk = _orient(x, k).contiguous(memory_format=torch.channels_last)
        with torch.autocast(device.type, dtype=torch.float16, enabled=device.type == "cuda"):
            outs.append(_unorient(model(xk).float().clamp_(0, 1), k))
    y = outs[0] if ensemble == 1 else torch.stack(outs).mean(dim=0)
    return y[0].cpu().numpy()


def restore_array(
    model: Restorer,
    image: np.ndarray,
    *,
    tile: int = 256,
    overlap: int = 32,
    progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
    ensemble: int = 1,
) -> np.ndarray:
    """Restore a (C, H, W) float32 [0, 1] array tile by tile; returns (C, H, W) uint8.

    ``tile <= 0`` runs the whole image in one pass; ``ensemble`` (1, 4 or 8) averages each tile over that
    many flips/transposes. Raises MLInputError for a bad tile/overlap/ensemble and OperationCancelled when
    ``should_stop()`` turns True.
    """
    c, h, w = image.shape
    if tile <= 0:
        tile = max(h, w)
    if not 0 <= overlap <= tile // 2:
        raise MLInputError(f"overlap must be between 0 and tile/2 ({tile // 2}), got {overlap}")
    if ensemble not in ENSEMBLES:
        raise MLInputError(f"ensemble must be one of {', '.join(map(str, ENSEMBLES))}, got {ensemble}")
    stride = tile - overlap
    ys, xs = _starts(h, tile, stride), _starts(w, tile, stride)
    out = np.empty((c, h, w), dtype=np.uint8)
    acc, wsum, base = np.zeros((c, 0, w), np.float32), np.zeros((1, 0, w), np.float32), 0
    done, total = 0, len(ys) * len(xs)
    for bi, y0 in enumerate(ys):
        y1 = min(y0 + tile, h)
        grow = y1 - base - acc.shape[1]
        if grow > 0:
            acc = np.concatenate([acc, np.zeros((c, grow, w), np.float32)], axis=1)
            wsum = np.concatenate([wsum, np.zeros((1, grow, w), np.float32)], axis=1)
        wy = _ramp(y1 - y0, overlap)[:, None]
        for x0 in xs:
            if should_stop is not None and should_stop():
                raise OperationCancelled(f"restoration cancelled after {done} of {total} tiles")
            x1 = min(x0 + tile, w)
            weight = wy * _ramp(x1 - x0, overlap)[None, :]
            acc[:, y0 - base : y1 - base, x0:x1] += _run(model, image[:, y0:y1, x0:x1], ensemble) * weight
            wsum[:, y0 - base : y1 - base, x0:x1] += weight
            done += 1
            if progress is not None:
                progress(done / total, f"tile {done}/{total}")
        nxt = ys[bi + 1] if bi + 1 < len(ys) else h
        k = nxt - base
        out[:, base:nxt] = to_uint8(acc[:, :k] / wsum[:, :k])
        acc, wsum, base = acc[:, k:], wsum[:, k:], nxt
    return out


def _restore_channels(model: Restorer, img: np.ndarray, color_mode: str, **kw: Any) -> np.ndarray:
    """Map an (H, W) or (H, W, 3) image through the model as its channel count requires -> uint8.

    In luma mode the colour image is white-balanced in place (it is the caller's working copy)."""
    channels = model.config.img_channels
    if img.ndim == 2:
        src = img[None] if channels == 1 else np.repeat(img[None], 3, axis=0)
        res = restore_array(model, src, **kw)
        return res[0] if channels == 1 else to_uint8(res.astype(np.float32).mean(axis=0) / 255.0)
    if channels == 3:
        return restore_array(model, np.ascontiguousarray(img.transpose(2, 0, 1)), **kw).transpose(1, 2, 0)
    if color_mode == "per_channel":
        return np.stack([restore_array(model, img[None, :, :, i], **kw)[0] for i in range(3)], axis=2)
    if color_mode != "luma":
        raise MLInputError(f"unknown color_mode {color_mode!r}; use 'luma' or 'per_channel'")
    white_balance(img)
    luma = img @ LUMA
    restored = restore_array(model, luma[None], **kw)[0].astype(np.float32) / 255.0
    return to_uint8(img + (restored - luma)[..., None])


def stages_model(paths: Path | Sequence[Path], device: str = "auto") -> Restorer:
    """One model file, or two run in sequence (first stage, then second: e.g. Restormer then NAFNet)."""
    if isinstance(paths, (str, Path)):
        return _cached_model(Path(paths), device)[0]
    models = [_cached_model(Path(p), device)[0] for p in paths]
    if len(models) == 1:
        return models[0]
    if len(models) != 2:
        raise MLInputError(f"restoration runs one or two stages, got {len(models)} model files")
    try:
        return Stages(models[0], models[1])
    except ValueError as exc:
        raise MLInputError(f"these two models cannot run in sequence: {exc}") from exc


def restore_image(
    model_path: Path | Sequence[Path],
    in_path: Path,
    out_path: Path,
    *,
    tile: int = 256,
    overlap: int = 32,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
    device: str = "auto",
    color_mode: str = "luma",
    ensemble: int = 1,
) -> dict[str, Any]:
    """Restore one image file into a PNG written atomically at ``out_path``.

    Returns ``{"width", "height", "seconds", "tiles", "color_mode", "ensemble", "quality", "input_quality"}``
    where the quality dicts are :func:`quality.no_reference_metrics` of output and input.
    Raises MLInputError (unreadable/too large image, bad model) or OperationCancelled.
    """
    t0 = time.perf_counter()
    model = stages_model(model_path, device)
    img = read_image(Path(in_path), max_pixels=max_pixels)
    h, w = img.shape[:2]
    if min(h, w) < MIN_SIDE:
        raise MLInputError(f"{Path(in_path).name}: {w}x{h} is too small to restore (minimum {MIN_SIDE} px a side)")
    input_quality = no_reference_metrics(img)  # before the colour page is white-balanced in place
    tile_eff = max(h, w) if tile <= 0 else tile
    tiles = len(_starts(h, tile_eff, tile_eff - overlap)) * len(_starts(w, tile_eff, tile_eff - overlap))
    out = _restore_channels(
        model,
        img,
        color_mode,
        tile=tile,
        overlap=overlap,
        progress=progress,
        should_stop=should_stop,
        ensemble=ensemble,
    )
    write_png(out, Path(out_path))
    seconds = time.perf_counter() - t0
    log.info("restored %s (%dx%d, %d tiles) in %.2f s", Path(in_path).name, w, h, tiles, seconds)
    return {
        "width": w,
        "height": h,
        "seconds": seconds,
        "tiles": tiles,
        "color_mode": color_mode if img.ndim == 3 else "gray",
        "ensemble": ensemble,
        "quality": no_reference_metrics(out),
        "input_quality": input_quality,
    }
