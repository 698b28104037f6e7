"""Derive report tables (CardFacts, StageInterval) from card history, incrementally.

A card's facts are recomputed when its `version` moved on since they were computed (every
action bumps it) or one of its SLA timers was updated since (the scan records breaches without
touching the card), so a refresh costs what changed, not what exists. The days those cards
touch (created, closed, breached; before and after) are marked (StaleDay) with the facts and
then rebuilt in DailyVolume.
Business time is measured in the card's calendar: its first timer's, else the default
policy's. Cards are read in batches (their events, timers and calendars in a constant
number of queries per batch); the calendar arithmetic is pure Python (sla.calendar).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from django.db import connection, transaction
from django.db.models import Count, Exists, F, Max, OuterRef, Q, Sum, Value
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from reports.models import CardFacts, DailyVolume, StageInterval, StaleDay
from sla import bulk
from sla.calendar import WorkCalendar
from sla.models import (
    CARD_TIMER_KINDS,
    BusinessCalendar,
    SlaEvent,
    SlaPolicy,
    SlaTimer,
    TimerKind,
    TimerState,
)
from tasks.models import CLOSED_STATUSES, Status, Task, TaskEvent

BATCH = 500
# The kinds of clock CardFacts and DailyVolume count per card. The time to decision (one
# clock per approval step asked) is read from the timers where it is shown (the overview's
# clock rows, the approver bottlenecks); its updates still count in `timers_seen`, so a
# moved approval clock does not leave a card's facts looking stale for ever.
CLOCK_KINDS = CARD_TIMER_KINDS
# Every writer of the derived tables (the 5-minute refresh, the digest's refresh, an import)
# takes this lock in its transaction: two refreshes at once would both delete a card's rows
# and both insert them (a duplicate key). SQLite serialises writers by itself.
LOCK_KEY = 0x7265706F  # "repo"


def serialise() -> None:
    """Wait for any other writer of the report tables; held until this transaction ends."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK_KEY])


Kind = TaskEvent.Kind
TRACKED = (Kind.CREATED, Kind.STATUS_CHANGED, Kind.TEAM_CHANGED, Kind.APPROVER_CHANGED)


@dataclass
class Stretch:
    status: str
    team_id: int | None
    approver_id: int | None
    started_at: datetime
    handoff_from_id: int | None = None
    ended_at: datetime | None = None


def stretches(task: Task, events: Iterable[dict]) -> list[Stretch]:
    """The card's life cut at every change of status, team or approver, from its typed
    history (dicts with kind, old_value, new_value, at; in order). Zero-length stretches are
    dropped (a hand-off they carried passes to the next); closed statuses are not stages."""
    current = Stretch(Status.NEW, task.team_id, None, task.created_at)
    out: list[Stretch] = []
    for event in events:
        kind, at = event["kind"], event["at"]
        if kind == Kind.CREATED:
            new = event["new_value"] or {}
            current = Stretch(new.get("status", Status.NEW), new.get("team"), None, at)
            continue
        following = Stretch(current.status, current.team_id, current.approver_id, at)
        if kind == Kind.STATUS_CHANGED:
            following.status = event["new_value"]
        elif kind == Kind.TEAM_CHANGED:
            following.team_id = event["new_value"]
            following.handoff_from_id = event["old_value"]
        elif kind == Kind.APPROVER_CHANGED:
            following.approver_id = event["new_value"]
        current.ended_at = at
        if at > current.started_at:
            out.append(current)
        elif following.handoff_from_id is None:
            following.handoff_from_id = current.handoff_from_id
        current = following
    out.append(current)
    return [s for s in out if s.status not in CLOSED_STATUSES]


WAITING = (Status.WAITING, Status.ON_APPROVAL)  # the department figure's statuses


def flow_keys(s: Stretch) -> dict[str, tuple | None]:
    """The stretch's key in each flow figure (None: not counted in that figure)."""
    return {
        "previous_in_status": ("status", s.status),
        "previous_waiting_in_team": ("waiting", s.team_id) if s.status in WAITING else None,
        "previous_with_approver": (
            ("approval", s.approver_id) if s.status == Status.ON_APPROVAL else None
        ),
        "previous_after_handoff": (
            ("handoff", s.handoff_from_id, s.team_id) if s.handoff_from_id is not None else None
        ),
    }


def previous_starts(card_stretches: list[Stretch]) -> list[dict[str, datetime | None]]:
    """Per stretch (in order), when the card's previous stretch with the same key in each
    flow figure began; None for its first (or when the figure does not count it)."""
    latest: dict[tuple, datetime] = {}
    out = []
    for s in card_stretches:
        previous: dict[str, datetime | None] = {}
        for field, key in flow_keys(s).items():
            previous[field] = latest.get(key) if key is not None else None
            if key is not None:
                latest[key] = s.started_at
        out.append(previous)
    return out


def _business(calendar: WorkCalendar | None, start: datetime | None, end: datetime | None):
    if calendar is None or start is None or end is None:
        return None
    return calendar.between(start, end) if end > start else timedelta(0)


NEVER = datetime(1970, 1, 1, tzinfo=UTC)
STATE_FIELD = {
    TimerState.MET: "met",
    TimerState.BREACHED: "missed",
    TimerState.RUNNING: "running",
    TimerState.PAUSED: "running",
    TimerState.CANCELLED: "cancelled",
}


# A timer update stamped this long before the latest refresh may still have been in flight
# (uncommitted) when that refresh looked: look again.
IN_FLIGHT = timedelta(hours=1)


def stale_cards():
    """Cards the next refresh recomputes (for inspection; refresh() itself asks the two
    questions separately, each a cheap plan: see _version_stale and _timers_moved)."""
    return Task.objects.filter(Q(pk__in=_version_stale()) | Q(pk__in=list(_timers_moved())))


def _version_stale():
    """Cards without facts, or whose facts were computed from an older version."""
    current = CardFacts.objects.filter(task=OuterRef("pk"), version=OuterRef("version"))
    return Task.objects.filter(~Exists(current)).values("pk")


def _timers_moved() -> set[int]:
    """Cards with a timer updated after their facts last saw it (the scan records breaches
    without bumping the card version). Only timers updated since the latest refresh, less
    IN_FLIGHT, are compared: older updates were seen by that refresh."""
    latest = CardFacts.objects.aggregate(at=Max("computed_at"))["at"]
    since = min(latest, timezone.now()) - IN_FLIGHT if latest else NEVER
    moved = SlaTimer.objects.filter(updated_at__gt=since).filter(
        updated_at__gt=Coalesce(F("task__report_facts__timers_seen"), Value(NEVER))
    )
    return set(moved.order_by().values_list("task_id", flat=True).distinct())


def refresh(*, batch_size: int = BATCH, now: datetime | None = None) -> int:
    """Bring CardFacts and StageInterval up to date; returns the number of cards refreshed.
    Idempotent; walks card ids upwards, so it ends even while cards keep changing."""
    now = now or timezone.now()
    default = (
        SlaPolicy.objects.filter(is_default=True, active=True).select_related("calendar").first()
    )
    default_calendar = default.calendar if default else None
    last, done = 0, 0
    moved = sorted(_timers_moved())
    while True:
        ids = list(
            _version_stale()
            .filter(pk__gt=last)
            .order_by("pk")
            .values_list("pk", flat=True)[:batch_size]
        )
        ids = sorted({*ids, *(pk for pk in moved if pk > last)})[:batch_size]
        if not ids:
            break
        _refresh_batch(ids, default_calendar, now)
        done += len(ids)
        last = ids[-1]
    rebuild_days(StaleDay.objects.values_list("day", flat=True))
    return done


def _local_day(moment: datetime | None) -> date | None:
    return None if moment is None else timezone.localtime(moment).date()


@transaction.atomic
def _refresh_batch(ids: list[int], default_calendar: BusinessCalendar | None, now) -> None:
    """Recompute the cards' facts and stages; marks stale the local days whose DailyVolume
    rows they touch (their old and new created and closed days, and their breach days)."""
    serialise()
    days = {
        _local_day(moment)
        for pair in CardFacts.objects.filter(task_id__in=ids).values_list(
            "created_at", "resolved_at"
        )
        for moment in pair
    }
    days |= {
        _local_day(at)
        for at in SlaEvent.objects.filter(
            timer__task_id__in=ids, kind=SlaEvent.Kind.BREACH
        ).values_list("at", flat=True)
    }
    cards = list(Task.objects.filter(pk__in=ids).select_related("related_object"))
    events: dict[int, list[dict]] = defaultdict(list)
    for event in (
        TaskEvent.objects.filter(task_id__in=ids, kind__in=TRACKED)
        .order_by("task_id", "at", "pk")
        .values("task_id", "kind", "old_value", "new_value", "at")
    ):
        events[event["task_id"]].append(event)
    first_calendar: dict[int, int] = {}
    clocks: dict[int, dict] = defaultdict(dict)
    for task_id, calendar_id, kind, state, consumed, updated_at in (
        SlaTimer.objects.filter(task_id__in=ids)
        .order_by("task_id", "started_at", "pk")
        .values_list("task_id", "calendar_id", "kind", "state", "consumed", "updated_at")
    ):
        first_calendar.setdefault(task_id, calendar_id)
        outcome = clocks[task_id]
        if kind in CLOCK_KINDS:
            for name in (f"{kind}_clocks", f"{kind}_{STATE_FIELD[state]}"):
                outcome[name] = outcome.get(name, 0) + 1
        if kind == TimerKind.RESPONSE and state in (TimerState.MET, TimerState.BREACHED):
            outcome["response_consumed"] = consumed
        seen = outcome.get("timers_seen")
        outcome["timers_seen"] = updated_at if seen is None else max(seen, updated_at)
    calendars = {
        c.pk: c for c in BusinessCalendar.objects.filter(pk__in=set(first_calendar.values()))
    }

    facts, intervals = [], []
    for task in cards:
        calendar_row = calendars.get(first_calendar.get(task.pk)) or default_calendar
        calendar = calendar_row.work_calendar() if calendar_row else None
        client_id = task.related_object.root_id if task.related_object_id else None
        dims = {"request_type_id": task.request_type_id, "priority": task.priority}
        history = events.get(task.pk, [])
        card_stretches = stretches(task, history)
        for s, previous in zip(card_stretches, previous_starts(card_stretches), strict=True):
            intervals.append(
                StageInterval(
                    task_id=task.pk,
                    status=s.status,
                    team_id=s.team_id,
                    handoff_from_id=s.handoff_from_id,
                    approver_id=s.approver_id,
                    client_id=client_id,
                    started_at=s.started_at,
                    ended_at=s.ended_at,
                    business=_business(calendar, s.started_at, s.ended_at),
                    **previous,
                    **dims,
                )
            )
        facts.append(
            CardFacts(
                task_id=task.pk,
                version=task.version,
                calendar=calendar_row,
                has_sla=task.pk in first_calendar,
                team_id=task.team_id,
                client_id=client_id,
                created_at=task.created_at,
                response_business=_business(calendar, task.created_at, task.first_response_at),
                resolution_business=_business(calendar, task.created_at, task.resolved_at),
                handoffs=sum(1 for e in history if e["kind"] == Kind.TEAM_CHANGED),
                computed_at=now,
                owner_id=task.owner_id,
                resolved_at=task.resolved_at,
                **clocks.get(task.pk, {}),
                **dims,
            )
        )
        days |= {_local_day(task.created_at), _local_day(task.resolved_at)}
    StageInterval.objects.filter(task_id__in=ids).delete()
    bulk.insert_objects(intervals)
    CardFacts.objects.filter(task_id__in=ids).delete()
    bulk.insert_objects(facts)
    days.discard(None)
    StaleDay.objects.bulk_create((StaleDay(day=d) for d in days), ignore_conflicts=True)


# --- DailyVolume ---------------------------------------------------------------------------

DIMS = ("team_id", "request_type_id", "priority")


def _spans(days: Iterable[date]) -> list[tuple[date, date]]:
    """Consecutive days merged into [first, last] spans."""
    spans: list[tuple[date, date]] = []
    for day in sorted(days):
        if spans and (day - spans[-1][1]).days == 1:
            spans[-1] = (spans[-1][0], day)
        else:
            spans.append((day, day))
    return spans


def _local_midnight(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, datetime.min.time()))


def rebuild_days(days: Iterable[date]) -> None:
    """Recompute DailyVolume for these local days from CardFacts and breach events: a few
    grouped queries per span of consecutive days, whatever the number of cards."""
    for first, last in _spans(days):
        with transaction.atomic():
            serialise()
            _rebuild_span(first, last)
            StaleDay.objects.filter(day__gte=first, day__lte=last).delete()


def _rebuild_span(first: date, last: date) -> None:
    start, end = _local_midnight(first), _local_midnight(last + timedelta(days=1))
    rows: dict[tuple, dict] = defaultdict(dict)
    created = (
        CardFacts.objects.filter(created_at__gte=start, created_at__lt=end)
        .annotate(day=TruncDate("created_at"))
        .values("day", *DIMS)
        .annotate(
            created=Count("pk"),
            **{
                f"{kind}_cards": Count("pk", filter=Q(**{f"{kind}_clocks__gt": 0}))
                for kind in CLOCK_KINDS
            },
            **{
                f"{kind}_{state}": Sum(f"{kind}_{state}")
                for kind in CLOCK_KINDS
                for state in ("met", "missed", "running", "cancelled")
            },
        )
        .order_by()
    )
    for r in created:
        rows[(r.pop("day"), *(r.pop(d) for d in DIMS))].update(r)
    closed = (
        CardFacts.objects.filter(resolved_at__gte=start, resolved_at__lt=end)
        .annotate(day=TruncDate("resolved_at"))
        .values("day", *DIMS)
        .annotate(closed=Count("pk"))
        .order_by()
    )
    for r in closed:
        rows[(r.pop("day"), *(r.pop(d) for d in DIMS))].update(r)
    breached = (
        SlaEvent.objects.filter(kind=SlaEvent.Kind.BREACH, at__gte=start, at__lt=end)
        .annotate(day=TruncDate("at"))
        .values(
            "day", "timer__task__team_id", "timer__task__request_type_id", "timer__task__priority"
        )
        .annotate(breached=Count("pk"))
        .order_by()
    )
    for r in breached:
        key = (
            r["day"],
            r["timer__task__team_id"],
            r["timer__task__request_type_id"],
            r["timer__task__priority"],
        )
        rows[key]["breached"] = r["breached"]
    DailyVolume.objects.filter(day__gte=first, day__lte=last).delete()
    DailyVolume.objects.bulk_create(
        (
            DailyVolume(day=day, team_id=team, request_type_id=rtype, priority=priority, **counts)
            for (day, team, rtype, priority), counts in rows.items()
        ),
        batch_size=2000,
    )
