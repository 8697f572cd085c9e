"""Precision/recall/F1 for shot-boundary detection.

Every boundary is an inclusive frame interval (a cut at frame t is [t, t]). A detection matches a
ground-truth boundary when the intervals overlap after widening both by ``tol`` frames (so cuts get a
+-tol tolerance and gradual transitions are matched by overlap). Matching is one-to-one, greedy by the
distance between interval centres. Per-class numbers use the same class-agnostic matching: recall of a
class counts its ground-truth items that were matched; precision of a class counts the detections
*labelled* with that class (PySceneDetect labels everything "cut") that were matched, and unmatched
detections count as false positives of their label. ``label_acc`` is the share of matched detections
whose label (cut vs gradual) agrees with the ground truth.

Two matchings are scored. *Span overlap* is the one above. *Representative frame* is stricter: a
detection's representative frame (a cut's frame, a gradual span's middle) must lie inside the
ground-truth interval widened by ``tol`` frames, so a span that runs long or swallows a neighbour
misses. False positives (span matching) that overlap a hard-negative span are counted per negative kind
(`negative_fps`); a detection lying in two kinds' spans counts for each.
"""

from __future__ import annotations

from dataclasses import dataclass, field

Item = tuple[str, int, int]  # (class "cut" | "gradual", start, end)


@dataclass
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    def add(self, other: Counts) -> None:
        self.tp, self.fp, self.fn = self.tp + other.tp, self.fp + other.fp, self.fn + other.fn

    def prf(self) -> tuple[float, float, float]:
        p = self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0
        r = self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0
        f = 2 * p * r / (p + r) if p + r else 0.0
        return p, r, f


@dataclass
class Score:
    overall: Counts = field(default_factory=Counts)
    cut: Counts = field(default_factory=Counts)
    gradual: Counts = field(default_factory=Counts)
    label_ok: int = 0
    rep: Counts = field(default_factory=Counts)
    negative_fps: dict[str, int] = field(default_factory=dict)
    tags: dict[str, list[int]] = field(default_factory=dict)  # tag -> [found, total]
    confidences: list[tuple[float, bool]] = field(default_factory=list)  # (score, true positive)
    fp_in_negatives: int = 0  # false positives overlapping any hard-negative span

    def add(self, other: Score) -> None:
        self.overall.add(other.overall)
        self.cut.add(other.cut)
        self.gradual.add(other.gradual)
        self.label_ok += other.label_ok
        self.rep.add(other.rep)
        for kind, count in other.negative_fps.items():
            self.negative_fps[kind] = self.negative_fps.get(kind, 0) + count
        for tag, (found, total) in other.tags.items():
            mine = self.tags.setdefault(tag, [0, 0])
            mine[0], mine[1] = mine[0] + found, mine[1] + total
        self.confidences += other.confidences
        self.fp_in_negatives += other.fp_in_negatives

    @property
    def label_acc(self) -> float:
        return self.label_ok / self.overall.tp if self.overall.tp else 1.0

    @property
    def negative_fp_total(self) -> int:
        return sum(self.negative_fps.values())


def roc_auc(confidences: list[tuple[float, bool]]) -> float | None:
    """Probability that a random true detection scores above a random false one (ties count half)."""
    pos = [c for c, ok in confidences if ok]
    neg = [c for c, ok in confidences if not ok]
    if not pos or not neg:
        return None
    wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


def match(gt: list[Item], det: list[Item], tol: int = 2, rep: bool = False) -> list[tuple[int, int]]:
    """One-to-one matches (gt index, det index), closest centres first: by widened-interval overlap, or
    (``rep``) by the detection's representative frame lying in the widened ground-truth interval."""
    pairs = []
    for i, (_, gs, ge) in enumerate(gt):
        for j, (_, ds, de) in enumerate(det):
            r = (ds + de) // 2
            hit = gs - tol <= r <= ge + tol if rep else ds - tol <= ge + tol and gs - tol <= de + tol
            if hit:
                pairs.append((abs((gs + ge) - (ds + de)) / 2, i, j))
    used_g, used_d, out = set(), set(), []
    for _, i, j in sorted(pairs):
        if i not in used_g and j not in used_d:
            used_g.add(i)
            used_d.add(j)
            out.append((i, j))
    return out


def score(
    gt: list[Item],
    det: list[Item],
    tol: int = 2,
    negatives: list[Item] | None = None,
    tags: list[Item] | None = None,
    confidences: list[float] | None = None,
) -> Score:
    """Score detections `det` against `gt`; `negatives`/`tags` are (kind, start, end) spans of hard
    negatives and of tagged ground truth; `confidences` are the detections' scores (for ROC AUC)."""
    m = match(gt, det, tol)
    s = Score()
    rep = match(gt, det, tol, rep=True)
    s.rep = Counts(len(rep), len(det) - len(rep), len(gt) - len(rep))
    s.overall = Counts(len(m), len(det) - len(m), len(gt) - len(m))
    matched_d = {j: i for i, j in m}
    matched_g = {i for i, _ in m}
    for cls, counts in (("cut", s.cut), ("gradual", s.gradual)):
        counts.fn = sum(1 for i, g in enumerate(gt) if g[0] == cls and i not in matched_g)
        counts.tp = sum(1 for i, g in enumerate(gt) if g[0] == cls and i in matched_g)
        counts.fp = sum(1 for j, d in enumerate(det) if d[0] == cls and j not in matched_d)
    s.label_ok = sum(1 for i, j in m if gt[i][0] == det[j][0])
    for j, (_, ds, de) in enumerate(det):
        if j in matched_d:
            continue
        kinds = {k for k, ns, ne in negatives or [] if ds - tol <= ne and ns <= de + tol}
        s.fp_in_negatives += bool(kinds)
        for kind in kinds:
            s.negative_fps[kind] = s.negative_fps.get(kind, 0) + 1
    for tag, ts, te in tags or []:
        found = any(i in matched_g for i, g in enumerate(gt) if g[1] <= te and ts <= g[2])
        entry = s.tags.setdefault(tag, [0, 0])
        entry[0], entry[1] = entry[0] + int(found), entry[1] + 1
    if confidences is not None:
        s.confidences = [(c, j in matched_d) for j, c in enumerate(confidences)]
    return s
