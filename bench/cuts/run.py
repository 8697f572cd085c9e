"""Shot-boundary benchmark: Skiplock's detector vs PySceneDetect on seeded synthetic videos.

Usage (from the repository root):
  python bench/cuts/run.py [--set main|heldout] [--quick] [--repeats N] [--no-readme]

Generates (and caches under bench/cuts/data/) the synthetic set, runs
  * skiplock  : app.video.analyze_video (full analysis: features, detection, clip proposals),
  * pysd-content / pysd-adaptive : PySceneDetect ContentDetector / AdaptiveDetector, default settings,
  * pyav-decode : bare threaded PyAV decoding of every frame (the physical floor),
prints a table and writes it into bench/cuts/README.md. ``--set heldout`` runs the held-out videos
(different seeds, cached under bench/cuts/data/heldout/) that are reported but never tuned on.
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "backend"))

import av  # noqa: E402
from generate import encode  # noqa: E402
from score import Item, Score, score  # noqa: E402
from synth import QUICK, SETS, Spec  # noqa: E402

DATA = HERE / "data"
MARKS = {
    "main": ("<!-- results:begin -->", "<!-- results:end -->"),
    "heldout": ("<!-- heldout:begin -->", "<!-- heldout:end -->"),
}


def data_dir(set_name: str) -> Path:
    """Cache folder of a video set (the main set keeps its historical location)."""
    return DATA if set_name == "main" else DATA / set_name


def ground_truth(name: str, folder: Path = DATA) -> tuple[list[Item], int]:
    gt = json.loads((folder / f"{name}.json").read_text())
    items: list[Item] = [("cut", t, t) for t in gt["cuts"]]
    items += [("gradual", s, e) for _, s, e in gt["gradual"]]
    return items, int(gt["frames"])


def run_skiplock(path: Path) -> list[Item]:
    from app.video import analyze_video

    res = analyze_video(path)
    return [("cut" if t.kind == "cut" else "gradual", t.start_frame, t.end_frame) for t in res.transitions]


def _pysd(path: Path, detector_name: str) -> list[Item]:
    from scenedetect import AdaptiveDetector, ContentDetector, SceneManager, open_video

    logging.getLogger("pyscenedetect").setLevel(logging.WARNING)
    video = open_video(str(path))
    manager = SceneManager()
    manager.add_detector(ContentDetector() if detector_name == "content" else AdaptiveDetector())
    manager.detect_scenes(video, show_progress=False)
    scenes = manager.get_scene_list()
    frames = [s.frame_num if hasattr(s, "frame_num") else s.get_frames() for s, _ in scenes[1:]]
    return [("cut", f, f) for f in frames]


def run_pysd_content(path: Path) -> list[Item]:
    return _pysd(path, "content")


def run_pysd_adaptive(path: Path) -> list[Item]:
    return _pysd(path, "adaptive")


def run_decode(path: Path) -> list[Item]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for _ in container.decode(stream):
            pass
    return []


METHODS: dict[str, Callable[[Path], list[Item]]] = {
    "skiplock": run_skiplock,
    "pysd-content": run_pysd_content,
    "pysd-adaptive": run_pysd_adaptive,
    "pyav-decode": run_decode,
}


def evaluate(
    specs: list[Spec], repeats: int, folder: Path = DATA
) -> tuple[dict[str, Score], dict[str, float], int, dict]:
    scores = {m: Score() for m in METHODS}
    seconds = {m: 0.0 for m in METHODS}
    per_video: dict[str, dict[str, float]] = {}
    total_frames = 0
    for spec in specs:
        name = spec.name
        path = encode(spec, folder)
        gt, frames = ground_truth(name, folder)
        total_frames += frames
        per_video[name] = {}
        for method, fn in METHODS.items():
            best = float("inf")
            for _ in range(repeats):
                t0 = time.perf_counter()
                det = fn(path)
                best = min(best, time.perf_counter() - t0)
            seconds[method] += best
            if method != "pyav-decode":
                s = score(gt, det)
                scores[method].add(s)
                per_video[name][method] = round(s.overall.prf()[2], 3)
        print(
            f"  {name}: {frames} frames  " + "  ".join(f"{m}={f}" for m, f in per_video[name].items()),
            flush=True,
        )
    return scores, seconds, total_frames, per_video


def table(scores: dict[str, Score], seconds: dict[str, float], frames: int) -> str:
    fps = {m: frames / s for m, s in seconds.items() if s > 0}
    lines = [
        "| method | overall P | overall R | overall F1 | cut F1 | gradual R | gradual F1 | label acc "
        "| frames/s | vs content | vs decode |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for m in METHODS:
        speed = f"{fps[m]:.0f}"
        rel = f"{fps[m] / fps['pysd-content']:.2f}x" if m != "pysd-content" else "1.00x"
        dec = f"{fps[m] / fps['pyav-decode']:.2f}x"
        if m == "pyav-decode":
            lines.append(f"| {m} | | | | | | | | {speed} | {rel} | {dec} |")
            continue
        s = scores[m]
        p, r, f = s.overall.prf()
        cf, (_, gr, gf) = s.cut.prf()[2], s.gradual.prf()
        gf_txt = f"{gf:.3f}" if m == "skiplock" else "n/a"
        quality = f"{p:.3f} | {r:.3f} | {f:.3f} | {cf:.3f} | {gr:.3f} | {gf_txt} | {s.label_acc:.2f}"
        lines.append(f"| {m} | {quality} | {speed} | {rel} | {dec} |")
    return "\n".join(lines)


def write_readme(text: str, set_name: str = "main") -> None:
    """Replace the text between the set's result markers in README.md (appended when missing)."""
    begin, end = MARKS[set_name]
    readme = HERE / "README.md"
    body = readme.read_text() if readme.exists() else ""
    if begin not in body:
        body += f"\n{begin}\n{end}\n"
    head, rest = body.split(begin, 1)
    tail = rest.split(end, 1)[1]
    readme.write_text(f"{head}{begin}\n{text}\n{end}{tail}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--set", dest="set_name", choices=sorted(SETS), default="main", help="video set")
    ap.add_argument("--quick", action="store_true", help="3 small videos instead of the full main set")
    ap.add_argument("--repeats", type=int, default=2, help="timing runs per method and video (best kept)")
    ap.add_argument("--no-readme", action="store_true", help="do not rewrite README.md")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("pyscenedetect").setLevel(logging.WARNING)
    specs = SETS[args.set_name]
    if args.quick:
        specs = [s for s in SETS["main"] if s.name in QUICK]
    folder = data_dir(args.set_name)
    names = [s.name for s in specs]
    print(f"videos: {len(names)} (cache: {folder.relative_to(ROOT)})", flush=True)
    scores, seconds, frames, _ = evaluate(specs, args.repeats, folder)
    tab = table(scores, seconds, frames)
    gt_counts = {"cut": 0, "gradual": 0}
    for n in names:
        for cls, _, _ in ground_truth(n, folder)[0]:
            gt_counts[cls] += 1
    cmd = "python bench/cuts/run.py" + (" --set heldout" if args.set_name == "heldout" else "")
    cmd += " --quick" if args.quick else ""
    cmd += f" --repeats {args.repeats}" if args.repeats != 1 else ""
    info = (
        f"Command: `{cmd}` — {len(names)} videos, {frames} frames, {gt_counts['cut']} cuts, "
        f"{gt_counts['gradual']} gradual transitions; PyAV {av.__version__}, "
        f"Python {platform.python_version()}, "
        f"{platform.machine()}, measured {time.strftime('%Y-%m-%d')}."
    )
    print(tab)
    print(info)
    if not args.no_readme:
        write_readme(f"{info}\n\n{tab}", args.set_name)


if __name__ == "__main__":
    main()
