"""Bulk actions: assign an owner, set a priority or make a simple move on many cards at once.

The card list and the dispatch board send the selected cards as `card=<pk>:<version>`; each
card is changed on its own through `tasks.actions` (one writer, one transaction per card),
with the same per-card permission as the card page (`can_assign` for owner and priority,
`can_move` for moves) and the card's version, so a card changed meanwhile is refused as stale
instead of overwritten. A card the user may not see is refused as "not found" (a forged id
learns nothing). The result says what was done and what was refused and why.

Only moves that need nothing more are offered in bulk (take into work, back to assigned,
cancel); waiting needs a reason and approvals are decided one by one.

Card domain: no `sla`, no screens.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from tasks import actions
from tasks.models import Priority, Status, Task
from tasks.permissions import can_assign, can_move, people_who_may_work_cards

MAX_CARDS = 200

ASSIGN, PRIORITY, MOVE = "assign", "priority", "move"
ACTIONS = (ASSIGN, PRIORITY, MOVE)

# The bulk moves: slug -> (target status, label). Nothing more is asked for these.
MOVES: dict[str, tuple[Status, str]] = {
    "take": (Status.IN_PROGRESS, "Take into work"),
    "back": (Status.ASSIGNED, "Back to assigned"),
    "cancel": (Status.CANCELLED, "Cancel card"),
}

NOT_FOUND = "not found"
NOT_ALLOWED = "not allowed"
STALE = "changed meanwhile"


class BadBulkRequest(ValueError):
    """The request itself is wrong (unknown action or value, too many or malformed cards):
    the view answers 400 with this message."""


@dataclass
class BulkResult:
    done: list[int] = field(default_factory=list)
    refused: list[tuple[int, str]] = field(default_factory=list)
    what: str = ""  # "Assigned to Paula", "Set priority high", "Take into work"

    def summary(self) -> str:
        n = len(self.done)
        text = f"{self.what}: {n} card{'s' if n != 1 else ''}."
        if self.refused:
            reasons = "; ".join(f"#{pk} {why}" for pk, why in self.refused)
            text += f" {len(self.refused)} refused: {reasons}."
        return text


def parse_cards(values: list[str]) -> list[tuple[int, int]]:
    """`["14:3", "17:1"]` -> `[(14, 3), (17, 1)]`; duplicates dropped, order kept."""
    if not values:
        raise BadBulkRequest("Select at least one card.")
    cards: dict[int, int] = {}
    for raw in values:
        pk, sep, version = raw.partition(":")
        if not (sep and pk.isdigit() and version.isdigit()):
            raise BadBulkRequest(f"Not a card reference: {raw[:40]!r}.")
        cards.setdefault(int(pk), int(version))
    if len(cards) > MAX_CARDS:
        raise BadBulkRequest(f"At most {MAX_CARDS} cards at once; {len(cards)} were selected.")
    return list(cards.items())


def _change(user, task: Task, version: int, action: str, value) -> None:
    if action == MOVE:
        if not can_move(user, task):
            raise actions.NotAllowed(NOT_ALLOWED)
        actions.change_status(task=task, to=value, actor=user, expected_version=version)
    else:
        if not can_assign(user, task):
            raise actions.NotAllowed(NOT_ALLOWED)
        if action == ASSIGN:
            actions.assign_owner(task=task, owner=value, actor=user, expected_version=version)
        else:
            actions.change_priority(task=task, priority=value, actor=user, expected_version=version)


def _resolve(action: str, value: str):
    """The action's value (a user, a priority, a status) and the summary's words."""
    if action == ASSIGN:
        owner = people_who_may_work_cards().filter(pk=value).first() if value.isdigit() else None
        if owner is None:
            raise BadBulkRequest("Choose an owner who may work cards.")
        return owner, f"Assigned to {owner.get_full_name() or owner.get_username()}"
    if action == PRIORITY:
        if value not in Priority.values:
            raise BadBulkRequest("Choose a priority.")
        return value, f"Priority set to {Priority(value).label}"
    if action == MOVE:
        if value not in MOVES:
            raise BadBulkRequest("Choose a move (take into work, back to assigned or cancel).")
        status, label = MOVES[value]
        return status.value, label
    raise BadBulkRequest("Unknown bulk action.")


def apply_bulk(
    user: AbstractBaseUser, cards_with_versions: list[tuple[int, int]], action: str, value: str
) -> BulkResult:
    """Apply `action` with `value` to each card; refusals are collected, never raised."""
    if len(cards_with_versions) > MAX_CARDS:
        raise BadBulkRequest(f"At most {MAX_CARDS} cards at once.")
    resolved, what = _resolve(action, value)
    result = BulkResult(what=what)
    ids = [pk for pk, _ in cards_with_versions]
    visible = Task.objects.visible_to(user).select_related("team").in_bulk(ids)
    for pk, version in cards_with_versions:
        task = visible.get(pk)
        if task is None:
            result.refused.append((pk, NOT_FOUND))
            continue
        if task.version != version:
            result.refused.append((pk, STALE))
            continue
        try:
            with transaction.atomic():
                _change(user, task, version, action, resolved)
        except actions.StaleCard:
            result.refused.append((pk, STALE))
        except actions.WorkflowError as error:
            result.refused.append((pk, str(error)))
        else:
            result.done.append(pk)
    return result


__all__ = ["MAX_CARDS", "MOVES", "BadBulkRequest", "BulkResult", "apply_bulk", "parse_cards"]
