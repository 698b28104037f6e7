"""A timer's derived fields for the generators, from the functions `sla.actions._store` uses.

`sla.actions` stores, for a running timer started at `started` with a target and a warning
threshold: `due_at = engine.due_at(calendar, clock)`, `warn_at = engine.warn_at(...)`,
`due_clock = engine.position(calendar, due_at)`, `target_seconds`, and `next_check_at` by
`sla.escalation.next_check` (the earliest pending warning or deadline). The generators write
millions of timers with `INSERT … SELECT`, where calling the engine per row is not possible;
on an always-open calendar those fields are the start plus a constant, so `linear` asks the
engine for the constants of one (calendar, target, warning) and checks, at several starts,
that they do not depend on the start. Calendars with working hours go through `running`,
one timer at a time in Python.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sla import engine
from sla.calendar import WorkCalendar

# Starts at which `linear` checks the offsets: a weekday, a weekend and a DST change in
# Europe (an always-open calendar must not care).
_SAMPLES = (
    datetime(2026, 3, 2, 9, 30, 15, tzinfo=UTC),
    datetime(2026, 3, 29, 0, 59, 59, 250000, tzinfo=UTC),
    datetime(2026, 10, 24, 23, 0, 0, 500000, tzinfo=UTC),
)


@dataclass(frozen=True)
class Offsets:
    """Constants of a timer on an always-open calendar, for SQL:
    `due_at = started + due`, `warn_at = started + warn` (no warning when None),
    `due_clock = floor(epoch seconds of (due_at - engine.EPOCH)) + axis_shift`."""

    target: timedelta
    warn_after: timedelta | None
    due: timedelta
    warn: timedelta | None
    axis_shift: int

    @property
    def target_seconds(self) -> int:
        return int(self.target.total_seconds())


def _axis(at: datetime) -> int:
    """What the SQL computes: whole wall seconds since engine.EPOCH, rounded down."""
    return math.floor((at - engine.EPOCH).total_seconds())


def linear(calendar: WorkCalendar, target: timedelta, warn_after: timedelta | None) -> Offsets:
    """The engine's deadlines of a timer on `calendar` as offsets from its start; raises
    ValueError when they depend on the start (a calendar with working hours)."""
    found = set()
    for started in _SAMPLES:
        clock = engine.start(target, started, warn_after)
        due = engine.due_at(calendar, clock)
        warn = engine.warn_at(calendar, clock)
        assert due is not None
        found.add(
            Offsets(
                target=target,
                warn_after=warn_after,
                due=due - started,
                warn=None if warn is None else warn - started,
                axis_shift=engine.position(calendar, due) - _axis(due),
            )
        )
    if len(found) != 1:
        raise ValueError("The calendar is not always open: compute deadlines per timer.")
    return found.pop()


@dataclass(frozen=True)
class Running:
    """The stored fields of a timer running since its start, as `sla.actions._store` writes
    them, and whether the scan would have stamped its thresholds by `now`."""

    due_at: datetime
    warn_at: datetime | None
    due_clock: int
    warned_at: datetime | None
    breached_at: datetime | None
    next_check_at: datetime | None


def running(
    calendar: WorkCalendar,
    target: timedelta,
    warn_after: timedelta | None,
    started: datetime,
    now: datetime,
) -> Running:
    """One timer started at `started` and never paused, seen at `now` (no escalation rules
    after the breach, as in the generated policies)."""
    clock = engine.start(target, started, warn_after)
    due = engine.due_at(calendar, clock)
    warn = engine.warn_at(calendar, clock)
    assert due is not None
    # The thresholds `sla.escalation.advance` would have stamped by `now`.
    breached = due if due < now else None
    warned = warn if warn is not None and (warn <= now or breached) else None
    pending = [at for at in (None if warned else warn, None if breached else due) if at]
    return Running(
        due_at=due,
        warn_at=warn,
        due_clock=engine.position(calendar, due),
        warned_at=warned,
        breached_at=breached,
        next_check_at=min(pending) if pending else None,
    )
