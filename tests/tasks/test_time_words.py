"""tasks.time_words: the one vocabulary for time on every screen (pure, no database)."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tasks import time_words as words

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)  # Monday 11:00 in Berlin
H, M = timedelta(hours=1), timedelta(minutes=1)


@pytest.mark.parametrize(
    ("value", "text"),
    [(None, "—"), (timedelta(0), "0m"), (45 * M, "45m"), (3 * H + 5 * M, "3h 05m"),
     (-(H + 30 * M), "1h 30m"), (49 * H, "49h 00m")],
)  # fmt: skip
def test_duration(value, text):
    assert words.duration(value) == text


@pytest.mark.parametrize(
    ("at", "kwargs", "text"),
    [
        (datetime(2026, 12, 7, 13, 5, tzinfo=UTC), {}, "14:05"),
        (datetime(2026, 12, 8, 8, 0, tzinfo=UTC), {}, "Tue 8 Dec 09:00"),
        (datetime(2026, 12, 6, 22, 59, tzinfo=UTC), {}, "Sun 6 Dec 23:59"),  # yesterday
        (datetime(2027, 1, 4, 8, 0, tzinfo=UTC), {}, "Mon 4 Jan 2027 09:00"),
        (datetime(2026, 12, 7, 13, 5, tzinfo=UTC), {"with_zone": True}, "14:05 CET"),
        (datetime(2026, 7, 1, 7, 0, tzinfo=UTC), {"with_zone": True}, "Wed 1 Jul 09:00 CEST"),
    ],
)
def test_moment_is_bare_today_and_dated_otherwise(at, kwargs, text):
    assert words.moment(at, NOW, BERLIN, **kwargs) == text


def test_the_local_day_decides_what_today_is():
    late = datetime(2026, 12, 7, 23, 30, tzinfo=UTC)  # 00:30 on Tuesday in Berlin
    assert words.moment(late, NOW, BERLIN) == "Tue 8 Dec 00:30"
    assert words.moment(late, NOW, UTC) == "23:30"


def test_remaining_and_overdue_never_make_a_double_negative():
    assert words.remaining(2 * H + 5 * M) == "2h 05m remaining"
    assert words.remaining(-(57 * H + 55 * M)) == "overdue by 57h 55m"
    assert words.remaining(timedelta(0)) == "0m remaining"


def test_paused_names_when_the_clock_starts_again_if_known():
    monday = datetime(2026, 12, 14, 8, 0, tzinfo=UTC)
    assert words.paused(monday, NOW, BERLIN) == "paused until Mon 14 Dec 09:00"
    assert words.paused(None, NOW, BERLIN) == "paused"


def test_a_finished_timer_says_met_or_missed_never_remaining():
    stopped = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    assert words.finished(stopped, 20 * M, NOW, BERLIN) == "met at 10:00, 20m to spare"
    assert words.finished(stopped, -H, NOW, BERLIN) == "missed by 1h 00m, stopped 10:00"
    assert "remaining" not in words.finished(stopped, 20 * M, NOW, BERLIN)
