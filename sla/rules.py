"""What "open", "breached", "at risk" and a timer's band mean at an instant, pure (no Django).

The one definition of each rule, as a predicate over a timer's stored facts. The SQL side
(`SlaTimerQuerySet.open/breached/at_risk/with_band` in sla.models) says the same in a
WHERE clause; tests/sla/test_rules.py holds the two equal on a grid of timer states.

| rule      | Python (here)      | facts read                                      |
|-----------|--------------------|-------------------------------------------------|
| open      | `is_open`          | stopped_at is None                              |
| overdue   | `is_overdue`       | not stamped, due_at < now                       |
| breached  | `is_breached`      | open, and stamped or overdue                    |
| warning   | `warning_due`      | running, not warned, warn_at <= now             |
| at risk   | `is_at_risk`       | open, not breached, warned or warn_at <= now    |
| band      | `band`             | breached > at risk (warned) > running > paused  |

"Stamped" means `breached_at` is set: the breach was recorded (`escalation.advance`, the
scan, or a card change). An open timer is stamped exactly when its state is
`TimerState.BREACHED` (sla.actions._store, escalation.advance and the scan's SQL write both
together), which is what the SQL side tests, because the at-risk queue's indexes carry the
state and not `breached_at`.

A deadline is missed only once it has passed: at `due_at` itself the time used equals the
target, and a card closed at that instant meets it (sla.actions stops a timer as breached
only when the time used exceeds the target). So a timer is overdue from just after `due_at`,
and its breach is stamped at `due_at`. A warning is due at `warn_at` itself.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

# Bands of the at-risk queue, most urgent first.
BREACHED, WARNED, RUNNING, PAUSED = range(4)
BAND_NAMES = {BREACHED: "breached", WARNED: "warned", RUNNING: "running", PAUSED: "paused"}


class TimerFacts(Protocol):
    """The stored facts the rules read (an `SlaTimer` has them all)."""

    @property
    def stopped_at(self) -> datetime | None: ...
    @property
    def running_since(self) -> datetime | None: ...
    @property
    def due_at(self) -> datetime | None: ...
    @property
    def warn_at(self) -> datetime | None: ...
    @property
    def warned_at(self) -> datetime | None: ...
    @property
    def breached_at(self) -> datetime | None: ...


def is_open(timer: TimerFacts) -> bool:
    """Still measuring: running, paused, or breached and not yet stopped. A stopped timer
    (met, breached or cancelled) is closed for good."""
    return timer.stopped_at is None


def is_overdue(timer: TimerFacts, now: datetime) -> bool:
    """The deadline passed before `now` and no breach is stamped yet: what
    `escalation.advance` stamps (at `due_at`). A paused timer has a `due_at` only when it
    was re-targeted below the time it had used, so it counts too."""
    return timer.breached_at is None and timer.due_at is not None and timer.due_at < now


def is_breached(timer: TimerFacts, now: datetime) -> bool:
    """An open timer whose breach is stamped, or overdue at `now` (stamped or not, the card
    is late)."""
    return is_open(timer) and (timer.breached_at is not None or is_overdue(timer, now))


def warning_due(timer: TimerFacts, now: datetime) -> bool:
    """A running timer whose warning threshold passed by `now` and has not warned yet: what
    `escalation.advance` announces (a breach found at the same time says more)."""
    return (
        timer.running_since is not None
        and timer.warned_at is None
        and timer.warn_at is not None
        and timer.warn_at <= now
    )


def _warned(timer: TimerFacts, now: datetime) -> bool:
    return timer.warned_at is not None or (timer.warn_at is not None and timer.warn_at <= now)


def is_at_risk(timer: TimerFacts, now: datetime) -> bool:
    """An open timer, not breached at `now`, whose warning threshold has passed (warned
    already, or due to warn: the scan may not have run yet)."""
    return is_open(timer) and not is_breached(timer, now) and _warned(timer, now)


def band(timer: TimerFacts, now: datetime) -> int:
    """The band of an open timer at `now` in the at-risk queue (see BAND_NAMES)."""
    if is_breached(timer, now):
        return BREACHED
    if _warned(timer, now):
        return WARNED
    return RUNNING if timer.running_since is not None else PAUSED
