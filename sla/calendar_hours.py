"""Writes of a calendar's weekly hours besides its admin form: copying one day's working
intervals to other days (the calendar admin's "Copy Monday's hours to Tue–Fri")."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from sla.actions import recompute_calendar_timers
from sla.history import settings_change
from sla.models import BusinessCalendar, Weekday, WorkingInterval

WORKWEEK_AFTER_MONDAY = (Weekday.TUESDAY, Weekday.WEDNESDAY, Weekday.THURSDAY, Weekday.FRIDAY)


class NothingToCopy(ValueError):
    """The day to copy from has no working hours."""


@transaction.atomic
def copy_day_hours(
    *,
    calendar: BusinessCalendar,
    source: int = Weekday.MONDAY,
    days: Sequence[int] = WORKWEEK_AFTER_MONDAY,
    actor=None,
    at: datetime | None = None,
) -> list[WorkingInterval]:
    """Replace the working intervals of `days` with copies of `source`'s. Bumps the
    calendar's revision and re-derives its open timers' deadlines as of `at` (time used
    before stays measured by the old hours), recorded in the settings history as `actor`'s.
    Returns the copies. Raises NothingToCopy when `source` has no intervals. The caller
    judges the resulting week (sla.admin_forms.check_week) before calling."""
    calendar = BusinessCalendar.objects.select_for_update().get(pk=calendar.pk)
    originals = list(calendar.intervals.filter(weekday=source).order_by("start"))
    if not originals:
        raise NothingToCopy(f"{Weekday(source).label} has no working hours to copy.")
    try:
        before = calendar.build_work_calendar()
    except ValueError:
        before = None
    copies = []
    with settings_change(actor=actor, reason=f"copy {Weekday(source).label}'s hours"):
        for row in calendar.intervals.filter(weekday__in=days):
            row.delete()  # one by one: each removal is recorded in the history
        for day in days:
            for row in originals:
                copy = WorkingInterval(calendar=calendar, weekday=day, start=row.start, end=row.end)
                copy.save()
                copies.append(copy)
    calendar.touch()
    if before is not None:
        recompute_calendar_timers(calendar=calendar, before=before, at=at or timezone.now())
    return copies
