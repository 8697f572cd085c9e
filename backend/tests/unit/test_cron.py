"""Cron schedules: ticks in UTC or a named time zone, daylight-saving changes, names, aliases, bad input."""

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from app.worker.cron import CronSchedule, InvalidSchedule
from app.worker.dispatcher import DISPATCH_TABLE, JobType, job_type
from app.worker.scheduler import PeriodicScheduler

HOUR = timedelta(hours=1)


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def fired(schedule: CronSchedule, start: datetime, end: datetime, step: timedelta = timedelta(minutes=1)):
    """Every distinct tick a scheduler checking every `step` would see between `start` and `end`."""
    ticks, now = set(), start
    while now < end:
        if (tick := schedule.latest_tick(now, HOUR)) is not None:
            ticks.add(tick)
        now += step
    return sorted(ticks)


def test_every_five_minutes_latest_tick():
    cron = CronSchedule.parse("*/5 * * * *")
    assert cron.latest_tick(at(2026, 1, 1, 10, 7, 30), timedelta(hours=1)) == at(2026, 1, 1, 10, 5)
    assert cron.latest_tick(at(2026, 1, 1, 10, 5, 0), timedelta(hours=1)) == at(2026, 1, 1, 10, 5)


def test_seconds_field_and_window():
    cron = CronSchedule.parse("*/2 * * * * *")
    assert cron.latest_tick(at(2026, 1, 1, 0, 0, 3), timedelta(seconds=10)) == at(2026, 1, 1, 0, 0, 2)
    assert CronSchedule.parse("0 3 * * *").latest_tick(at(2026, 1, 1, 10, 0), timedelta(hours=1)) is None


def test_ranges_lists_and_sunday_as_7():
    cron = CronSchedule.parse("0 9-17/4 * * 1,7")
    sunday = fired(cron, at(2026, 11, 29), at(2026, 11, 30))
    assert sunday == [at(2026, 11, 29, 9), at(2026, 11, 29, 13), at(2026, 11, 29, 17)]
    assert fired(cron, at(2026, 11, 28), at(2026, 11, 29)) == []  # a Saturday


def test_month_and_weekday_names_in_any_case():
    by_name = CronSchedule.parse("0 12 * jan-mar MON-fri")
    by_number = CronSchedule.parse("0 12 * 1-3 1-5")
    days = (at(2026, 1, 1), at(2026, 1, 12), HOUR)
    assert fired(by_name, *days) == fired(by_number, *days)
    assert len(fired(by_name, *days)) == 7  # the weekdays from 1 to 11 January 2026
    assert fired(by_name, at(2026, 4, 1), at(2026, 4, 8), HOUR) == []  # April is not in JAN-MAR


def test_last_day_of_month_and_nth_weekday():
    assert CronSchedule.parse("0 12 L * *").latest_tick(at(2026, 2, 28, 12, 30), HOUR) == at(2026, 2, 28, 12)
    first_monday = CronSchedule.parse("0 12 * * MON#1")
    assert first_monday.latest_tick(at(2026, 6, 1, 12, 30), HOUR) == at(2026, 6, 1, 12)
    assert first_monday.next_tick(at(2026, 6, 1, 12)) == at(2026, 7, 6, 12)


@pytest.mark.parametrize(
    ("alias", "now", "tick"),
    [
        ("@hourly", at(2026, 5, 6, 7, 59), at(2026, 5, 6, 7)),
        ("@daily", at(2026, 5, 6, 0, 40), at(2026, 5, 6)),
        ("@midnight", at(2026, 5, 6, 0, 40), at(2026, 5, 6)),
        ("@weekly", at(2026, 5, 3, 0, 10), at(2026, 5, 3)),  # a Sunday
        ("@monthly", at(2026, 5, 1, 0, 10), at(2026, 5, 1)),
        ("@yearly", at(2026, 1, 1, 0, 10), at(2026, 1, 1)),
        ("@annually", at(2026, 1, 1, 0, 10), at(2026, 1, 1)),
    ],
)
def test_aliases_stand_for_their_five_field_forms(alias, now, tick):
    cron = CronSchedule.parse(alias)
    assert cron.latest_tick(now, HOUR) == tick
    assert cron.next_tick(tick) > tick + timedelta(minutes=59)


def test_daily_job_in_a_time_zone_runs_at_local_time():
    cron = CronSchedule.parse("30 2 * * *", "Europe/Berlin")
    assert fired(cron, at(2026, 1, 15), at(2026, 1, 16)) == [at(2026, 1, 15, 1, 30)]  # CET, UTC+1
    assert fired(cron, at(2026, 7, 15), at(2026, 7, 16)) == [at(2026, 7, 15, 0, 30)]  # CEST, UTC+2


def test_job_at_a_skipped_time_runs_once_when_clocks_go_forward():
    # Berlin, 29 March 2026: 02:00 CET becomes 03:00 CEST; 02:30 never happens, the job runs at 03:00 CEST.
    cron = CronSchedule.parse("30 2 * * *", "Europe/Berlin")
    ticks = fired(cron, at(2026, 3, 28, 12), at(2026, 3, 30, 12))
    assert ticks == [at(2026, 3, 29, 1, 0), at(2026, 3, 30, 0, 30)]


def test_job_at_a_repeated_time_runs_once_when_clocks_go_back():
    # Berlin, 25 October 2026: 03:00 CEST becomes 02:00 CET; 02:30 happens twice, the job runs the first time.
    cron = CronSchedule.parse("30 2 * * *", "Europe/Berlin")
    ticks = fired(cron, at(2026, 10, 24, 12), at(2026, 10, 26, 12))
    assert ticks == [at(2026, 10, 25, 0, 30), at(2026, 10, 26, 1, 30)]
    # A worker starting during the repeated hour (02:20 CET, after the first 02:30) still sees that tick.
    assert cron.latest_tick(at(2026, 10, 25, 1, 20), HOUR) == at(2026, 10, 25, 0, 30)


@pytest.mark.parametrize("day", [at(2026, 3, 8), at(2026, 11, 1)])  # New York's changes at 02:00 local
def test_daily_job_runs_exactly_once_on_both_changes_elsewhere(day):
    cron = CronSchedule.parse("30 1-3 * * *", "America/New_York")
    ticks = fired(cron, day, day + timedelta(days=1))
    local_hours = [t.astimezone(cron.zone).hour for t in ticks]
    assert len(ticks) == len(set(ticks)) == 3
    assert local_hours in ([1, 3, 3], [1, 2, 3])


def test_interval_schedule_keeps_its_interval_across_the_change():
    # 25 October 2026 in Berlin lasts 25 hours: a half-hourly job runs 50 times, every 30 minutes.
    cron = CronSchedule.parse("*/30 * * * *", "Europe/Berlin")
    ticks = fired(cron, at(2026, 10, 24, 22), at(2026, 10, 25, 23))
    assert len(ticks) == 50
    assert {b - a for a, b in itertools.pairwise(ticks)} == {timedelta(minutes=30)}


@pytest.mark.parametrize(
    ("expression", "timezone", "message"),
    [
        ("* * *", None, "has 3 fields"),
        ("61 * * * *", None, "Bad minute"),
        ("*/0 * * * *", None, "Bad minute"),
        ("5-1 * * * *", None, "Bad minute"),
        ("0 12 * FOO *", None, "Bad month"),
        ("0 0 30 2 *", None, "Bad day-of-month"),
        ("@reboot", None, "unknown alias"),
        ("0 3 * * *", "Mars/Olympus", "unknown time zone 'Mars/Olympus'"),
        ("0 0 3 * * *", "Europe/Berlin", "seconds field"),
    ],
)
def test_bad_expressions_are_refused(expression, timezone, message):
    with pytest.raises(InvalidSchedule, match=message):
        CronSchedule.parse(expression, timezone)


def test_bad_schedule_fails_at_registration_naming_the_job_type():
    async def handler(ctx, params):
        return None

    with pytest.raises(InvalidSchedule, match=r"job type 'nightly_typo': cron expression '0 25 \* \* \*'"):
        job_type("nightly_typo", schedule="0 25 * * *")(handler)
    with pytest.raises(InvalidSchedule, match="unknown time zone"):
        job_type("nightly_typo", schedule="0 2 * * *", timezone="Berlin")(handler)
    with pytest.raises(InvalidSchedule, match="needs a schedule"):
        job_type("nightly_typo", timezone="Europe/Berlin")(handler)
    assert "nightly_typo" not in DISPATCH_TABLE


def test_scheduler_keys_a_zoned_tick_in_utc_once():
    async def handler(ctx, params):
        return None

    jt = JobType(
        "berlin_nightly",
        handler,
        DISPATCH_TABLE["noop"].params_model,
        "",
        schedule="30 2 * * *",
        timezone="Europe/Berlin",
    )
    scheduler = PeriodicScheduler({jt.name: jt}, default_max_attempts=1)
    keys, now = set(), at(2026, 10, 25)
    while now < at(2026, 10, 25, 3):  # through both 02:30s of the day the clocks go back
        keys |= {job.idempotency_key for job in scheduler.due(now)}
        now += timedelta(seconds=30)
    assert keys == {"cron:berlin_nightly:2026-10-25T00:30:00Z"}
