"""Cron schedules for periodic jobs, evaluated by `cronsim` (the parser behind Healthchecks.io).

An expression has 5 fields (minute hour day month weekday) or 6 with seconds first; fields take `*`, numbers,
ranges, steps, lists, month and weekday names (`JAN`, `MON-FRI`) and cronsim's `L`, `LW` and `#n`; the aliases
`@yearly`, `@annually`, `@monthly`, `@weekly`, `@daily`, `@midnight` and `@hourly` stand for their 5-field forms.

Times are UTC unless a schedule names an IANA time zone. With a time zone, a schedule at a fixed time of day
(minute and hour both fixed, 5 fields) follows the wall clock as Debian's cron does: a time the clocks skip runs
when they land (a 02:30 job runs at 03:00 on the day clocks go forward), and a time the clocks repeat runs once,
the first time (a 02:30 job runs at the first 02:30 on the day clocks go back). Other schedules (`*/15 * * * *`,
`30 * * * *`) follow elapsed time and keep their interval across the change. Seconds-field schedules run in UTC.

Every tick is an instant; the scheduler keys it in UTC, so however many workers run, a tick is enqueued once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

ALIASES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_FORMS = "5 fields 'minute hour day month weekday', 6 with seconds first, or one of " + ", ".join(ALIASES)


class InvalidSchedule(ValueError):
    """A cron expression or time zone that cannot be scheduled; the message says what and why."""


def _zone(name: str | None) -> tzinfo:
    if name is None or name.upper() == "UTC":
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidSchedule(
            f"unknown time zone {name!r}: use an IANA name such as 'Europe/Berlin' or 'UTC' (where the system"
            " has no time-zone database, install the tzdata package)"
        ) from None


@dataclass(frozen=True)
class CronSchedule:
    expression: str  # as written (an alias stays an alias)
    fields: str  # what cronsim evaluates
    zone: tzinfo
    has_seconds: bool

    @classmethod
    def parse(cls, expression: str, timezone: str | None = None) -> CronSchedule:
        """Raises InvalidSchedule, saying what is wrong, for an expression or time zone that cannot run."""
        text = expression.strip()
        fields = ALIASES.get(text.lower(), text)
        if fields.startswith("@"):
            raise InvalidSchedule(f"cron expression {expression!r}: unknown alias; expected {_FORMS}")
        count = len(fields.split())
        if count not in (5, 6):
            raise InvalidSchedule(f"cron expression {expression!r} has {count} fields; expected {_FORMS}")
        zone = _zone(timezone)
        if count == 6 and zone is not UTC:
            raise InvalidSchedule(
                f"cron expression {expression!r} has a seconds field; schedules with seconds run in UTC "
                "(a time zone applies to 5-field schedules)"
            )
        schedule = cls(expression, fields, zone, has_seconds=count == 6)
        try:
            schedule.next_tick(datetime.now(UTC))
        except CronSimError as exc:
            raise InvalidSchedule(f"cron expression {expression!r}: {exc}; expected {_FORMS}") from None
        except StopIteration:
            raise InvalidSchedule(f"cron expression {expression!r} never fires (no matching date)") from None
        return schedule

    def next_tick(self, after: datetime) -> datetime:
        """The first tick after `after`, in UTC. Raises StopIteration when none comes within 50 years."""
        return next(CronSim(self.fields, after.astimezone(self.zone))).astimezone(UTC)

    def latest_tick(self, now: datetime, window: timedelta) -> datetime | None:
        """The most recent tick at or before `now` (in UTC), if one falls within `window`."""
        now = now.astimezone(UTC)
        start = (now + timedelta(seconds=1)).replace(microsecond=0).astimezone(self.zone)
        try:
            tick = next(CronSim(self.fields, start, reverse=True)).astimezone(UTC)
            # A wall-clock schedule walks local time backwards from `now`; in the hour the clocks repeat, local
            # time reads earlier than a tick already past, so step forward to the last tick not after `now`.
            while (later := self.next_tick(tick)) <= now:
                tick = later
        except StopIteration:
            return None
        return tick if tick >= now - window else None
