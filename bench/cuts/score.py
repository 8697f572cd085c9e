"""Precision/recall/F1 for shot-boundary detection.

Every boundary is an inclusive frame interval (a cut at frame t is [t, t]). A detection matches a
ground-truth boundary when the intervals overlap after widening both by ``tol`` frames (so cuts get a
+-tol tolerance and gradual transitions are matched by overlap). Matching is one-to-one, greedy by the
distance between interval centres. Per-class numbers use the same class-agnostic matching: recall of a
class counts its ground-truth items that were matched; precision of a class counts the detections
*labelled* with that class (PySceneDetect labels everything "cut") that were matched, and unmatched
detections count as false positives of their label. ``label_acc`` is the share of matched detections
whose label (cut vs gradual) agrees with the ground truth.
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

    def add(self, other: Score) -> None:
        self.overall.add(other.overall)
        self.cut.add(other.cut)
        self.gradual.add(other.gradual)
        self.label_ok += other.label_ok

    @property
    def label_acc(self) -> float:
        return self.label_ok / self.overall.tp if self.overall.tp else 1.0


def match(gt: list[Item], det: list[Item], tol: int = 2) -> list[tuple[int, int]]:
    """One-to-one matches (gt index, det index) by widened-interval overlap, closest centres first."""
    pairs = []
    for i, (_, gs, ge) in enumerate(gt):
        for j, (_, ds, de) in enumerate(det):
            if ds - tol <= ge + tol and gs - tol <= de + tol:
                pairs.append((abs((gs + ge) - (ds + de)) / 2, i, j))
    used_g, used_d, out = set(), set(), []
    for _, i, j in sorted(pairs):
        if i not in used_g and j not in used_d:
            used_g.add(i)
            used_d.add(j)
            out.append((i, j))
    return out


def score(gt: list[Item], det: list[Item], tol: int = 2) -> Score:
    m = match(gt, det, tol)
    s = Score()
    s.overall = Counts(len(m), len(det) - len(m), len(gt) - len(m))
    matched_d = {j: i for i, j in m}
    matched_g = {i for i, _ in m}
    for cls, counts in (("cut", s.cut), ("gradual", s.gradual)):
        counts.fn = sum(1 for i, g in enumerate(gt) if g[0] == cls and i not in matched_g)
        counts.tp = sum(1 for i, g in enumerate(gt) if g[0] == cls and i in matched_g)
        counts.fp = sum(1 for j, d in enumerate(det) if d[0] == cls and j not in matched_d)
    s.label_ok = sum(1 for i, j in m if gt[i][0] == det[j][0])
    return s
