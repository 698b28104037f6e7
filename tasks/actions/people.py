"""Who works on a card: owner, performers, approver, and all three in one change."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from tasks.actions.core import (
    Kind,
    WorkflowError,
    _active_user,
    _change,
    _event,
    _owner_of_its_team,
    _save_if_changed,
    lock_task,
)
from tasks.models import Status, Task, TaskEvent

# People. Each rule is written once, in the helpers below, which change a locked card in
# memory and return their events; the single-field actions and `assign_people` share them.


def _owner_events(task: Task, owner: User | None, *, actor, at) -> list[TaskEvent]:
    new_id = owner.pk if owner else None
    if new_id == task.owner_id:
        return []
    if owner is None and task.status != Status.NEW:
        raise WorkflowError("Only a new card may be left without an owner.")
    _owner_of_its_team(owner, task)
    events = [
        _event(task, Kind.OWNER_CHANGED, actor=actor, at=at, field="owner",
               old=task.owner_id, new=new_id)
    ]  # fmt: skip
    task.owner = owner
    task.dispatch_flag = ""  # a dispatcher acted on it
    if task.status == Status.NEW and owner is not None:
        events.append(
            _event(task, Kind.STATUS_CHANGED, actor=actor, at=at, field="status",
                   old=Status.NEW, new=Status.ASSIGNED)
        )  # fmt: skip
        task.status = Status.ASSIGNED
    return events


def _performers_events(task: Task, users: Iterable[User], *, actor, at) -> list[TaskEvent]:
    users = list(users)
    for user in users:
        _active_user(user, "performer")
    old = sorted(task.performers.values_list("pk", flat=True))
    new = sorted({u.pk for u in users})
    if old == new:
        return []
    task.performers.set(users)  # rolled back with the action if a later rule refuses
    return [
        _event(task, Kind.PERFORMERS_CHANGED, actor=actor, at=at, field="performers",
               old=old, new=new)
    ]  # fmt: skip


def _approver_events(task: Task, approver: User | None, *, actor, at) -> list[TaskEvent]:
    if approver is None and task.approver_id and task.status == Status.ON_APPROVAL:
        raise WorkflowError("A card on approval needs an approver.")
    _active_user(approver, "approver")
    return _change(task, "approver", approver, Kind.APPROVER_CHANGED, actor=actor, at=at)


@transaction.atomic
def assign_owner(
    *,
    task: Task,
    owner: User | None,
    actor: User | None,
    at: datetime | None = None,
    expected_version: int | None = None,
) -> Task:
    """Make `owner` the one accountable person. A new card becomes `assigned`."""
    at = at or timezone.now()
    lock_task(task, expected_version=expected_version)
    return _save_if_changed(task, _owner_events(task, owner, actor=actor, at=at), at=at)


@transaction.atomic
def set_performers(
    *,
    task: Task,
    users: Iterable[User],
    actor: User | None,
    at: datetime | None = None,
    expected_version: int | None = None,
) -> Task:
    at = at or timezone.now()
    lock_task(task, expected_version=expected_version)
    return _save_if_changed(task, _performers_events(task, users, actor=actor, at=at), at=at)


@transaction.atomic
def set_approver(
    *,
    task: Task,
    approver: User | None,
    actor: User | None,
    at: datetime | None = None,
    expected_version: int | None = None,
) -> Task:
    at = at or timezone.now()
    lock_task(task, expected_version=expected_version)
    return _save_if_changed(task, _approver_events(task, approver, actor=actor, at=at), at=at)


@transaction.atomic
def assign_people(
    *,
    task: Task,
    owner: User | None,
    performers: Iterable[User],
    approver: User | None,
    actor: User | None,
    at: datetime | None = None,
    expected_version: int | None = None,
) -> Task:
    """Set owner, performers and approver in one change (the card page's "People" form):
    one lock, one version check, the events of each person that changed, one new version
    and one call of the listeners. The rules are those of `assign_owner`, `set_performers`
    and `set_approver`; if one refuses, nothing changes."""
    at = at or timezone.now()
    lock_task(task, expected_version=expected_version)
    events = [
        *_owner_events(task, owner, actor=actor, at=at),
        *_performers_events(task, performers, actor=actor, at=at),
        *_approver_events(task, approver, actor=actor, at=at),
    ]
    return _save_if_changed(task, events, at=at)
