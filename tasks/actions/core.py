"""The machinery every card action shares: errors, the card-change hook, the row lock,
events, saving, and the title rule. The public names are re-exported by `tasks.actions`."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol, cast

from django.contrib.auth.models import User
from django.db import models

from tasks.models import Priority, Task, TaskEvent

Kind = TaskEvent.Kind


class CardListener(Protocol):
    """Called after every change of a card, inside the change's transaction."""

    def __call__(self, *, task: Task, at: datetime) -> object: ...


_card_listeners: list[CardListener] = []


def listen_to_card_changes(listener: CardListener) -> None:
    """Have `listener(task=…, at=…)` called after every change of a card (see the
    `tasks.actions` docstring). Registering the same listener again does nothing, so
    `ready()` may run twice."""
    if listener not in _card_listeners:
        _card_listeners.append(listener)


class WorkflowError(Exception):
    """A change the workflow does not allow. The message is shown to the user as is."""


class StaleCard(WorkflowError):
    """The card changed since the form was rendered."""


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
    """Persist the card and its history, then tell the listeners (the card-change hook):
    the single point where a change of a card reaches the apps that follow cards."""
    task.updated_at = at
    task.version += 1
    task.save(update_fields=_fields_to_save(task))
    TaskEvent.objects.bulk_create(events)
    for listener in _card_listeners:
        listener(task=task, at=at)


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
