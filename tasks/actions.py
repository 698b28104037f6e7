"""Every change to a card goes through one of these functions.

Each is keyword-only and atomic, locks the card row, writes TaskEvents (typed values, never
labels) and saves at exactly one point (`_save`). Views, the API, admin actions, imports and
jobs all call these; none of them writes a card directly.

`at` lets imports and the demo seeder replay real past timestamps; it defaults to now.

The card-change hook
--------------------
The card domain imports nothing from the apps above it (`sla`, `reports`). Whoever must
follow a card registers a listener once, from its `AppConfig.ready()`:

    listen_to_card_changes(sync_timers)   # sla/apps.py: timers follow the card

`_save` calls every listener as `listener(task=task, at=at)` after it saved the card and its
events, inside the same transaction and in registration order: a listener sees the card as
saved, and an error in a listener rolls the whole change back. Every action that changes a
card calls the listeners exactly once per change (a composite action such as
`assign_people` too), except the set-based `flag_many_for_dispatch`, which writes only the
dispatch flag and leaves the listeners alone by design (the scan calls it, and no listener
follows that flag).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, Protocol

from django.contrib.auth.models import AbstractBaseUser
from django.db import models, transaction
from django.utils import timezone

from tasks.models import (
    CLOSED_STATUSES,
    BlockingReason,
    Comment,
    Priority,
    RelatedObject,
    RequestType,
    Status,
    Task,
    TaskEvent,
    Team,
)

Kind = TaskEvent.Kind


class CardListener(Protocol):
    """Called after every change of a card, inside the change's transaction."""

    def __call__(self, *, task: Task, at: datetime) -> object: ...


_card_listeners: list[CardListener] = []


def listen_to_card_changes(listener: CardListener) -> None:
    """Have `listener(task=…, at=…)` called after every change of a card (see the module's
    docstring). Registering the same listener again does nothing, so `ready()` may run twice."""
    if listener not in _card_listeners:
        _card_listeners.append(listener)


class WorkflowError(Exception):
    """A change the workflow does not allow. The message is shown to the user as is."""


class StaleCard(WorkflowError):
    """The card changed since the form was rendered."""


# The one table of allowed status moves. Reopening a done card is a move like any other.
TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.NEW: frozenset(
        {Status.ASSIGNED, Status.IN_PROGRESS, Status.WAITING, Status.DONE, Status.CANCELLED}
    ),
    Status.ASSIGNED: frozenset(
        {Status.IN_PROGRESS, Status.WAITING, Status.ON_APPROVAL, Status.DONE, Status.CANCELLED}
    ),
    Status.IN_PROGRESS: frozenset(
        {Status.ASSIGNED, Status.WAITING, Status.ON_APPROVAL, Status.DONE, Status.CANCELLED}
    ),
    Status.WAITING: frozenset(
        {Status.ASSIGNED, Status.IN_PROGRESS, Status.ON_APPROVAL, Status.DONE, Status.CANCELLED}
    ),
    Status.ON_APPROVAL: frozenset(
        {Status.IN_PROGRESS, Status.WAITING, Status.DONE, Status.CANCELLED}
    ),
    Status.DONE: frozenset({Status.ASSIGNED, Status.IN_PROGRESS}),
    Status.CANCELLED: frozenset(),
}


def allowed_transitions(task: Task) -> list[Status]:
    """Statuses the card may move to next, in workflow order."""
    allowed = TRANSITIONS[Status(task.status)]
    return [s for s in Status if s in allowed]


def lock_task(task: Task, *, expected_version: int | None = None) -> None:
    """Lock the card's row for this transaction and reload it, so concurrent changes queue.

    With `expected_version` (carried by forms), refuse to act on a card that changed since
    the form was shown instead of silently overwriting someone else's change.
    """
    task.refresh_from_db(from_queryset=Task.objects.select_for_update())
    if expected_version is not None and task.version != expected_version:
        raise StaleCard("This card was changed by someone else meanwhile; review it and try again.")


def _event(task: Task, kind: str, *, actor, at, field="", old=None, new=None, note=""):
    return TaskEvent(
        task=task,
        kind=kind,
        field=field,
        old_value=old,
        new_value=new,
        note=note,
        actor=actor,
        at=at,
    )


def _save(task: Task, events: list[TaskEvent], *, at: datetime) -> None:
    """Persist the card and its history, then tell the listeners (the card-change hook):
    the single point where a change of a card reaches the apps that follow cards."""
    task.updated_at = at
    task.version += 1
    task.save()
    TaskEvent.objects.bulk_create(events)
    for listener in _card_listeners:
        listener(task=task, at=at)


def _set(task: Task, field: str, value: Any, kind: str, *, actor, at: datetime) -> None:
    """Set one field of a locked card, record the change (ids for relations, codes for
    choices) and save. Setting the value it already has changes and records nothing."""
    attname = task._meta.get_field(field).attname
    old = getattr(task, attname)
    new = value.pk if isinstance(value, models.Model) else value
    if new == old:
        return
    event = _event(task, kind, actor=actor, at=at, field=field, old=old, new=new)
    setattr(task, field, value)
    _save(task, [event], at=at)


def _active_user(user: AbstractBaseUser | None, role: str) -> None:
    if user is not None and not user.is_active:
        raise WorkflowError(f"{user} is not an active user and cannot be the {role}.")


@transaction.atomic
def create_task(
    *,
    title: str,
    request_type: RequestType,
    priority: str,
    actor: AbstractBaseUser | None,
    related_object: RelatedObject | None = None,
    owner: AbstractBaseUser | None = None,
    team: Team | None = None,
    description: str = "",
    source_url: str = "",
    at: datetime | None = None,
) -> Task:
    """Open a new card. With an owner it starts `assigned`, otherwise `new` (for dispatch).
    The team defaults to the request type's default team."""
    at = at or timezone.now()
    title = title.strip()
    if not title:
        raise WorkflowError("A card needs a title.")
    try:
        priority = Priority(priority)
    except ValueError:
        raise WorkflowError(f"Unknown priority {priority!r}.") from None
    _active_user(owner, "owner")
    task = Task(
        title=title,
        description=description,
        request_type=request_type,
        related_object=related_object,
        priority=priority,
        status=Status.ASSIGNED if owner else Status.NEW,
        owner=owner,
        team=team or request_type.default_team,
        source_url=source_url,
        created_at=at,
        updated_at=at,
        version=0,  # _save bumps it to 1
    )
    task.save()
    created = _event(
        task,
        Kind.CREATED,
        actor=actor,
        at=at,
        new={
            "title": task.title,
            "priority": task.priority,
            "status": task.status,
            "request_type": request_type.pk,
            "owner": owner.pk if owner else None,
            "team": task.team_id,
            "related_object": related_object.pk if related_object else None,
        },
    )
    _save(task, [created], at=at)
    return task


@transaction.atomic
def assign_owner(
    *,
    task: Task,
    owner: AbstractBaseUser | None,
    actor: AbstractBaseUser | None,
    at: datetime | None = None,
    expected_version: int | None = None,
) -> Task:
    """Make `owner` the one accountable person. A new card becomes `assigned`."""
    at = at or timezone.now()
    lock_task(task, expected_version=expected_version)
    new_id = owner.pk if owner else None
    if new_id == task.owner_id:
        return task
    if owner is None and task.status != Status.NEW:
        raise WorkflowError("Only a new card may be left without an owner.")
    _active_user(owner, "owner")
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
    _save(task, events, at=at)
    return task


@transaction.atomic
def set_performers(
    *,
    task: Task,
    users: Iterable[AbstractBaseUser],
    actor: AbstractBaseUser | None,
    at: datetime | None = None,
    expected_version: int | None = None,
) -> Task:
    at = at or timezone.now()
    lock_task(task, expected_version=expected_version)
    users = list(users)
    for user in users:
        _active_user(user, "performer")
    old = sorted(task.performers.values_list("pk", flat=True))
    new = sorted({u.pk for u in users})
    if old == new:
        return task
    task.performers.set(users)
    event = _event(
        task, Kind.PERFORMERS_CHANGED, actor=actor, at=at, field="performers", old=old, new=new
    )
    _save(task, [event], at=at)
    return task


@transaction.atomic
def set_approver(
    *,
    task: Task,
    approver: AbstractBaseUser | None,
    actor: AbstractBaseUser | None,
    at: datetime | None = None,
    expected_version: int | None = None,
) -> Task:
    at = at or timezone.now()
    lock_task(task, expected_version=expected_version)
    if approver is None and task.approver_id and task.status == Status.ON_APPROVAL:
        raise WorkflowError("A card on approval needs an approver.")
    _active_user(approver, "approver")
    _set(task, "approver", approver, Kind.APPROVER_CHANGED, actor=actor, at=at)
    return task


@transaction.atomic
def change_status(
    *,
    task: Task,
    to: str,
    actor: AbstractBaseUser | None,
    blocking_reason: BlockingReason | None = None,
    note: str = "",
    at: datetime | None = None,
    expected_version: int | None = None,
) -> Task:
    """Move the card along the workflow (see TRANSITIONS).

    `waiting` requires an active blocking reason; leaving `waiting` clears it. Moving into
    work sets the first-response time once; `done` sets the resolution time and reopening
    clears it (a new resolution cycle starts on the SLA side).
    """
    at = at or timezone.now()
    lock_task(task, expected_version=expected_version)
    try:
        to = Status(to)
    except ValueError:
        raise WorkflowError(f"Unknown status {to!r}.") from None
    current = Status(task.status)
    if to == current:
        raise WorkflowError(f"The card is already {current.label.lower()}.")
    if to not in TRANSITIONS[current]:
        raise WorkflowError(
            f"A card cannot move from {current.label.lower()} to {to.label.lower()}."
        )
    if task.owner_id is None and to != Status.CANCELLED:
        raise WorkflowError("Assign an owner before moving the card on.")
    if to == Status.WAITING:
        if blocking_reason is None:
            raise WorkflowError("Say what the card is waiting for: choose a blocking reason.")
        if not blocking_reason.active:
            raise WorkflowError(f"The blocking reason {blocking_reason} is no longer in use.")
    elif blocking_reason is not None:
        raise WorkflowError("A blocking reason applies only when the card is waiting.")
    if to == Status.ON_APPROVAL and task.approver_id is None:
        raise WorkflowError("Set an approver before sending the card for approval.")

    events = [
        _event(task, Kind.STATUS_CHANGED, actor=actor, at=at, field="status",
               old=current, new=to, note=note.strip())
    ]  # fmt: skip
    if current == Status.WAITING and task.blocking_reason_id:
        events.append(
            _event(task, Kind.BLOCKING_REASON_CLEARED, actor=actor, at=at,
                   field="blocking_reason", old=task.blocking_reason_id)
        )  # fmt: skip
        task.blocking_reason = None
    if to == Status.WAITING:
        events.append(
            _event(task, Kind.BLOCKING_REASON_SET, actor=actor, at=at,
                   field="blocking_reason", new=blocking_reason.pk)
        )  # fmt: skip
        task.blocking_reason = blocking_reason
    if task.first_response_at is None and to in (Status.IN_PROGRESS, Status.DONE):
        task.first_response_at = at
    if to == Status.IN_PROGRESS or to in CLOSED_STATUSES:
        task.dispatch_flag = ""  # taken into work or closed: no longer a dispatcher's concern
    if to == Status.DONE:
        task.resolved_at = at
    elif current == Status.DONE:
        task.resolved_at = None
    task.status = to
    _save(task, events, at=at)
    return task


@transaction.atomic
def change_priority(
    *,
    task: Task,
    priority: str,
    actor: AbstractBaseUser | None,
    at: datetime | None = None,
    expected_version: int | None = None,
) -> Task:
    """Change urgency; running timers are re-targeted and keep the time already used."""
    at = at or timezone.now()
    lock_task(task, expected_version=expected_version)
    try:
        priority = Priority(priority)
    except ValueError:
        raise WorkflowError(f"Unknown priority {priority!r}.") from None
    _set(task, "priority", priority, Kind.PRIORITY_CHANGED, actor=actor, at=at)
    return task


@transaction.atomic
def change_request_type(
    *,
    task: Task,
    request_type: RequestType,
    actor: AbstractBaseUser | None,
    at: datetime | None = None,
    expected_version: int | None = None,
) -> Task:
    """Reclassify the card; running timers move to the matching policy's targets."""
    at = at or timezone.now()
    lock_task(task, expected_version=expected_version)
    _set(task, "request_type", request_type, Kind.REQUEST_TYPE_CHANGED, actor=actor, at=at)
    return task


@transaction.atomic
def change_team(
    *,
    task: Task,
    team: Team | None,
    actor: AbstractBaseUser | None,
    at: datetime | None = None,
    expected_version: int | None = None,
) -> Task:
    """Hand the card to another team (a hand-off that reports measure)."""
    at = at or timezone.now()
    lock_task(task, expected_version=expected_version)
    _set(task, "team", team, Kind.TEAM_CHANGED, actor=actor, at=at)
    return task


@transaction.atomic
def set_next_step(
    *,
    task: Task,
    text: str,
    due: datetime | None,
    actor: AbstractBaseUser | None,
    at: datetime | None = None,
    expected_version: int | None = None,
) -> Task:
    """Say what happens next and by when (empty text clears it)."""
    at = at or timezone.now()
    lock_task(task, expected_version=expected_version)
    text = text.strip()
    if due is not None and timezone.is_naive(due):
        raise WorkflowError("The next step's due time needs a timezone.")
    if due is not None and not text:
        raise WorkflowError("Describe the next step before giving it a due time.")
    old: dict[str, Any] = {
        "text": task.next_step,
        "due": task.next_step_due.isoformat() if task.next_step_due else None,
    }
    new = {"text": text, "due": due.isoformat() if due else None}
    if old == new:
        return task
    event = _event(
        task, Kind.NEXT_STEP_SET, actor=actor, at=at, field="next_step", old=old, new=new
    )
    task.next_step, task.next_step_due = text, due
    _save(task, [event], at=at)
    return task


@transaction.atomic
def flag_for_dispatch(
    *,
    task: Task,
    reason: str,
    actor: AbstractBaseUser | None = None,
    at: datetime | None = None,
) -> Task:
    """Put the card in front of its team's dispatchers ("not taken in time", an escalation).
    Taking it into work or reassigning it clears the flag."""
    at = at or timezone.now()
    lock_task(task)
    if task.dispatch_flag == reason or not task.is_open:
        return task
    event = _event(
        task, Kind.DISPATCH_FLAGGED, actor=actor, at=at, field="dispatch_flag",
        old=task.dispatch_flag, new=reason,
    )  # fmt: skip
    task.dispatch_flag = reason
    _save(task, [event], at=at)
    return task


@transaction.atomic
def flag_many_for_dispatch(*, task_ids: Iterable[int], reason: str, at: datetime) -> int:
    """Set-based `flag_for_dispatch` for the scan: flags the open, unflagged cards among
    `task_ids` (their timers are unaffected, so no SLA sync is needed). Returns how many."""
    cards = list(
        Task.objects.select_for_update()
        .filter(pk__in=set(task_ids), dispatch_flag="")
        .exclude(status__in=[Status.DONE, Status.CANCELLED])
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


@transaction.atomic
def add_comment(
    *,
    task: Task,
    text: str,
    actor: AbstractBaseUser,
    at: datetime | None = None,
) -> Comment:
    """Add a comment. It is history (an event) but not a change of the card's fields, so it
    neither bumps the card's version nor touches its timers."""
    at = at or timezone.now()
    text = text.strip()
    if not text:
        raise WorkflowError("A comment cannot be empty.")
    comment = Comment.objects.create(task=task, author=actor, text=text, created_at=at)
    TaskEvent.objects.create(task=task, kind=Kind.COMMENTED, comment=comment, actor=actor, at=at)
    return comment
