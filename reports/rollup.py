"""Derive report tables (CardFacts, StageInterval) from card history, incrementally.

A card's facts are recomputed when its `version` moved on since they were computed (every
action bumps it), so a refresh costs what changed, not what exists. Business time is
measured in the card's calendar: its first timer's, else the default policy's. Cards are
read in batches (their events, timers and calendars in a constant number of queries per
batch); the calendar arithmetic is pure Python (sla.calendar).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from reports.models import CardFacts, StageInterval
from sla.calendar import WorkCalendar
from sla.models import BusinessCalendar, SlaPolicy, SlaTimer
from tasks.models import CLOSED_STATUSES, Status, Task, TaskEvent

BATCH = 500
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


def _business(calendar: WorkCalendar | None, start: datetime | None, end: datetime | None):
    if calendar is None or start is None or end is None:
        return None
    return calendar.between(start, end) if end > start else timedelta(0)


def stale_cards():
    """Cards without facts, or whose facts were computed from an older version."""
    current = CardFacts.objects.filter(task=OuterRef("pk"), version=OuterRef("version"))
    return Task.objects.filter(~Exists(current))


def refresh(*, batch_size: int = BATCH, now: datetime | None = None) -> int:
    """Bring CardFacts and StageInterval up to date; returns the number of cards refreshed.
    Idempotent; walks card ids upwards, so it ends even while cards keep changing."""
    now = now or timezone.now()
    default = (
        SlaPolicy.objects.filter(is_default=True, active=True).select_related("calendar").first()
    )
    default_calendar = default.calendar if default else None
    last, done = 0, 0
    while True:
        ids = list(
            stale_cards()
            .filter(pk__gt=last)
            .order_by("pk")
            .values_list("pk", flat=True)[:batch_size]
        )
        if not ids:
            return done
        _refresh_batch(ids, default_calendar, now)
        done += len(ids)
        last = ids[-1]


@transaction.atomic
def _refresh_batch(ids: list[int], default_calendar: BusinessCalendar | None, now) -> None:
    cards = list(Task.objects.filter(pk__in=ids).select_related("related_object"))
    events: dict[int, list[dict]] = defaultdict(list)
    for event in (
        TaskEvent.objects.filter(task_id__in=ids, kind__in=TRACKED)
        .order_by("task_id", "at", "pk")
        .values("task_id", "kind", "old_value", "new_value", "at")
    ):
        events[event["task_id"]].append(event)
    first_calendar: dict[int, int] = {}
    for task_id, calendar_id in (
        SlaTimer.objects.filter(task_id__in=ids)
        .order_by("task_id", "started_at", "pk")
        .values_list("task_id", "calendar_id")
    ):
        first_calendar.setdefault(task_id, calendar_id)
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
        for s in stretches(task, history):
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
                **dims,
            )
        )
    StageInterval.objects.filter(task_id__in=ids).delete()
    StageInterval.objects.bulk_create(intervals, batch_size=2000)
    CardFacts.objects.filter(task_id__in=ids).delete()
    CardFacts.objects.bulk_create(facts, batch_size=2000)
