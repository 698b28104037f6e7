"""A card's life: creating it, moving it along the workflow, what it says and what happens
next, comments."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils import timezone

from tasks import search_vector
from tasks.actions.core import (
    AlreadyTracked,
    Kind,
    WorkflowError,
    _active_user,
    _change,
    _event,
    _owner_of_its_team,
    _priority,
    _record,
    _save,
    _save_if_changed,
    check_sane_date,
    clean_line,
    clean_text,
    clean_title,
    lock_task,
)
from tasks.actions.people import _approver_events
from tasks.models import (
    CLOSED_STATUSES,
    ApprovalStep,
    BlockingReason,
    Comment,
    RelatedObject,
    RequestType,
    Status,
    Task,
    TaskEvent,
    Team,
)
from tasks.permissions import people_who_may_approve
from tasks.search_vector import refresh as refresh_search_vectors

NOTE_MAX_LENGTH = 500  # the note of a status change
NEXT_STEP_MAX_LENGTH = Task._meta.get_field("next_step").max_length or 300
SOURCE_URL_MAX_LENGTH = Task._meta.get_field("source_url").max_length or 500
SOURCE_MAX_LENGTH = Task._meta.get_field("source").max_length or 50
EXTERNAL_REF_MAX_LENGTH = Task._meta.get_field("external_ref").max_length or 200


def clean_description(text: str) -> str:
    """The rule for a card's description (creating a card, editing its details, the admin's
    form): `clean_text`."""
    return clean_text(text, what="Description")


def clean_reference(source: str, external_ref: str) -> tuple[str, str]:
    """The rule for where a card came from: one line each; a reference needs its source."""
    source = clean_line(source, what="Source", max_length=SOURCE_MAX_LENGTH)
    ref = clean_line(external_ref, what="External reference", max_length=EXTERNAL_REF_MAX_LENGTH)
    if ref and not source:
        raise WorkflowError("An external reference needs its source (e.g. crm, slack, email).")
    return source, ref


def find_tracked(*, source: str, external_ref: str) -> Task | None:
    """The card already made from this source and reference, if any. Most references are
    new (every card made with one asks first): the card is read whole only when there is
    one, after a read of its id alone (half the CPU of reading a whole card)."""
    if not external_ref:
        return None
    found = (
        Task.objects.filter(source=source, external_ref=external_ref)
        .values_list("pk", flat=True)
        .first()
    )
    return None if found is None else Task.objects.filter(pk=found).first()


def clean_source_url(url: str) -> str:
    """The rule for a card's source link: one line, as long as the column."""
    return clean_line(url, what="Source link", max_length=SOURCE_URL_MAX_LENGTH)


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
    """Statuses the card may be moved to next by `change_status`, in workflow order. A card
    on approval moves on by a decision (`tasks.actions.decide`); it may only be cancelled."""
    allowed = TRANSITIONS[Status(task.status)]
    if task.status == Status.ON_APPROVAL:
        allowed = allowed & {Status.CANCELLED}
    return [s for s in Status if s in allowed]


def create_task(
    *,
    title: str,
    request_type: RequestType,
    priority: str,
    actor: User | None,
    related_object: RelatedObject | None = None,
    owner: User | None = None,
    team: Team | None = None,
    description: str = "",
    source_url: str = "",
    source: str = "",
    external_ref: str = "",
    at: datetime | None = None,
) -> Task:
    """Open a new card. With an owner it starts `assigned`, otherwise `new` (for dispatch).
    The team defaults to the request type's default team. Atomic: the card, its event and
    what the listeners write, in one transaction.

    With `source` + `external_ref` (a CRM's id, a Slack message, a mail's Message-ID) the card
    is made once: if one exists — made before, or by a concurrent request — `AlreadyTracked`
    carries it and nothing is written."""
    at = at or timezone.now()
    source, external_ref = clean_reference(source, external_ref)
    if existing := find_tracked(source=source, external_ref=external_ref):
        raise AlreadyTracked(existing)
    task, created = new_card(
        title=title,
        request_type=request_type,
        priority=priority,
        actor=actor,
        related_object=related_object,
        owner=owner,
        team=team,
        description=description,
        source_url=source_url,
        at=at,
    )
    task.source, task.external_ref = source, external_ref
    try:
        with transaction.atomic():
            _insert_card(task)
            _record(task, [created], at=at)
    except IntegrityError:
        # The race's loser: a concurrent request inserted this reference first (its insert
        # waited for that one to commit). The whole change was rolled back; find the winner.
        if winner := find_tracked(source=source, external_ref=external_ref):
            raise AlreadyTracked(winner) from None
        raise
    return task


def _insert_card(task: Task) -> None:
    """Insert a new card (inside the caller's transaction, no savepoint) with its first
    version and its search vector: one statement, no UPDATE after it."""
    task.version += 1  # what `_save` would bump: the insert writes version 1
    task.search_vector = search_vector.of_new_card(
        title=task.title, related_object=task.related_object, description=task.description
    )
    task.save(force_insert=True)
    # Computed by the database and not read back: the card in memory holds no vector (as a
    # card read by the lists, which defer it; `_fields_to_save` never writes it).
    del task.search_vector


def new_card(
    *,
    title: str,
    request_type: RequestType,
    priority: str,
    actor: User | None,
    related_object: RelatedObject | None,
    owner: User | None,
    team: Team | None,
    description: str,
    source_url: str,
    at: datetime,
    past: bool = False,
) -> tuple[Task, TaskEvent]:
    """A new card and its `created` event, checked and in memory (nothing saved; version 0,
    which the save bumps to 1): `create_task` and `tasks.actions.past` build cards here.
    The owner must be one of the card's team's people (`_owner_of_its_team`); a `past` card's
    owner only someone who may work cards, as its history says who owned it then (she may
    have changed teams since)."""
    title = clean_title(title)
    description, source_url = clean_description(description), clean_source_url(source_url)
    priority = _priority(priority)
    if past:
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
        version=0,  # the first save bumps it to 1 (create_task's insert)
    )
    if not past:
        _owner_of_its_team(owner, task)
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
    return task, created


@transaction.atomic
def change_status(
    *,
    task: Task,
    to: str,
    actor: User | None,
    blocking_reason: BlockingReason | None = None,
    note: str = "",
    approver: User | None = None,
    at: datetime | None = None,
    expected_version: int | None = None,
) -> Task:
    """Move the card along the workflow (see TRANSITIONS).

    `waiting` requires an active blocking reason; leaving `waiting` clears it. Moving into
    work sets the first-response time once; `done` sets the resolution time and reopening
    clears it (a new resolution cycle starts on the SLA side).

    `on_approval` sends the card for a decision (`tasks.actions.approval.send_for_approval`:
    `approver`, or the first approval step's default approver). A card on approval leaves
    it only by a decision (`tasks.actions.approval.decide`) or by being cancelled.
    """
    at = at or timezone.now()
    note = clean_text(note, what="Note", max_length=NOTE_MAX_LENGTH)
    lock_task(task, expected_version=expected_version)
    # Moves outside the table are refused by `move`, with its message.
    allowed = TRANSITIONS[Status(task.status)]
    if task.status == Status.ON_APPROVAL and to in allowed and to != Status.CANCELLED:
        raise WorkflowError(
            "A card on approval moves on by a decision: its approver approves or rejects it."
        )
    events: list[TaskEvent] = []
    if to == Status.ON_APPROVAL and to in allowed:
        events += approver_for_sending(task, approver, actor=actor, at=at)
    elif approver is not None:
        raise WorkflowError("An approver is named only when sending the card for approval.")
    events += move(task, to, actor=actor, blocking_reason=blocking_reason, note=note, at=at)
    _save(task, events, at=at)
    return task


def move(
    task: Task,
    to: str,
    *,
    actor: User | None,
    blocking_reason: BlockingReason | None,
    note: str,
    at: datetime,
) -> list[TaskEvent]:
    """Check a status move of the card (see `change_status`) and make it in memory; returns
    its events. Nothing is saved: `change_status` saves the locked card, `tasks.actions.past`
    the cards it writes in bulk."""
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
        raise WorkflowError("Name an approver to send the card for approval.")

    events = [
        _event(task, Kind.STATUS_CHANGED, actor=actor, at=at, field="status",
               old=current, new=to, note=note)
    ]  # fmt: skip
    if current == Status.WAITING and task.blocking_reason_id:
        events.append(
            _event(task, Kind.BLOCKING_REASON_CLEARED, actor=actor, at=at,
                   field="blocking_reason", old=task.blocking_reason_id)
        )  # fmt: skip
        task.blocking_reason = None
    if to == Status.WAITING and blocking_reason is not None:  # required above
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
    if to == Status.ON_APPROVAL:
        # The first step of the request type's chain is asked (tasks.actions.approval).
        task.approval_step = 1
        task.approval_round += 1
    elif current == Status.ON_APPROVAL:
        task.approval_step = 0
    task.status = to
    return events


def first_approval_step(task: Task) -> ApprovalStep | None:
    return task.request_type.approval_steps.order_by("position").first()


def check_approver(user: User) -> None:
    """Refuse anyone who may not decide approvals (tasks.permissions.people_who_may_approve)."""
    _active_user(user, "approver")
    if not people_who_may_approve().filter(pk=user.pk).exists():
        name = user.get_full_name() or user.get_username()
        raise WorkflowError(f"{name} may not decide approvals: choose someone who may (a manager).")


def approver_for_sending(
    task: Task, approver: User | None, *, actor: User | None, at: datetime
) -> list[TaskEvent]:
    """Who decides when the card is sent for approval, set on the card (in memory; its
    events): the approver named by the sender, else the first approval step's default
    approver, else the approver the card already has."""
    step = first_approval_step(task)
    chosen = approver or (step.approver if step else None) or task.approver
    if chosen is None:
        raise WorkflowError("Name an approver to send the card for approval.")
    check_approver(chosen)
    return _approver_events(task, chosen, actor=actor, at=at)


@transaction.atomic
def update_details(
    *,
    task: Task,
    actor: User | None,
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
    title = None if title is None else clean_title(title)
    description = None if description is None else clean_description(description)
    source_url = None if source_url is None else clean_source_url(source_url)
    lock_task(task, expected_version=expected_version)
    events: list[TaskEvent] = []
    for field, value in (("title", title), ("description", description),
                         ("source_url", source_url)):  # fmt: skip
        if value is not None:
            events += _change(task, field, value, Kind.DETAILS_CHANGED, actor=actor, at=at)
    _save_if_changed(task, events, at=at)
    if events:
        refresh_search_vectors(task_ids=[task.pk])
    return task


@transaction.atomic
def set_next_step(
    *,
    task: Task,
    text: str,
    due: datetime | None,
    actor: User | None,
    at: datetime | None = None,
    expected_version: int | None = None,
) -> Task:
    """Say what happens next (one line) and by when (empty text clears it); the due time
    within the sane range of `tasks.validators`."""
    at = at or timezone.now()
    text = clean_line(text, what="Next step", max_length=NEXT_STEP_MAX_LENGTH)
    check_sane_date(due, what="Due")
    lock_task(task, expected_version=expected_version)
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
def add_comment(
    *,
    task: Task,
    text: str,
    actor: User,
    at: datetime | None = None,
) -> Comment:
    """Add a comment. It is history (an event) but not a change of the card's fields, so it
    neither bumps the card's version nor touches its timers. Its text joins the card's search
    vector; the card is locked first so two comments at once both reach the vector."""
    at = at or timezone.now()
    text = clean_text(text, what="Comment")
    if not text:
        raise WorkflowError("A comment cannot be empty.")
    lock_task(task)
    comment = Comment.objects.create(task=task, author=actor, text=text, created_at=at)
    TaskEvent.objects.create(task=task, kind=Kind.COMMENTED, comment=comment, actor=actor, at=at)
    refresh_search_vectors(task_ids=[task.pk])
    return comment
