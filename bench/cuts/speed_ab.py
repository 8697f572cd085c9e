"""Interleaved speed check: bare decoding, the analysis, and the analysis with thumbnails, on the same files.

Usage: python bench/cuts/speed_ab.py [--repeats 3] VIDEO...

`run.py` times each method on a video before moving to the next method, so on a shared machine a burst of
other work lands on one method only. Here every repetition runs the three one after the other on the
same file and the best time per file is kept, so they meet the same load. Prints frames/s and the ratios
to bare decoding, per file and over all files, in wall time and in CPU time (all threads, of the same
best runs; less sensitive to other work on the machine than wall time).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

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
    total = {name: [0.0, 0.0] for name in runs}  # wall, CPU
    frames = 0
    for path in args.videos:
        best = {name: (float("inf"), 0.0) for name in runs}
        for _ in range(args.repeats):
            for name, fn in runs.items():
                t0, c0 = time.perf_counter(), time.process_time()
                fn(path)
                best[name] = min(best[name], (time.perf_counter() - t0, time.process_time() - c0))
        n = _decode(path)
        frames += n
        for name in runs:
            total[name][0] += best[name][0]
            total[name][1] += best[name][1]
        fps = n / best["decode"][0]
        print(f"{Path(path).name}: {n} frames, decode {fps:.0f} frames/s, {_ratios(best)}", flush=True)
    print(f"all: {frames} frames, decode {frames / total['decode'][0]:.0f} frames/s, {_ratios(total)} of bare decoding")


def _ratios(times: dict[str, Any]) -> str:
    """'analysis 0.84x (CPU 0.80x) ...': bare decoding's wall and CPU time over each method's."""
    (wall, cpu) = times["decode"]
    return "  ".join(f"{k} {wall / w:.2f}x (CPU {cpu / c:.2f}x)" for k, (w, c) in times.items() if k != "decode")


if __name__ == "__main__":
    main()
