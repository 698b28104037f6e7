"""sla.outbox: every state change of a notification, one function each.

One breached card gives an event; the rows below are written on it by hand, in the states
the functions start from. (The delivery run end to end is tests/sla/test_jobs.py.)
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from sla import outbox
from sla.models import Channel, DeliveryHold, Notification, SlaEvent
from tests.factories import UserFactory
from tests.sla.conftest import MON, M, Trigger, berlin, scan

pytestmark = pytest.mark.django_db

T0 = berlin(*MON, 10)
NOW = T0 + 61 * M
S = timedelta(seconds=1)
State = Notification.State


@pytest.fixture
def event(round_the_clock, make_policy, make_rule, new_card) -> SlaEvent:
    policy = make_policy(round_the_clock)
    make_rule(policy, Trigger.BREACH, notify_owner=True)
    new_card(T0)
    assert scan(NOW) == 1
    Notification.objects.all().delete()
    return SlaEvent.objects.get(kind=SlaEvent.Kind.BREACH)


def note(event, key, *, channel=Channel.EMAIL, state=State.PENDING, **fields) -> Notification:
    fields.setdefault("next_attempt_at", NOW if state == State.PENDING else None)
    return Notification.objects.create(
        event=event, channel=channel, recipient_key=key, state=state, created_at=NOW, **fields
    )


def test_mark_read_touches_only_the_users_own_unread_in_app_rows(event):
    paula, maria = UserFactory(), UserFactory()
    mine = [note(event, f"p{n}", channel=Channel.IN_APP, state=State.SENT, recipient=paula)
            for n in range(2)]  # fmt: skip
    theirs = note(event, "m", channel=Channel.IN_APP, state=State.SENT, recipient=maria)

    assert outbox.mark_read(user=paula, notification_id=theirs.pk, at=NOW) == 0
    assert outbox.mark_read(user=paula, notification_id=mine[0].pk, at=NOW) == 1
    assert outbox.mark_read(user=paula, notification_id=mine[0].pk, at=NOW + M) == 0  # read
    assert outbox.mark_all_read(user=paula, at=NOW + M) == 1

    read = {n.pk: n.read_at for n in Notification.objects.all()}
    assert read == {mine[0].pk: NOW, mine[1].pk: NOW + M, theirs.pk: None}


def test_a_claim_leases_due_rows_once(event):
    due = [note(event, f"due{n}", next_attempt_at=NOW - (3 - n) * S) for n in range(3)]
    later = note(event, "later", next_attempt_at=NOW + M)

    first = outbox.claim_due(now=NOW, batch=2)
    second = outbox.claim_due(now=NOW, batch=10)

    assert sorted(n.pk for n in first) == [due[0].pk, due[1].pk]  # the longest due first
    assert [n.pk for n in second] == [due[2].pk]  # the first two are leased
    assert outbox.claim_due(now=NOW, batch=10) == []
    leased = Notification.objects.filter(pk__in=[n.pk for n in due])
    assert {n.next_attempt_at for n in leased} == {NOW + outbox.LEASE}
    assert Notification.objects.get(pk=later.pk).next_attempt_at == NOW + M
    # Once the lease runs out (its run died), the rows are due again.
    assert len(outbox.claim_due(now=NOW + outbox.LEASE, batch=10)) == 4


def test_sent_handed_back_and_postponed_rows(event):
    sent, late, waiting = (note(event, key) for key in ("sent", "late", "waiting"))
    outbox.claim_due(now=NOW, batch=10)

    assert outbox.mark_sent(ids=[sent.pk], at=NOW + S) == 1
    assert outbox.hand_back(ids=[late.pk], now=NOW) == 1
    assert outbox.postpone(ids=[waiting.pk], until=NOW + M) == 1
    # A row that is no longer pending is left alone.
    assert outbox.hand_back(ids=[sent.pk], now=NOW) == 0

    rows = {n.recipient_key: n for n in Notification.objects.all()}
    assert (rows["sent"].state, rows["sent"].sent_at, rows["sent"].attempts) == (
        State.SENT, NOW + S, 1
    )  # fmt: skip
    assert (rows["late"].state, rows["late"].next_attempt_at, rows["late"].attempts) == (
        State.PENDING, NOW, 0
    )  # fmt: skip
    assert (rows["waiting"].next_attempt_at, rows["waiting"].attempts) == (NOW + M, 0)


def test_failed_attempts_back_off_then_fail_for_good(event):
    row = note(event, "flaky")
    waits = []
    for attempt in range(1, outbox.MAX_ATTEMPTS + 1):
        row.refresh_from_db()
        outbox.mark_failed(notification=row, error=f"boom {attempt}", now=NOW)
        row.refresh_from_db()
        assert (row.attempts, row.last_error) == (attempt, f"boom {attempt}")
        if row.state == State.PENDING:
            waits.append(row.next_attempt_at - NOW)
    assert waits == [timedelta(seconds=s) for s in (30, 60, 120, 240)]
    assert (row.state, row.next_attempt_at) == (State.FAILED, None)


def test_a_receivers_retry_after_lengthens_the_backoff(event):
    row = note(event, "limited")
    outbox.mark_failed(notification=row, error="429", now=NOW, retry_after=600)
    row.refresh_from_db()
    assert row.next_attempt_at == NOW + timedelta(seconds=600)


def test_resend_queues_failed_email_and_slack_rows_again(event):
    failed = note(event, "mail", state=State.FAILED, attempts=5, last_error="refused")
    slack = note(event, "hook", channel=Channel.SLACK, state=State.FAILED, attempts=5)
    in_app = note(event, "bell", channel=Channel.IN_APP, state=State.FAILED)
    sent = note(event, "ok", state=State.SENT)

    assert outbox.resend(Notification.objects.all(), at=NOW) == 2

    rows = {n.pk: (n.state, n.attempts, n.next_attempt_at) for n in Notification.objects.all()}
    assert rows[failed.pk] == rows[slack.pk] == (State.PENDING, 0, NOW)
    assert rows[in_app.pk][0] == State.FAILED and rows[sent.pk][0] == State.SENT


def test_claims_are_per_channel_and_skip_destinations_on_hold(event):
    email = note(event, "mail", address="p@example.com")
    hook = note(event, "hook", channel=Channel.SLACK, address="https://hooks.example/a")
    held = note(event, "held", channel=Channel.SLACK, address="https://hooks.example/b")
    outbox.hold(channel=Channel.SLACK, destination=held.address, until=NOW + M, reason="429")

    assert [n.pk for n in outbox.claim_due(now=NOW, batch=10, channel=Channel.EMAIL)] == [email.pk]
    assert [n.pk for n in outbox.claim_due(now=NOW, batch=10, channel=Channel.SLACK)] == [hook.pk]
    assert outbox.held_destinations(now=NOW) == [held.address]
    # Another worker (or run) sees the hold too; once it ends, the row is claimed.
    assert outbox.claim_due(now=NOW + M - S, batch=10) == []
    assert outbox.held_destinations(now=NOW + M) == []
    assert [n.pk for n in outbox.claim_due(now=NOW + M, batch=10)] == [held.pk]


def test_a_hold_keeps_the_later_end_and_ended_holds_are_released(event):
    url = "https://hooks.example/a"
    outbox.hold(channel=Channel.SLACK, destination=url, until=NOW + 10 * M, reason="429 long")
    outbox.hold(channel=Channel.SLACK, destination=url, until=NOW + M, reason="timed out")
    (hold,) = DeliveryHold.objects.all()
    assert hold.until == NOW + 10 * M
    outbox.hold(channel=Channel.SLACK, destination=url, until=NOW + 20 * M, reason="429 again")
    assert DeliveryHold.objects.get().until == NOW + 20 * M

    assert outbox.release_expired(now=NOW + 20 * M - S) == 0
    assert outbox.release_expired(now=NOW + 20 * M) == 1
    assert not DeliveryHold.objects.exists()


def test_a_failure_on_a_held_destination_is_not_retried_before_the_hold_ends(event):
    row = note(event, "limited", channel=Channel.SLACK)
    outbox.mark_failed(notification=row, error="429", now=NOW, not_before=NOW + 10 * M)
    row.refresh_from_db()
    assert (row.attempts, row.next_attempt_at) == (1, NOW + 10 * M)
