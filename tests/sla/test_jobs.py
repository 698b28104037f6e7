"""Delivery of the outbox: email through Django's mail backend (locmem in tests), Slack through
a real HTTP server on loopback standing in for the incoming webhook. Retries with backoff,
failing for good after MAX_ATTEMPTS, re-sending, and rows that can never be delivered.

Default policy: 24/7, resolution 60 min; a card created Monday 10:00 breaches at 11:00.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine

from sla import delivery, jobs, outbox
from sla.models import Channel, DeliveryHold, Notification, SlaEvent
from tests.factories import WorkerFactory
from tests.sla.conftest import MON, M, Trigger, berlin, deliver, free_port, scan

pytestmark = pytest.mark.django_db

T0 = berlin(*MON, 10)
BREACHED = T0 + 61 * M
SITE = "https://turnaround.example"


@pytest.fixture(autouse=True)
def _site_url(settings):
    settings.SITE_URL = SITE


@pytest.fixture
def policy(round_the_clock, make_policy):
    return make_policy(round_the_clock)


def notes(channel=None, **filters) -> list[Notification]:
    rows = Notification.objects.filter(**filters)
    if channel is not None:
        rows = rows.filter(channel=channel)
    return list(rows.order_by("pk"))


def by_address(address: str) -> Notification:
    return Notification.objects.get(address=address)


def test_failing_webhooks_are_retried_with_backoff_and_finally_marked_failed(
    policy, make_rule, new_card, slack_server, mailoutbox
):
    good, broken = slack_server.url("/good"), slack_server.url("/broken")
    refused = f"http://127.0.0.1:{free_port()}/nobody-listens"
    slack_server.status["/broken"] = 500
    make_rule(policy, Trigger.BREACH, notify_owner=True, email=True, slack=True,
              slack_webhook_url=good)  # fmt: skip
    for url in (broken, refused):
        make_rule(policy, Trigger.BREACH, notify_owner=False, in_app=False, slack=True,
                  slack_webhook_url=url)  # fmt: skip
    card = new_card(T0)

    assert scan(BREACHED) == 1
    deliver(BREACHED)  # the first attempt (if the scan's own delivery job has not run it yet)

    # The rest of the batch went out once, in the same run.
    assert len(mailoutbox) == 1
    assert len(slack_server.posts_to("/good")) == 1
    assert by_address(good).state == Notification.State.SENT
    assert notes(Channel.EMAIL)[0].state == Notification.State.SENT
    failing = [by_address(broken), by_address(refused)]
    for note in failing:
        assert (note.state, note.attempts) == (Notification.State.PENDING, 1)
        assert note.next_attempt_at == BREACHED + timedelta(seconds=30)

    # Retries: not before the backoff has passed; then 30 s, 60 s, 120 s, 240 s apart.
    for attempt in range(2, jobs.MAX_ATTEMPTS + 1):
        due = by_address(broken).next_attempt_at
        assert deliver(due - timedelta(seconds=1)) == 0
        assert by_address(broken).attempts == attempt - 1
        assert deliver(due) == 0
        for note in failing:
            note.refresh_from_db()
            assert note.attempts == attempt
            if attempt < jobs.MAX_ATTEMPTS:
                assert note.state == Notification.State.PENDING
                assert note.next_attempt_at == due + timedelta(seconds=30 * 2 ** (attempt - 1))

    for note in failing:
        assert note.state == Notification.State.FAILED
        assert note.next_attempt_at is None
    assert failing[0].last_error.startswith("Slack answered 500")
    assert "refused" in failing[1].last_error.lower()
    assert len(slack_server.posts_to("/broken")) == jobs.MAX_ATTEMPTS
    assert deliver(BREACHED + 24 * 60 * M) == 0  # failed for good: never picked up again
    assert len(mailoutbox) == 1
    assert len(slack_server.posts_to("/good")) == 1

    # `resend` (the admin action) puts the failed ones back; the webhook works again.
    slack_server.status["/broken"] = 200
    later = BREACHED + 2 * 60 * M
    with time_machine.travel(later, tick=False):
        assert outbox.resend(Notification.objects.all()) == 2
    for note in failing:
        note.refresh_from_db()
        assert (note.state, note.attempts, note.next_attempt_at) == (
            Notification.State.PENDING,
            0,
            later,
        )
    assert deliver(later) == 1
    assert by_address(broken).state == Notification.State.SENT
    assert by_address(broken).last_error == ""
    assert (by_address(refused).state, by_address(refused).attempts) == (
        Notification.State.PENDING,
        1,
    )
    assert f"#{card.pk}" in slack_server.posts_to("/broken")[-1].body["text"]


def test_slack_message_names_the_card_and_links_to_it(
    policy, make_rule, new_card, slack_server, performer
):
    make_rule(policy, Trigger.BREACH, notify_owner=False, in_app=False, slack=True,
              slack_webhook_url=slack_server.url())  # fmt: skip
    card = new_card(T0, title="Quote for 40 desks")

    scan(BREACHED)
    deliver(BREACHED)

    (post,) = slack_server.requests
    text = post.body["text"]
    assert f"SLA breached: #{card.pk} Quote for 40 desks" in text
    assert f"<{SITE}/cards/{card.pk}/|Open card #{card.pk}>" in text
    assert "Owner: Paula Performer" in text
    assert "due Mon 23 Nov 11:00" in text
    (note,) = notes(Channel.SLACK)
    assert (note.state, note.attempts, note.sent_at) == (Notification.State.SENT, 1, BREACHED)


def test_slack_rule_without_its_own_webhook_uses_the_card_teams(
    policy, make_rule, new_card, slack_server, team
):
    team.slack_webhook_url = slack_server.url("/team")
    team.save()
    make_rule(policy, Trigger.BREACH, notify_owner=False, in_app=False, slack=True)
    new_card(T0)

    scan(BREACHED)
    deliver(BREACHED)

    assert len(slack_server.posts_to("/team")) == 1
    assert notes(Channel.SLACK)[0].state == Notification.State.SENT


def test_email_has_a_subject_and_plain_text_and_html_parts_with_the_card_link(
    policy, make_rule, new_card, mailoutbox, performer
):
    make_rule(policy, Trigger.BREACH, notify_owner=True, in_app=False, email=True)
    card = new_card(T0, title="Quote for 40 desks")

    scan(BREACHED)
    deliver(BREACHED)

    (message,) = mailoutbox
    link = f"{SITE}/cards/{card.pk}/"
    assert message.subject == f"[Turnaround] SLA breached: #{card.pk} Quote for 40 desks"
    assert message.to == [performer.email]
    assert "This card has missed its SLA." in message.body
    assert f"Open the card: {link}" in message.body
    assert "due Mon 23 Nov 2026, 11:00 CET" in message.body
    ((html, mimetype),) = message.alternatives
    assert mimetype == "text/html"
    assert f'<a href="{link}">Open the card</a>' in html
    assert f"<strong>#{card.pk} Quote for 40 desks</strong>" in html
    (note,) = notes(Channel.EMAIL)
    assert (note.state, note.address, note.attempts) == (
        Notification.State.SENT,
        performer.email,
        1,
    )


def test_email_to_a_user_without_an_address_fails_at_creation_with_the_reason(
    policy, make_rule, new_card, mailoutbox, team
):
    make_rule(policy, Trigger.BREACH, notify_owner=True, email=True)
    nobody = WorkerFactory(username="noemail", email="")
    team.members.add(nobody)  # a card's owner is one of its team's people
    new_card(T0, owner=nobody)

    assert scan(BREACHED) == 1
    deliver(BREACHED)

    (email,) = notes(Channel.EMAIL)
    assert email.state == Notification.State.FAILED
    assert email.last_error == "noemail has no email address."
    assert (email.attempts, email.next_attempt_at) == (0, None)
    (in_app,) = notes(Channel.IN_APP)
    assert (in_app.recipient, in_app.state) == (nobody, Notification.State.SENT)
    assert mailoutbox == []


def test_slack_rule_without_any_webhook_fails_with_the_reason_and_the_scan_carries_on(
    policy, make_rule, new_card, mailoutbox
):
    make_rule(policy, Trigger.BREACH, notify_owner=True, email=True, slack=True)
    first = new_card(T0, title="first")
    second = new_card(T0 + M, title="second")

    assert scan(BREACHED + M) == 2
    deliver(BREACHED + M)

    slack = notes(Channel.SLACK)
    assert len(slack) == 2
    for note in slack:
        assert note.state == Notification.State.FAILED
        assert note.last_error == "No Slack webhook configured on the rule or the card's team."
        assert note.address == ""
    assert SlaEvent.objects.filter(timer__task__in=[first, second]).count() == 2
    assert len(mailoutbox) == 2


def test_a_delivery_run_out_of_time_hands_the_rest_back_unsent(
    policy, make_rule, new_card, slack_server
):
    slow = slack_server.url("/slow")
    slack_server.delay["/slow"] = 2.0
    make_rule(policy, Trigger.BREACH, notify_owner=False, in_app=False, slack=True,
              slack_webhook_url=slow)  # fmt: skip
    # One post per Slack worker starts well before the 1 s budget is spent (even on a busy
    # machine); 3 more wait for a worker, which is busy for 2 s, past the budget.
    cards = delivery.SLACK_WORKERS + 3
    for n in range(cards):
        new_card(T0, title=f"Card {n}")
    with jobs.transaction.atomic():  # keep the scan's inline delivery out of this test
        scan(BREACHED)
    Notification.objects.update(state=Notification.State.PENDING, attempts=0,
                                next_attempt_at=BREACHED)  # fmt: skip
    slack_server.requests.clear()

    with time_machine.travel(BREACHED, tick=False):
        sent = jobs.send_pending_notifications(now=BREACHED, budget=timedelta(seconds=1))

    assert sent == delivery.SLACK_WORKERS
    assert len(slack_server.requests) == delivery.SLACK_WORKERS
    unsent = notes(Channel.SLACK, state=Notification.State.PENDING)
    assert len(unsent) == 3
    assert all(n.next_attempt_at == BREACHED and n.attempts == 0 for n in unsent)
    assert deliver(BREACHED) == 3  # the next run sends the rest, once
    assert len(slack_server.requests) == cards


def test_a_threshold_recorded_meanwhile_does_not_wedge_the_scan(policy, make_rule, new_card):
    make_rule(policy, Trigger.BREACH, notify_owner=True)
    first, second = new_card(T0, title="First"), new_card(T0, title="Second")
    timer = first.timers.get(kind="resolution")
    SlaEvent.objects.create(timer=timer, key="breach", kind="breach", at=timer.due_at,
                            recorded_at=T0)  # fmt: skip

    assert scan(BREACHED) == 1  # the other card's breach; the existing one is skipped
    assert SlaEvent.objects.filter(key="breach").count() == 2
    assert SlaEvent.objects.filter(timer__task=second, key="breach").exists()


def scan_and_requeue() -> None:
    """The scan at BREACHED, then its notifications back in the queue as written and no
    destination on hold (the tests' sync mode has already delivered them inline, once)."""
    scan(BREACHED)
    Notification.objects.exclude(channel=Channel.IN_APP).update(
        state=Notification.State.PENDING, attempts=0, last_error="", next_attempt_at=BREACHED
    )
    DeliveryHold.objects.all().delete()


def test_emails_of_a_delivery_run_share_one_smtp_session(
    policy, make_rule, new_card, smtp_receiver, settings
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", smtp_receiver.port
    make_rule(policy, Trigger.BREACH, notify_owner=True, in_app=False, email=True)
    for n in range(5):
        new_card(T0, title=f"Card {n}")
    scan_and_requeue()
    smtp_receiver.messages.clear()
    smtp_receiver.sessions = 0

    assert deliver(BREACHED) == 5

    assert len(smtp_receiver.messages) == 5
    assert smtp_receiver.sessions == 1
    assert {n.state for n in notes(Channel.EMAIL)} == {Notification.State.SENT}


def test_an_smtp_relay_that_refuses_fails_each_email_and_they_are_retried(
    policy, make_rule, new_card, settings
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()
    make_rule(policy, Trigger.BREACH, notify_owner=True, in_app=False, email=True)
    new_card(T0, title="First")
    new_card(T0, title="Second")
    scan_and_requeue()

    assert deliver(BREACHED) == 0

    for note in notes(Channel.EMAIL):
        assert (note.state, note.attempts) == (Notification.State.PENDING, 1)
        assert note.next_attempt_at == BREACHED + timedelta(seconds=30)
        assert "refused" in note.last_error.lower()


def test_slack_posts_of_a_delivery_run_reuse_kept_alive_connections(
    policy, make_rule, new_card, slack_server
):
    make_rule(policy, Trigger.BREACH, notify_owner=False, in_app=False, slack=True,
              slack_webhook_url=slack_server.url())  # fmt: skip
    cards = 3 * delivery.SLACK_WORKERS
    for n in range(cards):
        new_card(T0, title=f"Card {n}")
    scan_and_requeue()
    slack_server.requests.clear()

    assert deliver(BREACHED) == cards

    assert len(slack_server.requests) == cards
    assert len({hook.client_port for hook in slack_server.requests}) <= delivery.SLACK_WORKERS


def test_a_webhook_answering_429_is_retried_after_its_retry_after_and_not_hammered_meanwhile(
    policy, make_rule, new_card, slack_server
):
    slack_server.status["/busy"] = 429
    slack_server.headers["/busy"] = {"Retry-After": "600"}
    slack_server.delay["/busy"] = 0.3  # every worker has one in flight before the first 429
    make_rule(policy, Trigger.BREACH, notify_owner=False, in_app=False, slack=True,
              slack_webhook_url=slack_server.url("/busy"))  # fmt: skip
    cards = delivery.SLACK_WORKERS + 3
    for n in range(cards):
        new_card(T0, title=f"Card {n}")
    scan_and_requeue()
    slack_server.requests.clear()

    assert deliver(BREACHED) == 0

    # The posts in flight got the 429: a failed attempt, retried after 600 s (not 30 s),
    # counted from the moment the webhook answered (a moment after the run began).
    (hold,) = DeliveryHold.objects.all()
    assert (hold.channel, hold.destination) == (Channel.SLACK, slack_server.url("/busy"))
    assert BREACHED + timedelta(seconds=600) <= hold.until < BREACHED + timedelta(seconds=610)
    assert len(slack_server.requests) == delivery.SLACK_WORKERS
    tried = notes(Channel.SLACK, attempts=1)
    assert len(tried) == delivery.SLACK_WORKERS
    for note in tried:
        assert BREACHED + timedelta(seconds=600) <= note.next_attempt_at <= hold.until
        assert note.last_error == "Slack answered 429: rate limited, retry after 600 s"
    # The rest were not tried: no attempt spent, back in the queue when the wait is over.
    waiting = notes(Channel.SLACK, attempts=0)
    assert len(waiting) == 3
    for note in waiting:
        assert note.state == Notification.State.PENDING
        assert BREACHED + timedelta(seconds=600) <= note.next_attempt_at <= hold.until
    assert deliver(BREACHED + timedelta(seconds=599)) == 0
    assert len(slack_server.requests) == delivery.SLACK_WORKERS
    slack_server.status["/busy"] = 200
    assert deliver(hold.until) == cards
    assert not DeliveryHold.objects.exists()  # the ended hold is cleared by the run
