"""Cards that existed before the app: written in bulk with their past history.

`record_past_cards` is the set-based twin of `create_task` followed by `change_status` for
each later move, for imports of thousands of old cards: the same checks (`new_card`,
`move`), the same card fields, version and events as those actions would save, but one
INSERT per batch instead of a transaction per change. The apps that follow cards hear of
the batch once, through `listen_to_past_cards` (sla replays the timers of every step).
One check is left out: a past card's owner need only be someone who may work cards, not one
of the card's team's people today (the history says who owned it then).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction

from tasks.actions import core
from tasks.actions.core import PastCard, Step, WorkflowError
from tasks.actions.lifecycle import move, new_card
from tasks.models import RelatedObject, RequestType, Task, TaskEvent, Team
from tasks.search_vector import refresh as refresh_search_vectors


@dataclass(frozen=True)
class Move:
    """A status change of a past card: to which status, when, by whom."""

    to: str
    at: datetime
    actor: User | None


@dataclass(frozen=True)
class PastCardSpec:
    """What is known of a past card: as `create_task` takes it, then its status moves in
    order (each no earlier than the one before)."""

    title: str
    request_type: RequestType
    priority: str
    created_at: datetime
    owner: User | None = None
    team: Team | None = None
    related_object: RelatedObject | None = None
    moves: Sequence[Move] = field(default_factory=tuple)


def check_past_card(spec: PastCardSpec) -> None:
    """Raise `WorkflowError` if `record_past_cards` would refuse this card (writes nothing)."""
    _build(spec, actor=None)


def _bulk_create(objs: list[Any]) -> None:
    if objs:
        type(objs[0]).objects.bulk_create(objs)


@transaction.atomic
def record_past_cards(
    specs: Sequence[PastCardSpec],
    *,
    actor: User | None,
    insert: Callable[[list[Any]], None] = _bulk_create,
) -> list[PastCard]:
    """Write the cards with their history as `create_task` (by `actor`) and `change_status`
    (by each move's actor) would have, at their real times; then tell the past-card
    listeners. A card the workflow refuses raises `WorkflowError` before anything is
    written. `insert(objs)` inserts new instances of one model and sets their keys, as
    `bulk_create` (the default) does; an import passes a faster one (sla.bulk)."""
    built = [_build(spec, actor=actor) for spec in specs]
    insert([task for task, _, _ in built])
    insert([event for _, events, _ in built for event in events])
    refresh_search_vectors(task_ids=[task.pk for task, _, _ in built])  # as create_task does
    cards = [PastCard(task=task, steps=tuple(steps)) for task, _, steps in built]
    for listener in core._past_card_listeners:
        listener(cards=cards)
    return cards


def _build(spec: PastCardSpec, *, actor: User | None) -> tuple[Task, list[TaskEvent], list[Step]]:
    """The card, its events and its steps, in memory, through the actions' own checks."""
    task, created = new_card(
        title=spec.title,
        request_type=spec.request_type,
        priority=spec.priority,
        actor=actor,
        related_object=spec.related_object,
        owner=spec.owner,
        team=spec.team,
        description="",
        source_url="",
        at=spec.created_at,
        past=True,
    )
    events = [created]
    steps = [Step(at=spec.created_at, status=task.status, first_response_at=None)]
    for step in spec.moves:
        if step.at < steps[-1].at:
            raise WorkflowError("A card's history must be in order of time.")
        events += move(task, step.to, actor=step.actor, blocking_reason=None, note="", at=step.at)
        steps.append(Step(at=step.at, status=task.status, first_response_at=task.first_response_at))
    # What `_save` does once per change: the last change's time, one version each.
    task.updated_at = steps[-1].at
    task.version = len(steps)
    return task, events, steps
