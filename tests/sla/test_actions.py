"""SLA timers driven through the real action layer (tasks.actions), never written directly.

Every change carries an explicit `at=`; expected instants are written in Berlin local time.
Calendars: "Berlin office" (Mon-Fri 09:00-13:00 and 14:00-18:00, Christmas closed), "24/7"
(Europe/Berlin) and "Night desk" (Mon-Fri 20:00-04:00). 2026-11-20 is a Friday, 2026-11-23 a
Monday.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from sla import jobs
from sla.actions import recompute_calendar_timers
from sla.models import (
    BusinessCalendar,
    EscalationRule,
    Holiday,
    PolicyMode,
    SlaEvent,
    SlaPause,
    SlaPolicy,
    SlaRetarget,
    SlaTarget,
    SlaTimer,
    TimerKind,
    TimerState,
    WorkingInterval,
)
from tasks import actions
from tasks.models import Priority, Status
from tests.factories import BlockingReasonFactory, RequestTypeFactory

pytestmark = pytest.mark.django_db

BERLIN = ZoneInfo("Europe/Berlin")
H = timedelta(hours=1)
M = timedelta(minutes=1)


def berlin(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN)


FRI = (2026, 11, 20)
MON = (2026, 11, 23)
TUE = (2026, 11, 24)
WED = (2026, 11, 25)

# (response, resolution) per priority; warnings at 75 % of the target.
OFFICE_TARGETS = {
    Priority.CRITICAL: (30 * M, 2 * H),
    Priority.HIGH: (H, 4 * H),
    Priority.NORMAL: (2 * H, 8 * H),
    Priority.LOW: (4 * H, 16 * H),
}
EMERGENCY_TARGETS = {
    Priority.CRITICAL: (15 * M, 2 * H),
    Priority.HIGH: (30 * M, 4 * H),
    Priority.NORMAL: (H, 6 * H),
    Priority.LOW: (2 * H, 12 * H),
}


def _calendar(name: str, weekly: dict[int, list[tuple[time, time]]], holidays=()):
    calendar = BusinessCalendar.objects.create(name=name, timezone="Europe/Berlin")
    for weekday, intervals in weekly.items():
        for start, end in intervals:
            WorkingInterval.objects.create(calendar=calendar, weekday=weekday, start=start, end=end)
    for day, label in holidays:
        Holiday.objects.create(calendar=calendar, date=day, name=label)
    return calendar


def _policy(name, calendar, targets, *, order=100, **criteria) -> SlaPolicy:
    policy = SlaPolicy.objects.create(name=name, calendar=calendar, order=order, **criteria)
    for priority, (response, resolution) in targets.items():
        SlaTarget.objects.create(
            policy=policy,
            priority=priority,
            response_target=response,
            resolution_target=resolution,
            warn_pct=75,
        )
    return policy


@pytest.fixture
def office():
    return _calendar(
        "Berlin office",
        {d: [(time(9), time(13)), (time(14), time(18))] for d in range(5)},
        holidays=[(date(2026, 12, 25), "Christmas Day"), (date(2026, 12, 26), "Boxing Day")],
    )


@pytest.fixture
def always():
    return BusinessCalendar.objects.create(name="24/7", timezone="Europe/Berlin", always_open=True)


@pytest.fixture
def night_desk():
    return _calendar("Night desk", {d: [(time(20), time(4))] for d in range(5)})


@pytest.fixture
def office_policy(office, request_type):
    return _policy("Sales leads", office, OFFICE_TARGETS, order=10, request_type=request_type)


@pytest.fixture
def emergency(team):
    return RequestTypeFactory(name="Emergency call", default_team=team)


@pytest.fixture
def emergency_policy(always, emergency):
    return _policy("Emergencies", always, EMERGENCY_TARGETS, order=20, request_type=emergency)


@pytest.fixture
def waiting_for_customer():
    return BlockingReasonFactory(name="Waiting for customer", pauses_sla=True)


@pytest.fixture
def needs_decision():
    return BlockingReasonFactory(name="Needs manager decision", pauses_sla=False)


@pytest.fixture
def new_card(office_policy, request_type, dispatcher, performer):
    """Create a card through the action layer, owned by the performer (so it can move)."""

    def make(at: datetime, priority=Priority.NORMAL, request_type=request_type, owner=performer):
        return actions.create_task(
            title="Quote for 40 desks",
            request_type=request_type,
            priority=priority,
            actor=dispatcher,
            owner=owner,
            at=at,
        )

    return make


def timer(task, kind=TimerKind.RESOLUTION, cycle=1) -> SlaTimer:
    return SlaTimer.objects.get(task=task, kind=kind, cycle=cycle)


def move(task, to, at, actor, **kwargs):
    return actions.change_status(task=task, to=to, actor=actor, at=at, **kwargs)


# --------------------------------------------------------------------------- deadlines


def test_card_created_friday_late_afternoon_is_due_monday_before_lunch(new_card):
    card = new_card(berlin(*FRI, 17), Priority.HIGH)
    resolution = timer(card)
    # Fri 17:00-18:00 is 1 h, Mon 09:00-12:00 the other 3 h.
    assert resolution.due_at == berlin(*MON, 12)
    assert resolution.started_at == berlin(*FRI, 17)
    assert resolution.state == TimerState.RUNNING
    assert resolution.target == 4 * H
    assert resolution.consumed == timedelta(0)
    assert resolution.running_since == berlin(*FRI, 17)


def test_deadline_landing_exactly_at_closing_time_is_that_closing_time(new_card):
    card = new_card(berlin(*MON, 14), Priority.HIGH)
    assert timer(card).due_at == berlin(*MON, 18)
    friday = new_card(berlin(*FRI, 17), Priority.HIGH)
    assert timer(friday, TimerKind.RESPONSE).due_at == berlin(*FRI, 18)


def test_lunch_break_is_skipped(new_card):
    card = new_card(berlin(*MON, 11), Priority.HIGH)
    # 11:00-13:00 is 2 h, lunch 13:00-14:00 is closed, 14:00-16:00 the other 2 h.
    assert timer(card).due_at == berlin(*MON, 16)


def test_christmas_and_the_weekend_are_skipped(new_card):
    card = new_card(berlin(2026, 12, 24, 16), Priority.HIGH)
    # Thu 24th 16:00-18:00 is 2 h; Fri 25th (holiday), Sat 26th, Sun 27th are closed.
    assert timer(card).due_at == berlin(2026, 12, 28, 11)


def test_a_24_7_card_over_the_spring_forward_night_loses_the_skipped_hour(
    new_card, emergency, emergency_policy
):
    card = new_card(berlin(2026, 3, 29, 0, 30), Priority.HIGH, request_type=emergency)
    # 4 h of real time from 00:30 CET end at 05:30 CEST: 02:00-03:00 local never happened.
    assert timer(card).due_at == berlin(2026, 3, 29, 5, 30)
    assert timer(card).calendar.name == "24/7"


def test_a_24_7_card_over_the_fall_back_night_lives_the_repeated_hour_twice(
    new_card, emergency, emergency_policy
):
    card = new_card(berlin(2026, 10, 25, 0, 30), Priority.HIGH, request_type=emergency)
    # 4 h of real time from 00:30 CEST end at 03:30 CET: 02:00-03:00 local happened twice.
    assert timer(card).due_at == berlin(2026, 10, 25, 3, 30)


def test_overnight_shift_deadline_runs_into_saturday_morning_then_monday_night(
    new_card, night_desk, team
):
    night_job = RequestTypeFactory(name="Night job", default_team=team)
    _policy("Night jobs", night_desk, OFFICE_TARGETS, order=5, request_type=night_job)
    card = new_card(berlin(*FRI, 23), Priority.NORMAL, request_type=night_job)
    # Response 2 h: Fri 23:00 → Sat 01:00 (Friday's shift ends Saturday 04:00).
    assert timer(card, TimerKind.RESPONSE).due_at == berlin(2026, 11, 21, 1)
    # Resolution 8 h: Fri 23:00-Sat 04:00 is 5 h, then Monday's shift 20:00-23:00.
    assert timer(card).due_at == berlin(*MON, 23)


# --------------------------------------------------------------------------- pauses


def test_pause_while_waiting_for_customer_extends_due_time_by_business_time_lost(
    new_card, performer, waiting_for_customer
):
    card = new_card(berlin(*FRI, 10))
    assert timer(card).due_at == berlin(*MON, 10)  # 7 h on Friday, 1 h on Monday
    move(card, Status.IN_PROGRESS, berlin(*FRI, 10, 30), performer)
    move(card, Status.WAITING, berlin(*FRI, 16), performer, blocking_reason=waiting_for_customer)

    paused = timer(card)
    assert paused.state == TimerState.PAUSED
    assert paused.due_at is None
    assert paused.next_check_at is None
    assert paused.consumed == 5 * H  # Fri 10-13 and 14-16

    move(card, Status.IN_PROGRESS, berlin(*MON, 10), performer)
    resumed = timer(card)
    assert resumed.state == TimerState.RUNNING
    assert resumed.consumed == 5 * H
    assert resumed.running_since == berlin(*MON, 10)
    # Lost Fri 16-18 and Mon 9-10 = 3 h of business time: due moves from Mon 10:00 to 13:00,
    # not by the 66 wall-clock hours of the weekend.
    assert resumed.due_at == berlin(*MON, 13)

    (pause,) = SlaPause.objects.filter(timer=resumed)
    assert pause.blocking_reason == waiting_for_customer
    assert pause.status == Status.WAITING
    assert pause.started_at == berlin(*FRI, 16)
    assert pause.ended_at == berlin(*MON, 10)
    assert pause.business_lost == 3 * H


def test_waiting_for_a_manager_decision_does_not_pause_the_clock(
    new_card, performer, needs_decision
):
    card = new_card(berlin(*FRI, 10))
    move(card, Status.WAITING, berlin(*FRI, 16), performer, blocking_reason=needs_decision)
    move(card, Status.IN_PROGRESS, berlin(*MON, 9, 30), performer)

    resolution = timer(card)
    assert resolution.state == TimerState.RUNNING
    assert resolution.due_at == berlin(*MON, 10)
    assert not SlaPause.objects.filter(timer__task=card).exists()


@pytest.mark.parametrize(
    ("pausing_statuses", "due"),
    [
        # Paused Mon 11:00 → Tue 11:00 loses 8 h of business time.
        ([Status.ON_APPROVAL], berlin(*TUE, 18)),
        ([], berlin(*MON, 18)),
    ],
    ids=["configured_on_approval_pauses", "approval_without_configuration_runs_on"],
)
def test_pausing_status_configured_on_the_policy_pauses_the_clock(
    new_card, office_policy, performer, manager, pausing_statuses, due
):
    office_policy.pausing_statuses = pausing_statuses
    office_policy.save()
    card = new_card(berlin(*MON, 9))
    actions.set_approver(task=card, approver=manager, actor=performer, at=berlin(*MON, 9))
    move(card, Status.ON_APPROVAL, berlin(*MON, 11), performer)
    assert (timer(card).state == TimerState.PAUSED) == bool(pausing_statuses)
    actions.decide(task=card, decision="approve", actor=manager, at=berlin(*TUE, 11))

    assert timer(card).due_at == due
    pauses = SlaPause.objects.filter(timer=timer(card))
    assert [(p.status, p.business_lost) for p in pauses] == (
        [(Status.ON_APPROVAL, 8 * H)] if pausing_statuses else []
    )


def test_a_card_created_in_a_pausing_status_starts_its_timers_paused(
    new_card, office_policy, performer
):
    """The first timers are started set-based (sla.actions.start_first_timers): paused from
    the start, each with its open pause, which the first move into work ends."""
    office_policy.pausing_statuses = [Status.ASSIGNED]
    office_policy.save()
    card = new_card(berlin(*MON, 9))
    for kind in (TimerKind.RESPONSE, TimerKind.RESOLUTION):
        assert timer(card, kind).state == TimerState.PAUSED
        assert timer(card, kind).due_at is None
        assert SlaPause.objects.get(timer=timer(card, kind)).ended_at is None
    move(card, Status.IN_PROGRESS, berlin(*MON, 11), performer)

    pause = SlaPause.objects.get(timer=timer(card))
    assert (pause.status, pause.ended_at, pause.business_lost) == (
        Status.ASSIGNED,
        berlin(*MON, 11),
        2 * H,
    )
    assert timer(card).state == TimerState.RUNNING
    assert timer(card, TimerKind.RESPONSE).state == TimerState.MET


def test_time_lost_is_attributed_to_each_cause_when_a_pause_changes_cause(
    new_card, office_policy, performer, manager, waiting_for_customer
):
    office_policy.pausing_statuses = [Status.ON_APPROVAL]
    office_policy.save()
    card = new_card(berlin(*MON, 9))
    actions.set_approver(task=card, approver=manager, actor=performer, at=berlin(*MON, 9))
    move(card, Status.WAITING, berlin(*MON, 10), performer, blocking_reason=waiting_for_customer)
    move(card, Status.ON_APPROVAL, berlin(*MON, 15), performer)
    actions.decide(task=card, decision="approve", actor=manager, at=berlin(*TUE, 11))

    pauses = SlaPause.objects.filter(timer=timer(card)).order_by("started_at")
    assert [(p.status, p.blocking_reason, p.business_lost) for p in pauses] == [
        (Status.WAITING, waiting_for_customer, 4 * H),  # Mon 10-13, 14-15
        (Status.ON_APPROVAL, None, 5 * H),  # Mon 15-18, Tue 9-11
    ]
    assert timer(card).consumed == H


def test_a_pause_that_starts_after_the_due_time_keeps_the_breach_at_the_due_time(
    new_card, performer, waiting_for_customer
):
    card = new_card(berlin(*MON, 9))
    move(card, Status.IN_PROGRESS, berlin(*MON, 9), performer)
    move(card, Status.WAITING, berlin(*TUE, 10), performer, blocking_reason=waiting_for_customer)

    paused = timer(card)
    assert paused.state == TimerState.BREACHED
    assert paused.breached_at == berlin(*MON, 18)
    assert paused.running_since is None
    assert paused.consumed == 9 * H

    move(card, Status.IN_PROGRESS, berlin(*TUE, 12), performer)
    resumed = timer(card)
    assert resumed.state == TimerState.BREACHED
    assert resumed.breached_at == berlin(*MON, 18)
    assert resumed.consumed == 9 * H


def test_cancelling_a_waiting_card_closes_its_pause(new_card, dispatcher, waiting_for_customer):
    card = new_card(berlin(*MON, 9))
    move(card, Status.WAITING, berlin(*MON, 10), dispatcher, blocking_reason=waiting_for_customer)
    move(card, Status.CANCELLED, berlin(*TUE, 10), dispatcher)

    resolution = timer(card)
    assert resolution.state == TimerState.CANCELLED
    assert resolution.consumed == H
    (pause,) = SlaPause.objects.filter(timer=resolution)
    assert (pause.ended_at, pause.business_lost) == (berlin(*TUE, 10), 8 * H)


# --------------------------------------------------------------------------- re-targeting


def test_priority_raised_to_critical_retargets_keeping_consumed_time(
    new_card, performer, dispatcher, office_policy
):
    card = new_card(berlin(*MON, 9))
    move(card, Status.IN_PROGRESS, berlin(*MON, 9, 30), performer)
    assert timer(card).due_at == berlin(*MON, 18)

    actions.change_priority(
        task=card, priority=Priority.CRITICAL, actor=dispatcher, at=berlin(*MON, 10)
    )
    resolution = timer(card)
    assert resolution.target == 2 * H
    assert resolution.consumed == H
    assert resolution.running_since == berlin(*MON, 10)
    assert resolution.due_at == berlin(*MON, 11)
    assert resolution.warn_at == berlin(*MON, 10, 30)  # 75 % of 2 h = 1.5 h
    assert resolution.state == TimerState.RUNNING

    (retarget,) = SlaRetarget.objects.filter(timer=resolution)
    assert (retarget.at, retarget.old_target, retarget.new_target, retarget.consumed) == (
        berlin(*MON, 10), 8 * H, 2 * H, H,
    )  # fmt: skip
    assert retarget.old_policy == retarget.new_policy == office_policy
    # The response timer had already stopped: it is not re-targeted.
    assert timer(card, TimerKind.RESPONSE).target == 2 * H
    assert not SlaRetarget.objects.filter(timer__kind=TimerKind.RESPONSE).exists()


def test_critical_card_that_becomes_normal_keeps_what_it_used(new_card, dispatcher):
    card = new_card(berlin(*MON, 9), Priority.CRITICAL)
    assert timer(card).due_at == berlin(*MON, 11)

    actions.change_priority(
        task=card, priority=Priority.NORMAL, actor=dispatcher, at=berlin(*MON, 10, 30)
    )
    resolution = timer(card)
    assert resolution.consumed == 90 * M
    assert resolution.target == 8 * H
    # 6.5 h left from 10:30: 10:30-13:00 and 14:00-18:00 — as if it had been normal all along.
    assert resolution.due_at == berlin(*MON, 18)
    (retarget,) = SlaRetarget.objects.filter(timer=resolution)
    assert (retarget.old_target, retarget.new_target, retarget.consumed) == (2 * H, 8 * H, 90 * M)


def test_priority_raised_past_the_time_already_used_is_breached_at_the_moment_of_change(
    new_card, performer, dispatcher
):
    card = new_card(berlin(*MON, 9))
    move(card, Status.IN_PROGRESS, berlin(*MON, 9), performer)
    actions.change_priority(
        task=card, priority=Priority.CRITICAL, actor=dispatcher, at=berlin(*MON, 12)
    )
    changed = timer(card)
    assert changed.consumed == 3 * H
    assert changed.due_at == changed.next_check_at == berlin(*MON, 12)

    # The next scan stamps and announces the breach at the moment of the change.
    jobs.scan_due_timers(now=berlin(*MON, 12, 1))
    breached = timer(card)
    assert breached.state == TimerState.BREACHED
    assert breached.breached_at == berlin(*MON, 12)
    assert breached.stopped_at is None
    assert list(SlaEvent.objects.filter(timer=breached).values_list("kind", "at")) == [
        (SlaEvent.Kind.BREACH, berlin(*MON, 12))
    ]

    move(card, Status.DONE, berlin(*MON, 15), performer)
    done = timer(card)
    assert done.state == TimerState.BREACHED
    assert done.breached_at == berlin(*MON, 12)
    assert done.stopped_at == berlin(*MON, 15)


def test_priority_raised_past_the_time_used_and_done_at_once_is_breached_at_that_moment(
    new_card, performer, dispatcher
):
    card = new_card(berlin(*MON, 9))
    move(card, Status.IN_PROGRESS, berlin(*MON, 9), performer)
    actions.change_priority(
        task=card, priority=Priority.CRITICAL, actor=dispatcher, at=berlin(*MON, 12)
    )
    move(card, Status.DONE, berlin(*MON, 12, 30), performer)
    done = timer(card)
    assert (done.state, done.breached_at) == (TimerState.BREACHED, berlin(*MON, 12))
    assert list(SlaEvent.objects.filter(timer=done).values_list("kind", "at")) == [
        (SlaEvent.Kind.BREACH, berlin(*MON, 12))
    ]


def test_priority_changed_while_paused_stays_paused_and_resumes_with_the_new_target(
    new_card, performer, dispatcher, waiting_for_customer
):
    card = new_card(berlin(*MON, 9))
    move(card, Status.WAITING, berlin(*MON, 10), performer, blocking_reason=waiting_for_customer)
    actions.change_priority(task=card, priority=Priority.HIGH, actor=dispatcher, at=berlin(*TUE, 9))

    paused = timer(card)
    assert (paused.state, paused.target, paused.consumed) == (TimerState.PAUSED, 4 * H, H)
    assert paused.due_at is None
    move(card, Status.IN_PROGRESS, berlin(*TUE, 12), performer)
    assert timer(card).due_at == berlin(*TUE, 16)  # 3 h left: 12-13 and 14-16


def test_priority_raised_while_paused_past_the_time_used_is_breached_at_the_change(
    new_card, performer, dispatcher, waiting_for_customer
):
    card = new_card(berlin(*MON, 9))
    move(card, Status.WAITING, berlin(*MON, 12), performer, blocking_reason=waiting_for_customer)
    actions.change_priority(
        task=card, priority=Priority.CRITICAL, actor=dispatcher, at=berlin(*TUE, 9)
    )

    paused = timer(card)
    assert paused.due_at == berlin(*TUE, 9)  # due from the moment the smaller target is set
    assert paused.next_check_at == berlin(*TUE, 9)
    assert paused.running_since is None

    jobs.scan_due_timers(now=berlin(*TUE, 9, 1))
    breached = timer(card)
    assert (breached.state, breached.breached_at) == (TimerState.BREACHED, berlin(*TUE, 9))
    assert breached.running_since is None
    assert list(SlaEvent.objects.filter(timer=breached).values_list("kind", "at")) == [
        (SlaEvent.Kind.BREACH, berlin(*TUE, 9))
    ]


def test_request_type_change_moves_the_timer_to_another_policy_and_calendar_keeping_consumed(
    new_card, dispatcher, emergency, emergency_policy, office_policy, always
):
    card = new_card(berlin(*FRI, 17))
    assert timer(card).due_at == berlin(*MON, 17)  # office: Fri 1 h, Mon 9-13, 14-17

    actions.change_request_type(
        task=card, request_type=emergency, actor=dispatcher, at=berlin(*MON, 10)
    )
    resolution = timer(card)
    assert resolution.policy == emergency_policy
    assert resolution.calendar == always
    assert resolution.consumed == 2 * H  # Fri 17-18 and Mon 9-10, measured by the office
    assert resolution.target == 6 * H
    # 4 h left on the 24/7 calendar: no lunch break any more (the office would say 15:00).
    assert resolution.due_at == berlin(*MON, 14)
    (retarget,) = SlaRetarget.objects.filter(timer=resolution)
    assert retarget.old_policy == office_policy
    assert retarget.new_policy == emergency_policy
    assert retarget.consumed == 2 * H


# --------------------------------------------------------------------------- stopping


def test_response_timer_is_met_when_the_card_is_first_taken_into_work(new_card, performer):
    card = new_card(berlin(*MON, 9))
    move(card, Status.IN_PROGRESS, berlin(*MON, 10), performer)

    response = timer(card, TimerKind.RESPONSE)
    assert response.state == TimerState.MET
    assert response.stopped_at == berlin(*MON, 10)
    assert response.consumed == H
    assert response.next_check_at is None
    assert timer(card).state == TimerState.RUNNING


def test_closing_a_card_directly_stops_the_response_timer_too(new_card, performer):
    card = new_card(berlin(*MON, 9))
    move(card, Status.DONE, berlin(*MON, 10), performer)

    assert timer(card, TimerKind.RESPONSE).state == TimerState.MET
    assert timer(card, TimerKind.RESPONSE).stopped_at == berlin(*MON, 10)
    assert timer(card).state == TimerState.MET
    assert timer(card).stopped_at == berlin(*MON, 10)


def test_cancelling_a_card_cancels_both_timers(new_card, dispatcher):
    card = new_card(berlin(*MON, 9))
    move(card, Status.CANCELLED, berlin(*MON, 10), dispatcher)

    for kind in (TimerKind.RESPONSE, TimerKind.RESOLUTION):  # no decision was asked
        cancelled = timer(card, kind)
        assert cancelled.state == TimerState.CANCELLED
        assert cancelled.stopped_at == berlin(*MON, 10)
        assert cancelled.next_check_at is None


def test_done_after_the_due_time_is_breached_at_the_due_time_not_the_done_time(new_card, performer):
    card = new_card(berlin(*MON, 9))
    move(card, Status.IN_PROGRESS, berlin(*MON, 9, 30), performer)
    move(card, Status.DONE, berlin(*TUE, 10), performer)

    resolution = timer(card)
    assert resolution.state == TimerState.BREACHED
    assert resolution.breached_at == berlin(*MON, 18)
    assert resolution.stopped_at == berlin(*TUE, 10)
    assert resolution.consumed == 9 * H


def test_done_exactly_at_the_due_time_is_met(new_card, performer):
    card = new_card(berlin(*MON, 9))
    move(card, Status.DONE, berlin(*MON, 18), performer)

    resolution = timer(card)
    assert resolution.state == TimerState.MET
    assert resolution.breached_at is None
    assert resolution.consumed == 8 * H


def test_reopening_a_done_card_starts_a_new_resolution_cycle_and_keeps_the_old_one(
    new_card, performer
):
    card = new_card(berlin(*MON, 9))
    move(card, Status.IN_PROGRESS, berlin(*MON, 9), performer)
    move(card, Status.DONE, berlin(*MON, 15), performer)
    move(card, Status.IN_PROGRESS, berlin(*TUE, 9), performer)

    first = timer(card, cycle=1)
    assert (first.state, first.stopped_at, first.consumed) == (
        TimerState.MET, berlin(*MON, 15), 5 * H,
    )  # fmt: skip
    second = timer(card, cycle=2)
    assert second.state == TimerState.RUNNING
    assert second.started_at == berlin(*TUE, 9)
    assert second.consumed == timedelta(0)
    assert second.due_at == berlin(*TUE, 18)
    # The response was given once; reopening does not ask for it again.
    assert list(card.timers.filter(kind=TimerKind.RESPONSE).values_list("cycle", flat=True)) == [1]


# --------------------------------------------------------------------------- policies


def test_observe_mode_policy_measures_with_the_same_deadlines(new_card, office, team):
    calibration = RequestTypeFactory(name="Contract review", default_team=team)
    _policy(
        "Contract reviews", office, OFFICE_TARGETS, order=30, request_type=calibration,
        mode=PolicyMode.OBSERVE,
    )  # fmt: skip
    observed = new_card(berlin(*FRI, 17), Priority.HIGH, request_type=calibration)
    enforced = new_card(berlin(*FRI, 17), Priority.HIGH)

    assert [t.observe for t in observed.timers.all()] == [True, True]
    assert [t.observe for t in enforced.timers.all()] == [False, False]
    assert timer(observed).due_at == timer(enforced).due_at == berlin(*MON, 12)


def test_card_matching_no_policy_without_a_default_gets_no_timers(new_card, team):
    unmanaged = RequestTypeFactory(name="Office supplies", default_team=team)
    card = new_card(berlin(*MON, 9), request_type=unmanaged)
    assert not card.timers.exists()


def test_card_matching_no_policy_falls_back_to_the_default_policy(new_card, team, always):
    unmanaged = RequestTypeFactory(name="Office supplies", default_team=team)
    default = _policy("Everything else", always, EMERGENCY_TARGETS, is_default=True)
    card = new_card(berlin(*MON, 9), request_type=unmanaged)
    assert {t.policy for t in card.timers.all()} == {default}
    assert timer(card).due_at == berlin(*MON, 15)  # 6 h, 24/7


def test_card_without_sla_that_moves_onto_a_policy_while_waiting_starts_paused(
    new_card, team, performer, dispatcher, request_type, office_policy, waiting_for_customer
):
    unmanaged = RequestTypeFactory(name="Office supplies", default_team=team)
    card = new_card(berlin(*MON, 9), request_type=unmanaged)
    move(card, Status.WAITING, berlin(*MON, 10), performer, blocking_reason=waiting_for_customer)
    actions.change_request_type(
        task=card, request_type=request_type, actor=dispatcher, at=berlin(*MON, 11)
    )

    resolution = timer(card)
    assert resolution.state == TimerState.PAUSED
    assert resolution.due_at is None
    (pause,) = SlaPause.objects.filter(timer=resolution)
    assert pause.started_at == berlin(*MON, 11)
    assert pause.blocking_reason == waiting_for_customer

    move(card, Status.IN_PROGRESS, berlin(*TUE, 9), performer)
    assert timer(card).due_at == berlin(*TUE, 18)


def test_card_already_taken_into_work_when_it_gets_an_sla_gets_no_response_timer(
    new_card, team, performer, dispatcher, request_type, office_policy
):
    unmanaged = RequestTypeFactory(name="Office supplies", default_team=team)
    card = new_card(berlin(*MON, 9), request_type=unmanaged)
    move(card, Status.IN_PROGRESS, berlin(*MON, 10), performer)
    actions.change_request_type(
        task=card, request_type=request_type, actor=dispatcher, at=berlin(*MON, 11)
    )

    assert [t.kind for t in card.timers.all()] == [TimerKind.RESOLUTION]
    assert timer(card).started_at == berlin(*MON, 11)
    assert timer(card).due_at == berlin(*TUE, 11)


# --------------------------------------------------------------------------- warnings


def test_warning_comes_at_75_percent_of_the_target_in_business_time(new_card, performer):
    card = new_card(berlin(*MON, 9))
    resolution = timer(card)
    # 6 h of 8 h: 09:00-13:00 and 14:00-16:00.
    assert resolution.warn_at == berlin(*MON, 16)
    assert resolution.next_check_at == resolution.warn_at
    assert resolution.warned_at is None

    # A later change (at the clock's "now") records the warning at its true instant.
    with time_machine.travel(berlin(*MON, 17), tick=False):
        actions.set_next_step(task=card, text="Call the client back", due=None, actor=performer)

    warned = timer(card)
    assert warned.warned_at == berlin(*MON, 16)
    assert warned.next_check_at == warned.due_at == berlin(*MON, 18)
    assert warned.state == TimerState.RUNNING
    assert list(SlaEvent.objects.filter(timer=warned).values_list("kind", "at")) == [
        (SlaEvent.Kind.WARNING, berlin(*MON, 16))
    ]


# --------------------------------------------------------------------------- calendar changes


def test_adding_a_holiday_moves_an_open_timers_due_time_by_a_day(new_card, office):
    card = new_card(berlin(*MON, 9), Priority.LOW)
    assert timer(card).due_at == berlin(*TUE, 18)  # 16 h: Monday and Tuesday

    before = office.work_calendar()
    Holiday.objects.create(calendar=office, date=date(*TUE), name="Company day")
    office.touch()
    assert recompute_calendar_timers(calendar=office, before=before, at=berlin(*MON, 12)) == 2

    resolution = timer(card)
    assert resolution.due_at == berlin(*WED, 18)
    assert resolution.consumed == 3 * H
    assert resolution.running_since == berlin(*MON, 12)


def test_a_holiday_added_for_today_keeps_the_morning_already_worked(new_card, office):
    card = new_card(berlin(*MON, 9), Priority.LOW)

    before = office.work_calendar()
    Holiday.objects.create(calendar=office, date=date(*MON), name="Sudden closure")
    office.touch()
    recompute_calendar_timers(calendar=office, before=before, at=berlin(*MON, 12))

    resolution = timer(card)
    # Mon 09-12 stays consumed (measured by the old calendar); 13 h left from Tuesday.
    assert resolution.consumed == 3 * H
    assert resolution.due_at == berlin(*WED, 15)


# --------------------------------------------------------------------------- with the scan


def test_a_change_to_a_breached_card_keeps_its_pending_escalation(
    new_card, office_policy, performer
):
    rule = EscalationRule.objects.create(
        policy=office_policy,
        trigger=EscalationRule.Trigger.AFTER_BREACH,
        minutes_after_breach=60,
        clock=EscalationRule.Clock.CALENDAR,
    )
    card = new_card(berlin(*MON, 9))
    jobs.scan_due_timers(now=berlin(*MON, 18, 1))
    assert timer(card).breached_at == berlin(*MON, 18)
    assert timer(card).next_check_at == berlin(*MON, 19)

    actions.set_next_step(
        task=card, text="Apologise to the client", due=None, actor=performer,
        at=berlin(*MON, 18, 30),
    )  # fmt: skip
    assert timer(card).next_check_at == berlin(*MON, 19)

    jobs.scan_due_timers(now=berlin(*MON, 19, 1))
    assert list(
        SlaEvent.objects.filter(timer=timer(card), rule=rule).values_list("kind", "at")
    ) == [(SlaEvent.Kind.ESCALATION, berlin(*MON, 19))]
