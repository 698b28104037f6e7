"""Putting a card in front of its team's dispatchers, one card or a set (the scan)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from tasks.actions.core import Kind, _event, _save, lock_task
from tasks.models import Task, TaskEvent


@transaction.atomic
def flag_for_dispatch(
    *,
    task: Task,
    reason: str,
    actor: User | None = None,
    at: datetime | None = None,
) -> Task:
    """Put the card in front of its team's dispatchers ("not taken in time", an escalation).
    Only a card that `TaskQuerySet.flaggable_for_dispatch` admits is flagged (open, not
    flagged yet); any other is left as it is. Taking it into work or reassigning it clears
    the flag."""
    at = at or timezone.now()
    lock_task(task)
    if not Task.objects.flaggable_for_dispatch().filter(pk=task.pk).exists():
        return task
    event = _event(
        task, Kind.DISPATCH_FLAGGED, actor=actor, at=at, field="dispatch_flag",
        old="", new=reason,
    )  # fmt: skip
    task.dispatch_flag = reason
    _save(task, [event], at=at)
    return task


@transaction.atomic
def flag_many_for_dispatch(*, task_ids: Iterable[int], reason: str, at: datetime) -> int:
    """Set-based `flag_for_dispatch` for the scan, with the same rule: flags the cards among
    `task_ids` that `TaskQuerySet.flaggable_for_dispatch` admits. It writes only the flag, so
    it does not call the card-change listeners (see the `tasks.actions` docstring). Returns how
    many cards it flagged."""
    cards = list(
        Task.objects.flaggable_for_dispatch()
        .select_for_update()
        .filter(pk__in=set(task_ids))
        .only("pk", "version")
    )
    for task in cards:
        task.dispatch_flag, task.updated_at, task.version = reason, at, task.version + 1
    Task.objects.bulk_update(cards, ["dispatch_flag", "updated_at", "version"])
    TaskEvent.objects.bulk_create(
        _event(task, Kind.DISPATCH_FLAGGED, actor=None, at=at, field="dispatch_flag",
               old="", new=reason)
        for task in cards
    )  # fmt: skip
    return len(cards)
