"""Synthetic paired dataset of document pages: generation and validation.

``generate_dataset`` writes ``clean/NNNNN.png`` (ideal black-on-white page) and
``degraded/NNNNN.png`` (the same page after random degradations, see :mod:`degrade`) plus a
``manifest.json`` recording seed, parameters and per-sample degradations. Sample ``i`` is drawn
from ``numpy.random.default_rng([seed, i])``, so the output is byte-identical for a seed on a
given machine (system fonts can differ between machines; set ``use_system_fonts=False`` to rely
only on Pillow's bundled font).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import PIL

from .data import CLEAN_DIR, DEGRADED_DIR, list_pairs
from .degrade import DegradeParams, degrade
from .errors import MLInputError, OperationCancelled
from .images import read_image, write_png
from .render import FontBook, find_system_fonts, render_page

log = logging.getLogger(__name__)

MAX_COUNT = 100_000
MAX_SIDE = 4096


@dataclass
class SynthConfig:
    """What to generate. ``width``/``height`` override the square ``size`` when given."""

    count: int
    seed: int
    size: int = 256
    width: int | None = None
    height: int | None = None
    use_system_fonts: bool = True
    degrade: DegradeParams = field(default_factory=DegradeParams)

    def dims(self) -> tuple[int, int]:
        return self.width or self.size, self.height or self.size

    def check(self) -> None:
        """Raise MLInputError for values a user could plausibly get wrong."""
        w, h = self.dims()
        if not 1 <= self.count <= MAX_COUNT:
            raise MLInputError(f"count must be between 1 and {MAX_COUNT}, got {self.count}")
        if not (32 <= w <= MAX_SIDE and 32 <= h <= MAX_SIDE):
            raise MLInputError(f"page size must be between 32 and {MAX_SIDE} px, got {w}x{h}")


def _sample(config: SynthConfig, index: int, fonts: FontBook) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Render and degrade sample ``index`` (pure function of seed, index and fonts)."""
    rng = np.random.default_rng([config.seed, index])
    w, h = config.dims()
    clean = render_page(rng, w, h, fonts)
    back = render_page(rng, w, h, fonts) if rng.random() < config.degrade.p_bleed else None
    degraded, applied = degrade(clean, rng, config.degrade, back)
    return clean, degraded, applied


def generate_dataset(
    out_dir: Path,
    config: SynthConfig,
    *,
    progress: Callable[[float, str], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> dict[str, Any]:
    """Write ``config.count`` clean/degraded pairs and a manifest into ``out_dir``.

    Returns ``{"count", "size_bytes", "width", "height", "seed", "fonts", "path"}``. Raises
    OperationCancelled when ``should_stop()`` turns True (files written so far are kept, no
    manifest) and MLInputError for invalid configs.
    """
    config.check()
    out_dir = Path(out_dir)
    (out_dir / CLEAN_DIR).mkdir(parents=True, exist_ok=True)
    (out_dir / DEGRADED_DIR).mkdir(parents=True, exist_ok=True)
    specs: list[str | None] = [None, *(find_system_fonts() if config.use_system_fonts else [])]
    fonts = FontBook(specs)
    samples: list[dict[str, Any]] = []
    size_bytes = 0
    for i in range(config.count):
        if should_stop is not None and should_stop():
            raise OperationCancelled(f"dataset generation cancelled after {i} of {config.count} samples")
        clean, degraded, applied = _sample(config, i, fonts)
        name = f"{i:05d}.png"
        write_png(clean, out_dir / CLEAN_DIR / name)
        write_png(degraded, out_dir / DEGRADED_DIR / name)
        size_bytes += (out_dir / CLEAN_DIR / name).stat().st_size + (out_dir / DEGRADED_DIR / name).stat().st_size
        samples.append({"name": name, "degradations": applied})
        if progress is not None and (i % 10 == 9 or i == config.count - 1):
            progress((i + 1) / config.count, f"generated {i + 1}/{config.count} pages")
    w, h = config.dims()
    manifest = {
        "seed": config.seed,
        "count": config.count,
        "width": w,
        "height": h,
        "params": asdict(config),
        "fonts": [os.path.basename(s) if s else "pillow-default" for s in specs],
        "pillow": PIL.__version__,
        "samples": samples,
    }
    manifest_path = out_dir / "manifest.json"
    tmp = manifest_path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(manifest, indent=1))
    os.replace(tmp, manifest_path)
    size_bytes += manifest_path.stat().st_size
    log.info("generated %d pairs (%dx%d, seed %d) in %s", config.count, w, h, config.seed, out_dir)
    return {
        "count": config.count,
        "size_bytes": size_bytes,
        "width": w,
        "height": h,
        "seed": config.seed,
        "fonts": len(specs),
        "path": str(out_dir),
    }


def validate_dataset(dir: Path) -> dict[str, Any]:
    """Check a paired dataset: folders present, every image paired, readable and same-sized.

    Returns ``{"ok", "pairs", "problems"}`` where ``pairs`` counts usable pairs. Never raises for
    bad content; raises MLInputError only if ``dir`` does not exist.
    """
    pairs, problems = list_pairs(Path(dir))
    usable = 0
    for name, clean_path, degraded_path in pairs:
        try:
            clean, degraded = read_image(clean_path), read_image(degraded_path)
        except MLInputError as exc:
            problems.append(f"{name}: {exc}")
            continue
        if clean.shape[:2] != degraded.shape[:2]:
            problems.append(
                f"{name}: size mismatch, clean {clean.shape[1]}x{clean.shape[0]} vs "
                f"degraded {degraded.shape[1]}x{degraded.shape[0]}"
            )
            continue
        usable += 1
    if not pairs:
        problems.append("no image pairs found")
    return {"ok": not problems and usable > 0, "pairs": usable, "problems": problems}
