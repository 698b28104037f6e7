"""Named moves (tasks.moves): the buttons each status offers to each role, named like the
work, the primary one first, and never a move the workflow or the permissions refuse."""

from __future__ import annotations

import pytest

from tasks import actions, moves, permissions
from tasks.models import Status, Task
from tests.factories import make_task

# (status, may move, may decide) → the names offered, in order; the primary marked "*".
TABLE = [
    (Status.NEW, True, False,
     ["*Take into work", "Done", "Waiting for…", "Mark assigned", "Cancel card"]),
    (Status.ASSIGNED, True, False,
     ["*Take into work", "Done", "Waiting for…", "Send for approval", "Cancel card"]),
    (Status.IN_PROGRESS, True, False,
     ["*Done", "Waiting for…", "Send for approval", "Back to assigned", "Cancel card"]),
    (Status.WAITING, True, False,
     ["*Resume work", "Done", "Send for approval", "Back to assigned", "Cancel card"]),
    # On approval: the decider decides (or cancels); a team lead may only cancel; the
    # performer (who may not move it, tasks.permissions.can_move) gets nothing.
    (Status.ON_APPROVAL, True, True, ["*Approve", "Reject", "Cancel card"]),
    (Status.ON_APPROVAL, True, False, ["Cancel card"]),
    (Status.ON_APPROVAL, False, False, []),
    (Status.DONE, True, False, ["*Reopen", "Back to assigned"]),
    (Status.CANCELLED, True, False, []),
]  # fmt: skip

# Observers and outsiders (may neither move nor decide) get nothing, whatever the status.
TABLE += [(status, False, False, []) for status in Status if status != Status.ON_APPROVAL]


def _card(status: Status, *, owner: bool = True) -> Task:
    return Task(pk=7, title="x", status=status, owner_id=3 if owner else None, version=1)


def _names(offered: list[moves.CardMove]) -> list[str]:
    return [("*" if m.primary else "") + m.name for m in offered]


@pytest.mark.parametrize(("status", "may_move", "may_decide", "names"), TABLE)
def test_the_moves_each_status_offers_each_role(status, may_move, may_decide, names):
    offered = moves.moves(_card(status), may_move=may_move, may_decide=may_decide)
    assert _names(offered) == names


@pytest.mark.parametrize("status", list(Status))
def test_every_status_move_offered_is_in_the_transition_table(status):
    offered = moves.moves(_card(status), may_move=True, may_decide=True)
    for move in offered:
        if move.to is not None:
            assert move.to in actions.TRANSITIONS[status]
    assert sum(m.primary for m in offered) <= 1
    # No backward default: the primary move is never a step back or out.
    assert not any(m.primary and m.backward for m in offered)
    if offered and status in moves.PRIMARY:
        assert offered[0].primary


def test_a_card_without_owner_can_only_be_cancelled():
    offered = moves.moves(_card(Status.NEW, owner=False), may_move=True, may_decide=False)
    assert _names(offered) == ["Cancel card"]


def test_what_each_move_asks_for():
    offered = moves.moves(_card(Status.IN_PROGRESS), may_move=True, may_decide=False)
    needs = {m.name: m.needs for m in offered}
    assert needs["Waiting for…"] == (moves.BLOCKING_REASON, moves.NOTE)
    assert needs["Send for approval"] == (moves.APPROVER,)
    assert needs["Done"] == needs["Cancel card"] == (moves.CONFIRM,)
    assert needs["Back to assigned"] == ()
    decider = moves.moves(_card(Status.ON_APPROVAL), may_move=True, may_decide=True)
    asks = {m.name: m.needs for m in decider}
    assert asks["Reject"] == (moves.REASON,)
    assert asks["Approve"] == (moves.NOTE, moves.NEXT_APPROVER)


def test_the_move_a_post_was():
    card = _card(Status.WAITING)
    assert moves.move_of_post(card, to="in_progress") == moves.RESUME
    assert moves.move_of_post(card, to="waiting") == moves.WAIT
    assert moves.move_of_post(card, to="bogus") is None
    assert moves.move_of_post(card, to="new") is None
    assert moves.move_of_post(card, decision="reject") == moves.REJECT_MOVE
    assert moves.move_of_post(_card(Status.DONE), to="in_progress").name == "Reopen"


@pytest.mark.django_db
def test_moves_for_asks_the_permissions(performer, manager, observer, dispatcher, request_type):
    card = make_task(actor=dispatcher, owner=performer, request_type=request_type)
    actions.change_status(task=card, to=Status.IN_PROGRESS, actor=performer)
    assert _names(moves.moves_for(performer, card))[0] == "*Done"
    assert moves.moves_for(observer, card) == []
    actions.change_status(task=card, to=Status.ON_APPROVAL, actor=performer, approver=manager)
    assert moves.moves_for(performer, card) == []
    assert not permissions.can_move(performer, card)
    assert _names(moves.moves_for(manager, card)) == ["*Approve", "Reject", "Cancel card"]
    assert _names(moves.moves_for(dispatcher, card)) == ["Cancel card"]  # leads the team
