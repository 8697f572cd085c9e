"""Interleaved speed check: bare decoding, the analysis, and the analysis with thumbnails, on the same files.

Usage: python bench/cuts/speed_ab.py [--repeats 3] VIDEO...

`run.py` times each method on a video before moving to the next method, so on a shared machine a burst of
other work lands on one method only. Here every repetition runs the three one after the other on the
same file and the best time per file is kept, so they meet the same load. Prints frames/s and the ratios
to bare decoding, per file and over all files.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent / "backend"))

import av  # noqa: E402


def _decode(path: str) -> int:
    with av.open(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        return sum(1 for _ in container.decode(stream))


def main() -> None:
    from app.video import AnalysisOptions, analyze_video

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("videos", nargs="+")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    runs = {
        "decode": _decode,
        "analysis": lambda p: analyze_video(p),
        "with thumbnails": lambda p: analyze_video(p, AnalysisOptions(thumbnails=True)),
    }
    total = dict.fromkeys(runs, 0.0)
    frames = 0
    for path in args.videos:
        best = dict.fromkeys(runs, float("inf"))
        for _ in range(args.repeats):
            for name, fn in runs.items():
                t0 = time.perf_counter()
                fn(path)
                best[name] = min(best[name], time.perf_counter() - t0)
        n = _decode(path)
        frames += n
        for name in runs:
            total[name] += best[name]
        ratios = "  ".join(f"{k} {best['decode'] / v:.2f}x" for k, v in best.items() if k != "decode")
        print(f"{Path(path).name}: {n} frames, decode {n / best['decode']:.0f} frames/s, {ratios}", flush=True)
    ratios = "  ".join(f"{k} {total['decode'] / v:.2f}x" for k, v in total.items() if k != "decode")
    print(f"all: {frames} frames, decode {frames / total['decode']:.0f} frames/s, {ratios} of bare decoding")


if __name__ == "__main__":
    main()
