"""Peak memory of restoring one large page, measured in a fresh subprocess (its own peak RSS, torch included).

python bench/restore/memory.py            # 12 MP and 60 MP gray pages (the job's limit is 60 MP)
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
BACKEND = HERE.parent.parent / "backend"
sys.path.insert(0, str(BACKEND))

from app.ml.images import read_image, write_png  # noqa: E402
from app.ml.synth import SynthConfig, generate_dataset  # noqa: E402

CHILD = """
import json, resource, sys, time, torch
sys.path.insert(0, sys.argv[1])
torch.set_num_threads(1)
from app.ml.infer import default_model_path, restore_image
t0 = time.perf_counter()
info = restore_image(default_model_path(), sys.argv[2], sys.argv[3], device="cpu", max_pixels=60_000_000)
print(json.dumps({"peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "seconds": time.perf_counter() - t0, "width": info["width"], "height": info["height"]}))
"""


def big_page(work: Path, megapixels: float) -> Path:
    """A gray page of about ``megapixels`` MP: one degraded 1024x768 synthetic page tiled (written once)."""
    path = work / f"page-{megapixels:g}mp.png"
    if path.exists():
        return path
    if not (work / "tile" / "degraded" / "00000.png").exists():
        generate_dataset(work / "tile", SynthConfig(count=1, seed=424_243, width=1024, height=768))
    tile = read_image(work / "tile" / "degraded" / "00000.png")
    w = int((megapixels * 1e6 * 4 / 3) ** 0.5)  # 4:3, just under the pixel count
    h = int(megapixels * 1e6 // w)
    reps = (-(-h // tile.shape[0]), -(-w // tile.shape[1]))
    write_png(np.tile(tile, reps)[:h, :w], path)
    return path


def peak_rss(page: Path, out: Path) -> dict[str, float]:
    """Run restore_image on ``page`` in a subprocess; its peak RSS (MB), seconds and size."""
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(BACKEND), str(page), str(out)], capture_output=True, text=True
    )
    if done.returncode:
        raise RuntimeError(f"restoring {page.name} failed: {done.stderr.strip()[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def lines(work: Path, sizes: tuple[float, ...] = (12, 60)) -> list[str]:
    out = []
    for mp in sizes:
        r = peak_rss(big_page(work, mp), work / "restored.png")
        out.append(
            f"Peak RSS, restore_image of a {r['width']}x{r['height']} gray page "
            f"({r['width'] * r['height'] / 1e6:.1f} MP, 1 thread, subprocess incl. torch): "
            f"{r['peak_rss_mb']:.0f} MB ({r['seconds']:.0f} s)"
        )
    return out


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        print("\n".join(lines(Path(tmp))))
