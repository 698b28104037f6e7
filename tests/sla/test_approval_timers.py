"""Time to decision: an SLA timer of its own for each approval step asked (sla.actions).

Cards are sent for approval and decided through the action layer (tasks.actions); the scan is
called directly with `now=`. Instants are Berlin local time; the office calendar
(`berlin_office`, tests/sla/conftest.py) is Mon-Fri 09:00-13:00 and 14:00-18:00.
2026-11-20 is a Friday, 2026-11-23 a Monday.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.urls import reverse

from sla.explain import explain_timers
from sla.models import (
    Channel,
    EscalationRule,
    Holiday,
    Notification,
    SlaEvent,
    SlaPause,
    SlaPolicy,
    SlaRetarget,
    SlaTarget,
    SlaTimer,
    TimerKind,
    TimerState,
)
from sla.replay import replay_past_cards
from tasks import actions
from tasks.actions import PastCard, Step
from tasks.models import ApprovalStep, Priority, Status
from tests.factories import UserFactory
from tests.sla.conftest import FRI, MON, H, M, Trigger, berlin, scan

pytestmark = pytest.mark.django_db

APPROVAL = TimerKind.APPROVAL
TUE = (2026, 11, 24)
WED = (2026, 11, 25)
# Time to decision per priority (the card's other timers: response 1 h, resolution 40 h).
DECISION = {
    Priority.CRITICAL: 30 * M,
    Priority.HIGH: H,
    Priority.NORMAL: 2 * H,
    Priority.LOW: 4 * H,
}


@pytest.fixture
def approvals_policy(request_type):
    """Builds the `request_type` cards' policy on a calendar, with a time to decision."""

    def make(calendar, **fields) -> SlaPolicy:
        policy = SlaPolicy.objects.create(
            name="Sales approvals", calendar=calendar, order=10, request_type=request_type, **fields
        )
        for priority, decision in DECISION.items():
            SlaTarget.objects.create(
                policy=policy,
                priority=priority,
                response_target=H,
                resolution_target=40 * H,
                approval_target=decision,
                warn_pct=75,
            )
        return policy

    return make


@pytest.fixture
def office_policy(approvals_policy, berlin_office):
    return approvals_policy(berlin_office)


@pytest.fixture
def legal(roles):
    user = UserFactory(username="lena", first_name="Lena", last_name="Legal")
    user.groups.add(roles["manager"])
    return user


@pytest.fixture
def card(request_type, dispatcher, performer):
    """A card in progress made before it is sent; its SLA comes from the policy fixture."""

    def make(at, priority=Priority.NORMAL):
        task = actions.create_task(
            title="Discount for ACME",
            request_type=request_type,
            priority=priority,
            actor=dispatcher,
            owner=performer,
            at=at,
        )
        return actions.change_status(task=task, to=Status.IN_PROGRESS, actor=performer, at=at)

    return make


def send(task, performer, at, approver=None):
    return actions.change_status(
        task=task, to=Status.ON_APPROVAL, actor=performer, approver=approver, at=at
    )


def decide(task, decision, actor, at, reason=""):
    return actions.decide(task=task, decision=decision, actor=actor, at=at, reason=reason)


def chain(request_type, budget, legal) -> None:
    """Two steps: "Budget" decided by `budget`, then "Legal" by `legal`."""
    ApprovalStep.objects.create(request_type=request_type, position=1, name="Budget",
                                approver=budget)  # fmt: skip
    ApprovalStep.objects.create(request_type=request_type, position=2, name="Legal",
                                approver=legal)  # fmt: skip


def approval_timers(task) -> list[SlaTimer]:
    return list(SlaTimer.objects.filter(task=task, kind=APPROVAL).order_by("cycle"))


# --------------------------------------------------------------------------- one decision


def test_sending_starts_the_time_to_decision_and_approving_stops_it_met(
    office_policy, card, performer, manager
):
    task = card(berlin(*MON, 9))
    assert approval_timers(task) == []  # no decision asked yet
    send(task, performer, berlin(*MON, 12), approver=manager)
    (timer,) = approval_timers(task)
    # 2 h of office time from Mon 12:00: 12-13, lunch, 14-15.
    assert (timer.cycle, timer.state, timer.target) == (1, TimerState.RUNNING, 2 * H)
    assert timer.due_at == berlin(*MON, 15)
    assert timer.warn_at == berlin(*MON, 14, 30)

    decide(task, "approve", manager, berlin(*MON, 14, 30))
    timer.refresh_from_db()
    assert (timer.state, timer.stopped_at, timer.consumed) == (
        TimerState.MET,
        berlin(*MON, 14, 30),
        90 * M,
    )
    # The card's other clocks carry on as before: the response stopped when taken into work.
    assert SlaTimer.objects.get(task=task, kind=TimerKind.RESOLUTION).stopped_at is None


def test_a_decision_after_the_target_stops_it_breached(office_policy, card, performer, manager):
    task = card(berlin(*FRI, 16))
    send(task, performer, berlin(*FRI, 17), approver=manager)
    decide(task, "approve", manager, berlin(*MON, 11))
    (timer,) = approval_timers(task)
    # Fri 17-18 and Mon 9-10 are the 2 h: due Mon 10:00, decided an hour late.
    assert (timer.state, timer.breached_at, timer.consumed) == (
        TimerState.BREACHED,
        berlin(*MON, 10),
        3 * H,
    )


def test_rejecting_stops_it_met_and_sending_again_starts_a_new_cycle(
    office_policy, card, performer, manager
):
    task = card(berlin(*MON, 9))
    send(task, performer, berlin(*MON, 10), approver=manager)
    decide(task, "reject", manager, berlin(*MON, 11), reason="Discount above 15 %")
    send(task, performer, berlin(*MON, 16), approver=manager)

    first, second = approval_timers(task)
    assert (first.cycle, first.state, first.stopped_at, first.consumed) == (
        1,
        TimerState.MET,
        berlin(*MON, 11),
        H,
    )
    assert (second.cycle, second.state, second.started_at) == (
        2,
        TimerState.RUNNING,
        berlin(*MON, 16),
    )
    assert second.due_at == berlin(*MON, 18)
    decide(task, "approve", manager, berlin(*TUE, 9, 30))
    second.refresh_from_db()
    assert (second.state, second.consumed) == (TimerState.BREACHED, 2 * H + 30 * M)


def test_cancelling_a_card_on_approval_cancels_its_time_to_decision(
    office_policy, card, performer, manager
):
    task = card(berlin(*MON, 9))
    send(task, performer, berlin(*MON, 10), approver=manager)
    actions.change_status(task=task, to=Status.CANCELLED, actor=manager, at=berlin(*MON, 11))
    (timer,) = approval_timers(task)
    assert (timer.state, timer.stopped_at) == (TimerState.CANCELLED, berlin(*MON, 11))


def test_a_policy_without_a_time_to_decision_starts_no_approval_timer(
    office_policy, card, performer, manager
):
    SlaTarget.objects.filter(policy=office_policy).update(approval_target=None)
    task = card(berlin(*MON, 9))
    send(task, performer, berlin(*MON, 10), approver=manager)
    assert approval_timers(task) == []
    decide(task, "approve", manager, berlin(*MON, 11))
    assert approval_timers(task) == []


# --------------------------------------------------------------------------- a chain


def test_each_step_of_a_chain_is_its_own_cycle(
    office_policy, card, performer, manager, legal, request_type
):
    chain(request_type, manager, legal)
    task = card(berlin(*MON, 9))
    send(task, performer, berlin(*MON, 10))
    decide(task, "approve", manager, berlin(*MON, 11))  # Budget: 1 h
    (budget, legal_step) = approval_timers(task)
    assert (budget.cycle, budget.state, budget.consumed) == (1, TimerState.MET, H)
    assert (legal_step.cycle, legal_step.state, legal_step.started_at) == (
        2,
        TimerState.RUNNING,
        berlin(*MON, 11),
    )
    assert legal_step.due_at == berlin(*MON, 13)  # 11-13

    decide(task, "approve", legal, berlin(*MON, 16))  # Legal: 11-13 and 14-16 = 4 h
    legal_step.refresh_from_db()
    assert (legal_step.state, legal_step.breached_at, legal_step.consumed) == (
        TimerState.BREACHED,
        berlin(*MON, 13),
        4 * H,
    )
    task.refresh_from_db()
    assert task.status == Status.IN_PROGRESS
    assert SlaTimer.objects.filter(task=task, kind=APPROVAL, stopped_at__isnull=True).count() == 0


# --------------------------------------------------------------------------- pauses


def test_a_policy_pausing_on_approval_pauses_the_other_clocks_not_the_time_to_decision(
    office_policy, card, performer, manager
):
    office_policy.pausing_statuses = [Status.ON_APPROVAL]
    office_policy.save()
    task = card(berlin(*MON, 9))
    send(task, performer, berlin(*MON, 10), approver=manager)
    resolution = SlaTimer.objects.get(task=task, kind=TimerKind.RESOLUTION)
    (timer,) = approval_timers(task)
    assert resolution.state == TimerState.PAUSED
    assert timer.state == TimerState.RUNNING
    decide(task, "approve", manager, berlin(*MON, 11))
    timer.refresh_from_db()
    assert (timer.state, timer.consumed) == (TimerState.MET, H)
    assert not SlaPause.objects.filter(timer=timer).exists()


def test_closed_hours_and_holidays_do_not_count(office_policy, card, performer, manager):
    Holiday.objects.create(calendar=office_policy.calendar, date=date(2026, 11, 24), name="Day off")
    task = card(berlin(*MON, 9), priority=Priority.LOW)  # 4 h to decide
    send(task, performer, berlin(*MON, 16), approver=manager)
    (timer,) = approval_timers(task)
    # Mon 16-18 (2 h), Tuesday a holiday, Wed 9-11 (2 h).
    assert timer.due_at == berlin(*WED, 11)
    decide(task, "approve", manager, berlin(*WED, 10))
    timer.refresh_from_db()
    assert (timer.state, timer.consumed) == (TimerState.MET, 3 * H)


@pytest.mark.parametrize(
    ("sent", "due"),
    [
        # Spring forward, Sunday 2027-03-28 02:00 → 03:00: a day of 23 hours.
        (berlin(2027, 3, 27, 12), berlin(2027, 3, 28, 13)),
        # Fall back, Sunday 2026-10-25 03:00 → 02:00: a day of 25 hours.
        (berlin(2026, 10, 24, 12), berlin(2026, 10, 25, 11)),
    ],
    ids=["spring", "autumn"],
)
def test_a_round_the_clock_time_to_decision_across_a_dst_change_counts_real_hours(
    approvals_policy, round_the_clock, card, performer, manager, sent, due
):
    policy = approvals_policy(round_the_clock)
    SlaTarget.objects.filter(policy=policy).update(approval_target=24 * H)
    task = card(sent)
    send(task, performer, sent, approver=manager)
    (timer,) = approval_timers(task)
    assert timer.due_at == due
    decide(task, "approve", manager, due - 30 * M)
    timer.refresh_from_db()
    assert (timer.state, timer.consumed) == (TimerState.MET, 23 * H + 30 * M)


# --------------------------------------------------------------------------- re-targeting


def test_a_priority_change_while_on_approval_retargets_keeping_the_time_used(
    office_policy, card, performer, manager
):
    task = card(berlin(*MON, 9))
    send(task, performer, berlin(*MON, 9), approver=manager)
    actions.change_priority(task=task, priority=Priority.LOW, actor=manager, at=berlin(*MON, 10))
    (timer,) = approval_timers(task)
    assert (timer.target, timer.consumed) == (4 * H, H)
    assert timer.due_at == berlin(*MON, 13)  # 3 h left from 10:00: 10-13
    retarget = SlaRetarget.objects.get(timer=timer)
    assert (retarget.old_target, retarget.new_target, retarget.consumed) == (2 * H, 4 * H, H)


# --------------------------------------------------------------------------- the scan


@pytest.mark.parametrize("set_based", [True, False], ids=["set_based", "general"])
def test_a_breach_while_waiting_is_recorded_once_and_tells_the_approver(
    office_policy, card, performer, manager, dispatcher, make_rule, set_based
):
    make_rule(office_policy, Trigger.BREACH, timer_kind=APPROVAL, notify_owner=False,
              notify_approver=True)  # fmt: skip
    make_rule(office_policy, Trigger.BREACH, timer_kind=TimerKind.RESOLUTION, notify_owner=True)
    task = card(berlin(*MON, 9))
    send(task, performer, berlin(*MON, 9), approver=manager)

    scan(berlin(*MON, 11, 30), set_based=set_based)  # due Mon 11:00
    scan(berlin(*MON, 11, 31), set_based=set_based)
    decide(task, "approve", manager, berlin(*MON, 12))

    (timer,) = approval_timers(task)
    breaches = SlaEvent.objects.filter(timer__task=task, kind=SlaEvent.Kind.BREACH)
    assert [(e.timer_id, e.at) for e in breaches] == [(timer.pk, berlin(*MON, 11))]
    notes = Notification.objects.filter(event__timer=timer)
    assert [(n.recipient, n.channel) for n in notes] == [(manager, Channel.IN_APP)]
    assert (timer.state, timer.breached_at) == (TimerState.BREACHED, berlin(*MON, 11))


def test_an_escalation_after_the_breach_reaches_the_step_being_decided(
    office_policy, card, performer, manager, legal, request_type, make_rule
):
    """After-breach levels (the general path) of a chain: the approver of the step asked."""
    chain(request_type, manager, legal)
    make_rule(office_policy, Trigger.AFTER_BREACH, timer_kind=APPROVAL, minutes_after_breach=30,
              clock=EscalationRule.Clock.BUSINESS, notify_owner=False,
              notify_approver=True)  # fmt: skip
    task = card(berlin(*MON, 9))
    send(task, performer, berlin(*MON, 9))
    decide(task, "approve", manager, berlin(*MON, 10))
    scan(berlin(*MON, 15))  # Legal due 12:00 (10-12), escalated 12:30
    (_, legal_step) = approval_timers(task)
    escalation = SlaEvent.objects.get(timer=legal_step, kind=SlaEvent.Kind.ESCALATION)
    assert escalation.at == berlin(*MON, 12, 30)
    assert [n.recipient for n in Notification.objects.filter(event=escalation)] == [legal]


# --------------------------------------------------------------------------- imports


def test_replayed_history_gives_each_sending_its_time_to_decision(
    request_type, dispatcher, performer, manager, approvals_policy, berlin_office
):
    # Made before the policy, so it has no timers of its own: the replay gives them.
    task = actions.create_task(
        title="Imported", request_type=request_type, priority=Priority.NORMAL,
        actor=dispatcher, owner=performer, at=berlin(*MON, 9),
    )  # fmt: skip
    approvals_policy(berlin_office)
    steps = [
        (berlin(*MON, 9), Status.ASSIGNED, None),
        (berlin(*MON, 10), Status.IN_PROGRESS, berlin(*MON, 10)),
        (berlin(*MON, 11), Status.ON_APPROVAL, berlin(*MON, 10)),
        (berlin(*MON, 12), Status.IN_PROGRESS, berlin(*MON, 10)),  # rejected after 1 h
        (berlin(*MON, 15), Status.ON_APPROVAL, berlin(*MON, 10)),
        (berlin(*TUE, 10), Status.DONE, berlin(*MON, 10)),  # approved after 4 h, late
    ]
    replay_past_cards(
        cards=[PastCard(task=task, steps=tuple(Step(at, s, first) for at, s, first in steps))]
    )
    first, second = approval_timers(task)
    assert (first.cycle, first.state, first.consumed) == (1, TimerState.MET, H)
    assert (second.cycle, second.state, second.consumed, second.breached_at) == (
        2,
        TimerState.BREACHED,
        4 * H,
        berlin(*MON, 17),
    )
    assert SlaEvent.objects.filter(timer=second, kind=SlaEvent.Kind.BREACH).count() == 1
    assert not Notification.objects.exists()  # past thresholds announce nothing


def test_manager_approves_and_the_timer_minutes_are_exact(office_policy, card, performer, manager):
    """Minutes, not only hours: 37 minutes of a 2 h target."""
    task = card(berlin(*MON, 9))
    send(task, performer, berlin(*MON, 9, 5), approver=manager)
    decide(task, "approve", manager, berlin(*MON, 9, 42))
    (timer,) = approval_timers(task)
    assert (timer.state, timer.consumed) == (TimerState.MET, 37 * M)
    assert timedelta(0) < timer.consumed < timer.target


# --------------------------------------------------------------------------- the card page


def test_the_card_names_each_time_to_decision_by_its_step_and_sending(
    office_policy, card, performer, manager, legal, request_type, client
):
    chain(request_type, manager, legal)
    task = card(berlin(*MON, 9))
    send(task, performer, berlin(*MON, 10))
    decide(task, "reject", manager, berlin(*MON, 11), reason="Budget is spent")
    send(task, performer, berlin(*MON, 12))
    decide(task, "approve", manager, berlin(*MON, 12, 30))

    views = [v for v in explain_timers(task, now=berlin(*MON, 13)) if v.timer.kind == APPROVAL]
    assert [(v.timer.cycle, v.label, v.timer.state) for v in views] == [
        (1, "Time to decision — step 1 of 2 (Budget)", TimerState.MET),
        (2, "Time to decision — step 1 of 2 (Budget), 2nd sending", TimerState.MET),
        (3, "Time to decision — step 2 of 2 (Legal), 2nd sending", TimerState.RUNNING),
    ]
    client.force_login(performer)
    html = client.get(reverse("task_timers", args=[task.pk])).content.decode()
    assert "<strong>Time to decision — step 2 of 2 (Legal), 2nd sending</strong>" in html
    assert "(cycle 3)" not in html  # a round is not a cycle the reader knows


def test_a_single_step_is_named_time_to_decision(office_policy, card, performer, manager):
    task = card(berlin(*MON, 9))
    send(task, performer, berlin(*MON, 10), approver=manager)
    (view,) = [v for v in explain_timers(task, now=berlin(*MON, 11)) if v.timer.kind == APPROVAL]
    assert view.label == "Time to decision"
