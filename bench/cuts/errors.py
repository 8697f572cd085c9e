"""List one method's errors on a set, video by video, from the detections `run.py` saved last.

Usage: python bench/cuts/errors.py [--set hard] [--method skiplock]

Prints every missed ground-truth boundary (with the tags it carries) and every false positive (with the
hard-negative spans it lies in and its confidence), so a change to the detector can be judged by what it
gets wrong rather than by a total.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from run import ALL_SETS, annotations, data_dir, ground_truth  # noqa: E402
from score import match  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--set", dest="set_name", choices=sorted(ALL_SETS), default="hard")
    ap.add_argument("--method", default="skiplock")
    args = ap.parse_args()
    folder = data_dir(args.set_name)
    for spec in ALL_SETS[args.set_name]:
        saved = folder / "detections" / f"{spec.name}.{args.method}.json"
        if not saved.exists():
            continue
        data = json.loads(saved.read_text())
        det = [tuple(d) for d in data["det"]]
        conf = data["conf"] or [None] * len(det)
        gt, _ = ground_truth(spec.name, folder)
        negatives, tags = annotations(spec.name, folder)
        m = match(gt, det)
        hit_g, hit_d = {i for i, _ in m}, {j for _, j in m}
        lines = []
        for i, (cls, s, e) in enumerate(gt):
            if i not in hit_g:
                near = [t for t, a, b in tags + negatives if a <= e + 2 and s - 2 <= b]
                lines.append(f"    miss {cls} {s}-{e} {near}")
        for j, (cls, s, e) in enumerate(det):
            if j not in hit_d:
                inside = sorted({k for k, a, b in negatives if s - 2 <= b and a <= e + 2})
                lines.append(f"    FP   {cls} {s}-{e} conf={conf[j]} {inside}")
        for i, j in m:
            if (gt[i][1], gt[i][2]) != (det[j][1], det[j][2]) and gt[i][0] == "gradual":
                lines.append(f"    span {gt[i][1]}-{gt[i][2]} found as {det[j][0]} {det[j][1]}-{det[j][2]}")
        print(f"{spec.name}: {len(gt)} boundaries, {len(det)} detections")
        print("\n".join(lines))


if __name__ == "__main__":
    main()
