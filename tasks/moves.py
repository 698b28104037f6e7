"""Named moves: the status moves a person may make on a card, named like the work.

The card page and My work offer buttons ("Take into work", "Waiting for…", "Send for
approval", "Approve", "Reject", "Done", "Reopen"…) instead of a list of statuses. They come
from here, and only from here, so a screen never names a move differently or offers one the
workflow or the permissions refuse:

- the statuses a card may go to are the one transition table, `tasks.actions.TRANSITIONS`
  (less the moves `change_status` refuses: a card on approval leaves it only by a decision
  or by being cancelled; a card without an owner can only be cancelled);
- who may make them is `tasks.permissions`: `can_move` for the status moves, `can_decide`
  for Approve and Reject.

Each move says what it needs (a blocking reason, an approver, a reason, a confirmation), so
a screen asks for exactly that. One forward move per status is the primary one (the page's
first button); no backward move is ever the default.

Card domain: no `sla`, no screens.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from django.contrib.auth.models import AbstractBaseUser

from tasks.actions import APPROVE, REJECT, TRANSITIONS
from tasks.models import Status, Task
from tasks.permissions import can_decide, can_move

# What a move may ask for before it is made.
BLOCKING_REASON = "blocking_reason"  # Waiting for…: what the card waits for (and a note)
APPROVER = "approver"  # Send for approval: who decides
REASON = "reason"  # Reject: why (required)
NOTE = "note"  # Approve: an optional note
NEXT_APPROVER = "next_approver"  # Approve: who decides the next step, when it names nobody
CONFIRM = "confirm"  # Done, Cancel card: "are you sure?"


@dataclass(frozen=True)
class CardMove:
    """One move a person may make on a card: a status move (`to`) or a decision."""

    slug: str  # stable id: forms, URLs (?move=…), tests
    name: str  # the button's accessible name
    to: Status | None = None  # the status it moves the card to (None: a decision)
    decision: str = ""  # APPROVE or REJECT for a decision
    needs: tuple[str, ...] = ()
    primary: bool = False
    backward: bool = False  # a step back or out (Back to assigned, Cancel card, Reject)

    @property
    def asks(self) -> bool:
        """Whether the move opens a small form (input or confirmation) before it is made."""
        return bool(self.needs)


TAKE = CardMove("take", "Take into work", Status.IN_PROGRESS)
RESUME = CardMove("resume", "Resume work", Status.IN_PROGRESS)
REOPEN = CardMove("reopen", "Reopen", Status.IN_PROGRESS)
WAIT = CardMove("wait", "Waiting for…", Status.WAITING, needs=(BLOCKING_REASON, NOTE))
SEND = CardMove("send", "Send for approval", Status.ON_APPROVAL, needs=(APPROVER,))
DONE = CardMove("done", "Done", Status.DONE, needs=(CONFIRM,))
CANCEL = CardMove("cancel", "Cancel card", Status.CANCELLED, needs=(CONFIRM,), backward=True)
BACK = CardMove("back", "Back to assigned", Status.ASSIGNED, backward=True)
MARK_ASSIGNED = CardMove("assigned", "Mark assigned", Status.ASSIGNED)
APPROVE_MOVE = CardMove("approve", "Approve", decision=APPROVE, needs=(NOTE, NEXT_APPROVER))
REJECT_MOVE = CardMove("reject", "Reject", decision=REJECT, needs=(REASON,), backward=True)

# The primary (forward) move of each status; a status not listed has none.
PRIMARY: dict[Status, str] = {
    Status.NEW: TAKE.slug,
    Status.ASSIGNED: TAKE.slug,
    Status.IN_PROGRESS: DONE.slug,
    Status.WAITING: RESUME.slug,
    Status.ON_APPROVAL: APPROVE_MOVE.slug,
    Status.DONE: REOPEN.slug,
}

# The order buttons come in after the primary one: forward moves, then back and out.
ORDER = [
    s.slug
    for s in (TAKE, RESUME, REOPEN, APPROVE_MOVE, DONE, WAIT, SEND, MARK_ASSIGNED, REJECT_MOVE,
              BACK, CANCEL)
]  # fmt: skip


def status_move(current: Status, to: Status) -> CardMove:
    """The named move from `current` to `to` (the table's move, whoever makes it)."""
    if to == Status.IN_PROGRESS:
        if current == Status.WAITING:
            return RESUME
        if current == Status.DONE:
            return REOPEN
        return TAKE
    if to == Status.ASSIGNED:
        return MARK_ASSIGNED if current == Status.NEW else BACK
    return {
        Status.WAITING: WAIT,
        Status.ON_APPROVAL: SEND,
        Status.DONE: DONE,
        Status.CANCELLED: CANCEL,
    }[to]


def _status_targets(task: Task) -> list[Status]:
    """Where `change_status` would let the card go: the table, less what it refuses."""
    current = Status(task.status)
    allowed = TRANSITIONS[current]
    if current == Status.ON_APPROVAL:
        allowed = allowed & {Status.CANCELLED}  # leaves only by a decision, or cancelled
    if task.owner_id is None:
        allowed = allowed & {Status.CANCELLED}  # "Assign an owner before moving the card on"
    return [s for s in Status if s in allowed]


def moves(task: Task, *, may_move: bool, may_decide: bool) -> list[CardMove]:
    """The card's moves for someone who may (or may not) move it and decide its approval,
    the primary one first. No queries: the screens pass what the permissions said (My work
    knows it for all its cards at once)."""
    current = Status(task.status)
    found: list[CardMove] = []
    if may_move:
        found += [status_move(current, to) for to in _status_targets(task)]
    if may_decide and current == Status.ON_APPROVAL:
        found += [APPROVE_MOVE, REJECT_MOVE]
    primary = PRIMARY.get(current)
    named = [replace(m, primary=m.slug == primary) for m in found]
    return sorted(named, key=lambda m: (not m.primary, ORDER.index(m.slug)))


def moves_for(user: AbstractBaseUser, task: Task) -> list[CardMove]:
    """The moves `user` may make on the card (`tasks.permissions.can_move`, `can_decide`)."""
    return moves(task, may_move=can_move(user, task), may_decide=can_decide(user, task))


def move_named(slug: str, offered: list[CardMove]) -> CardMove | None:
    """The offered move with this slug, if it is offered."""
    return next((m for m in offered if m.slug == slug), None)


def move_of_post(task: Task, *, to: str = "", decision: str = "") -> CardMove | None:
    """The named move a posted status or decision is (to reopen its form with its errors);
    None for something no move is."""
    if decision == APPROVE:
        return APPROVE_MOVE
    if decision == REJECT:
        return REJECT_MOVE
    try:
        return status_move(Status(task.status), Status(to))
    except (ValueError, KeyError):
        return None
