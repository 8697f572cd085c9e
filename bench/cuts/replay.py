"""Score the detector on cached per-frame features: a change to detection is judged in seconds, not minutes.

Usage: python bench/cuts/replay.py --set hard [--set main ...] [--errors]

The first run decodes each video of the sets once and pickles its `FrameFeatures` under
``data/<set>/features/`` (delete them after changing feature extraction); later runs only rerun
`detect_transitions` and score it like `run.py` (quality only, no timing). ``--errors`` lists every miss
and false positive as `errors.py` does.
"""

from __future__ import annotations

import argparse
import pickle
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent.parent / "backend"))

from generate import encode  # noqa: E402
from real import Montage, build  # noqa: E402
from run import ALL_SETS, REAL_SOURCES, annotations, data_dir, ground_truth  # noqa: E402
from score import Score, match, roc_auc, score  # noqa: E402


def features(spec, folder: Path):  # type: ignore[no-untyped-def]
    from app.video.analyze import _decode_features, _timing
    from app.video.models import AnalysisOptions

    cache = folder / "features" / f"{spec.name}.pkl"
    if cache.exists():
        return pickle.loads(cache.read_bytes())
    path = build(spec, folder, REAL_SOURCES) if isinstance(spec, Montage) else encode(spec, folder)
    f, meta = _decode_features(path, AnalysisOptions(), None, None)
    fps, _ = _timing(f, float(meta["fps"]))
    cache.parent.mkdir(exist_ok=True)
    cache.write_bytes(pickle.dumps((f, fps)))
    return f, fps


def main() -> None:
    from app.video.detect import detect_transitions

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--set", dest="sets", action="append", choices=sorted(ALL_SETS))
    ap.add_argument("--errors", action="store_true")
    args = ap.parse_args()
    for set_name in args.sets or ["hard"]:
        folder = data_dir(set_name)
        total = Score()
        for spec in ALL_SETS[set_name]:
            f, fps = features(spec, folder)
            trs = detect_transitions(f, fps)
            det = [("cut" if t.kind == "cut" else "gradual", t.start_frame, t.end_frame) for t in trs]
            conf = [t.score for t in trs]
            gt, _ = ground_truth(spec.name, folder)
            negatives, tags = annotations(spec.name, folder)
            total.add(score(gt, det, negatives=negatives, tags=tags, confidences=conf))
            if args.errors:
                m = match(gt, det)
                hit_g, hit_d = {i for i, _ in m}, {j for _, j in m}
                for i, (cls, s, e) in enumerate(gt):
                    if i not in hit_g:
                        near = sorted({t for t, a, b in tags + negatives if a <= e + 2 and s - 2 <= b})
                        print(f"  {spec.name}: miss {cls} {s}-{e} {near}")
                for j, (cls, s, e) in enumerate(det):
                    if j not in hit_d:
                        inside = sorted({k for k, a, b in negatives if s - 2 <= b and a <= e + 2})
                        print(f"  {spec.name}: FP   {cls} {s}-{e} conf={conf[j]} {inside}")
        p, r, f1 = total.overall.prf()
        auc = roc_auc(total.confidences)
        print(
            f"{set_name}: P {p:.3f} R {r:.3f} F1 {f1:.3f} rep-F1 {total.rep.prf()[2]:.3f} "
            f"cutR {total.cut.prf()[1]:.3f} gradR {total.gradual.prf()[1]:.3f} "
            f"FPneg {total.fp_in_negatives} {dict(sorted(total.negative_fps.items()))} "
            f"tags {dict(sorted(total.tags.items()))} AUC {auc if auc is None else round(auc, 3)}",
            flush=True,
        )


if __name__ == "__main__":
    main()
