"""Cron expressions for periodic jobs: 5 fields (minute hour day month weekday) or 6 with seconds first.

Supports `*`, numbers, ranges `a-b`, steps `*/n` and `a-b/n`, and lists `a,b`; weekday 0 or 7 is Sunday.
Times are UTC. Every tick gets an idempotency key, so however many workers run the scheduler, a tick is
enqueued exactly once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

_BOUNDS = {"second": (0, 59), "minute": (0, 59), "hour": (0, 23), "day": (1, 31), "month": (1, 12), "weekday": (0, 7)}


def _parse_field(text: str, name: str) -> frozenset[int]:
    low, high = _BOUNDS[name]
    values: set[int] = set()
    for part in text.split(","):
        base, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if step < 1:
            raise ValueError(f"cron {name}: step must be ≥ 1 in {part!r}")
        if base == "*":
            start, end = low, high
        elif "-" in base:
            start, end = (int(x) for x in base.split("-", 1))
        else:
            start = end = int(base)
            if step_text:
                end = high
        if not (low <= start <= end <= high):
            raise ValueError(f"cron {name}: {part!r} is outside {low}-{high}")
        values.update(range(start, end + 1, step))
    if name == "weekday" and 7 in values:
        values = (values - {7}) | {0}
    return frozenset(values)


@dataclass(frozen=True)
class CronSchedule:
    expression: str
    seconds: frozenset[int]
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    has_seconds: bool

    @classmethod
    def parse(cls, expression: str) -> CronSchedule:
        fields = expression.split()
        if len(fields) not in (5, 6):
            raise ValueError(f"cron expression {expression!r} needs 5 or 6 fields")
        has_seconds = len(fields) == 6
        if not has_seconds:
            fields = ["0", *fields]
        names = ("second", "minute", "hour", "day", "month", "weekday")
        sec, minute, hour, day, month, weekday = (_parse_field(f, n) for f, n in zip(fields, names, strict=True))
        return cls(expression, sec, minute, hour, day, month, weekday, has_seconds)

    def matches(self, moment: datetime) -> bool:
        weekday = (moment.weekday() + 1) % 7  # cron: Sunday is 0
        return (
            moment.second in self.seconds
            and moment.minute in self.minutes
            and moment.hour in self.hours
            and moment.day in self.days
            and moment.month in self.months
            and weekday in self.weekdays
        )

    def latest_tick(self, now: datetime, window: timedelta) -> datetime | None:
        """The most recent tick at or before `now`, if one falls within `window`."""
        step = timedelta(seconds=1) if self.has_seconds else timedelta(minutes=1)
        moment = now.astimezone(UTC).replace(microsecond=0)
        if not self.has_seconds:
            moment = moment.replace(second=0)
        oldest = now - window
        while moment >= oldest:
            if self.matches(moment):
                return moment
            moment -= step
        return None
