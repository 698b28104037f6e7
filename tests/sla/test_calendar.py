"""Tests for sla.calendar.WorkCalendar (pure Python: no Django, no database).

The property-based tests compare against a brute-force reference defined here, which applies the
ground-truth definition of "open" literally: convert each UTC minute to local wall-clock time and
look its minute-of-day up in a per-weekday table built straight from the weekly spec. All
boundaries, offsets and starts used there are whole minutes, so openness is constant within each
UTC minute and counting open minutes is exact.
"""

from __future__ import annotations

import functools
import pickle
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sla.calendar import WorkCalendar

NY = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
SAO_PAULO = ZoneInfo("America/Sao_Paulo")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")

MON_FRI = range(5)
H = timedelta(hours=1)
M = timedelta(minutes=1)


def office(tz: str = "America/New_York", holidays: tuple[date, ...] = ()) -> WorkCalendar:
    return WorkCalendar(tz, {d: [(time(9), time(17))] for d in MON_FRI}, holidays)


def every_day(tz: str, start: time, end: time, holidays: tuple[date, ...] = ()) -> WorkCalendar:
    return WorkCalendar(tz, {d: [(start, end)] for d in range(7)}, holidays)


def ny(*args: int, fold: int = 0) -> datetime:
    return datetime(*args, tzinfo=NY, fold=fold)


def berlin(*args: int, fold: int = 0) -> datetime:
    return datetime(*args, tzinfo=BERLIN, fold=fold)


# ---------------------------------------------------------------------------------------------
# Table-driven examples. 2025-07-04 is a Friday (US holiday), 2025-03-09 / 2025-11-02 are the
# New York DST changes, 2025-03-30 / 2025-10-26 the Berlin ones.


@dataclass(frozen=True)
class AddCase:
    name: str
    calendar: WorkCalendar
    start: datetime
    duration: timedelta
    expected: datetime


LUNCH = WorkCalendar(
    "America/New_York", {d: [(time(9), time(12)), (time(13), time(17))] for d in MON_FRI}
)
OVERNIGHT = WorkCalendar("America/New_York", {d: [(time(20), time(4))] for d in MON_FRI})
UNTIL_MIDNIGHT = WorkCalendar("America/New_York", {d: [(time(18), time(0))] for d in MON_FRI})
JULY_4 = office(holidays=(date(2025, 7, 4),))

ADD_CASES = [
    AddCase(
        "deadline at closing time is closing time not next opening",
        office(),
        ny(2025, 6, 2, 13),
        4 * H,
        ny(2025, 6, 2, 17),
    ),
    AddCase(
        "one microsecond past closing time carries over to next opening",
        office(),
        ny(2025, 6, 2, 13),
        4 * H + timedelta(microseconds=1),
        ny(2025, 6, 3, 9, 0, 0, 1),
    ),
    AddCase("lunch break is skipped", LUNCH, ny(2025, 6, 2, 11), 2 * H, ny(2025, 6, 2, 14)),
    AddCase(
        "deadline at start of lunch is start of lunch",
        LUNCH,
        ny(2025, 6, 2, 11),
        H,
        ny(2025, 6, 2, 12),
    ),
    AddCase("weekend is skipped", office(), ny(2025, 6, 6, 16), 2 * H, ny(2025, 6, 9, 10)),
    AddCase("holiday is skipped", JULY_4, ny(2025, 7, 3, 16), 2 * H, ny(2025, 7, 7, 10)),
    AddCase(
        "start before opening waits for opening", office(), ny(2025, 6, 2, 7), H, ny(2025, 6, 2, 10)
    ),
    AddCase(
        "start on saturday waits for monday", office(), ny(2025, 6, 7, 10), H, ny(2025, 6, 9, 10)
    ),
    AddCase(
        "start on holiday waits for next working day",
        JULY_4,
        ny(2025, 7, 4, 10),
        H,
        ny(2025, 7, 7, 10),
    ),
    AddCase(
        "forty hours is one working week", office(), ny(2025, 6, 2, 9), 40 * H, ny(2025, 6, 6, 17)
    ),
    AddCase(
        "office day after spring forward is still eight hours",
        office(),
        ny(2025, 3, 7, 16),
        2 * H,
        ny(2025, 3, 10, 10),
    ),
    AddCase(
        "overnight shift crosses midnight",
        OVERNIGHT,
        ny(2025, 6, 2, 23),
        2 * H,
        ny(2025, 6, 3, 1),
    ),
    AddCase(
        "overnight shift from friday runs into saturday then resumes monday evening",
        OVERNIGHT,
        ny(2025, 6, 6, 22),
        8 * H,
        ny(2025, 6, 9, 22),
    ),
    AddCase(
        "overnight shift tail on monday morning belongs to sunday which has no shift",
        OVERNIGHT,
        ny(2025, 6, 9, 1),
        H,
        ny(2025, 6, 9, 21),
    ),
    AddCase(
        "end at midnight means end of the same day",
        UNTIL_MIDNIGHT,
        ny(2025, 6, 2, 23),
        2 * H,
        ny(2025, 6, 3, 19),
    ),
    AddCase(
        "deadline at midnight closing is midnight",
        UNTIL_MIDNIGHT,
        ny(2025, 6, 2, 18),
        6 * H,
        ny(2025, 6, 3, 0),
    ),
    AddCase(
        "zero duration returns start even when closed",
        office(),
        ny(2025, 6, 7, 10),
        timedelta(0),
        ny(2025, 6, 7, 10),
    ),
    AddCase(
        "start in another timezone is the same instant",
        office(),
        datetime(2025, 6, 2, 22, tzinfo=ZoneInfo("Asia/Tokyo")),  # 09:00 New York
        H,
        ny(2025, 6, 2, 10),
    ),
    AddCase(
        "spring forward day on a 24/7 calendar lasts 23 hours",
        WorkCalendar.always("Europe/Berlin"),
        berlin(2025, 3, 30),
        23 * H,
        berlin(2025, 3, 31),
    ),
    AddCase(
        "fall back day on a 24/7 calendar lasts 25 hours",
        WorkCalendar.always("Europe/Berlin"),
        berlin(2025, 10, 26),
        25 * H,
        berlin(2025, 10, 27),
    ),
    AddCase(
        "repeated hour is counted twice",
        every_day("Europe/Berlin", time(1), time(5)),
        berlin(2025, 10, 26, 1),
        2 * H,
        berlin(2025, 10, 26, 2, fold=1),
    ),
    AddCase(
        "dst gap inside an interval is not open",
        every_day("Europe/Berlin", time(1), time(5)),
        berlin(2025, 3, 30, 1),
        2 * H,
        berlin(2025, 3, 30, 4),
    ),
]


@pytest.mark.parametrize("case", ADD_CASES, ids=[c.name.replace(" ", "_") for c in ADD_CASES])
def test_add_table(case: AddCase) -> None:
    result = case.calendar.add(case.start, case.duration)
    # Compare in UTC: by PEP 495, an aware datetime with fold=1 in a repeated hour never
    # compares equal to a datetime in another zone, even for the same instant.
    assert result == case.expected.astimezone(UTC)
    assert result.tzinfo is UTC
    assert case.calendar.between(case.start, result) == case.duration


@dataclass(frozen=True)
class BetweenCase:
    name: str
    calendar: WorkCalendar
    start: datetime
    end: datetime
    expected: timedelta


BETWEEN_CASES = [
    BetweenCase("same instant is zero", office(), ny(2025, 6, 2, 10), ny(2025, 6, 2, 10), 0 * H),
    BetweenCase("full working week", office(), ny(2025, 6, 2), ny(2025, 6, 9), 40 * H),
    BetweenCase("lunch break not counted", LUNCH, ny(2025, 6, 2), ny(2025, 6, 3), 7 * H),
    BetweenCase("holiday not counted", JULY_4, ny(2025, 6, 30), ny(2025, 7, 7), 32 * H),
    BetweenCase(
        "end before start is negative", office(), ny(2025, 6, 3, 10), ny(2025, 6, 2, 16), -2 * H
    ),
    BetweenCase(
        "24/7 berlin spring forward day is 23 hours",
        WorkCalendar.always("Europe/Berlin"),
        berlin(2025, 3, 30),
        berlin(2025, 3, 31),
        23 * H,
    ),
    BetweenCase(
        "24/7 berlin fall back day is 25 hours",
        WorkCalendar.always("Europe/Berlin"),
        berlin(2025, 10, 26),
        berlin(2025, 10, 27),
        25 * H,
    ),
    BetweenCase(
        "interval containing the dst gap loses the missing hour",
        every_day("Europe/Berlin", time(1), time(5)),
        berlin(2025, 3, 30),
        berlin(2025, 3, 31),
        3 * H,
    ),
    BetweenCase(
        "interval containing the repeated hour counts it twice",
        every_day("Europe/Berlin", time(1), time(5)),
        berlin(2025, 10, 26),
        berlin(2025, 10, 27),
        5 * H,
    ),
    BetweenCase(
        "interval starting inside the repeated hour is not contiguous in utc",
        # [02:30, 05:00) on the fall-back day: 02:30-03:00 CEST, then 02:00-02:30 CET is
        # closed, then 02:30-05:00 CET: 30 min + 150 min.
        every_day("Europe/Berlin", time(2, 30), time(5)),
        berlin(2025, 10, 26),
        berlin(2025, 10, 27),
        3 * H,
    ),
    BetweenCase(
        "holiday on a spring forward day closes the 23 hour day",
        WorkCalendar(
            "Europe/Berlin", {d: [(time(0), time(0))] for d in range(7)}, [date(2025, 3, 30)]
        ),
        berlin(2025, 3, 29),
        berlin(2025, 4, 1),
        48 * H,
    ),
    BetweenCase(
        "holiday on a fall back day closes all 25 hours",
        WorkCalendar(
            "Europe/Berlin", {d: [(time(0), time(0))] for d in range(7)}, [date(2025, 10, 26)]
        ),
        berlin(2025, 10, 25),
        berlin(2025, 10, 28),
        48 * H,
    ),
    BetweenCase(
        "holiday closes the after-midnight tail of an overnight shift",
        WorkCalendar(
            "America/New_York", {d: [(time(20), time(4))] for d in MON_FRI}, [date(2025, 6, 7)]
        ),
        ny(2025, 6, 6, 12),
        ny(2025, 6, 8, 12),
        4 * H,
    ),
    BetweenCase(
        "overnight shift across a weekend",
        OVERNIGHT,
        ny(2025, 6, 6, 12),
        ny(2025, 6, 10, 12),
        16 * H,  # Fri 20-04 and Mon 20-04; Mon 00-04 would be Sunday's shift: closed
    ),
    BetweenCase(
        "midnight dst change in sao paulo makes a 23 hour day",
        # 2018-11-04 00:00 did not exist: clocks jumped to 01:00.
        WorkCalendar.always("America/Sao_Paulo"),
        datetime(2018, 11, 3, 12, tzinfo=SAO_PAULO),
        datetime(2018, 11, 4, 12, tzinfo=SAO_PAULO),
        23 * H,
    ),
    BetweenCase(
        "holiday before a midnight fall back closes the repeated 23h hour too",
        # 2018-02-18 00:00 -> 2018-02-17 23:00: Feb 17 is 25 hours long, all of it a holiday.
        WorkCalendar(
            "America/Sao_Paulo", {d: [(time(0), time(0))] for d in range(7)}, [date(2018, 2, 17)]
        ),
        datetime(2018, 2, 16, tzinfo=SAO_PAULO),
        datetime(2018, 2, 19, tzinfo=SAO_PAULO),
        48 * H,
    ),
    BetweenCase(
        "lord howe half hour dst makes a 24.5 hour day",
        WorkCalendar.always("Australia/Lord_Howe"),
        datetime(2025, 4, 6, tzinfo=LORD_HOWE),
        datetime(2025, 4, 7, tzinfo=LORD_HOWE),
        timedelta(hours=24, minutes=30),
    ),
    BetweenCase(
        "microseconds are exact",
        office(),
        ny(2025, 6, 2, 16, 59, 59, 999_999),
        ny(2025, 6, 3, 9, 0, 0, 1),
        timedelta(microseconds=2),
    ),
]


@pytest.mark.parametrize(
    "case", BETWEEN_CASES, ids=[c.name.replace(" ", "_") for c in BETWEEN_CASES]
)
def test_between_table(case: BetweenCase) -> None:
    assert case.calendar.between(case.start, case.end) == case.expected
    assert case.calendar.between(case.end, case.start) == -case.expected


# ---------------------------------------------------------------------------------------------
# Named examples (sentence-like so failures read as a spec).


def test_deadline_at_closing_time_is_closing_time_not_next_opening() -> None:
    assert office().add(ny(2025, 6, 2, 9), 8 * H) == ny(2025, 6, 2, 17)


def test_lunch_break_is_skipped() -> None:
    assert LUNCH.add(ny(2025, 6, 2, 9), 4 * H) == ny(2025, 6, 2, 14)


def test_weekend_is_skipped() -> None:
    assert office().add(ny(2025, 6, 6, 17), H) == ny(2025, 6, 9, 10)


def test_holiday_is_skipped() -> None:
    assert JULY_4.add(ny(2025, 7, 3, 17), H) == ny(2025, 7, 7, 10)


def test_holiday_on_a_dst_day_closes_the_whole_local_day() -> None:
    cal = WorkCalendar(
        "America/New_York", {d: [(time(0), time(0))] for d in range(7)}, [date(2025, 11, 2)]
    )
    assert cal.add(ny(2025, 11, 1, 23), 2 * H) == ny(2025, 11, 3, 1)
    assert not cal.is_open(ny(2025, 11, 2, 1, 30, fold=1))
    assert cal.next_open(ny(2025, 11, 2, 12)) == ny(2025, 11, 3)


def test_berlin_spring_forward_day_has_23_hours_on_a_24_7_calendar() -> None:
    cal = WorkCalendar.always("Europe/Berlin")
    assert cal.between(berlin(2025, 3, 30), berlin(2025, 3, 31)) == 23 * H


def test_berlin_fall_back_day_has_25_hours_on_a_24_7_calendar() -> None:
    cal = WorkCalendar.always("Europe/Berlin")
    assert cal.between(berlin(2025, 10, 26), berlin(2025, 10, 27)) == 25 * H


def test_interval_in_the_repeated_hour_is_open_on_both_passes() -> None:
    cal = every_day("Europe/Berlin", time(2), time(3))
    assert cal.is_open(berlin(2025, 10, 26, 2, 30, fold=0))
    assert cal.is_open(berlin(2025, 10, 26, 2, 30, fold=1))
    assert cal.between(berlin(2025, 10, 26), berlin(2025, 10, 27)) == 2 * H


def test_interval_entirely_in_the_dst_gap_is_never_open_that_day() -> None:
    cal = every_day("Europe/Berlin", time(2), time(3))
    assert cal.between(berlin(2025, 3, 30), berlin(2025, 3, 31)) == 0 * H
    assert cal.next_open(berlin(2025, 3, 30)) == berlin(2025, 3, 31, 2)


def test_repeated_wall_clock_outside_interval_start_is_closed_on_second_pass() -> None:
    cal = every_day("Europe/Berlin", time(2, 30), time(5))
    # 01:10 UTC is 02:10 CET (second pass): before 02:30 local, so closed.
    assert not cal.is_open(datetime(2025, 10, 26, 1, 10, tzinfo=UTC))
    assert cal.is_open(datetime(2025, 10, 26, 0, 40, tzinfo=UTC))  # 02:40 CEST
    assert cal.next_open(datetime(2025, 10, 26, 1, 10, tzinfo=UTC)) == datetime(
        2025, 10, 26, 1, 30, tzinfo=UTC
    )


def test_overnight_shift_crosses_midnight() -> None:
    assert OVERNIGHT.add(ny(2025, 6, 2, 22), 4 * H) == ny(2025, 6, 3, 2)
    assert OVERNIGHT.is_open(ny(2025, 6, 7, 3))  # Friday's shift, Saturday morning
    assert not OVERNIGHT.is_open(ny(2025, 6, 9, 3))  # would be Sunday's shift: none


def test_overnight_shift_across_a_weekend() -> None:
    assert OVERNIGHT.add(ny(2025, 6, 7, 3), 2 * H) == ny(2025, 6, 9, 21)


def test_end_time_midnight_means_end_of_day() -> None:
    cal = WorkCalendar("UTC", {0: [(time(22), time(0))]})
    monday = datetime(2025, 6, 2, 22, tzinfo=UTC)
    assert cal.add(monday, 2 * H) == datetime(2025, 6, 3, tzinfo=UTC)
    assert cal.between(monday, monday + 7 * 24 * H) == 2 * H


def test_start_outside_open_time_waits_for_opening() -> None:
    assert office().add(ny(2025, 6, 2, 18), 30 * M) == ny(2025, 6, 3, 9, 30)


def test_between_is_negative_when_end_is_before_start() -> None:
    cal = office()
    assert cal.between(ny(2025, 6, 3, 10), ny(2025, 6, 2, 10)) == -8 * H


def test_results_are_utc_and_next_open_returns_open_instant_itself() -> None:
    cal = office()
    at = ny(2025, 6, 2, 10, 15, 30, 123)
    result = cal.next_open(at)
    assert result == at
    assert result.tzinfo is UTC
    assert cal.next_open(ny(2025, 6, 2, 17)) == ny(2025, 6, 3, 9)
    assert cal.add(at, timedelta(0)).tzinfo is UTC


def test_is_open_boundaries_are_half_open() -> None:
    cal = office()
    assert cal.is_open(ny(2025, 6, 2, 9))
    assert not cal.is_open(ny(2025, 6, 2, 17))
    assert cal.is_open(ny(2025, 6, 2, 16, 59, 59, 999_999))


def test_touching_intervals_are_one_shift() -> None:
    cal = WorkCalendar(
        "America/New_York", {d: [(time(6), time(14)), (time(14), time(22))] for d in range(6)}
    )
    assert cal.add(ny(2025, 6, 2, 13), 2 * H) == ny(2025, 6, 2, 15)
    assert cal.weekly[0] == ((time(6), time(22)),)


def test_calendar_is_picklable_hashable_and_comparable() -> None:
    cal = office(holidays=(date(2025, 7, 4),))
    cal.add(ny(2025, 6, 2), H)  # populate the cache; must not leak into the pickle
    clone = pickle.loads(pickle.dumps(cal))
    assert clone == cal
    assert hash(clone) == hash(cal)
    assert clone.add(ny(2025, 7, 3, 16), 2 * H) == ny(2025, 7, 7, 10)


def test_far_dates_and_long_durations_work() -> None:
    cal = office()
    start = datetime(2090, 1, 1, tzinfo=UTC)
    week = cal.between(start, start + timedelta(days=7))
    assert week == 40 * H
    assert cal.add(start, 4000 * H) > start + timedelta(days=600)


# ---------------------------------------------------------------------------------------------
# Errors.


@pytest.mark.parametrize(
    ("call", "argument"),
    [
        (lambda c: c.add(datetime(2025, 6, 2, 9), H), "start"),
        (lambda c: c.between(datetime(2025, 6, 2, 9), ny(2025, 6, 2)), "start"),
        (lambda c: c.between(ny(2025, 6, 2), datetime(2025, 6, 2, 9)), "end"),
        (lambda c: c.is_open(datetime(2025, 6, 2, 9)), "at"),
        (lambda c: c.next_open(datetime(2025, 6, 2, 9)), "at"),
    ],
    ids=["add_start", "between_start", "between_end", "is_open_at", "next_open_at"],
)
def test_naive_datetime_raises_value_error_naming_the_argument(call, argument: str) -> None:
    with pytest.raises(ValueError, match=rf"^{argument} must be a timezone-aware datetime"):
        call(office())


def test_negative_duration_raises() -> None:
    with pytest.raises(ValueError, match="negative"):
        office().add(ny(2025, 6, 2), -M)


def test_empty_calendar_raises_at_construction() -> None:
    with pytest.raises(ValueError, match="no open time"):
        WorkCalendar("UTC", {})
    with pytest.raises(ValueError, match="no open time"):
        WorkCalendar("UTC", {0: [], 3: []})


def test_overlapping_intervals_raise() -> None:
    with pytest.raises(ValueError, match="overlapping"):
        WorkCalendar("UTC", {0: [(time(9), time(12)), (time(11), time(17))]})


def test_overnight_tail_overlapping_next_day_raises() -> None:
    with pytest.raises(ValueError, match="overlapping intervals on Tuesday"):
        WorkCalendar("UTC", {0: [(time(20), time(4))], 1: [(time(3), time(9))]})


def test_unknown_timezone_raises() -> None:
    with pytest.raises(ValueError, match="unknown timezone 'Mars/Olympus_Mons'"):
        WorkCalendar("Mars/Olympus_Mons", {0: [(time(9), time(17))]})
    with pytest.raises(ValueError, match="unknown timezone"):
        WorkCalendar.always("")


@pytest.mark.parametrize(
    ("weekly", "message"),
    [
        ({7: [(time(9), time(17))]}, "weekday"),
        ({-1: [(time(9), time(17))]}, "weekday"),
        ({"mon": [(time(9), time(17))]}, "weekday"),
        ({0: [(time(9), time(9))]}, "start must differ from end"),
        ({0: [("09:00", "17:00")]}, r"datetime\.time"),
        ({0: [(9, 17)]}, r"datetime\.time"),
        ({0: [(time(9),)]}, "pair"),
        ({0: [(time(9, tzinfo=UTC), time(17))]}, "naive"),
    ],
    ids=[
        "weekday_7",
        "weekday_negative",
        "weekday_str",
        "start_equals_end",
        "strings",
        "ints",
        "not_a_pair",
        "aware_time",
    ],
)
def test_invalid_weekly_raises(weekly, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        WorkCalendar("UTC", weekly)


def test_datetime_holiday_is_rejected() -> None:
    with pytest.raises(ValueError, match="holidays"):
        WorkCalendar("UTC", {0: [(time(9), time(17))]}, [datetime(2025, 1, 1)])


def test_calendar_closed_by_holidays_beyond_search_horizon_raises_instead_of_hanging() -> None:
    first = date(2025, 1, 1)
    holidays = [first + timedelta(days=i) for i in range(366 * 12)]
    cal = WorkCalendar("UTC", {d: [(time(9), time(17))] for d in range(7)}, holidays)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    with pytest.raises(ValueError, match="no open time within"):
        cal.next_open(start)
    with pytest.raises(ValueError, match="no open time within"):
        cal.add(start, H)
    # Open time that is merely far (but within the horizon) is still found.
    cal2 = WorkCalendar("UTC", {d: [(time(9), time(17))] for d in range(7)}, holidays[: 366 * 5])
    assert cal2.next_open(start) == datetime(2030, 1, 5, 9, tzinfo=UTC)  # day after the last


# ---------------------------------------------------------------------------------------------
# Property-based tests against a brute-force reference.

ZONES = [
    "Europe/Berlin",
    "America/New_York",
    "Australia/Lord_Howe",
    "America/Sao_Paulo",
    "Asia/Kolkata",
    "UTC",
]
RANGE_START = int(datetime(2017, 1, 1, tzinfo=UTC).timestamp()) // 60
RANGE_END = int(datetime(2027, 1, 1, tzinfo=UTC).timestamp()) // 60


@functools.cache
def transitions(tz: str) -> tuple[int, ...]:
    """UTC minutes (within the test range) at which the zone's offset changes."""
    zone = ZoneInfo(tz)
    found = []
    previous = None
    for minute in range(RANGE_START, RANGE_END, 30):
        offset = datetime.fromtimestamp(minute * 60, zone).utcoffset()
        if previous is not None and offset != previous:
            found.append(minute)
        previous = offset
    return tuple(found)


@dataclass(frozen=True)
class Spec:
    tz: str
    weekly: dict[int, list[tuple[time, time]]]
    holidays: tuple[date, ...]

    def calendar(self) -> WorkCalendar:
        return WorkCalendar(self.tz, self.weekly, self.holidays)


class Reference:
    """The ground-truth definition, applied literally to one UTC minute at a time."""

    def __init__(self, spec: Spec) -> None:
        self.zone = ZoneInfo(spec.tz)
        self.holidays = set(spec.holidays)
        self.minutes = [bytearray(1440) for _ in range(7)]
        for weekday, intervals in spec.weekly.items():
            for start, end in intervals:
                s = start.hour * 60 + start.minute
                e = end.hour * 60 + end.minute or 1440
                if s < e:
                    self.minutes[weekday][s:e] = b"\x01" * (e - s)
                else:  # overnight: the tail belongs to the next weekday
                    self.minutes[weekday][s:] = b"\x01" * (1440 - s)
                    self.minutes[(weekday + 1) % 7][:e] = b"\x01" * e

    def open_minute(self, minute: int) -> bool:
        local = datetime.fromtimestamp(minute * 60, self.zone)
        if local.date() in self.holidays:
            return False
        return bool(self.minutes[local.weekday()][local.hour * 60 + local.minute])

    def between_minutes(self, a: int, b: int) -> int:
        return sum(1 for m in range(a, b) if self.open_minute(m))


def utc_minute(minute: int) -> datetime:
    return datetime.fromtimestamp(minute * 60, UTC)


def minute_time(minute_of_day: int) -> time:
    return time(minute_of_day // 60 % 24, minute_of_day % 60)


@st.composite
def weekly_specs(draw: st.DrawFn) -> dict[int, list[tuple[time, time]]]:
    kind = draw(st.sampled_from(["always", "office", "overnight", "split"]))
    if kind == "always":
        return {d: [(time(0), time(0))] for d in range(7)}
    if kind == "office":
        return {d: [(time(9), time(17))] for d in range(5)}
    days = draw(st.sets(st.integers(0, 6), min_size=1))
    if kind == "overnight":
        return {d: [(time(20), time(4))] for d in days}
    weekly: dict[int, list[tuple[time, time]]] = {}
    for d in days:
        # An even number of distinct minute boundaries, paired up, gives disjoint intervals;
        # 1440 becomes time(0) ("midnight at the end of the day").
        bounds = sorted(draw(st.sets(st.integers(0, 1440), min_size=2, max_size=6)))
        if len(bounds) % 2:
            bounds.pop()
        weekly[d] = [
            (minute_time(bounds[i]), minute_time(bounds[i + 1])) for i in range(0, len(bounds), 2)
        ]
    return weekly


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[Spec, int]:
    """A calendar spec and a minute-aligned UTC start (often near a DST change)."""
    tz = draw(st.sampled_from(ZONES))
    weekly = draw(weekly_specs())
    changes = transitions(tz)
    if changes and draw(st.booleans()):
        start = draw(st.sampled_from(changes)) + draw(st.integers(-3 * 1440, 3 * 1440))
    else:
        start = draw(st.integers(RANGE_START, RANGE_END - 120 * 1440))
    zone = ZoneInfo(tz)
    near = datetime.fromtimestamp(start * 60, zone).date()
    holidays = set(draw(st.lists(st.integers(-3, 40).map(lambda n: near + timedelta(days=n)))))
    if changes and draw(st.booleans()):
        # A holiday on a DST-change local date.
        change = draw(st.sampled_from(changes))
        holidays.add(datetime.fromtimestamp(change * 60, zone).date())
    return Spec(tz, weekly, tuple(sorted(holidays))), start


# Hypothesis favours small integers; drawing whole days separately spreads spans evenly up to 60
# days so that long windows (several DST changes, many weekends) are exercised as often as short.
DAY_US = 86_400 * 1_000_000
spans_us = st.builds(
    lambda days, us: days * DAY_US + us, st.integers(0, 60), st.integers(0, DAY_US - 1)
)
spans_minutes = st.builds(
    lambda days, minutes: days * 1440 + minutes, st.integers(0, 60), st.integers(0, 1439)
)
durations = spans_us.map(lambda us: timedelta(microseconds=us))
PROPERTY = settings(deadline=None, max_examples=300, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(scenario=scenarios(), offset_us=st.integers(0, 59_999_999), duration=durations)
def test_add_round_trips_through_between_and_is_earliest(
    scenario: tuple[Spec, int], offset_us: int, duration: timedelta
) -> None:
    spec, start_minute = scenario
    cal = spec.calendar()
    start = utc_minute(start_minute) + timedelta(microseconds=offset_us)
    deadline = cal.add(start, duration)
    assert deadline.tzinfo is UTC
    assert deadline >= start
    assert cal.between(start, deadline) == duration
    if duration:
        assert cal.between(start, deadline - timedelta(microseconds=1)) < duration
        assert cal.between(start, deadline - M) < duration
        # Earliest means the last microsecond before the deadline was open time.
        assert cal.is_open(deadline - timedelta(microseconds=1))
    else:
        assert deadline == start


@PROPERTY
@given(
    scenario=scenarios(),
    span=st.one_of(st.integers(0, 3 * 1440), spans_minutes),
    reverse=st.booleans(),
)
def test_between_matches_minute_by_minute_reference(
    scenario: tuple[Spec, int], span: int, reverse: bool
) -> None:
    spec, a = scenario
    b = a + span
    cal = spec.calendar()
    expected = Reference(spec).between_minutes(a, b) * M
    if reverse:
        assert cal.between(utc_minute(b), utc_minute(a)) == -expected
    else:
        assert cal.between(utc_minute(a), utc_minute(b)) == expected


@PROPERTY
@given(
    scenario=scenarios(),
    minutes=st.builds(lambda d, m: d * 1440 + m, st.integers(0, 3), st.integers(0, 1439)),
)
def test_add_matches_reference_walk(scenario: tuple[Spec, int], minutes: int) -> None:
    spec, start = scenario
    cal = spec.calendar()
    ref = Reference(spec)
    deadline = cal.add(utc_minute(start), minutes * M)
    # Walk the reference minute by minute (bounded, so sparse calendars stay cheap).
    minute, counted = start, 0
    while counted < minutes and minute < start + 40 * 1440:
        counted += ref.open_minute(minute)
        minute += 1
    if counted == minutes:
        assert deadline == utc_minute(minute)
    else:
        assert deadline > utc_minute(minute)


@PROPERTY
@given(
    scenario=scenarios(),
    a=spans_us,
    b=spans_us,
    c=spans_us,
)
def test_between_is_additive(scenario: tuple[Spec, int], a: int, b: int, c: int) -> None:
    spec, start = scenario
    cal = spec.calendar()
    base = utc_minute(start)
    ta, tb, tc = (base + timedelta(microseconds=x) for x in (a, b, c))
    assert cal.between(ta, tb) + cal.between(tb, tc) == cal.between(ta, tc)


@PROPERTY
@given(
    scenario=scenarios(),
    minutes=st.lists(st.integers(-2 * 1440, 4 * 1440), min_size=1, max_size=20),
    second=st.integers(0, 59),
    zone_for_input=st.sampled_from(["UTC", "Asia/Tokyo", "America/Los_Angeles", "calendar"]),
)
def test_is_open_and_next_open_agree_with_reference(
    scenario: tuple[Spec, int], minutes: list[int], second: int, zone_for_input: str
) -> None:
    spec, start = scenario
    cal = spec.calendar()
    ref = Reference(spec)
    zone = ZoneInfo(spec.tz if zone_for_input == "calendar" else zone_for_input)
    for m in minutes:
        minute = start + m
        at = (utc_minute(minute) + timedelta(seconds=second)).astimezone(zone)
        assert cal.is_open(at) == ref.open_minute(minute)
        nxt = cal.next_open(at)
        assert nxt.tzinfo is UTC
        if ref.open_minute(minute):
            assert nxt == at.astimezone(UTC)  # in UTC: PEP 495 fold=1 inter-zone inequality
        else:
            # The reference's next open minute (searched within a week) is where it opens.
            probe = minute + 1
            while probe < minute + 7 * 1440 and not ref.open_minute(probe):
                probe += 1
            if probe < minute + 7 * 1440:
                assert nxt == utc_minute(probe)
            else:
                assert nxt >= utc_minute(probe)
            assert cal.between(at, nxt) == timedelta(0)


# ---------------------------------------------------------------------------------------------
# next_change: when the calendar next closes (if open) or opens (if closed)

NEXT_CHANGE_CASES = [
    ("open: closing time", office(), ny(2025, 7, 2, 10), ny(2025, 7, 2, 17)),
    ("closed in the evening: next morning", office(), ny(2025, 7, 2, 18), ny(2025, 7, 3, 9)),
    ("Friday evening: Monday morning", office(), ny(2025, 7, 11, 17), ny(2025, 7, 14, 9)),
    ("closing at the last open instant", office(), ny(2025, 7, 2, 16, 59), ny(2025, 7, 2, 17)),
    ("closing time itself is closed", office(), ny(2025, 7, 2, 17), ny(2025, 7, 3, 9)),
    ("the day before a holiday: over it", office(holidays=(date(2025, 7, 4),)),
     ny(2025, 7, 3, 18), ny(2025, 7, 7, 9)),
    ("split shift: lunch break", WorkCalendar("Europe/Berlin", {
        0: [(time(9), time(13)), (time(14), time(18))]}), berlin(2025, 6, 2, 11),
     berlin(2025, 6, 2, 13)),
    ("split shift: after lunch", WorkCalendar("Europe/Berlin", {
        0: [(time(9), time(13)), (time(14), time(18))]}), berlin(2025, 6, 2, 13, 30),
     berlin(2025, 6, 2, 14)),
    ("overnight shift closes next morning", every_day("Europe/Berlin", time(20), time(4)),
     berlin(2025, 6, 2, 23), berlin(2025, 6, 3, 4)),
    ("spring forward: a 24/7 day is still one stretch", every_day(
        "Europe/Berlin", time(0), time(0), holidays=(date(2025, 4, 1),)),
     berlin(2025, 3, 30, 1, 30), berlin(2025, 4, 1)),
    ("fall back: closes at 17:00 after the repeated hour", every_day(
        "Europe/Berlin", time(1), time(17)), berlin(2025, 10, 26, 2, 30),
     berlin(2025, 10, 26, 17)),
]  # fmt: skip


@pytest.mark.parametrize(
    ("calendar", "at", "expected"),
    [case[1:] for case in NEXT_CHANGE_CASES],
    ids=[case[0] for case in NEXT_CHANGE_CASES],
)
def test_next_change_table(calendar: WorkCalendar, at: datetime, expected: datetime) -> None:
    change = calendar.next_change(at)
    assert change == expected
    assert change is not None and change.tzinfo is UTC


def test_next_change_of_an_always_open_calendar_is_none() -> None:
    assert WorkCalendar.always("Europe/Berlin").next_change(berlin(2025, 3, 30, 2, 30)) is None
    assert every_day("UTC", time(0), time(0)).next_change(datetime(2030, 1, 1, tzinfo=UTC)) is None


def test_next_change_rejects_a_naive_datetime() -> None:
    with pytest.raises(ValueError, match="at"):
        office().next_change(datetime(2025, 7, 2, 10))


@settings(deadline=None, max_examples=120, suppress_health_check=[HealthCheck.too_slow])
@given(scenario=scenarios())
def test_next_change_is_the_first_minute_whose_openness_differs(
    scenario: tuple[Spec, int],
) -> None:
    spec, start = scenario
    reference = Reference(spec)
    change = spec.calendar().next_change(utc_minute(start))
    now_open = reference.open_minute(start)
    horizon = start + 10 * 1440  # walk at most ten days minute by minute
    if change is None:
        assert now_open
        assert all(reference.open_minute(m) for m in range(start, horizon))
        return
    end = int(change.timestamp()) // 60
    assert change.timestamp() % 60 == 0 and end > start
    assert all(reference.open_minute(m) is now_open for m in range(start, min(end, horizon)))
    if end < horizon:
        assert reference.open_minute(end) is not now_open
