"""PNG charts for the queue benchmarks (matplotlib, no display needed).

    line_chart(path, {"skiplock": [(1, 50_000), (2, 53_000)], ...}, title=..., xlabel=..., ylabel=...)
    bar_chart(path, {"drain (jobs/s)": {"skiplock": 50_000, "pgqueuer": 20_000}, ...}, title=...)

Every system keeps one colour and marker across charts, so a reader can compare them at a glance.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, whatever the environment's display

import matplotlib.pyplot as plt
from matplotlib.ticker import FuncFormatter

Series = Mapping[str, Sequence[tuple[float, float]]]

STYLE = {
    "skiplock": ("#1f77b4", "o"),
    "pgqueuer": ("#ff7f0e", "s"),
    "procrastinate": ("#2ca02c", "^"),
    "oban": ("#9467bd", "D"),
    "floor": ("#7f7f7f", "x"),
}
_EXTRA = ["#d62728", "#8c564b", "#e377c2", "#bcbd22", "#17becf"]


def _style(name: str, i: int) -> tuple[str, str]:
    return STYLE.get(name, (_EXTRA[i % len(_EXTRA)], "v"))


def _thousands(value: float, _pos: int) -> str:
    return f"{value:,.0f}"


def line_chart(
    path: str | Path,
    series: Series,
    *,
    title: str,
    xlabel: str,
    ylabel: str,
    logy: bool = False,
    xticks: Sequence[float] | None = None,
    note: str | None = None,
) -> Path:
    """One line per name through its (x, y) points, sorted by x; returns the path written."""
    fig, ax = plt.subplots(figsize=(8.5, 4.5), dpi=110)
    for i, (name, points) in enumerate(series.items()):
        pts = sorted(p for p in points if p[1] is not None)
        if not pts:
            continue
        colour, marker = _style(name, i)
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker=marker, color=colour, label=name, linewidth=1.8)
    if logy:
        ax.set_yscale("log")
    else:
        ax.set_ylim(bottom=0)
    ax.yaxis.set_major_formatter(FuncFormatter(_thousands))
    if xticks is not None:
        ax.set_xticks(list(xticks))
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=9)
    if note:
        fig.text(0.01, 0.01, note, fontsize=7, color="#555555")
    fig.tight_layout(rect=(0, 0.03 if note else 0, 1, 1))
    return _save(fig, path)


def bar_chart(
    path: str | Path,
    panels: Mapping[str, Mapping[str, float | None]],
    *,
    title: str,
    note: str | None = None,
) -> Path:
    """One panel per metric (three to a row), one bar per system (value written on it); returns the path."""
    panels = {k: v for k, v in panels.items() if any(x for x in v.values())}
    cols = min(3, max(1, len(panels)))
    rows = max(1, -(-len(panels) // cols))
    fig, grid = plt.subplots(rows, cols, figsize=(3.8 * cols, 3.6 * rows + 0.4), dpi=110, squeeze=False)
    axes = [ax for line in grid for ax in line]
    for ax in axes[len(panels) :]:
        ax.set_visible(False)
    for ax, (metric, values) in zip(axes, panels.items(), strict=False):
        names = [n for n, v in values.items() if v]
        heights = [float(values[n] or 0) for n in names]
        colours = [_style(n, i)[0] for i, n in enumerate(names)]
        bars = ax.bar(names, heights, color=colours)
        for bar, h in zip(bars, heights, strict=True):
            ax.annotate(
                f"{h:,.0f}" if h >= 10 else f"{h:.2f}",
                (bar.get_x() + bar.get_width() / 2, h),
                ha="center",
                va="bottom",
                fontsize=8,
            )
        ax.set_title(metric, fontsize=10)
        ax.yaxis.set_major_formatter(FuncFormatter(_thousands))
        ax.tick_params(axis="x", labelrotation=30, labelsize=8)
        ax.grid(True, axis="y", alpha=0.3)
    fig.suptitle(title)
    if note:
        fig.text(0.01, 0.01, note, fontsize=7, color="#555555")
    fig.tight_layout(rect=(0, 0.03 if note else 0, 1, 1))
    return _save(fig, path)


def _save(fig: plt.Figure, path: str | Path) -> Path:
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    return out
