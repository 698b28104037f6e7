"""Tests for sla.engine (pure: no Django, no database).

Table-driven examples pin the arithmetic on a Berlin office calendar; property-based tests
check the incremental clock against `engine.replay` (the full-history reference) on random
calendars, zones and pause/resume/rebase histories.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sla import engine
from sla.calendar import WorkCalendar

BERLIN = ZoneInfo("Europe/Berlin")
H = timedelta(hours=1)
M = timedelta(minutes=1)
ZERO = timedelta(0)

# Mon-Fri 09:00-13:00 and 14:00-18:00 in Berlin; 2026-11-23 is a Monday.
OFFICE = WorkCalendar(
    "Europe/Berlin", {d: [(time(9), time(13)), (time(14), time(18))] for d in range(5)}
)


def berlin(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN)


# ---------------------------------------------------------------------------------------------
# warn_threshold

WARN_CASES = [
    ("percentage only", 8 * H, 75, None, 6 * H),
    ("lead only", 8 * H, None, 2 * H, 6 * H),
    ("both: percentage earlier wins", 8 * H, 50, H, 4 * H),
    ("both: lead earlier wins", 8 * H, 90, 3 * H, 5 * H),
    ("neither: no warning", 8 * H, None, None, None),
    ("percentage rounds down to the microsecond", timedelta(microseconds=3), 50, None,
     timedelta(microseconds=1)),
    ("one percent", 100 * H, 1, None, H),
    ("ninety-nine percent", 100 * H, 99, None, 99 * H),
]  # fmt: skip


@pytest.mark.parametrize(
    ("target", "pct", "lead", "expected"),
    [c[1:] for c in WARN_CASES],
    ids=[c[0].replace(" ", "_") for c in WARN_CASES],
)
def test_warn_threshold_table(target, pct, lead, expected) -> None:
    assert engine.warn_threshold(target, pct, lead) == expected


BAD_WARN_CASES = [
    ("zero percent", 8 * H, 0, None),
    ("hundred percent", 8 * H, 100, None),
    ("negative percent", 8 * H, -5, None),
    ("zero lead", 8 * H, None, ZERO),
    ("negative lead", 8 * H, None, -H),
    ("lead equal to target", 8 * H, None, 8 * H),
    ("lead longer than target", 8 * H, 50, 9 * H),
]


@pytest.mark.parametrize(
    ("target", "pct", "lead"),
    [c[1:] for c in BAD_WARN_CASES],
    ids=[c[0].replace(" ", "_") for c in BAD_WARN_CASES],
)
def test_warn_threshold_rejects_bad_values(target, pct, lead) -> None:
    with pytest.raises(ValueError):
        engine.warn_threshold(target, pct, lead)


# ---------------------------------------------------------------------------------------------
# consumed_at, pause, resume, rebase, retarget, due_at, progress

MONDAY_9 = berlin(2026, 11, 23, 9)

CONSUMED_CASES = [
    ("nothing before the start", engine.start(8 * H, MONDAY_9), berlin(2026, 11, 23, 8), ZERO),
    ("at the start", engine.start(8 * H, MONDAY_9), MONDAY_9, ZERO),
    ("morning", engine.start(8 * H, MONDAY_9), berlin(2026, 11, 23, 12), 3 * H),
    ("lunch does not count", engine.start(8 * H, MONDAY_9), berlin(2026, 11, 23, 14), 4 * H),
    ("weekend does not count", engine.start(8 * H, berlin(2026, 11, 27, 17)),
     berlin(2026, 11, 30, 10), 2 * H),
    ("stored consumed is added", engine.Clock(8 * H, 5 * H, MONDAY_9),
     berlin(2026, 11, 23, 10), 6 * H),
    ("paused clock stays put", engine.Clock(8 * H, 5 * H, None), berlin(2026, 12, 1, 10), 5 * H),
    ("before running_since only what was stored", engine.Clock(8 * H, 2 * H, MONDAY_9),
     berlin(2026, 11, 20, 10), 2 * H),
]  # fmt: skip


@pytest.mark.parametrize(
    ("clock", "now", "expected"),
    [c[1:] for c in CONSUMED_CASES],
    ids=[c[0].replace(" ", "_") for c in CONSUMED_CASES],
)
def test_consumed_at_table(clock, now, expected) -> None:
    assert engine.consumed_at(OFFICE, clock, now) == expected


def test_start_rejects_a_target_that_is_not_positive() -> None:
    with pytest.raises(ValueError):
        engine.start(ZERO, MONDAY_9)
    with pytest.raises(ValueError):
        engine.start(-H, MONDAY_9)


def test_pause_folds_the_running_stretch_into_consumed_and_stops_the_clock() -> None:
    clock = engine.pause(OFFICE, engine.start(8 * H, MONDAY_9), berlin(2026, 11, 23, 15))
    assert clock == engine.Clock(8 * H, 5 * H, None)
    assert not clock.running
    assert engine.due_at(OFFICE, clock) is None
    assert engine.warn_at(OFFICE, replace(clock, warn_after=6 * H)) is None


def test_pausing_a_paused_clock_changes_nothing() -> None:
    clock = engine.Clock(8 * H, 5 * H, None)
    assert engine.pause(OFFICE, clock, berlin(2026, 11, 24, 15)) == clock


def test_resume_restarts_the_clock_and_resuming_a_running_clock_changes_nothing() -> None:
    paused = engine.Clock(8 * H, 5 * H, None)
    resumed = engine.resume(paused, berlin(2026, 11, 24, 10))
    assert resumed == engine.Clock(8 * H, 5 * H, berlin(2026, 11, 24, 10))
    assert engine.resume(resumed, berlin(2026, 11, 25, 10)) == resumed


def test_resume_extends_the_due_time_by_business_time_lost_not_wall_clock() -> None:
    # 8 h from Friday 10:00: due Monday 10:00. Paused Friday 16:00 → Monday 10:00 loses 3 h of
    # business time (Fri 16-18, Mon 9-10) although 66 wall-clock hours passed.
    clock = engine.start(8 * H, berlin(2026, 11, 20, 10))
    assert engine.due_at(OFFICE, clock) == berlin(2026, 11, 23, 10)
    clock = engine.pause(OFFICE, clock, berlin(2026, 11, 20, 16))
    clock = engine.resume(clock, berlin(2026, 11, 23, 10))
    assert engine.due_at(OFFICE, clock) == OFFICE.add(berlin(2026, 11, 23, 10), 3 * H)
    assert engine.due_at(OFFICE, clock) == berlin(2026, 11, 23, 13)


def test_rebase_moves_running_since_and_keeps_what_was_used() -> None:
    clock = engine.start(8 * H, MONDAY_9)
    rebased = engine.rebase(OFFICE, clock, berlin(2026, 11, 23, 11))
    assert rebased == engine.Clock(8 * H, 2 * H, berlin(2026, 11, 23, 11))
    assert engine.due_at(OFFICE, rebased) == engine.due_at(OFFICE, clock)


def test_rebase_of_a_paused_clock_or_before_running_since_changes_nothing() -> None:
    paused = engine.Clock(8 * H, 2 * H, None)
    assert engine.rebase(OFFICE, paused, berlin(2026, 11, 24, 11)) == paused
    running = engine.start(8 * H, MONDAY_9)
    assert engine.rebase(OFFICE, running, berlin(2026, 11, 20, 11)) == running
    assert engine.rebase(OFFICE, running, MONDAY_9) == running


def test_retarget_keeps_consumed_time_and_moves_the_due_time() -> None:
    clock = engine.rebase(OFFICE, engine.start(8 * H, MONDAY_9), berlin(2026, 11, 23, 10))
    shorter = engine.retarget(clock, 2 * H, engine.warn_threshold(2 * H, 75, None))
    assert shorter.consumed == H
    assert shorter.warn_after == 90 * M
    assert engine.due_at(OFFICE, shorter) == berlin(2026, 11, 23, 11)
    assert engine.warn_at(OFFICE, shorter) == berlin(2026, 11, 23, 10, 30)


def test_retarget_rejects_a_target_that_is_not_positive() -> None:
    with pytest.raises(ValueError):
        engine.retarget(engine.start(8 * H, MONDAY_9), ZERO, None)


def test_due_at_is_none_when_the_target_was_already_used_up_before_running_since() -> None:
    clock = engine.Clock(2 * H, 3 * H, MONDAY_9)
    assert engine.due_at(OFFICE, clock) is None


def test_due_at_is_running_since_when_exactly_the_target_was_used() -> None:
    clock = engine.Clock(2 * H, 2 * H, MONDAY_9)
    assert engine.due_at(OFFICE, clock) == MONDAY_9


def test_due_at_on_a_deadline_at_closing_time_is_closing_time() -> None:
    clock = engine.start(4 * H, berlin(2026, 11, 23, 14))
    assert engine.due_at(OFFICE, clock) == berlin(2026, 11, 23, 18)


def test_warn_at_is_none_without_a_warning_threshold() -> None:
    assert engine.warn_at(OFFICE, engine.start(8 * H, MONDAY_9)) is None


PROGRESS_CASES = [
    ("untouched", engine.start(8 * H, MONDAY_9), MONDAY_9, ZERO, 8 * H, 0.0, 0),
    ("half way", engine.start(8 * H, MONDAY_9), berlin(2026, 11, 23, 14), 4 * H, 4 * H, 0.5, 50),
    ("exactly at the target", engine.start(8 * H, MONDAY_9), berlin(2026, 11, 23, 18),
     8 * H, ZERO, 1.0, 100),
    ("over the target", engine.start(8 * H, MONDAY_9), berlin(2026, 11, 24, 11),
     10 * H, -2 * H, 1.25, 125),
    ("paused clock", engine.Clock(8 * H, 2 * H, None), berlin(2026, 11, 30, 11),
     2 * H, 6 * H, 0.25, 25),
]  # fmt: skip


@pytest.mark.parametrize(
    ("clock", "now", "consumed", "remaining", "fraction", "percent"),
    [c[1:] for c in PROGRESS_CASES],
    ids=[c[0].replace(" ", "_") for c in PROGRESS_CASES],
)
def test_progress_table(clock, now, consumed, remaining, fraction, percent) -> None:
    result = engine.progress(OFFICE, clock, now)
    assert result.consumed == consumed
    assert result.remaining == remaining
    assert result.fraction == pytest.approx(fraction)
    assert result.percent == percent


def test_replay_subtracts_only_the_open_time_inside_pauses() -> None:
    pauses = [
        (berlin(2026, 11, 20, 16), berlin(2026, 11, 23, 10)),  # 3 h open inside
        (berlin(2026, 11, 23, 12), None),  # still paused at `until`
    ]
    used = engine.replay(OFFICE, berlin(2026, 11, 20, 10), pauses, berlin(2026, 11, 23, 17))
    # Open Fri 10:00 → Mon 17:00 is 7 h + 7 h = 14 h, minus 3 h, minus Mon 12-17 (4 h).
    assert used == 7 * H


# ---------------------------------------------------------------------------------------------
# Property-based: the incremental clock agrees with the full-history replay.

ZONES = ["Europe/Berlin", "America/New_York", "Asia/Kolkata", "UTC"]


@st.composite
def day_intervals(draw) -> list[tuple[time, time]]:
    """0-3 disjoint intervals within one day on whole minutes (end 24:00 spelled time(0))."""
    points = sorted(draw(st.sets(st.integers(0, 24 * 60), max_size=6)))
    if len(points) % 2:
        points = points[:-1]
    out = []
    for s, e in zip(points[::2], points[1::2], strict=True):
        out.append((time(s // 60, s % 60), time(e // 60 % 24, e % 60)))
    return out


@st.composite
def calendars(draw) -> WorkCalendar:
    tz = draw(st.sampled_from(ZONES))
    shape = draw(st.sampled_from(["always", "split office", "overnight", "random"]))
    if shape == "always":
        return WorkCalendar.always(tz)
    if shape == "split office":
        weekly = {d: [(time(9), time(13)), (time(14), time(18))] for d in range(5)}
    elif shape == "overnight":
        weekly = {d: [(time(20), time(4))] for d in range(5)}
    else:
        weekly = {d: draw(day_intervals()) for d in range(7)}
        if not any(weekly.values()):
            weekly[draw(st.integers(0, 6))] = [(time(8), time(16))]
    holidays = draw(
        st.lists(st.dates(date(2026, 3, 1), date(2026, 12, 31)), max_size=8, unique=True)
    )
    return WorkCalendar(tz, weekly, holidays)


# Minute-aligned UTC instants around both DST changes of Europe and North America in 2026.
starts = st.integers(0, 250 * 24 * 60).map(
    lambda m: datetime(2026, 3, 1, tzinfo=UTC) + timedelta(minutes=m)
)
gaps = st.integers(0, 5 * 24 * 60).map(lambda m: timedelta(minutes=m))
events = st.lists(st.tuples(st.sampled_from(["pause", "resume", "rebase"]), gaps), max_size=12)
targets = st.integers(1, 80 * 60).map(lambda m: timedelta(minutes=m))


def _run(calendar, target, started_at, history):
    """Apply a history to a clock; yield (clock, at, pauses-so-far) after every event."""
    clock = engine.start(target, started_at)
    pauses: list[list] = []
    at = started_at
    for kind, gap in history:
        at += gap
        if kind == "pause" and clock.running:
            clock = engine.pause(calendar, clock, at)
            pauses.append([at, None])
        elif kind == "resume" and not clock.running:
            clock = engine.resume(clock, at)
            pauses[-1][1] = at
        elif kind == "rebase":
            clock = engine.rebase(calendar, clock, at)
        yield kind, clock, at, [tuple(p) for p in pauses]


@settings(max_examples=100, deadline=None)
@given(calendars(), targets, starts, events, gaps)
def test_incremental_clock_matches_replay_of_the_full_history(
    calendar, target, started_at, history, tail
) -> None:
    for _kind, clock, at, pauses in _run(calendar, target, started_at, history):
        assert engine.consumed_at(calendar, clock, at) == engine.replay(
            calendar, started_at, pauses, at
        )
        later = at + tail
        assert engine.consumed_at(calendar, clock, later) == engine.replay(
            calendar, started_at, pauses, later
        )


@settings(max_examples=100, deadline=None)
@given(calendars(), targets, starts, events)
def test_due_time_after_resume_is_resume_instant_plus_remaining_business_time(
    calendar, target, started_at, history
) -> None:
    for kind, clock, at, pauses in _run(calendar, target, started_at, history):
        if kind != "resume" or clock.running_since != at:
            continue
        remaining = target - clock.consumed
        due = engine.due_at(calendar, clock)
        if remaining < ZERO:
            assert due is None
            continue
        assert due == calendar.add(at, remaining)
        # …and the full history agrees that the target is used up exactly then.
        assert engine.replay(calendar, started_at, pauses, due) == target


@settings(max_examples=100, deadline=None)
@given(calendars(), targets, starts, events, gaps, gaps)
def test_rebase_never_changes_consumed_time_or_deadlines_later(
    calendar, target, started_at, history, when, later
) -> None:
    clock, last = engine.start(target, started_at), started_at
    for _kind, after, at, _pauses in _run(calendar, target, started_at, history):
        clock, last = after, at
    clock = replace(clock, warn_after=engine.warn_threshold(target, 75, None))
    rebase_at = last + when
    rebased = engine.rebase(calendar, clock, rebase_at)
    for instant in (rebase_at, rebase_at + later):
        assert engine.consumed_at(calendar, rebased, instant) == engine.consumed_at(
            calendar, clock, instant
        )
    # Deadlines still ahead of the rebase instant stay put. One already passed is reported as
    # None (the caller stamped it when it passed, see `reaches`) — or as the rebase instant
    # when exactly that amount was used (e.g. reached at closing time, rebased after hours).
    for threshold, amount in ((engine.due_at, target), (engine.warn_at, clock.warn_after)):
        before, after = threshold(calendar, clock), threshold(calendar, rebased)
        if before is None or before >= rebase_at or not clock.running:
            assert after == before
        elif rebased.consumed == amount:
            assert after == rebase_at
        else:
            assert after is None


# ---------------------------------------------------------------------------------------------
# tick: whether the clock runs now and until when (the page's countdown between refreshes)

TICK_CASES = [
    ("running in the morning: until lunch", berlin(2026, 11, 23, 10), True,
     berlin(2026, 11, 23, 13)),
    ("at lunch: stands still until 14:00", berlin(2026, 11, 23, 13, 30), False,
     berlin(2026, 11, 23, 14)),
    ("Friday evening: still until Monday 09:00", berlin(2026, 11, 27, 19), False,
     berlin(2026, 11, 30, 9)),
]  # fmt: skip


@pytest.mark.parametrize(
    ("now", "running", "until"), [c[1:] for c in TICK_CASES], ids=[c[0] for c in TICK_CASES]
)
def test_tick_table(now: datetime, running: bool, until: datetime) -> None:
    clock = engine.start(8 * H, berlin(2026, 11, 23, 9))
    resumes = berlin(2026, 11, 23, 14) if running else until
    assert engine.tick(OFFICE, clock, now) == engine.Tick(running, until, resumes=resumes)


def test_a_paused_clock_does_not_tick_and_says_it_is_paused() -> None:
    clock = engine.pause(
        OFFICE, engine.start(8 * H, berlin(2026, 11, 23, 9)), berlin(2026, 11, 23, 10)
    )
    assert engine.tick(OFFICE, clock, berlin(2026, 11, 23, 11)) == engine.Tick(
        running=False, until=None, paused=True
    )


def test_a_clock_on_a_24_7_calendar_runs_without_end() -> None:
    always = WorkCalendar.always("Europe/Berlin")
    clock = engine.start(8 * H, berlin(2026, 3, 29, 1))
    assert engine.tick(always, clock, berlin(2026, 3, 29, 2, 30)) == engine.Tick(True, None)


def test_a_holiday_stops_the_clock_until_the_next_working_day() -> None:
    office = WorkCalendar(
        "Europe/Berlin", {d: [(time(9), time(17))] for d in range(5)}, [date(2026, 12, 24)]
    )
    clock = engine.start(8 * H, berlin(2026, 12, 23, 9))
    assert engine.tick(office, clock, berlin(2026, 12, 23, 16)).until == berlin(2026, 12, 23, 17)
    assert engine.tick(office, clock, berlin(2026, 12, 23, 16)).resumes == berlin(2026, 12, 25, 9)
    closed = engine.tick(office, clock, berlin(2026, 12, 23, 18))
    assert closed == engine.Tick(False, berlin(2026, 12, 25, 9), resumes=berlin(2026, 12, 25, 9))


@settings(deadline=None, max_examples=150)
@given(
    start_min=st.integers(0, 14 * 1440),
    used_min=st.integers(0, 30 * 60),
    step_min=st.integers(1, 5 * 1440),
)
def test_between_now_and_until_the_clock_moves_as_the_tick_says(
    start_min: int, used_min: int, step_min: int
) -> None:
    """Within [now, until) business time grows one second per second while `running` and not
    at all otherwise; right after `until` it does the opposite."""
    now = berlin(2026, 11, 20) + start_min * M
    clock = engine.Clock(target=40 * H, consumed=used_min * M, running_since=now - 3 * H)
    t = engine.tick(OFFICE, clock, now)
    assert t.until is not None and t.until > now
    later = min(now + step_min * M, t.until)
    grown = engine.consumed_at(OFFICE, clock, later) - engine.consumed_at(OFFICE, clock, now)
    assert grown == (later - now if t.running else ZERO)
    after = engine.consumed_at(OFFICE, clock, t.until + M) - engine.consumed_at(
        OFFICE, clock, t.until
    )
    assert after == (ZERO if t.running else M)
