"""Light changing on real footage: how many transitions the analysis reports where there is none.

Usage: python bench/cuts/lighting.py [--clips 3] [--seed 7]

Takes the first 150 frames of each real source clip (`data/real-sources/`, see README "Real footage"),
and makes `--clips` versions of each: the light dimmed to 35-60 % (two of three) or raised to 130-160 %
(one of three) over 20-40 frames at a random moment, as a cloud passing or a lamp switched on a dimmer
does; H.264 at 25 fps, encoded as the benchmark's videos are (`generate.add_video_stream`). Each is
analysed, and every transition reported outside the source's own cuts is counted as false (the sources'
cuts are found by analysing the clip as it is).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import av
import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent / "backend"))

from app.video import analyze_video  # noqa: E402
from generate import add_video_stream  # noqa: E402

SOURCES = HERE / "data" / "real-sources"
CLIPS = ["bikes.mp4", "carphone_pristine.mp4", "vtest.avi", "tree.avi", "bigbuckbunny.mp4", "box.mp4", "cup.mp4"]
FRAMES = 150


def _write(path: Path, frames: list[np.ndarray], gains: np.ndarray) -> Path:
    h, w = frames[0].shape[0] // 2 * 2, frames[0].shape[1] // 2 * 2
    with av.open(str(path), "w") as out:
        stream = add_video_stream(out, "libx264", 25, w, h)
        for rgb, gain in zip(frames, gains, strict=True):
            img = np.clip(rgb[:h, :w].astype(np.float32) * gain, 0, 255).astype(np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


def _transitions(path: Path) -> list[tuple[str, int, int]]:
    return [(t.kind, t.start_frame, t.end_frame) for t in analyze_video(path).transitions]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", type=int, default=3, help="versions of each source")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    false = versions = 0
    with tempfile.TemporaryDirectory() as tmp:
        for name in CLIPS:
            with av.open(str(SOURCES / name)) as c:
                frames = [f.to_ndarray(format="rgb24") for _, f in zip(range(FRAMES), c.decode(video=0), strict=False)]
            n = len(frames)
            own = _transitions(_write(Path(tmp) / "own.mp4", frames, np.ones(n)))
            for k in range(args.clips):
                start, length = int(rng.integers(10, max(11, n // 3))), int(rng.integers(20, 40))
                gain = rng.uniform(0.35, 0.6) if k % 3 < 2 else rng.uniform(1.3, 1.6)
                ramp = np.concatenate([np.ones(start), np.linspace(1.0, gain, length), np.full(n, gain)])[:n]
                found = _transitions(_write(Path(tmp) / f"{k}.mp4", frames, ramp))
                extra = [t for t in found if t not in own]
                false += len(extra)
                versions += 1
                print(f"{name:24s} light x{gain:.2f} over frames {start}-{start + length - 1}: {extra or 'nothing'}")
    print(f"false transitions: {false} in {versions} clips")


if __name__ == "__main__":
    main()
