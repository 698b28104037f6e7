"""When a policy's targets fall due for a card opened at a given instant (the policy
admin's preview page)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sla.calendar import WorkCalendar
from sla.models import (
    BusinessCalendar,
    Holiday,
    SlaPolicy,
    SlaTarget,
    TimerKind,
)
from tasks.models import Priority


@dataclass(frozen=True)
class Deadline:
    label: str
    target: timedelta
    due_local: datetime
    due_utc: datetime


@dataclass(frozen=True)
class Preview:
    start_local: datetime
    start_utc: datetime
    priority: Priority
    deadlines: list[Deadline]
    holidays: list[Holiday]


# The time to decision runs from the moment the card is sent for approval, not opened.
LABELS = {TimerKind.APPROVAL: f"{TimerKind.APPROVAL.label} (if sent for approval then)"}


def deadline_preview(policy: SlaPolicy, start: datetime, priority: Priority) -> Preview:
    """When the policy's targets for `priority` fall due for a card opened at `start` (aware)
    and never paused (the time to decision: sent for approval at `start`); no deadlines when
    the policy sets no target for that priority.
    Raises ValueError when the calendar cannot produce one (e.g. no open time)."""
    return targets_preview(policy.calendar, policy.target_for(priority), start, priority)


def targets_preview(
    calendar: BusinessCalendar, target_row: SlaTarget | None, start: datetime, priority: Priority
) -> Preview:
    """`deadline_preview` for a target row that need not be saved (the policy form's
    preview of its unsaved values) on a saved calendar."""
    work = calendar.work_calendar()
    zone = ZoneInfo(calendar.timezone)
    if target_row is None:
        return Preview(start.astimezone(zone), start.astimezone(ZoneInfo("UTC")), priority, [], [])
    deadlines = []
    for kind in TimerKind:
        target = target_row.get(kind)
        if target is None:
            continue
        label = LABELS.get(kind, kind.label)
        warn_after = target_row.warn_after(target)
        if warn_after is not None:
            warn = work.add(start, warn_after)
            deadlines.append(Deadline(f"{label}: warning", warn_after, warn.astimezone(zone), warn))
        due = work.add(start, target)
        deadlines.append(Deadline(f"{label}: due", target, due.astimezone(zone), due))
    start_local = start.astimezone(zone)
    last = max((d.due_local.date() for d in deadlines), default=start_local.date())
    return Preview(
        start_local=start_local,
        start_utc=start.astimezone(ZoneInfo("UTC")),
        priority=priority,
        deadlines=deadlines,
        holidays=_skipped_holidays(calendar, work, start_local.date(), last),
    )


def _skipped_holidays(
    calendar: BusinessCalendar, work: WorkCalendar, first: date, last: date
) -> list[Holiday]:
    """Holidays between the two local dates that fall on a day with working hours."""
    if calendar.always_open:
        return []
    working_days = set(work.weekly)
    return [
        h
        for h in calendar.holidays.filter(date__range=(first, last))
        if h.date.weekday() in working_days
    ]
