"""Timer arithmetic, pure (no Django): turns a timer's facts into consumed time and deadlines.

A timer is a *clock* of business time against a target. Its facts are kept incrementally:
`consumed` is the business time used up to `running_since` (or in total while it is paused),
and `running_since` is the instant it last started or resumed (None while paused/stopped).
So the time used at `now` is `consumed + calendar.between(running_since, now)`, and the due
time is the instant at which that reaches the target. Because pauses simply stop the clock,
resuming moves the due time by the *business* time lost, never by wall-clock time; and a new
target keeps the time already consumed (history is never rewritten).

All datetimes are timezone-aware; durations are `timedelta` of business (open) time in the
calendar passed in. `replay` computes the same figures from the full pause history and is
the reference the incremental functions are tested against.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Protocol

ZERO = timedelta(0)
# Origin of every calendar's business-time axis (see `position`).
EPOCH = datetime(2020, 1, 1, tzinfo=UTC)


class Calendar(Protocol):
    def add(self, start: datetime, duration: timedelta) -> datetime: ...
    def between(self, start: datetime, end: datetime) -> timedelta: ...


class OpeningCalendar(Calendar, Protocol):
    """A calendar that can say when it opens and closes (sla.calendar.WorkCalendar)."""

    def is_open(self, at: datetime) -> bool: ...
    def next_change(self, at: datetime) -> datetime | None: ...


@dataclass(frozen=True, slots=True)
class Clock:
    """The stored facts of one timer."""

    target: timedelta
    consumed: timedelta = ZERO
    running_since: datetime | None = None
    warn_after: timedelta | None = None  # business time at which to warn, if any

    @property
    def running(self) -> bool:
        return self.running_since is not None


def warn_threshold(target: timedelta, pct: int | None, lead: timedelta | None) -> timedelta | None:
    """Business time after which a timer warns: `pct` % of the target and/or `lead` before
    it; when both are set the earlier one wins. None when neither is set."""
    candidates = []
    if pct is not None:
        if not 0 < pct < 100:
            raise ValueError("The warning percentage must be between 1 and 99.")
        # Whole microseconds, rounded down: warning a hair early beats warning late.
        candidates.append(timedelta(microseconds=target // timedelta(microseconds=1) * pct // 100))
    if lead is not None:
        if lead <= ZERO or lead >= target:
            raise ValueError("The warning lead time must be positive and shorter than the target.")
        candidates.append(target - lead)
    return min(candidates) if candidates else None


def consumed_at(calendar: Calendar, clock: Clock, now: datetime) -> timedelta:
    """Business time used up to `now` (never less than what was stored)."""
    if clock.running_since is None or now <= clock.running_since:
        return clock.consumed
    return clock.consumed + calendar.between(clock.running_since, now)


def start(target: timedelta, at: datetime, warn_after: timedelta | None = None) -> Clock:
    if target <= ZERO:
        raise ValueError("An SLA target must be a positive duration.")
    return Clock(target=target, running_since=at, warn_after=warn_after)


def pause(calendar: Calendar, clock: Clock, at: datetime) -> Clock:
    """Stop the clock at `at`, folding the running stretch into `consumed`."""
    if clock.running_since is None:
        return clock
    return replace(clock, consumed=consumed_at(calendar, clock, at), running_since=None)


def resume(clock: Clock, at: datetime) -> Clock:
    if clock.running_since is not None:
        return clock
    return replace(clock, running_since=at)


def rebase(calendar: Calendar, clock: Clock, at: datetime) -> Clock:
    """Fold time used so far into `consumed` as of `at` (before a calendar or target change,
    so the stretch before `at` stays measured as it was)."""
    if clock.running_since is None or at <= clock.running_since:
        return clock
    return replace(clock, consumed=consumed_at(calendar, clock, at), running_since=at)


def retarget(clock: Clock, target: timedelta, warn_after: timedelta | None) -> Clock:
    """A new target (priority or request type changed); consumed time is kept."""
    if target <= ZERO:
        raise ValueError("An SLA target must be a positive duration.")
    return replace(clock, target=target, warn_after=warn_after)


def reaches(calendar: Calendar, clock: Clock, amount: timedelta) -> datetime | None:
    """The instant the running clock reaches `amount` of business time, assuming it keeps
    running. None while paused, or when `amount` was already reached before
    `running_since` (the caller knows when that was, or treats it as now)."""
    if clock.running_since is None:
        return None
    need = amount - clock.consumed
    if need < ZERO:
        return None
    return calendar.add(clock.running_since, need)


def due_at(calendar: Calendar, clock: Clock) -> datetime | None:
    return reaches(calendar, clock, clock.target)


def warn_at(calendar: Calendar, clock: Clock) -> datetime | None:
    if clock.warn_after is None:
        return None
    return reaches(calendar, clock, clock.warn_after)


def replay(
    calendar: Calendar,
    started_at: datetime,
    pauses: Iterable[tuple[datetime, datetime | None]],
    until: datetime,
) -> timedelta:
    """Business time used between `started_at` and `until`, from the full history: open time
    minus the open time inside pause intervals. The reference for the incremental clock."""
    used = calendar.between(started_at, until) if until > started_at else ZERO
    for begin, end in pauses:
        end = until if end is None or end > until else end
        if end > begin:
            used -= calendar.between(begin, end)
    return used


def position(calendar: Calendar, at: datetime) -> int:
    """Whole seconds of open time between EPOCH and `at`: a monotone axis on which the
    business time between two instants of one calendar is a subtraction."""
    return int(calendar.between(EPOCH, at).total_seconds())


@dataclass(frozen=True, slots=True)
class Progress:
    """What a page shows about a timer at `now`."""

    consumed: timedelta
    remaining: timedelta  # negative when over target
    fraction: float  # share of target consumed, may exceed 1.0

    @property
    def percent(self) -> int:
        return round(self.fraction * 100)


def progress(calendar: Calendar, clock: Clock, now: datetime) -> Progress:
    used = consumed_at(calendar, clock, now)
    return Progress(
        consumed=used,
        remaining=clock.target - used,
        fraction=used / clock.target if clock.target else 1.0,
    )


@dataclass(frozen=True, slots=True)
class Tick:
    """Whether a timer's clock runs at `now` and until when, so a page can count it down
    between refreshes: while `running`, business time elapses one second per second until
    `until` (the calendar closes); while not, it stands still until `until` (the calendar
    opens). `until` is None when that never happens (a 24/7 calendar) or is not known (the
    clock is paused because the card waits, or stopped)."""

    running: bool
    until: datetime | None
    paused: bool = False  # paused by the card (waiting), not by the calendar
    # When the clock runs again after it stands still: `until` itself while not running;
    # while running, the opening after the closing at `until` (None if unknown or never).
    resumes: datetime | None = None


def tick(calendar: OpeningCalendar, clock: Clock, now: datetime) -> Tick:
    """The clock at `now` (aware): running and when the calendar next closes, closed and when
    it next opens, or paused (`clock.running_since` is None: the card waits or it stopped).
    A clock whose `running_since` is after `now` counts as closed until then."""
    if clock.running_since is None:
        return Tick(running=False, until=None, paused=True)
    if now < clock.running_since:
        return Tick(running=False, until=clock.running_since, resumes=clock.running_since)
    change = calendar.next_change(now)
    if calendar.is_open(now):
        return Tick(running=True, until=change, resumes=change and calendar.next_change(change))
    return Tick(running=False, until=change, resumes=change)
