from datetime import UTC, datetime, timedelta

import pytest
from app.worker.cron import CronSchedule


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


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
    assert cron.hours == {9, 13, 17} and cron.weekdays == {0, 1}
    assert cron.matches(at(2026, 11, 29, 13, 0))  # a Sunday
    assert not cron.matches(at(2026, 11, 28, 13, 0))  # a Saturday


@pytest.mark.parametrize("bad", ["* * *", "61 * * * *", "*/0 * * * *", "5-1 * * * *"])
def test_bad_expressions_are_refused(bad):
    with pytest.raises(ValueError):
        CronSchedule.parse(bad)
