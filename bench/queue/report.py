"""What a queue benchmark run found, and how it is shown: the results model, the Markdown tables with
Skiplock's ratios against every peer, the targets, the PNG charts and the README's results section."""

from __future__ import annotations

import re
import statistics
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PEERS = ["pgqueuer", "procrastinate", "oban", "floor"]  # Skiplock's ratios are taken against these
RESULTS_START = "<!-- results: written by run.py -->"
RESULTS_END = "<!-- end of results -->"
CHART_PROCESSES = "chart-processes.png"
CHART_MAIN = "chart-main.png"


def label(opts: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in opts.items())


@dataclass
class Trial:
    procs: int
    opts: dict[str, Any]
    jobs: int
    seconds: float
    problems: list[str]
    reference: bool = False  # a reference setting (see run.grids), not a candidate for the best
    scaling: bool = False  # one of the many-process rounds
    steady: float = 0.0  # jobs/s from the moment the last process ran its first job to the end

    @property
    def rate(self) -> float:
        return self.jobs / self.seconds if self.seconds else 0.0


@dataclass
class SystemResult:
    name: str
    version: str = ""
    enqueue_batch: float = 0.0
    enqueue_one: float = 0.0
    trials: list[Trial] = field(default_factory=list)
    latency: dict[str, float] = field(default_factory=dict)
    latency_opts: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    scale_jobs: int = 0  # jobs per many-process run, when not the full count (a slow peer)

    def candidates(self) -> list[Trial]:
        return [t for t in self.trials if not t.problems and not t.reference]

    def best(self, procs: int, full_jobs: int, where: Callable[[Trial], bool] = lambda t: True) -> Trial | None:
        ok = [t for t in self.candidates() if t.procs == procs and t.jobs == full_jobs and where(t)]
        return max(ok, key=lambda t: t.rate, default=None)

    def scaling(self, full_jobs: int) -> list[tuple[int, float]]:
        """(processes, median jobs/s) of the many-process rounds; without a one-process round, the one-process
        run at the setting they all used stands for it."""
        full_jobs = self.scale_jobs or full_jobs
        runs = [t for t in self.candidates() if t.scaling and t.jobs == full_jobs]
        if not runs:
            return []
        rates: dict[int, list[float]] = defaultdict(list)
        for t in runs:
            rates[t.procs].append(t.rate)
        if 1 not in rates:
            one = self.best(1, full_jobs, lambda t: t.opts == runs[0].opts) or self.best(1, full_jobs)
            if one:
                rates[1].append(one.rate)
        return [(p, statistics.median(v)) for p, v in sorted(rates.items())]


# -- tables -----------------------------------------------------------------------------------------------
def fmt_rate(v: float | None) -> str:
    return "—" if not v else f"{v:,.0f}"


def fmt_ms(v: float | None) -> str:
    return "—" if v is None else f"{v:.2f}"


def fmt_ratio(a: float | None, b: float | None, inverse: bool = False) -> str:
    if not isinstance(a, (int, float)) or not isinstance(b, (int, float)) or not a or not b:
        return "—"
    return f"{(b / a if inverse else a / b):.2f}×"


def main_table(results: dict[str, SystemResult], n: int, processes: list[int]) -> list[str]:
    cols = list(results)
    ratio_to = [s for s in PEERS if s in results]

    def row(
        title: str, get: Callable[[SystemResult], Any], fmt: Callable[[Any], str], lower: bool = False, vs: bool = True
    ) -> str:
        vals = {s: get(results[s]) for s in cols}
        ratios = [fmt_ratio(vals.get("skiplock"), vals[s], inverse=lower) if vs else "—" for s in ratio_to]
        return "| " + " | ".join([title, *(fmt(vals[s]) for s in cols), *ratios]) + " |"

    def drain(procs: int) -> Callable[[SystemResult], float | None]:
        return lambda r: dict(r.scaling(n)).get(procs) if procs > 1 else (b.rate if (b := r.best(1, n)) else None)

    def lat(q: str) -> Callable[[SystemResult], float | None]:
        return lambda r: r.latency.get(q)

    def eight_over_one(r: SystemResult) -> float | None:
        pts = dict(r.scaling(n))
        return pts[max(pts)] / pts[1] if pts.get(1) and len(pts) > 1 else None

    head = "| metric | " + " | ".join(cols) + " | " + " | ".join(f"Skiplock vs {s}" for s in ratio_to) + " |"
    lines = [
        head,
        "|" + "---|" * (1 + len(cols) + len(ratio_to)),
        row("enqueue, batches of 1000 (jobs/s)", lambda r: r.enqueue_batch, fmt_rate),
        row("enqueue, one by one (jobs/s)", lambda r: r.enqueue_one, fmt_rate),
        row(f"drain {n:,} no-op jobs, 1 process (jobs/s, best setting)", drain(1), fmt_rate),
    ]
    lines += [row(f"drain {n:,} no-op jobs, {p} processes (jobs/s)", drain(p), fmt_rate) for p in processes if p > 1]
    if len(processes) > 1:
        top = max(processes)
        lines.append(row(f"drain, {top} processes ÷ 1 process", eight_over_one, lambda v: fmt_ratio(v, 1.0), vs=False))
    lines += [
        row("enqueue→start latency p50 (ms)", lat("p50"), fmt_ms, True),
        row("enqueue→start latency p95 (ms)", lat("p95"), fmt_ms, True),
        row("enqueue→start latency p99 (ms)", lat("p99"), fmt_ms, True),
        row("exactly once, every run", lambda r: "yes" if not r.problems else "**NO**", str),
    ]
    return lines


def report(results: dict[str, SystemResult], n: int, processes: list[int]) -> tuple[str, list[Target]]:
    lines = main_table(results, n, processes)
    lines += [
        "",
        "Ratios are Skiplock ÷ peer for throughput and peer ÷ Skiplock for latency: above 1× Skiplock is "
        "better. “best setting” is the fastest one-process setting below; every many-process run uses it (the "
        "floor with one claim loop per process), in interleaved rounds of 1, 2, 4 and 8 processes whose median "
        "is shown (the number of rounds is noted per system below). The processes ÷ 1 process row is each "
        "system's own scaling, from those medians. “once all processes ran”: the jobs started after the last "
        "process ran its first one, over the time from then to the end (what the claim sustains once no "
        "process is still starting up).",
        "",
        "Every drain run (one row per run):",
        "",
        "| system | processes | settings | jobs | seconds | jobs/s | jobs/s once all processes ran | exactly once |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for s, r in results.items():
        for t in r.trials:
            ok = "yes" if not t.problems else "NO: " + "; ".join(t.problems)
            ref = " (reference)" if t.reference else (" (many-process round)" if t.scaling else "")
            lines.append(
                f"| {s} | {t.procs} | {label(t.opts)}{ref} | {t.jobs:,} | {t.seconds:.2f} | {t.rate:,.0f} | "
                f"{fmt_rate(t.steady)} | {ok} |"
            )
    lines.append("")
    for s, r in results.items():
        if r.latency:
            lines.append(
                f"- {s}: latency measured at {label(r.latency_opts)}; "
                f"max {r.latency.get('max', float('nan')):.2f} ms over {r.latency.get('n', 0):.0f} jobs"
            )
        lines += [f"- {s}: {note}" for note in r.notes]
    found = targets(results, n, processes)
    lines += ["", "Targets (Skiplock):", ""]
    for title, ok, detail in found:
        mark = "**met**" if ok else ("not measured" if ok is None else "**MISSED**")
        lines.append(f"- {title}: {mark}" + ("" if ok is None else f" — {detail}"))
    return "\n".join(lines), found


# -- targets ----------------------------------------------------------------------------------------------
Target = tuple[str, bool | None, str]


def targets(results: dict[str, SystemResult], n: int, processes: list[int]) -> list[Target]:
    sk = results.get("skiplock")
    if not sk:
        return []
    out: list[Target] = []

    def check(title: str, a: float | None, b: float | None, at_least: float, how: str, unit: str = "jobs/s") -> None:
        if not a or not b:
            out.append((title, None, "not measured"))
            return
        share = f"{100 * a / b:.0f}%" if at_least < 1 else f"{a / b:.2f}×"
        out.append((title, a >= at_least * b, f"{a:,.0f} vs {b:,.0f} {unit}{how} = {share}"))

    def rate(name: str, procs: int = 1, where: Callable[[Trial], bool] = lambda t: True) -> Trial | None:
        return results[name].best(procs, n, where) if name in results else None

    sk1 = sk.best(1, n)
    pq1 = rate("pgqueuer")
    check(
        "drain, 1 process ≥ 3× pgqueuer's best",
        sk1 and sk1.rate,
        pq1 and pq1.rate,
        3.0,
        f" ({label(pq1.opts)})" if pq1 else "",
    )
    # The defaults' run names no batch size: it is the worker's default one.
    same_batch = sk1.opts.get("batch_size", _default_batch()) if sk1 else None
    fl = rate("floor", 1, lambda t: str(t.opts.get("batch_size")) == str(same_batch))
    check(
        f"drain, 1 process ≥ 85% of the best raw-SQL floor at the same batch size ({same_batch})",
        sk1 and sk1.rate,
        fl and fl.rate,
        0.85,
        f" ({label(fl.opts)})" if fl else "",
    )
    pq = results.get("pgqueuer")
    check("batch enqueue ≥ 1.5× pgqueuer's", sk.enqueue_batch, pq and pq.enqueue_batch, 1.5, "")
    floor = results.get("floor")
    check(
        "batch enqueue ≥ 50% of a plain INSERT … SELECT unnest (the floor's)",
        sk.enqueue_batch,
        floor and floor.enqueue_batch,
        0.5,
        "",
    )
    check("enqueue one by one ≥ 1.5× pgqueuer's", sk.enqueue_one, pq and pq.enqueue_one, 1.5, "")
    for q, limit in (("p50", 1.5), ("p99", 3.0)):
        v = sk.latency.get(q)
        out.append(
            (
                f"latency {q} ≤ {limit:g} ms",
                None if v is None else v <= limit,
                "not measured" if v is None else f"{v:.2f} ms",
            )
        )
    pts = dict(sk.scaling(n))
    top = max(processes)
    check(
        f"drain, {top} processes ≥ 1 process (no contention collapse on the claim)", pts.get(top), pts.get(1), 1.0, ""
    )
    bad = "; ".join(f"{s}: {p}" for s, r in results.items() for p in r.problems)
    out.append(("every job completed exactly once", not bad, bad or "all runs verified"))
    return out


# -- charts -----------------------------------------------------------------------------------------------
def write_charts(results: dict[str, SystemResult], n: int, processes: list[int], where: Path, note: str) -> list[str]:
    """The scaling chart and the main table as bars; the file names written (empty without matplotlib)."""
    try:
        import charts
    except ImportError as exc:  # matplotlib is a bench extra; the tables do not need it
        print(f"charts skipped: {exc}", flush=True)
        return []
    written = []
    series = {s: r.scaling(n) for s, r in results.items() if r.scaling(n)}
    if series:
        charts.line_chart(
            where / CHART_PROCESSES,
            series,
            title=f"Drain {n:,} no-op jobs: throughput against worker processes",
            xlabel="worker processes (the floor: claim loops, one per process)",
            ylabel="jobs/s (log scale)",
            logy=True,
            xticks=processes,
            note=note,
        )
        written.append(CHART_PROCESSES)

    def best(r: SystemResult) -> float | None:
        b = r.best(1, n)
        return b.rate if b else None

    panels = {
        "drain, 1 process (jobs/s)": {s: best(r) for s, r in results.items()},
        f"drain, {max(processes)} processes (jobs/s)": {
            s: dict(r.scaling(n)).get(max(processes)) for s, r in results.items()
        },
        "enqueue, batches (jobs/s)": {s: r.enqueue_batch for s, r in results.items()},
        "enqueue, one by one (jobs/s)": {s: r.enqueue_one for s, r in results.items()},
        "latency p50 (ms)": {s: r.latency.get("p50") for s, r in results.items()},
        "latency p99 (ms)": {s: r.latency.get("p99") for s, r in results.items()},
    }
    charts.bar_chart(where / CHART_MAIN, panels, title="Queue benchmark: the main table", note=note)
    written.append(CHART_MAIN)
    return written


def charts_markdown(names: list[str]) -> str:
    alt = {CHART_PROCESSES: "throughput against worker processes", CHART_MAIN: "the main table as bars"}
    return "\n".join(f"![{alt.get(name, name)}]({name})" for name in names)


# -- README -----------------------------------------------------------------------------------------------
def replace_results(readme: Path, body: str) -> None:
    """Put `body` between the results markers of the README (appended with them when they are missing)."""
    text = readme.read_text() if readme.exists() else ""
    block = f"{RESULTS_START}\n{body.rstrip()}\n{RESULTS_END}"
    pattern = re.compile(re.escape(RESULTS_START) + ".*?" + re.escape(RESULTS_END), re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _m: block, text, count=1)
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    readme.write_text(text)


def _default_batch() -> int:
    """The batch size of a worker left at its defaults (as `python -m app.worker` starts it)."""
    from app.core.config import Settings

    return int(Settings.model_fields["worker_batch_size"].default)
