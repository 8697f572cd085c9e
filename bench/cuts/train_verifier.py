"""Fit the dissolve verifier (`app.video.verifier`) on labelled synthetic videos.

Usage: python bench/cuts/train_verifier.py [--set train --set hard ...] [--write]

Every candidate the dissolve rules pass (`dissolve.dissolve_candidates` with a positive two-shots margin
and a score over MIN_SCORE, in the same context as `detect.detect_transitions`: fades block, detected
cuts stop the sides) is labelled 1 when it overlaps a ground-truth gradual transition (both widened by
2 frames, as `score.py` matches) and 0 when it overlaps no boundary; one that overlaps only a cut is
left out. An L2-regularised logistic regression (Newton's method, numpy) is fitted on the standardised
features. The script prints a leave-one-set-out check (fitted on the other sets, judged on the one left
out: true and false dissolves kept, against the rules alone) and, with ``--write``, pastes the weights
fitted on all the named sets into ``backend/app/video/verifier.py``. Needs the sets' cached features
(`replay.py` makes them).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent.parent / "backend"))

from replay import features  # noqa: E402
from run import ALL_SETS, data_dir, ground_truth  # noqa: E402

DEFAULT_SETS = ["train", "hard", "hard-more", "hard-fresh2", "hard-fresh3"]
VERIFIER = HERE.parent.parent / "backend" / "app" / "video" / "verifier.py"


GATED = True


def candidates(set_name: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(features, labels, video names) of the candidates the rules pass in one set."""
    from app.video import detect
    from app.video.dissolve import MIN_SCORE, dissolve_candidates

    xs, ys, names = [], [], []
    folder = data_dir(set_name)
    for spec in ALL_SETS[set_name]:
        f, fps = features(spec, folder)
        n = f.n
        _, _, blocked, cut_at = detect.cuts_and_fades(f, fps)
        gt, _ = ground_truth(spec.name, folder)
        for c in dissolve_candidates(f, fps, blocked, cut_at):
            gate = c.margin <= 0 or 0.5 * c.conf + 0.5 * c.margin < MIN_SCORE
            if (GATED and gate) or c.start <= 1 or c.end >= n - 2:
                continue
            hits = {cls for cls, s, e in gt if s - 2 <= c.end + 2 and c.start - 2 <= e + 2}
            if hits == {"cut"}:
                continue
            xs.append(c.features)
            ys.append(1.0 if "gradual" in hits else 0.0)
            names.append(spec.name)
    return np.array(xs), np.array(ys), names


def fit(x: np.ndarray, y: np.ndarray, l2: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """(mean, scale, weights, bias) of an L2-regularised logistic regression on standardised x."""
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-9
    z = np.hstack([(x - mean) / scale, np.ones((x.shape[0], 1))])
    w = np.zeros(z.shape[1])
    reg = np.full(z.shape[1], l2)
    reg[-1] = 0.0  # the bias is not shrunk
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-np.clip(z @ w, -50, 50)))
        grad = z.T @ (p - y) + reg * w
        hess = (z * (p * (1 - p))[:, None]).T @ z + np.diag(reg) + 1e-9 * np.eye(z.shape[1])
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return mean, scale, w[:-1], float(w[-1])


def predict(model: tuple[np.ndarray, np.ndarray, np.ndarray, float], x: np.ndarray) -> np.ndarray:
    mean, scale, w, b = model
    return 1.0 / (1.0 + np.exp(-np.clip(((x - mean) / scale) @ w + b, -50, 50)))


def write(model: tuple[np.ndarray, np.ndarray, np.ndarray, float], sets: list[str], count: int) -> None:
    """Paste the fitted block (between its first comment and ``# end of the fitted block``) into verifier.py."""
    from app.video.verifier import FEATURES

    mean, scale, w, b = model
    rows = "\n".join(f'    "{name}": ({mean[i]:.6g}, {scale[i]:.6g}, {w[i]:.6g}),' for i, name in enumerate(FEATURES))
    block = (
        f"# input: (mean, spread, weight); fitted by bench/cuts/train_verifier.py on {count} candidates of the sets\n"
        f"# {', '.join(sets)}\n"
        f"FITTED: dict[str, tuple[float, float, float]] = {{\n{rows}\n}}\nBIAS = {b:.6g}\n# end of the fitted block\n"
    )
    text = VERIFIER.read_text()
    start, end = text.index("# input: (mean, spread, weight)"), text.index("# end of the fitted block\n")
    VERIFIER.write_text(text[:start] + block + text[end + len("# end of the fitted block\n") :])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--set", dest="sets", action="append", choices=sorted(ALL_SETS))
    ap.add_argument("--l2", type=float, default=1.0, help="L2 penalty on the standardised weights")
    ap.add_argument("--threshold", type=float, default=0.5)
    ap.add_argument("--write", action="store_true", help="paste the weights into app/video/verifier.py")
    ap.add_argument("--ungated", action="store_true")
    args = ap.parse_args()
    global GATED
    GATED = not args.ungated
    sets = args.sets or DEFAULT_SETS
    data = {s: candidates(s) for s in sets}
    print(f"{'left out':14s} {'candidates':>10s} {'true':>5s} | rules: kept true/false | verifier: kept true/false")
    total = np.zeros(4, int)
    for held in sets:
        xs = np.vstack([data[s][0] for s in sets if s != held and len(data[s][0])])
        ys = np.concatenate([data[s][1] for s in sets if s != held and len(data[s][1])])
        x, y = data[held][0], data[held][1].astype(bool)
        if not len(x):
            continue
        keep = predict(fit(xs, ys, args.l2), x) >= args.threshold
        row = np.array([y.sum(), (~y).sum(), (keep & y).sum(), (keep & ~y).sum()])
        total += row
        print(f"{held:14s} {len(x):10d} {int(y.sum()):5d} | {row[0]:3d} / {row[1]:3d} | {row[2]:3d} / {row[3]:3d}")
    print(f"{'all':14s} {'':10s} {'':5s} | {total[0]:3d} / {total[1]:3d} | {total[2]:3d} / {total[3]:3d}")
    x = np.vstack([data[s][0] for s in sets if len(data[s][0])])
    y = np.concatenate([data[s][1] for s in sets if len(data[s][1])])
    model = fit(x, y, args.l2)
    from app.video.verifier import FEATURES

    for name, w in sorted(zip(FEATURES, model[2], strict=True), key=lambda t: -abs(t[1])):
        print(f"  {name:36s} {w:+.3f}")
    if args.write:
        write(model, sets, len(y))
        print(f"wrote {VERIFIER.relative_to(HERE.parent.parent)}")


if __name__ == "__main__":
    main()
