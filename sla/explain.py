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

from sla import engine
from sla.models import Holiday, SlaPause, SlaTimer, TimerKind, TimerState, Weekday
from tasks.models import Status, Task, TaskEvent


@dataclass
class TimerView:
    timer: SlaTimer
    consumed: timedelta
    remaining: timedelta
    percent: int
    at_risk: bool
    calendar_summary: str
    holidays_skipped: list[Holiday] = field(default_factory=list)
    # What the clock measures, e.g. "Resolution" or "Time to decision — step 1 of 2 (Budget)".
    label: str = ""
    # Whether its clock runs at `now` and until when (None once stopped): the countdown.
    tick: engine.Tick | None = None
    now: datetime | None = None

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
    # First response before Resolution, then the time-to-decision clocks, each by cycle.
    rank = {TimerKind.RESPONSE: 0, TimerKind.RESOLUTION: 1}
    timers = sorted(timers_for_card(task), key=lambda t: (rank.get(t.kind, 2), t.cycle))
    window = _holiday_window(timers, now)
    holidays: list[Holiday] = []
    if window:
        calendar_ids = {t.calendar_id for t in timers}
        holidays = list(Holiday.objects.filter(calendar_id__in=calendar_ids, date__range=window))
    approvals = _approval_labels(task, timers)
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
                label=approvals.get(timer.cycle, "")
                if timer.kind == TimerKind.APPROVAL
                else timer.get_kind_display(),
                tick=timer.tick(now),
                now=now,
            )
        )
    return views


def _holiday_window(timers: list[SlaTimer], now: datetime) -> tuple[date, date] | None:
    if not timers:
        return None
    first = min(t.started_at for t in timers)
    last = max([now] + [t.stopped_at or t.due_at or now for t in timers])
    return (first - timedelta(days=1)).date(), (last + timedelta(days=1)).date()


def _approval_labels(task: Task, timers: list[SlaTimer]) -> dict[int, str]:
    """The label of each time-to-decision clock by cycle: which step of the chain it timed
    and, when the card was sent more than once, which sending. Cycles are the card's
    approval rounds (tasks.actions: each sending asks step 1, each approval but the last
    asks the next step), so they are read back from the card's history in order. Two
    queries, only for a card that has such clocks."""
    kind = TimerKind.APPROVAL
    if not any(t.kind == kind for t in timers):
        return {}
    chain = list(
        task.request_type.approval_steps.order_by("position").values_list("name", flat=True)
    )
    Kind = TaskEvent.Kind
    history = (
        TaskEvent.objects.filter(
            task=task, kind__in=[Kind.STATUS_CHANGED, Kind.APPROVED, Kind.REJECTED]
        )
        .order_by("at", "pk")
        .values_list("kind", "new_value")
    )
    asked: dict[int, list[int]] = {}  # round → [step, of (0: not known yet), sending]
    round_ = sending = 0
    for event_kind, value in history:
        if event_kind == Kind.STATUS_CHANGED:
            if value == Status.ON_APPROVAL:
                round_, sending = round_ + 1, sending + 1
                asked[round_] = [1, 0, sending]
        elif round_ in asked and isinstance(value, dict):
            step, of = int(value.get("step") or 1), int(value.get("of") or 1)
            asked[round_][:2] = [step, of]
            if event_kind == Kind.APPROVED and step < of:
                round_ += 1
                asked[round_] = [step + 1, of, sending]
    labels = {}
    for cycle, (step, of, sent) in asked.items():
        of = of or max(len(chain), 1)
        parts = []
        if of > 1:
            name = f" ({chain[step - 1]})" if step <= len(chain) else ""
            parts.append(f"step {step} of {of}{name}")
        if sent > 1:
            parts.append(f"{_ordinal(sent)} sending")
        labels[cycle] = " — ".join([kind.label, ", ".join(parts)]) if parts else kind.label
    for timer in timers:
        labels.setdefault(timer.cycle, kind.label)
    return labels


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"
