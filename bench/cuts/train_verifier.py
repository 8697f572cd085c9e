"""Fit the dissolve verifier (`app.video.verifier`) on labelled synthetic videos.

Usage: python bench/cuts/train_verifier.py [--set train --set hard ...] [--write]

Every candidate the verifier judges (`dissolve.dissolve_candidates`, in the same context as
`detect.detect_transitions`: fades block, detected cuts stop the sides) is labelled 1 when it overlaps
a ground-truth gradual transition (both widened by 2 frames, as `score.py` matches) and 0 when it
overlaps no boundary; one that overlaps only a cut is left out. A logistic regression (L2, Newton's
method, numpy) is fitted on the standardised inputs, each weight held to the sign its input should have
(`SIGNS`), with a grey copy of every candidate (`with_grey_copies`). The script prints a
leave-one-set-out check (fitted on the other sets, judged on the one left out with the thresholds of
`dissolve`, against the rules alone) and, with ``--write``, pastes the weights fitted on all the named
sets into ``backend/app/video/verifier.py``. Needs the sets' cached features (`replay.py` makes them).
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


def candidates(set_name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(features, labels, whether the rules pass it) of the candidates the verifier judges in one set."""
    from app.video import detect
    from app.video.dissolve import dissolve_candidates

    xs, ys, rules = [], [], []
    folder = data_dir(set_name)
    for spec in ALL_SETS[set_name]:
        f, fps = features(spec, folder)
        n = f.n
        _, _, blocked, cut_at = detect.cuts_and_fades(f, fps)
        gt, _ = ground_truth(spec.name, folder)
        for c in dissolve_candidates(f, fps, blocked, cut_at):
            if c.start <= 1 or c.end >= n - 2:
                continue
            hits = {cls for cls, s, e in gt if s - 2 <= c.end + 2 and c.start - 2 <= e + 2}
            if hits == {"cut"}:
                continue
            xs.append(c.features)
            ys.append(1.0 if "gradual" in hits else 0.0)
            rules.append(c.rules_pass)
    return np.array(xs), np.array(ys), np.array(rules, bool)


# The sign each input's weight must have: +1 where more of it means a dissolve is more likely (more
# votes, more change across the span than within its sides, a larger colour change), -1 where less does
# (the energy dip and the blend residual are small in a dissolve), 0 where either may hold. A weight
# fitted against its sign is a quirk of the training videos (inputs that move together): the input is
# dropped and the rest refitted, so that footage unlike the training set is judged by evidence that
# points the right way.
SIGNS = {
    "log_strong_votes": 1,
    "log_votes": 1,
    "log_hist_across_over_calmer_side": 1,
    "log_hist_across_over_busier_side": 1,
    "margin": 1,
    "log_dip_votes": 1,
    "log_seconds": 0,
    "energy_dip": -1,
    "vote_confidence": 1,
    "values_across": 1,
    "layout_across": 1,
    "log_blend_residual": -1,
    "log_colour_across": 1,
    "log_colour_across_over_calmer_side": 1,
    "log_colour_across_over_busier_side": 1,
    "colour_spread_change": 1,
}


COLOUR = (
    "log_colour_across",
    "log_colour_across_over_calmer_side",
    "log_colour_across_over_busier_side",
    "colour_spread_change",
)


def with_grey_copies(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """x and y, and after them every candidate again as a grey video would give it (no colour change:
    the colour inputs as `dissolve` computes them without chroma). The synthetic shots differ in colour
    far more often than real ones do; without these copies a dissolve between two shots of one palette
    is judged by the colour it lacks."""
    from app.video.verifier import FEATURES

    grey = x.copy()
    grey[:, [FEATURES.index(name) for name in COLOUR]] = 0.0
    return np.vstack([x, grey]), np.concatenate([y, y])


def _logistic(z: np.ndarray, y: np.ndarray, reg: np.ndarray) -> np.ndarray:
    """Weights (the last one the bias) of an L2-regularised logistic regression, by Newton's method."""
    w = np.zeros(z.shape[1])
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-np.clip(z @ w, -50, 50)))
        grad = z.T @ (p - y) + reg * w
        hess = (z * (p * (1 - p))[:, None]).T @ z + np.diag(reg) + 1e-9 * np.eye(z.shape[1])
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w


def fit(x: np.ndarray, y: np.ndarray, l2: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """(mean, scale, weights, bias) of an L2-regularised logistic regression on standardised x, every
    weight with its input's sign (`SIGNS`; an input whose weight comes out against it is dropped)."""
    from app.video.verifier import FEATURES

    signs = np.array([SIGNS[name] for name in FEATURES])
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-9
    z = np.hstack([(x - mean) / scale, np.ones((x.shape[0], 1))])
    used = np.ones(x.shape[1], bool)
    while True:
        cols = np.append(np.flatnonzero(used), x.shape[1])
        reg = np.full(cols.size, l2)
        reg[-1] = 0.0  # the bias is not shrunk
        w_used = _logistic(z[:, cols], y, reg)
        w = np.zeros(x.shape[1] + 1)
        w[cols] = w_used
        wrong = used & (signs * w[:-1] < 0)
        if not wrong.any():
            return mean, scale, w[:-1], float(w[-1])
        used[np.argmin(np.where(wrong, signs * w[:-1], np.inf))] = False  # the worst offender first


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
    from app.video.dissolve import VERIFIER_MIN, VERIFIER_WITH_RULES
    from app.video.verifier import FEATURES

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--set", dest="sets", action="append", choices=sorted(ALL_SETS))
    ap.add_argument("--l2", type=float, default=1.0, help="L2 penalty on the standardised weights")
    ap.add_argument("--grey", action=argparse.BooleanOptionalAction, default=True, help="add grey copies")
    ap.add_argument("--write", action="store_true", help="paste the weights into app/video/verifier.py")
    args = ap.parse_args()
    sets = args.sets or DEFAULT_SETS
    data = {s: candidates(s) for s in sets}
    print(f"{'left out':14s} {'candidates':>10s} {'true':>5s} | rules: kept true/false | verifier: kept true/false")
    total = np.zeros(4, int)
    for held in sets:
        x, y, rules = data[held][0], data[held][1].astype(bool), data[held][2]
        if not len(x):
            continue
        xs = np.vstack([data[s][0] for s in sets if s != held and len(data[s][0])])
        ys = np.concatenate([data[s][1] for s in sets if s != held and len(data[s][1])])
        if args.grey:
            xs, ys = with_grey_copies(xs, ys)
        keep = predict(fit(xs, ys, args.l2), x) >= np.where(rules, VERIFIER_WITH_RULES, VERIFIER_MIN)
        row = np.array([(rules & y).sum(), (rules & ~y).sum(), (keep & y).sum(), (keep & ~y).sum()])
        total += row
        print(f"{held:14s} {len(x):10d} {int(y.sum()):5d} | {row[0]:3d} / {row[1]:3d} | {row[2]:3d} / {row[3]:3d}")
    print(f"{'all':14s} {'':10s} {'':5s} | {total[0]:3d} / {total[1]:3d} | {total[2]:3d} / {total[3]:3d}")
    x = np.vstack([data[s][0] for s in sets if len(data[s][0])])
    y = np.concatenate([data[s][1] for s in sets if len(data[s][1])])
    count = len(y)
    if args.grey:
        x, y = with_grey_copies(x, y)
    model = fit(x, y, args.l2)
    for name, w in sorted(zip(FEATURES, model[2], strict=True), key=lambda t: -abs(t[1])):
        print(f"  {name:36s} {w:+.3f}")
    if args.write:
        write(model, sets, count)
        print(f"wrote {VERIFIER.relative_to(HERE.parent.parent)}")


if __name__ == "__main__":
    main()
