"""People are told (sla.card_notices, sla.notice_words): the approver asked for a decision,
decisions to the card's people and followers, status changes to followers, breaches to
watchers — written as outbox rows, delivered by email (Django's mail outbox) and read in the
bell and the inbox."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail
from django.urls import reverse

from sla import card_notices, jobs, notify
from sla.models import Channel, EscalationRule, Notification, SlaEvent, TimerKind
from sla.notice_words import DECIDE_KEY
from tasks import actions
from tasks.models import ApprovalStep, Status, TaskEvent
from tests.factories import BlockingReasonFactory, UserFactory, make_task
from tests.sla.conftest import scan
from tests.tasks.bad_input import client_for

pytestmark = pytest.mark.django_db
Trigger = EscalationRule.Trigger
State = Notification.State
H = timedelta(hours=1)


@pytest.fixture
def card(dispatcher, performer, request_type):
    task = make_task(
        actor=dispatcher, owner=performer, request_type=request_type, title="Discount for ACME"
    )
    return actions.change_status(task=task, to=Status.IN_PROGRESS, actor=performer)


def notices(**filters):
    return Notification.objects.filter(card_event__isnull=False, **filters)


def told(*, channel=Channel.IN_APP):
    """(recipient username, recipient_key prefix, card event kind) of the card notices."""
    return sorted(
        (n.recipient.username, n.recipient_key.split(":")[0], n.card_event.kind)
        for n in notices(channel=channel).select_related("recipient", "card_event")
    )


def send(card, performer, approver):
    return actions.change_status(
        task=card, to=Status.ON_APPROVAL, actor=performer, approver=approver
    )


def headline(note: Notification) -> str:
    return notify.subject(note).removeprefix("[Turnaround] ")


# --------------------------------------------------------------------------- a decision asked


def test_sending_for_approval_asks_the_approver_in_app_and_by_email(card, performer, manager):
    mail.outbox.clear()
    send(card, performer, manager)

    assert told() == [("maria", "decide", TaskEvent.Kind.STATUS_CHANGED)]
    assert told(channel=Channel.EMAIL) == [("maria", "decide", TaskEvent.Kind.STATUS_CHANGED)]
    note = notices(channel=Channel.IN_APP).get()
    assert note.recipient_key == f"{DECIDE_KEY}{manager.pk}" and note.event_id is None
    assert headline(note) == f"Decision needed: #{card.pk} Discount for ACME — sent by Paula"
    # The email went out through the outbox (delivery runs inline in the tests' sync mode).
    [email] = mail.outbox
    assert email.to == [manager.email]
    assert email.subject == (
        f"[Turnaround] Decision needed: #{card.pk} Discount for ACME — sent by Paula"
    )
    assert "Your decision is needed" in email.body and f"/cards/{card.pk}/" in email.body
    assert notices(channel=Channel.EMAIL).get().state == State.SENT


def test_the_approver_is_asked_on_the_channels_of_the_rules_for_approvals(
    card, performer, manager, team, round_the_clock, make_policy, make_rule, slack_server
):
    team.slack_webhook_url = slack_server.url("/team")
    team.save()
    policy = make_policy(round_the_clock)
    # A rule for resolution timers only does not apply; one for every kind does.
    make_rule(
        policy, Trigger.BREACH, timer_kind=TimerKind.RESOLUTION, notify_owner=True, email=True
    )
    make_rule(policy, Trigger.WARNING, notify_owner=True, in_app=True, email=False, slack=True)
    mail.outbox.clear()
    send(card, performer, manager)

    assert sorted(notices().values_list("channel", "recipient_key")) == [
        (Channel.IN_APP, f"{DECIDE_KEY}{manager.pk}"),
        (Channel.SLACK, f"slack:{slack_server.url('/team')}"),
    ]
    assert mail.outbox == []
    [post] = slack_server.posts_to("/team")
    assert post.body["text"].startswith(f"Decision needed: #{card.pk} Discount for ACME")


def test_a_chain_asks_the_next_approver_and_tells_the_owner_of_the_first_decision(
    card, performer, manager, lena, request_type
):
    steps = ApprovalStep.objects
    steps.create(request_type=request_type, position=1, name="Budget", approver=manager)
    steps.create(request_type=request_type, position=2, name="Legal", approver=lena)
    send(card, performer, None)
    first = notices(recipient=manager, channel=Channel.IN_APP).get()
    assert headline(first).endswith("sent by Paula (step 1 of 2: Budget)")

    actions.decide(task=card, decision="approve", actor=manager)

    asked = notices(recipient=lena, channel=Channel.IN_APP).get()
    assert headline(asked) == (
        f"Decision needed: #{card.pk} Discount for ACME — passed on by Maria (step 2 of 2: Legal)"
    )
    owner_told = notices(recipient=performer, channel=Channel.IN_APP).get()
    assert headline(owner_told) == f"#{card.pk} approved by Maria (step 1 of 2)"
    assert not notices(recipient=manager, card_event=asked.card_event).exists()  # the actor


def test_a_rejection_tells_owner_performers_and_followers_but_not_the_actor_or_the_muted(
    card, performer, other_performer, manager, observer, dispatcher, roles
):
    quiet = UserFactory(username="quinn")
    quiet.groups.add(roles["observer"])
    status_only = UserFactory(username="stella")
    status_only.groups.add(roles["observer"])
    card.observers.add(observer, quiet)
    actions.set_performers(task=card, users=[other_performer], actor=dispatcher)
    actions.follow(task=card, user=quiet, status_changes=False, breaches=False, decisions=False)
    actions.follow(task=card, user=status_only, decisions=False)
    actions.follow(task=card, user=dispatcher, status_changes=False)
    send(card, performer, manager)
    Notification.objects.all().delete()

    actions.decide(task=card, decision="reject", actor=manager, reason="budget too high")

    assert told() == [
        ("dan", "user", TaskEvent.Kind.REJECTED),
        ("olga", "user", TaskEvent.Kind.REJECTED),
        ("paula", "user", TaskEvent.Kind.REJECTED),
        ("pete", "user", TaskEvent.Kind.REJECTED),
        # She chose status changes only: the move back to work, not the decision.
        ("stella", "user", TaskEvent.Kind.STATUS_CHANGED),
    ]
    rejected = notices(recipient=performer, channel=Channel.IN_APP).get()
    assert headline(rejected) == f"#{card.pk} rejected by Maria: budget too high"
    stella = notices(recipient=status_only, channel=Channel.IN_APP).get()
    assert headline(stella) == f"#{card.pk} moved to in progress by Maria"


def test_a_status_change_reaches_followers_who_may_see_the_card_and_email_only_with_an_address(
    card, performer, dispatcher, observer, outsider, roles
):
    reason = BlockingReasonFactory(name="Client documents")
    no_mail = UserFactory(username="nomail", email="")
    no_mail.groups.add(roles["observer"])
    gone = UserFactory(username="gone", is_active=False)
    gone.groups.add(roles["observer"])
    card.observers.add(observer, no_mail, gone)
    # Otto watched the card; he is in another team and may not see it (any more).
    actions.follow(task=card, user=outsider)
    actions.follow(task=card, user=dispatcher, status_changes=False)
    mail.outbox.clear()

    actions.change_status(task=card, to=Status.WAITING, actor=performer, blocking_reason=reason)

    assert told() == [
        ("nomail", "user", TaskEvent.Kind.BLOCKING_REASON_SET),
        ("olga", "user", TaskEvent.Kind.BLOCKING_REASON_SET),
    ]
    assert told(channel=Channel.EMAIL) == [("olga", "user", TaskEvent.Kind.BLOCKING_REASON_SET)]
    note = notices(recipient=observer, channel=Channel.IN_APP).get()
    assert headline(note) == f"#{card.pk} moved to waiting (Client documents) by Paula"
    assert [m.to for m in mail.outbox] == [[observer.email]]


def test_notices_are_written_once_per_event_channel_and_recipient(card, performer, manager):
    send(card, performer, manager)
    before = sorted(notices().values_list("card_event_id", "channel", "recipient_key"))
    events = list(card.events.order_by("-pk")[:2])

    card_notices.notify_card_change(task=card, at=events[0].at, events=events[::-1])

    assert sorted(notices().values_list("card_event_id", "channel", "recipient_key")) == before
    assert len(before) == 2


# --------------------------------------------------------------------------- reading them


def test_the_bell_and_the_inbox_show_card_notices_in_a_fixed_number_of_queries(
    card, performer, manager, request_type, django_assert_max_num_queries
):
    send(card, performer, manager)
    client = client_for(manager)
    bell = client.get(reverse("notification_bell")).content.decode()
    assert "Notifications: 1 unread" in bell

    page = client.get(reverse("notifications")).content.decode()
    assert f"Decision needed: #{card.pk} Discount for ACME — sent by Paula" in page
    assert "Open to decide" in page

    with django_assert_max_num_queries(20) as first:
        client.get(reverse("notifications"))
    for n in range(6):
        other = make_task(actor=manager, owner=performer, request_type=request_type, title=f"C{n}")
        actions.change_status(task=other, to=Status.IN_PROGRESS, actor=performer)
        send(other, performer, manager)
    with django_assert_max_num_queries(len(first.captured_queries)):
        page = client.get(reverse("notifications")).content.decode()
    assert page.count("Decision needed") == 7


def test_the_delivery_job_sends_a_card_notice_by_email_with_a_stable_message_id(
    card, performer, manager
):
    send(card, performer, manager)
    email_row = notices(channel=Channel.EMAIL).get()
    first_id = notify.message_id(email_row)
    # As if the first attempt had failed: due again, and the job sends it.
    Notification.objects.filter(pk=email_row.pk).update(
        state=State.PENDING, next_attempt_at=email_row.created_at
    )
    mail.outbox.clear()

    assert jobs.send_pending_notifications() == 1

    [email] = mail.outbox
    assert email.extra_headers["Message-ID"] == first_id
    assert "Decision needed" in email.subject
    assert "<p>Decision needed" in email.alternatives[0][0]
    email_row.refresh_from_db()
    assert email_row.state == State.SENT and email_row.attempts == 2  # the second attempt


# --------------------------------------------------------------------------- breaches


@pytest.mark.postgresql
@pytest.mark.parametrize("set_based", [True, False], ids=["set-based", "python"])
def test_a_breach_reaches_watchers_who_chose_breaches_and_unmuted_observers(
    set_based, request_type, dispatcher, performer, observer, manager, round_the_clock,
    make_policy, make_rule, roles
):  # fmt: skip
    policy = make_policy(round_the_clock, resolution=H)
    make_rule(policy, Trigger.BREACH, notify_owner=True, in_app=True)
    quiet = UserFactory(username="quinn")
    quiet.groups.add(roles["observer"])
    t0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    with time_machine.travel(t0, tick=False):
        card = make_task(actor=dispatcher, owner=performer, request_type=request_type, at=t0)
        card.observers.add(observer, quiet)
        actions.follow(task=card, user=quiet, status_changes=False, breaches=False, decisions=False)
        actions.follow(task=card, user=manager, decisions=False)  # a watcher of breaches
        actions.follow(task=card, user=dispatcher, breaches=False)
    mail.outbox.clear()

    scan(t0 + 2 * H, set_based=set_based)

    breach = SlaEvent.objects.get(kind=SlaEvent.Kind.BREACH, timer__kind=TimerKind.RESOLUTION)
    rows = Notification.objects.filter(event=breach)
    assert sorted(rows.values_list("recipient__username", "channel")) == [
        ("maria", Channel.EMAIL),
        ("maria", Channel.IN_APP),
        ("olga", Channel.EMAIL),
        ("olga", Channel.IN_APP),
        ("paula", Channel.IN_APP),  # the rule's owner, in-app only
    ]
    assert sorted(m.to[0] for m in mail.outbox) == [manager.email, observer.email]
    assert all("SLA breached" in m.subject for m in mail.outbox)


def test_the_outbox_admin_lists_card_notices_with_their_card_event(
    card, performer, manager, admin_client
):
    send(card, performer, manager)
    response = admin_client.get(reverse("admin:sla_notification_changelist"))
    assert response.status_code == 200
    assert f"status_changed on #{card.pk}" in response.content.decode()
