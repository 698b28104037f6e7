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


def _change(
    task: Task, field: str, value: Any, kind: str, *, actor, at: datetime
) -> list[TaskEvent]:
    """Set one field of a locked card in memory and return the event that records it (ids for
    relations, codes for choices); none when the field already has that value. Nothing is
    saved: the action saves once, with all its events (`_save`)."""
    attname = task._meta.get_field(field).attname
    old = getattr(task, attname)
    new = value.pk if isinstance(value, models.Model) else value
    if new == old:
        return []
    setattr(task, field, value)
    return [_event(task, kind, actor=actor, at=at, field=field, old=old, new=new)]


def _save_if_changed(task: Task, events: list[TaskEvent], *, at: datetime) -> Task:
    """Save the card with its events; a change that changed nothing saves nothing (no new
    version, no listeners)."""
    if events:
        _save(task, events, at=at)
    return task


def _active_user(user: AbstractBaseUser | None, role: str) -> None:
    if user is not None and not user.is_active:
        raise WorkflowError(f"{user} is not an active user and cannot be the {role}.")


def _priority(value: str) -> Priority:
    try:
        return Priority(value)
    except ValueError:
        raise WorkflowError(f"Unknown priority {value!r}.") from None


def clean_title(title: str) -> str:
    """The one rule for a card's title (creating a card, editing its details, the admin's
    form): surrounding whitespace stripped, not empty, one line, no longer than the column."""
    title = title.strip()
    if not title:
        raise WorkflowError("A card needs a title.")
    if len(title.splitlines()) > 1:
        raise WorkflowError("A card's title is a single line; put the rest in the description.")
    limit = Task._meta.get_field("title").max_length
    if limit is not None and len(title) > limit:
        raise WorkflowError(f"A card's title has at most {limit} characters.")
    return title


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
    title = clean_title(title)
    priority = _priority(priority)
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


# People. Each rule is written once, in the helpers below, which change a locked card in
# memory and return their events; the single-field actions and `assign_people` share them.


def _owner_events(task: Task, owner: AbstractBaseUser | None, *, actor, at) -> list[TaskEvent]:
    new_id = owner.pk if owner else None
    if new_id == task.owner_id:
        return []
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
    return events


def _performers_events(
    task: Task, users: Iterable[AbstractBaseUser], *, actor, at
) -> list[TaskEvent]:
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


def _approver_events(
    task: Task, approver: AbstractBaseUser | None, *, actor, at
) -> list[TaskEvent]:
    if approver is None and task.approver_id and task.status == Status.ON_APPROVAL:
        raise WorkflowError("A card on approval needs an approver.")
    _active_user(approver, "approver")
    return _change(task, "approver", approver, Kind.APPROVER_CHANGED, actor=actor, at=at)


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
    return _save_if_changed(task, _owner_events(task, owner, actor=actor, at=at), at=at)


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
    return _save_if_changed(task, _performers_events(task, users, actor=actor, at=at), at=at)


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
    return _save_if_changed(task, _approver_events(task, approver, actor=actor, at=at), at=at)


@transaction.atomic
def assign_people(
    *,
    task: Task,
    owner: AbstractBaseUser | None,
    performers: Iterable[AbstractBaseUser],
    approver: AbstractBaseUser | None,
    actor: AbstractBaseUser | None,
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
    actor: AbstractBaseUser | None,
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
    actor: AbstractBaseUser | None,
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
    actor: AbstractBaseUser | None,
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
    actor: AbstractBaseUser | None,
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


@transaction.atomic
def update_details(
    *,
    task: Task,
    actor: AbstractBaseUser | None,
    title: str | None = None,
    description: str | None = None,
    source_url: str | None = None,
    at: datetime | None = None,
    expected_version: int | None = None,
) -> Task:
    """Change what the card says: its title (see `clean_title`), description and source link.

    `None` leaves a field as it is, so a form that edited one field never overwrites another
    changed meanwhile. Each changed field is one `details_changed` event with the old and
    the new text.
    """
    at = at or timezone.now()
    lock_task(task, expected_version=expected_version)
    events = []
    for field, value in (
        ("title", None if title is None else clean_title(title)),
        ("description", description),
        ("source_url", None if source_url is None else source_url.strip()),
    ):
        if value is not None:
            events += _change(task, field, value, Kind.DETAILS_CHANGED, actor=actor, at=at)
    return _save_if_changed(task, events, at=at)


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
    it does not call the card-change listeners (see the module's docstring). Returns how
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
