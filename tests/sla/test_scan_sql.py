"""The scan's set-based path on PostgreSQL writes exactly the rows the Python path writes.

`scan_due_timers` handles timers whose policy has no after-breach level and no rule action in
one SQL statement per batch; `set_based=False` runs the Python path (`escalation.advance` and
`escalation.record`) for everything. Each test runs both over the same cards, each inside a
transaction rolled back afterwards, and compares timers, events, notifications and cards.

Default policy: 24/7, response 30 min, resolution 60 min, warning at 75 %.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from sla.models import (
    Notification,
    PolicyMode,
    SlaEvent,
    SlaPolicy,
    SlaTarget,
    SlaTimer,
)
from tasks import actions
from tasks.models import Priority, Status, Task
from tests.factories import BlockingReasonFactory, RequestTypeFactory, UserFactory, WorkerFactory
from tests.sla.conftest import MON, Clock, M, Trigger, berlin, scan, set_based_scan

pytestmark = [pytest.mark.django_db, set_based_scan]

T0 = berlin(*MON, 12)


class _Undo(Exception):
    pass


def snapshot() -> dict:
    """Everything a scan writes, keyed by natural keys (ids of new rows differ per run)."""
    timers = {
        t.pk: (t.state, t.warned_at, t.breached_at, t.next_check_at, t.escalation_level)
        for t in SlaTimer.objects.all()
    }
    events = {
        (e.timer_id, e.key): (e.kind, e.rule_id, e.at, e.recorded_at, e.observe)
        for e in SlaEvent.objects.all()
    }
    notes = {
        (n.event.timer_id, n.event.key, n.channel, n.recipient_key): (
            n.recipient_id,
            n.address,
            n.state,
            n.attempts,
            n.last_error,
            n.next_attempt_at,
            n.created_at,
            n.sent_at,
            n.read_at,
        )
        for n in Notification.objects.select_related("event")
    }
    cards = {t.pk: (t.dispatch_flag, t.version) for t in Task.objects.all()}
    return {"timers": timers, "events": events, "notifications": notes, "cards": cards}


def outcome(now, **kwargs) -> tuple[int, dict]:
    """Scan at `now`, read what it wrote, and roll it all back (also the deliveries the scan
    would start on commit)."""
    result = None
    try:
        with transaction.atomic():
            fired = scan(now, **kwargs)
            result = (fired, snapshot())
            raise _Undo
    except _Undo:
        pass
    return result


def policy_for(name, calendar, *, mode=PolicyMode.ENFORCE, team=None) -> SlaPolicy:
    """A policy of its own request type (cards of that type get it), 30 / 60 min targets."""
    request_type = RequestTypeFactory(name=name, default_team=team)
    policy = SlaPolicy.objects.create(
        name=name, calendar=calendar, order=20, request_type=request_type, mode=mode
    )
    for priority in Priority:
        SlaTarget.objects.create(
            policy=policy, priority=priority, response_target=30 * M, resolution_target=60 * M,
            warn_pct=75,
        )  # fmt: skip
    return policy


def card(policy, at, *, actor, owner=None, title="Quote for 40 desks") -> Task:
    return actions.create_task(
        title=title, request_type=policy.request_type, priority=Priority.NORMAL, actor=actor,
        owner=owner, team=policy.request_type.default_team, at=at,
    )  # fmt: skip


@pytest.fixture
def mixed_cards(
    round_the_clock, make_rule, team, roles, manager, dispatcher, performer, other_performer,
    observer, slack_server,
):  # fmt: skip
    """Cards at every stage under four policies, with every kind of recipient. (In the tests'
    sync mode the scan delivers inline: Slack goes to the loopback stand-in.)"""
    team.slack_webhook_url = slack_server.url("/sales")
    team.save()
    gone = WorkerFactory(username="ivan")
    team.members.add(gone)
    no_mail = WorkerFactory(username="nomail", email="")
    auditors = Group.objects.create(name="auditors")
    observer.groups.add(auditors)
    UserFactory(username="retired", is_active=False).groups.add(auditors)

    sales = policy_for("Sales", round_the_clock, team=team)
    make_rule(sales, Trigger.WARNING, notify_owner=True)
    make_rule(sales, Trigger.WARNING, timer_kind="resolution", notify_owner=True, email=True)
    make_rule(
        sales, Trigger.BREACH, notify_owner=True, notify_performers=True, notify_approver=True,
        notify_team_manager=True, notify_dispatchers=True, notify_user=observer,
        notify_group=auditors, in_app=True, email=True, slack=True,
    )  # fmt: skip
    make_rule(sales, Trigger.BREACH, timer_kind="response", notify_owner=False, in_app=False,
              slack=True, slack_webhook_url=slack_server.url("/response"))  # fmt: skip
    make_rule(sales, Trigger.BREACH, active=False, notify_owner=True, email=True)
    observed = policy_for("Observed", round_the_clock, mode=PolicyMode.OBSERVE)
    make_rule(observed, Trigger.BREACH, notify_owner=True, email=True)
    teamless = policy_for("No team", round_the_clock)
    make_rule(teamless, Trigger.BREACH, notify_owner=True, email=True, slack=True)
    escalated = policy_for("Escalated", round_the_clock)
    make_rule(escalated, Trigger.BREACH, notify_owner=True, email=True)
    make_rule(escalated, Trigger.AFTER_BREACH, minutes_after_breach=30,
              clock=Clock.CALENDAR, notify_team_manager=False, notify_owner=True)  # fmt: skip

    card(sales, T0 - 3 * 60 * M, actor=dispatcher, owner=performer, title="Both breached")
    card(sales, T0 - 40 * M, actor=dispatcher, owner=performer, title="Response breached")
    card(sales, T0 - 50 * M, actor=dispatcher, owner=performer, title="Resolution warned")
    crowded = card(sales, T0 - 2 * 60 * M, actor=dispatcher, owner=performer, title="Crowded")
    actions.set_performers(task=crowded, users=[performer, other_performer, gone],
                           actor=dispatcher, at=T0 - 100 * M)  # fmt: skip
    actions.set_approver(task=crowded, approver=manager, actor=dispatcher, at=T0 - 100 * M)
    gone.is_active = False
    gone.save()
    card(sales, T0 - 2 * 60 * M, actor=dispatcher, title="Nobody owns it")
    paused = card(sales, T0 - 20 * M, actor=dispatcher, owner=performer, title="Paused")
    actions.change_status(task=paused, to=Status.IN_PROGRESS, actor=performer, at=T0 - 19 * M)
    client = BlockingReasonFactory(name="Client")
    actions.change_status(task=paused, to=Status.WAITING, actor=performer,
                          blocking_reason=client, at=T0 - 18 * M)  # fmt: skip
    card(observed, T0 - 2 * 60 * M, actor=dispatcher, owner=performer, title="Observed")
    card(teamless, T0 - 2 * 60 * M, actor=dispatcher, owner=no_mail, title="No team")
    card(escalated, T0 - 2 * 60 * M, actor=dispatcher, owner=performer, title="Escalated")


def test_set_based_and_python_scans_write_the_same_rows(mixed_cards):
    fired, rows = outcome(T0)
    reference_fired, reference = outcome(T0, set_based=False)

    assert rows == reference
    assert fired == reference_fired
    notes = reference["notifications"].values()
    # The fixture reaches every branch: in-app, email and Slack written pending (and sent
    # by the inline delivery) or failed at creation.
    states = {(key[2], value[2]) for key, value in reference["notifications"].items()}
    assert states == {("in_app", "sent"), ("email", "sent"), ("email", "failed"),
                      ("slack", "sent"), ("slack", "failed")}  # fmt: skip
    assert len(notes) > 30
    assert any(flag for flag, _ in reference["cards"].values())


def test_set_based_and_python_scans_agree_again_later_and_after_a_first_scan(mixed_cards):
    later = T0 + 3 * 60 * M
    assert outcome(later) == outcome(later, set_based=False)
    scan(T0)  # committed inside the test's transaction: the second scan starts from here
    assert outcome(later) == outcome(later, set_based=False)


def test_set_based_scan_writes_forty_breaches_with_their_notifications_in_one_statement(
    round_the_clock, make_rule, dispatcher, performer
):
    policy = policy_for("Sales", round_the_clock)
    make_rule(policy, Trigger.BREACH, notify_owner=True, email=True)
    for n in range(20):
        card(policy, T0 - timedelta(minutes=120 + n), actor=dispatcher, owner=performer)

    with CaptureQueriesContext(connection) as queries:
        assert scan(T0) == 40  # response and resolution breaches

    writes = [q["sql"] for q in queries if 'INSERT INTO "sla_slaevent"' in q["sql"]]
    assert len(writes) == 1
    assert 'INSERT INTO "sla_notification"' in writes[0]
    assert Notification.objects.filter(channel="email").count() == 40
