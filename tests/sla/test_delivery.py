"""Delivery isolation (sla.delivery): each channel on its own lane, destinations on hold
across runs, a stable idempotency key on every message, single-line subjects.

Real receivers on loopback: the Slack stand-in (HTTP), a silent server that accepts and never
answers (a hung webhook or mail relay), aiosmtpd, and Django's locmem mail outbox.
Default policy: 24/7, resolution 60 min; a card created Monday 10:00 breaches at 11:00.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from sla import delivery, jobs, notify, outbox
from sla.models import Channel, DeliveryHold, Notification
from tasks.models import Task
from tests.sla.conftest import MON, M, Trigger, berlin, deliver, scan

pytestmark = pytest.mark.django_db

T0 = berlin(*MON, 10)
BREACHED = T0 + 61 * M
S = timedelta(seconds=1)
State = Notification.State
HUNG_TIMEOUT = 2  # seconds a post to the hung webhook waits (10 in production)


@pytest.fixture
def policy(round_the_clock, make_policy):
    return make_policy(round_the_clock)


def breaches(new_card, count: int, *, title: str = "Card") -> list[Task]:
    """`count` cards breached at BREACHED, their email and Slack rows pending and due then,
    nothing delivered yet and no destination on hold."""
    cards = [new_card(T0, title=f"{title} {n}") for n in range(count)]
    with transaction.atomic():  # the tests' sync mode would deliver inline: undone below
        scan(BREACHED)
    Notification.objects.exclude(channel=Channel.IN_APP).filter(
        state__in=[State.PENDING, State.SENT]
    ).update(state=State.PENDING, attempts=0, last_error="", next_attempt_at=BREACHED)
    DeliveryHold.objects.all().delete()
    return cards


def rows(channel: str, **filters) -> list[Notification]:
    return list(Notification.objects.filter(channel=channel, **filters).order_by("pk"))


def test_emails_go_out_in_the_first_run_while_every_slack_thread_waits_on_a_hung_webhook(
    policy, make_rule, new_card, silent_server, mailoutbox, monkeypatch
):
    monkeypatch.setattr(notify, "SLACK_TIMEOUT", HUNG_TIMEOUT)
    make_rule(policy, Trigger.BREACH, notify_owner=True, in_app=False, email=True, slack=True,
              slack_webhook_url=silent_server.url())  # fmt: skip
    count = 3 * delivery.SLACK_WORKERS
    breaches(new_card, count)
    mailoutbox.clear()
    silent_server.connections = 0

    started = timezone.now()
    # Small batches and a budget shorter than two hung posts: before, each batch waited for
    # its Slack posts, so the run's budget went on Slack and most emails waited for later runs.
    jobs.send_pending_notifications(batch=5, budget=timedelta(seconds=HUNG_TIMEOUT + 1))

    assert len(mailoutbox) == count
    emails = rows(Channel.EMAIL)
    assert {n.state for n in emails} == {State.SENT}
    # Sent before the first hung post even timed out.
    assert max(n.sent_at for n in emails) - started < timedelta(seconds=HUNG_TIMEOUT)
    # Slack: one post per thread timed out (an attempt each); the webhook is then on hold,
    # so the other rows were not tried (no attempt) and wait for the hold to end.
    assert silent_server.connections == delivery.SLACK_WORKERS
    (hold,) = DeliveryHold.objects.all()
    assert hold.destination == silent_server.url()
    assert "timed out" in hold.reason
    tried = rows(Channel.SLACK, attempts=1)
    assert len(tried) == delivery.SLACK_WORKERS
    assert all("timed out" in n.last_error and n.state == State.PENDING for n in tried)
    waiting = rows(Channel.SLACK, attempts=0)
    assert len(waiting) == count - delivery.SLACK_WORKERS
    assert all(n.state == State.PENDING for n in waiting)
    assert hold.until - started < outbox.FIRST_BACKOFF + timedelta(seconds=HUNG_TIMEOUT + 1)
    # No run takes any of them before the hold ends.
    assert outbox.claim_due(now=hold.until - S, batch=100, channel=Channel.SLACK) == []


def test_slack_goes_out_in_the_first_run_while_the_mail_relay_hangs(
    policy, make_rule, new_card, silent_server, slack_server, settings
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", silent_server.port
    settings.EMAIL_TIMEOUT = HUNG_TIMEOUT
    make_rule(policy, Trigger.BREACH, notify_owner=True, in_app=False, email=True, slack=True,
              slack_webhook_url=slack_server.url())  # fmt: skip
    count = 12
    breaches(new_card, count)
    slack_server.requests.clear()

    started = timezone.now()
    jobs.send_pending_notifications(batch=5, budget=timedelta(seconds=HUNG_TIMEOUT + 1))

    assert len(slack_server.requests) == count
    posts = rows(Channel.SLACK)
    assert {n.state for n in posts} == {State.SENT}
    assert max(n.sent_at for n in posts) - started < timedelta(seconds=HUNG_TIMEOUT)
    # The emails tried timed out (an attempt each); the rest were handed back untried.
    emails = rows(Channel.EMAIL)
    assert {n.state for n in emails} == {State.PENDING}
    assert 1 <= len([n for n in emails if n.attempts == 1]) < count


def test_a_webhook_that_answered_429_gets_no_post_before_its_retry_after_in_later_runs(
    policy, make_rule, new_card, slack_server
):
    busy, calm = slack_server.url("/busy"), slack_server.url("/calm")
    slack_server.status["/busy"] = 429
    slack_server.headers["/busy"] = {"Retry-After": "120"}
    for url in (busy, calm):
        make_rule(policy, Trigger.BREACH, notify_owner=False, in_app=False, slack=True,
                  slack_webhook_url=url)  # fmt: skip
    breaches(new_card, 1)
    slack_server.requests.clear()

    assert deliver(BREACHED) == 1  # the calm webhook's post
    assert len(slack_server.posts_to("/busy")) == 1
    (hold,) = DeliveryHold.objects.all()
    assert hold.destination == busy
    assert BREACHED + 120 * S <= hold.until < BREACHED + 130 * S

    # More cards breach meanwhile; later runs (this worker or another) leave the busy
    # webhook alone until its Retry-After is over, and the other webhook is served.
    for n in range(5):
        new_card(T0 + 2 * M, title=f"Later {n}")
    with transaction.atomic():
        scan(BREACHED + 2 * M)
    later = Notification.objects.filter(
        channel=Channel.SLACK, event__timer__task__title__startswith="Later"
    )
    later.update(state=State.PENDING, attempts=0, next_attempt_at=BREACHED + 2 * M)
    slack_server.requests.clear()  # the sync mode's inline run: undone above
    assert deliver(BREACHED + 2 * M) == 5
    assert deliver(BREACHED + 110 * S) == 0
    assert len(slack_server.posts_to("/busy")) == 0
    assert len(slack_server.posts_to("/calm")) == 5
    busy_rows = Notification.objects.filter(address=busy)
    assert busy_rows.filter(state=State.FAILED).count() == 0
    assert busy_rows.filter(attempts=0).count() == 5  # not tried: no attempt spent

    slack_server.status["/busy"] = 200
    assert deliver(hold.until + S) == 6
    assert len(slack_server.posts_to("/busy")) == 6
    assert set(busy_rows.values_list("state", flat=True)) == {State.SENT}


def test_a_resend_after_a_killed_run_carries_the_same_idempotency_key(
    policy, make_rule, new_card, slack_server, smtp_receiver, settings
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", smtp_receiver.port
    settings.SITE_URL = "https://turnaround.example"
    make_rule(policy, Trigger.BREACH, notify_owner=True, in_app=False, email=True, slack=True,
              slack_webhook_url=slack_server.url())  # fmt: skip
    breaches(new_card, 2)
    smtp_receiver.messages.clear()
    slack_server.requests.clear()

    assert deliver(BREACHED) == 4
    # A worker killed after sending, before recording: the rows are still claimed, and
    # are sent again once the lease runs out.
    Notification.objects.exclude(channel=Channel.IN_APP).update(
        state=State.PENDING, next_attempt_at=BREACHED + outbox.LEASE
    )
    assert deliver(BREACHED + outbox.LEASE) == 4

    emails = [message for _, message in smtp_receiver.messages]
    assert len(emails) == 4
    by_row: dict[str, list[str]] = {}
    for message in emails:
        key = message["X-Turnaround-Notification"]
        assert message["Message-ID"] == f"<{key}@turnaround.example>"
        by_row.setdefault(key, []).append(message["Message-ID"])
    assert len(by_row) == 2 and all(len(ids) == 2 for ids in by_row.values())
    assert set(by_row) == {notify.idempotency_key(n) for n in rows(Channel.EMAIL)}

    posts = slack_server.requests
    assert len(posts) == 4
    keys = [post.headers["Idempotency-Key"] for post in posts]
    for post, key in zip(posts, keys, strict=True):
        assert post.body["metadata"] == {
            "event_type": "turnaround_notification",
            "event_payload": {"idempotency_key": key},
        }
    assert sorted(keys) == sorted(2 * [notify.idempotency_key(n) for n in rows(Channel.SLACK)])
    assert not set(keys) & set(by_row)  # every notification has its own key


def test_a_title_stored_with_line_breaks_still_gets_its_email_on_one_line(
    policy, make_rule, new_card, mailoutbox
):
    make_rule(policy, Trigger.BREACH, notify_owner=True, in_app=False, email=True)
    (card,) = breaches(new_card, 1)
    # Titles are single-line at input; this one was stored before that (or by SQL).
    Task.objects.filter(pk=card.pk).update(title="Quote\r\nfor 40\ndesks\u2028 now\x0b")
    mailoutbox.clear()

    assert deliver(BREACHED) == 1

    (message,) = mailoutbox
    assert message.subject == f"[Turnaround] SLA breached: #{card.pk} Quote for 40 desks now"
    assert message.message()["Subject"] == message.subject
    assert rows(Channel.EMAIL)[0].state == State.SENT
