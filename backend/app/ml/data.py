"""Paired dataset access: ``<dir>/clean/<name>.<ext>`` + ``<dir>/degraded/<name>.<ext>``.

Used by :func:`synth.validate_dataset` (checking) and by training (loading into memory, a
deterministic train/validation split, and random crop+flip patch batches).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import MLInputError
from .images import SUPPORTED_SUFFIXES, read_image

CLEAN_DIR = "clean"
DEGRADED_DIR = "degraded"


def _images_by_stem(folder: Path) -> dict[str, Path]:
    if not folder.is_dir():
        return {}
    return {p.stem: p for p in sorted(folder.iterdir()) if p.is_file() and p.suffix.lower() in SUPPORTED_SUFFIXES}


def list_pairs(dataset_dir: Path) -> tuple[list[tuple[str, Path, Path]], list[str]]:
    """Return ((name, clean_path, degraded_path) sorted by name, problems about unpaired files).

    Raises MLInputError only if ``dataset_dir`` itself does not exist.
    """
    dataset_dir = Path(dataset_dir)
    if not dataset_dir.is_dir():
        raise MLInputError(f"dataset folder not found: {dataset_dir}")
    problems: list[str] = []
    for sub in (CLEAN_DIR, DEGRADED_DIR):
        if not (dataset_dir / sub).is_dir():
            problems.append(f"missing folder '{sub}/'")
    clean, degraded = _images_by_stem(dataset_dir / CLEAN_DIR), _images_by_stem(dataset_dir / DEGRADED_DIR)
    for name in sorted(set(clean) - set(degraded)):
        problems.append(f"{name}: clean image has no degraded counterpart")
    for name in sorted(set(degraded) - set(clean)):
        problems.append(f"{name}: degraded image has no clean counterpart")
    pairs = [(n, clean[n], degraded[n]) for n in sorted(set(clean) & set(degraded))]
    return pairs, problems


@dataclass
class Pair:
    """One training example as uint8 arrays of shape (H, W, C)."""

    name: str
    clean: np.ndarray
    degraded: np.ndarray


def _as_uint8_hwc(arr: np.ndarray) -> np.ndarray:
    a = (np.clip(arr, 0, 1) * 255 + 0.5).astype(np.uint8)
    return a[..., None] if a.ndim == 2 else a


def _pad_to(arr: np.ndarray, size: int) -> np.ndarray:
    ph, pw = max(0, size - arr.shape[0]), max(0, size - arr.shape[1])
    return np.pad(arr, ((0, ph), (0, pw), (0, 0)), mode="edge") if ph or pw else arr


def load_pairs(dataset_dir: Path, channels: int, min_size: int = 0) -> list[Pair]:
    """Load every readable, same-sized pair into memory (uint8). Bad pairs are skipped.

    Images smaller than ``min_size`` are edge-padded so that crops of that size always fit.
    Raises MLInputError if there is no usable pair.
    """
    pairs, _ = list_pairs(dataset_dir)
    mode = "L" if channels == 1 else "RGB"
    loaded: list[Pair] = []
    for name, clean_path, degraded_path in pairs:
        try:
            clean, degraded = read_image(clean_path, mode=mode), read_image(degraded_path, mode=mode)
        except MLInputError:
            continue
        if clean.shape != degraded.shape:
            continue
        loaded.append(Pair(name, _pad_to(_as_uint8_hwc(clean), min_size), _pad_to(_as_uint8_hwc(degraded), min_size)))
    if not loaded:
        raise MLInputError(
            f"dataset {Path(dataset_dir).name!r} has no usable clean/degraded image pairs; "
            "run validate_dataset for details"
        )
    return loaded


def split_pairs(pairs: list[Pair], val_fraction: float, seed: int) -> tuple[list[Pair], list[Pair]]:
    """Deterministic split (depends only on names, fraction and seed). Keeps >= 1 training pair."""
    order = sorted(pairs, key=lambda p: p.name)
    perm = np.random.default_rng(seed).permutation(len(order))
    n_val = min(len(order) - 1, round(len(order) * val_fraction))
    if val_fraction > 0 and n_val == 0 and len(order) > 1:
        n_val = 1
    val_idx = set(perm[:n_val].tolist())
    train = [p for i, p in enumerate(order) if i not in val_idx]
    val = [p for i, p in enumerate(order) if i in val_idx]
    return train, val


class PatchSampler:
    """Random aligned crops (with optional flips) from in-memory pairs, as float32 NCHW arrays."""

    def __init__(self, pairs: list[Pair], crop: int, batch: int, seed: int, flips: bool = True) -> None:
        self.pairs, self.crop, self.batch, self.flips = pairs, crop, batch, flips
        self.rng = np.random.default_rng(seed)

    def next_uint8(self) -> tuple[np.ndarray, np.ndarray]:
        """Return (degraded, clean), each (batch, C, crop, crop) uint8: a quarter of the bytes of float32,
        so the copy to a GPU is cheap and the scaling to [0, 1] runs on the device."""
        xs, ys = [], []
        for _ in range(self.batch):
            pair = self.pairs[int(self.rng.integers(len(self.pairs)))]
            h, w = pair.clean.shape[:2]
            top, left = (
                int(self.rng.integers(0, h - self.crop + 1)),
                int(self.rng.integers(0, w - self.crop + 1)),
            )
            x = pair.degraded[top : top + self.crop, left : left + self.crop]
            y = pair.clean[top : top + self.crop, left : left + self.crop]
            if self.flips and self.rng.random() < 0.5:
                x, y = x[:, ::-1], y[:, ::-1]
            if self.flips and self.rng.random() < 0.5:
                x, y = x[::-1], y[::-1]
            xs.append(x.transpose(2, 0, 1))
            ys.append(y.transpose(2, 0, 1))
        return np.stack(xs), np.stack(ys)

    def next_batch(self) -> tuple[np.ndarray, np.ndarray]:
        """Return (degraded, clean), each (batch, C, crop, crop) float32 in [0, 1]."""
        x, y = self.next_uint8()
        scale = np.float32(1.0 / 255.0)
        return x.astype(np.float32) * scale, y.astype(np.float32) * scale
