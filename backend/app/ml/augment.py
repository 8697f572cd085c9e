"""New degraded variants of an existing paired dataset's clean pages: more training data without new pages.

Variant ``k`` of page ``NAME`` is the pair ``clean/NAME-a<seed>v<k>.png`` (the page itself, hard-linked when
the file system allows, so it stays pixel-aligned with its degraded copy by construction) and
``degraded/NAME-a<seed>v<k>.png``, drawn from ``numpy.random.default_rng([seed, page index, k])`` with the
degradations of :mod:`degrade` (bleed-through shows another page of the dataset): the same seed gives the same
files. The manifest records every run under ``augmentations``; a seed is used once per dataset, and a
cancelled run removes what it wrote, so training never sees unrecorded pairs.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from .data import CLEAN_DIR, DEGRADED_DIR, list_pairs
from .degrade import DegradeParams, degrade
from .errors import MLInputError, OperationCancelled
from .images import read_image, write_png

MAX_VARIANTS = 50


def _read_manifest(folder: Path) -> dict[str, Any]:
    path = folder / "manifest.json"
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise MLInputError(f"the dataset's manifest.json is unreadable ({exc}); regenerate the dataset") from exc
    return data if isinstance(data, dict) else {}


def _write_manifest(folder: Path, manifest: dict[str, Any]) -> None:
    tmp = folder / "manifest.json.tmp"
    tmp.write_text(json.dumps(manifest, indent=1))
    os.replace(tmp, folder / "manifest.json")


def _sources(folder: Path, manifest: dict[str, Any]) -> list[tuple[str, Path]]:
    """(stem, clean path) of the dataset's own pages: augmented pairs are not augmented again."""
    made = {s["name"] for run in manifest.get("augmentations", []) for s in run.get("samples", [])}
    pairs, _ = list_pairs(folder)
    sources = [(stem, clean) for stem, clean, _ in pairs if f"{stem}.png" not in made]
    if not sources:
        raise MLInputError("the dataset has no clean pages to augment; create one with a synthetic_data job")
    return sources


def _link_or_copy(src: Path, dst: Path) -> None:
    dst.unlink(missing_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def _variant(
    clean: np.ndarray, pages: list[tuple[str, Path]], rng: np.random.Generator, params: DegradeParams
) -> tuple[np.ndarray, list[str]]:
    _back_stem, back_path = pages[int(rng.integers(len(pages)))]
    back = read_image(back_path, mode="L")
    return degrade(clean, rng, params, back if back.shape == clean.shape else None)


def augment_dataset(
    folder: Path,
    *,
    variants: int,
    seed: int,
    params: DegradeParams | None = None,
    progress: Callable[[float, str], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> dict[str, Any]:
    """Add ``variants`` degraded copies of every clean page; returns ``{"created", "pairs", "size_bytes",
    "sources"}`` (``pairs``: all pairs now in the dataset). ``progress`` gets the fraction done.

    Raises MLInputError (no pages, bad count, seed already used) or OperationCancelled (nothing kept).
    """
    folder, params = Path(folder), params or DegradeParams()
    if not 1 <= variants <= MAX_VARIANTS:
        raise MLInputError(f"variants must be between 1 and {MAX_VARIANTS}, got {variants}")
    manifest = _read_manifest(folder)
    if any(run.get("seed") == seed for run in manifest.get("augmentations", [])):
        raise MLInputError(f"this dataset was already augmented with seed {seed}; choose another seed")
    sources = _sources(folder, manifest)
    written: list[Path] = []
    samples: list[dict[str, Any]] = []
    size_bytes, total = 0, len(sources) * variants
    try:
        for i, (stem, clean_path) in enumerate(sources):
            clean = read_image(clean_path, mode="L")
            for k in range(variants):
                if should_stop is not None and should_stop():
                    raise OperationCancelled(f"augmentation cancelled after {len(samples)} of {total} pairs")
                degraded, applied = _variant(clean, sources, np.random.default_rng([seed, i, k]), params)
                name = f"{stem}-a{seed}v{k}.png"
                written += [folder / CLEAN_DIR / name, folder / DEGRADED_DIR / name]
                _link_or_copy(clean_path, folder / CLEAN_DIR / name)
                write_png(degraded, folder / DEGRADED_DIR / name)
                size_bytes += sum(p.stat().st_size for p in written[-2:])
                samples.append({"name": name, "source": clean_path.name, "variant": k, "degradations": applied})
            if progress is not None:
                progress((i + 1) / len(sources), f"augmented {i + 1}/{len(sources)} pages")
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise
    runs = manifest.setdefault("augmentations", [])
    runs.append({"seed": seed, "variants": variants, "params": asdict(params), "samples": samples})
    _write_manifest(folder, manifest)
    pairs, _ = list_pairs(folder)
    return {"created": len(samples), "pairs": len(pairs), "size_bytes": size_bytes, "sources": len(sources)}
