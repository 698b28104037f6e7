"""Why a timer's deadline is what it is: calendar, holidays skipped, pauses, re-targets.

Reads only. Feeds the card page; every figure comes from the engine or stored rows, so the
template does no SLA arithmetic.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.db.models import Prefetch
from django.utils import timezone

from sla.models import Holiday, SlaPause, SlaTimer, TimerState, Weekday
from tasks.models import Task


@dataclass
class TimerView:
    timer: SlaTimer
    consumed: timedelta
    remaining: timedelta
    percent: int
    at_risk: bool
    calendar_summary: str
    holidays_skipped: list[Holiday] = field(default_factory=list)

    @property
    def overdue(self) -> bool:
        return self.remaining < timedelta(0)

    @property
    def overdue_by(self) -> timedelta:
        return -self.remaining


def timers_for_card(task: Task):
    """All timers of a card with what the explanation needs, in a fixed number of queries."""
    return (
        task.timers.select_related("calendar", "policy")
        .prefetch_related(
            Prefetch("pauses", queryset=SlaPause.objects.select_related("blocking_reason")),
            "retargets",
            "calendar__intervals",
        )
        .order_by("kind", "cycle")
    )


def _summary(timer: SlaTimer) -> str:
    calendar = timer.calendar
    if calendar.always_open:
        return f"{calendar.name}: open 24/7 ({calendar.timezone})"
    days: dict[str, list[str]] = {}
    for interval in calendar.intervals.all():
        hours = f"{interval.start:%H:%M}–{interval.end:%H:%M}"
        days.setdefault(hours, []).append(Weekday(interval.weekday).label[:3])
    by_hours = {}
    for hours, names in days.items():
        by_hours.setdefault(", ".join(names), []).append(hours)
    parts = [f"{d} {' and '.join(h)}" for d, h in by_hours.items()]
    return f"{calendar.name}: {'; '.join(parts)} ({calendar.timezone}), public holidays closed"


def explain_timers(task: Task, now: datetime | None = None) -> list[TimerView]:
    now = now or timezone.now()
    views = []
    timers = list(timers_for_card(task))
    window = _holiday_window(timers, now)
    holidays: list[Holiday] = []
    if window:
        calendar_ids = {t.calendar_id for t in timers}
        holidays = list(Holiday.objects.filter(calendar_id__in=calendar_ids, date__range=window))
    for timer in timers:
        progress = timer.progress(now)
        tz = ZoneInfo(timer.calendar.timezone)
        end = timer.stopped_at or timer.due_at or now
        start_day = timer.started_at.astimezone(tz).date()
        end_day = max(end, now if timer.is_open else end).astimezone(tz).date()
        views.append(
            TimerView(
                timer=timer,
                consumed=progress.consumed,
                remaining=progress.remaining,
                percent=progress.percent,
                at_risk=timer.is_open
                and (
                    timer.state == TimerState.BREACHED
                    or bool(timer.warned_at)
                    or bool(timer.warn_at and timer.warn_at <= now)
                ),
                calendar_summary=_summary(timer),
                holidays_skipped=[
                    h
                    for h in holidays
                    if h.calendar_id == timer.calendar_id and start_day <= h.date <= end_day
                ],
            )
        )
    return views


def _holiday_window(timers: list[SlaTimer], now: datetime) -> tuple[date, date] | None:
    if not timers:
        return None
    first = min(t.started_at for t in timers)
    last = max([now] + [t.stopped_at or t.due_at or now for t in timers])
    return (first - timedelta(days=1)).date(), (last + timedelta(days=1)).date()
