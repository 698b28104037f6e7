"""Approval as a workflow (tasks.actions.approval and the on-approval rules of change_status):
who may send, who decides, what each decision does, chains of steps as data."""

from __future__ import annotations

import pytest

from tasks import actions, permissions
from tasks.models import ApprovalStep, Status, TaskEvent
from tests.factories import make_task

pytestmark = pytest.mark.django_db
Kind = TaskEvent.Kind


@pytest.fixture
def card(dispatcher, performer, request_type):
    task = make_task(actor=dispatcher, owner=performer, request_type=request_type)
    return actions.change_status(task=task, to=Status.IN_PROGRESS, actor=performer)


def send(card, performer, approver=None):
    return actions.change_status(
        task=card, to=Status.ON_APPROVAL, actor=performer, approver=approver
    )


def test_a_performer_sends_for_approval_naming_the_approver(card, performer, manager):
    send(card, performer, approver=manager)
    card.refresh_from_db()
    assert (card.status, card.approver, card.approval_step, card.approval_round) == (
        Status.ON_APPROVAL,
        manager,
        1,
        1,
    )
    kinds = list(card.events.order_by("pk").values_list("kind", flat=True))
    assert kinds[-2:] == [Kind.APPROVER_CHANGED, Kind.STATUS_CHANGED]


def test_sending_needs_an_approver_who_may_approve(card, performer, other_performer):
    with pytest.raises(actions.WorkflowError, match="Name an approver"):
        send(card, performer)
    with pytest.raises(actions.WorkflowError, match="may not decide approvals"):
        send(card, performer, approver=other_performer)
    card.refresh_from_db()
    assert card.status == Status.IN_PROGRESS and card.approver is None


def test_the_first_steps_default_approver_is_asked_when_none_is_named(
    card, performer, request_type, lena
):
    ApprovalStep.objects.create(request_type=request_type, position=1, name="Legal", approver=lena)
    send(card, performer)
    card.refresh_from_db()
    assert card.approver == lena


def test_a_card_on_approval_moves_on_only_by_a_decision(card, performer, manager):
    send(card, performer, approver=manager)
    for to in (Status.DONE, Status.IN_PROGRESS, Status.WAITING):
        with pytest.raises(actions.WorkflowError, match="moves on by a decision"):
            actions.change_status(task=card, to=to, actor=performer)
    assert not permissions.can_decide(performer, card)
    assert not permissions.can_move(performer, card)
    with pytest.raises(actions.NotAllowed, match="Only the card's approver"):
        actions.decide(task=card, decision=actions.APPROVE, actor=performer)
    card.refresh_from_db()
    assert card.status == Status.ON_APPROVAL


def test_reject_needs_a_reason_and_sends_the_card_back_to_work(card, performer, manager):
    send(card, performer, approver=manager)
    with pytest.raises(actions.WorkflowError, match="Say why"):
        actions.decide(task=card, decision=actions.REJECT, actor=manager, reason="  ")
    actions.decide(task=card, decision=actions.REJECT, actor=manager, reason="Budget too high")
    card.refresh_from_db()
    assert (card.status, card.approval_step) == (Status.IN_PROGRESS, 0)
    rejected = card.events.get(kind=Kind.REJECTED)
    assert (rejected.actor, rejected.note, rejected.new_value) == (
        manager,
        "Budget too high",
        {"step": 1, "of": 1, "as": "approver"},
    )


def test_approve_moves_to_the_request_types_next_status(card, performer, manager, request_type):
    send(card, performer, approver=manager)
    actions.decide(task=card, decision=actions.APPROVE, actor=manager)
    card.refresh_from_db()
    assert card.status == Status.IN_PROGRESS

    request_type.approved_status = Status.DONE
    request_type.save()
    send(card, performer, approver=manager)
    actions.decide(task=card, decision=actions.APPROVE, actor=manager, reason="Fine")
    card.refresh_from_db()
    assert card.status == Status.DONE and card.resolved_at is not None
    assert card.approval_round == 2


def test_the_team_manager_may_decide_and_is_recorded_as_such(card, performer, manager, lena):
    send(card, performer, approver=lena)
    assert permissions.decider_role(manager, card) == "team_manager"
    actions.decide(task=card, decision=actions.APPROVE, actor=manager)
    event = card.events.get(kind=Kind.APPROVED)
    assert event.new_value["as"] == "team_manager" and event.actor == manager


def test_a_chain_of_steps_is_data(card, performer, request_type, manager, lena):
    ApprovalStep.objects.create(request_type=request_type, position=1, name="Budget")
    ApprovalStep.objects.create(request_type=request_type, position=2, name="Legal", approver=lena)
    send(card, performer, approver=manager)
    actions.decide(task=card, decision=actions.APPROVE, actor=manager)
    card.refresh_from_db()
    assert (card.status, card.approval_step, card.approver, card.approval_round) == (
        Status.ON_APPROVAL,
        2,
        lena,
        2,
    )
    actions.decide(task=card, decision=actions.APPROVE, actor=lena)
    card.refresh_from_db()
    assert card.status == Status.IN_PROGRESS
    steps = [e.new_value["step"] for e in card.events.filter(kind=Kind.APPROVED).order_by("pk")]
    assert steps == [1, 2]


def test_a_next_step_without_default_approver_must_be_named(
    card, performer, request_type, manager, lena
):
    ApprovalStep.objects.create(request_type=request_type, position=1, name="Budget")
    ApprovalStep.objects.create(request_type=request_type, position=2, name="Legal")
    send(card, performer, approver=manager)
    with pytest.raises(actions.WorkflowError, match=r"next step \(Legal\)"):
        actions.decide(task=card, decision=actions.APPROVE, actor=manager)
    actions.decide(task=card, decision=actions.APPROVE, actor=manager, next_approver=lena)
    card.refresh_from_db()
    assert card.approver == lena and card.approval_step == 2


def test_a_leader_may_still_cancel_a_card_on_approval(card, performer, manager, dispatcher):
    send(card, performer, approver=manager)
    assert permissions.can_move(dispatcher, card)
    actions.change_status(task=card, to=Status.CANCELLED, actor=dispatcher)
    card.refresh_from_db()
    assert card.status == Status.CANCELLED and card.approval_step == 0


def test_following_a_card(card, observer, performer):
    watch = actions.follow(task=card, user=observer, breaches=False)
    assert (watch.status_changes, watch.breaches, watch.decisions) == (True, False, True)
    actions.follow(task=card, user=observer)
    assert card.watches.get().breaches
    actions.unfollow(task=card, user=observer)
    assert not card.watches.exists()
    assert card.version == card.__class__.objects.get(pk=card.pk).version  # not a change


def test_anyone_who_may_work_cards_and_sees_one_may_comment(
    dispatcher, performer, other_performer, observer, outsider, request_type
):
    # Pete is in the card's team but neither owns nor performs it; Otto is in another team.
    task = make_task(actor=dispatcher, owner=performer, request_type=request_type)
    assert permissions.can_comment(other_performer, task)
    assert not permissions.can_work(other_performer, task)
    assert not permissions.can_comment(observer, task)  # observers read
    assert not permissions.can_comment(outsider, task)  # cannot see it
