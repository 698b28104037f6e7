"""How a card is classified: priority, request type, team, and all three in one change."""

from __future__ import annotations

from datetime import datetime

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from tasks.actions.core import Kind, _change, _priority, _save_if_changed, lock_task
from tasks.models import RequestType, Task, TaskEvent, Team

# Classification: priority, request type and team. Running timers are re-targeted by the
# listeners and keep the time already used.


def _priority_events(task: Task, priority: str, *, actor, at) -> list[TaskEvent]:
    priority = _priority(priority)
    return _change(task, "priority", priority, Kind.PRIORITY_CHANGED, actor=actor, at=at)


def _request_type_events(task: Task, request_type: RequestType, *, actor, at) -> list[TaskEvent]:
    return _change(
        task, "request_type", request_type, Kind.REQUEST_TYPE_CHANGED, actor=actor, at=at
    )


def _team_events(task: Task, team: Team | None, *, actor, at) -> list[TaskEvent]:
    return _change(task, "team", team, Kind.TEAM_CHANGED, actor=actor, at=at)


@transaction.atomic
def change_priority(
    *,
    task: Task,
    priority: str,
    actor: User | None,
    at: datetime | None = None,
    expected_version: int | None = None,
) -> Task:
    """Change urgency; running timers are re-targeted and keep the time already used."""
    at = at or timezone.now()
    lock_task(task, expected_version=expected_version)
    return _save_if_changed(task, _priority_events(task, priority, actor=actor, at=at), at=at)


@transaction.atomic
def change_request_type(
    *,
    task: Task,
    request_type: RequestType,
    actor: User | None,
    at: datetime | None = None,
    expected_version: int | None = None,
) -> Task:
    """Reclassify the card; running timers move to the matching policy's targets."""
    at = at or timezone.now()
    lock_task(task, expected_version=expected_version)
    events = _request_type_events(task, request_type, actor=actor, at=at)
    return _save_if_changed(task, events, at=at)


@transaction.atomic
def change_team(
    *,
    task: Task,
    team: Team | None,
    actor: User | None,
    at: datetime | None = None,
    expected_version: int | None = None,
) -> Task:
    """Hand the card to another team (a hand-off that reports measure)."""
    at = at or timezone.now()
    lock_task(task, expected_version=expected_version)
    return _save_if_changed(task, _team_events(task, team, actor=actor, at=at), at=at)


@transaction.atomic
def reclassify(
    *,
    task: Task,
    request_type: RequestType,
    priority: str,
    team: Team | None,
    actor: User | None,
    at: datetime | None = None,
    expected_version: int | None = None,
) -> Task:
    """Set request type, priority and team in one change (the card page's "Classification"
    form): one lock, one version check, one new version, and one call of the listeners, so
    running timers are re-targeted once, to the policy matching the card as it ends up."""
    at = at or timezone.now()
    lock_task(task, expected_version=expected_version)
    events = [
        *_priority_events(task, priority, actor=actor, at=at),
        *_request_type_events(task, request_type, actor=actor, at=at),
        *_team_events(task, team, actor=actor, at=at),
    ]
    return _save_if_changed(task, events, at=at)
