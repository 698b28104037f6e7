"""The machinery every card action shares: errors, the card-change hook, the row lock,
events, saving, and the title rule. The public names are re-exported by `tasks.actions`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, cast

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import models

from tasks.models import Priority, Task, TaskEvent
from tasks.permissions import may_own, may_work_cards
from tasks.validators import (
    TEXT_MAX_LENGTH,
    TITLE_MAX_LENGTH,
    validate_no_nul,
    validate_sane_date,
    validate_single_line,
)

Kind = TaskEvent.Kind


class CardListener(Protocol):
    """Called after every change of a card, inside the change's transaction, with the
    change's events (saved)."""

    def __call__(self, *, task: Task, at: datetime, events: Sequence[TaskEvent]) -> object: ...


_card_listeners: list[CardListener] = []


def listen_to_card_changes(listener: CardListener) -> None:
    """Have `listener(task=…, at=…, events=…)` called after every change of a card (see the
    `tasks.actions` docstring). Registering the same listener again does nothing, so
    `ready()` may run twice."""
    if listener not in _card_listeners:
        _card_listeners.append(listener)


class PastCardsListener(Protocol):
    """Called once per batch of cards written with their past history
    (`tasks.actions.record_past_cards`), inside that transaction."""

    def __call__(self, *, cards: Sequence[PastCard]) -> object: ...


_past_card_listeners: list[PastCardsListener] = []


def listen_to_past_cards(listener: PastCardsListener) -> None:
    """Have `listener(cards=…)` called after a batch of past cards was written in bulk: the
    set-based twin of `listen_to_card_changes` (each card's `steps` say what the per-change
    listeners would have seen, and when). Registering the same listener again does nothing."""
    if listener not in _past_card_listeners:
        _past_card_listeners.append(listener)


@dataclass(frozen=True)
class Step:
    """A card as it was after one change of its past history: what the per-change listeners
    would have been shown, at `at`."""

    at: datetime
    status: str
    first_response_at: datetime | None


@dataclass(frozen=True)
class PastCard:
    """A card written in bulk with its history: the card as saved (its final state) and the
    steps of its history in order (created first)."""

    task: Task
    steps: tuple[Step, ...]


class WorkflowError(Exception):
    """A change the workflow does not allow. The message is shown to the user as is."""


class StaleCard(WorkflowError):
    """The card changed since the form was rendered."""


class NotAllowed(WorkflowError):
    """The actor may not make this change (views answer 403). Most permission checks are the
    views' (`tasks.permissions`); this one is the action's own where the rule is part of the
    workflow: only the approver or the team's manager decides an approval."""


class AlreadyTracked(WorkflowError):
    """A card with this source and external reference exists: it is `task` (a client that
    retries, or a mail or a Slack message delivered twice, gets it back instead of a second
    card)."""

    def __init__(self, task: Task) -> None:
        super().__init__(f"Already tracked as #{task.pk}.")
        self.task = task


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


def _fields_to_save(task: Task) -> list[str]:
    """The loaded fields of the card (as a plain `save()` writes) but its search vector, which
    `tasks.search_vector` alone writes: a card object that `create_task` returned holds no
    vector in memory, and saving it again must not empty the column."""
    deferred = task.get_deferred_fields()
    return [
        field.attname
        for field in Task._meta.concrete_fields
        if not field.primary_key
        and field.attname not in deferred
        and field.attname != "search_vector"
    ]


def _save(task: Task, events: list[TaskEvent], *, at: datetime) -> None:
    """Persist the card (a new version) and its history, then tell the listeners (`_record`)."""
    task.updated_at = at
    task.version += 1
    task.save(update_fields=_fields_to_save(task))
    _record(task, events, at=at)


def _record(task: Task, events: list[TaskEvent], *, at: datetime) -> None:
    """The rest of `_save` once the card's row is written: its events, then the listeners
    (the card-change hook), the single point where a change of a card reaches the apps that
    follow cards. `create_task` calls it after its insert, which writes the first version
    (one statement: no update after it)."""
    TaskEvent.objects.bulk_create(events)
    for listener in _card_listeners:
        listener(task=task, at=at, events=events)


def _change(
    task: Task, field: str, value: Any, kind: str, *, actor, at: datetime
) -> list[TaskEvent]:
    """Set one field of a locked card in memory and return the event that records it (ids for
    relations, codes for choices); none when the field already has that value. Nothing is
    saved: the action saves once, with all its events (`_save`)."""
    attname = cast(models.Field, task._meta.get_field(field)).attname  # a concrete card field
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


def _active_user(user: User | None, role: str) -> None:
    """Refuse as a card's owner, performer or approver anyone who may not work the card
    (`tasks.permissions.people_who_may_work_cards`): an inactive user, an observer, a user
    without a role."""
    if user is None:
        return
    if not user.is_active:
        raise WorkflowError(f"{user} is not an active user and cannot be the {role}.")
    if not may_work_cards(user):
        raise WorkflowError(f"{user} may not work on cards and cannot be the {role}.")


NOT_OF_THE_TEAM = (
    "{name} is not in {team}: choose one of {team}'s people as the owner "
    "(or move the card to another team first)."
)


def person_name(user: User) -> str:
    """A person as the refusals and the people fields name her: full name, else username."""
    return user.get_full_name() or user.get_username()


def _owner_of_its_team(owner: User | None, task: Task) -> None:
    """Refuse as `task`'s owner anyone `tasks.permissions.people_who_may_own(task.team)` leaves
    out: who may not work cards (`_active_user`'s refusals) or is neither a member nor the
    manager of the card's team (NOT_OF_THE_TEAM). A card without a team may be owned by any
    worker. One query when she may; the refusal reads more to say why."""
    if owner is None:
        return
    if owner.is_active and may_own(owner, task):
        return
    _active_user(owner, "owner")
    raise WorkflowError(NOT_OF_THE_TEAM.format(name=person_name(owner), team=task.team))


def _valid(validator, value: Any, what: str) -> None:
    """Run one of `tasks.validators` and turn its refusal into a WorkflowError naming `what`."""
    try:
        validator(value)
    except ValidationError as error:
        raise WorkflowError(f"{what}: {' '.join(error.messages)}") from None


def clean_text(text: str, *, what: str, max_length: int = TEXT_MAX_LENGTH) -> str:
    """The rule for free text on a card (a description, a comment, a note): surrounding
    whitespace stripped, at most `max_length` characters, no NUL."""
    text = text.strip()
    _valid(validate_no_nul, text, what)
    if len(text) > max_length:
        raise WorkflowError(f"{what}: at most {max_length:,} characters (it has {len(text):,}).")
    return text


def clean_line(text: str, *, what: str, max_length: int) -> str:
    """`clean_text` for a one-line field (a next step, a source link): no line breaks."""
    text = clean_text(text, what=what, max_length=max_length)
    _valid(validate_single_line, text, what)
    return text


def check_sane_date(value: datetime | None, *, what: str) -> None:
    """Refuse a date outside `tasks.validators`' sane range (year 1 underflows, 9999 overflows
    once a viewer's timezone applies)."""
    _valid(validate_sane_date, value, what)


def _priority(value: str) -> Priority:
    try:
        return Priority(value)
    except ValueError:
        raise WorkflowError(f"Unknown priority {value!r}.") from None


def clean_title(title: str) -> str:
    """The one rule for a card's title (creating a card, editing its details, the admin's
    form): surrounding whitespace stripped, not empty, one line (it becomes an email subject),
    at most TITLE_MAX_LENGTH characters."""
    title = title.strip()
    if not title:
        raise WorkflowError("A card needs a title.")
    try:
        validate_single_line(title)
    except ValidationError:
        raise WorkflowError(
            "A card's title is a single line, without line breaks or control characters;"
            " put the rest in the description."
        ) from None
    if len(title) > TITLE_MAX_LENGTH:
        raise WorkflowError(
            f"A card's title has at most {TITLE_MAX_LENGTH} characters (it has {len(title)})."
        )
    return title
