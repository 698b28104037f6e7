"""A person's settings reach the outbox: the timezone chosen on /profile/ is the one of the
times in her emails and in a Slack post addressed to her; her quiet hours hold back a warning
but never a breach (the held warning goes out when they end); her daily digest gathers
non-urgent emails into one; a kind turned off sends no email, and the in-app notice stays.

Real parts: the profile page through Django's test client, the scan and the delivery job,
Django's mail outbox, a loopback HTTP server standing in for Slack's incoming webhook.
Instants are Berlin time; 2026-11-23 is a Monday.
"""

from __future__ import annotations

from datetime import time, timedelta

import pytest
import time_machine
from django.core import mail
from django.urls import reverse

from sla import health, outbox
from sla.models import Channel, Notification, NotificationPreference, SlaEvent
from sla.notice_rules import CHOOSABLE
from sla.preferences import save_preferences
from tasks import actions
from tasks.models import Status
from tests.sla.conftest import MON, M, Trigger, berlin, deliver, scan
from tests.tasks.bad_input import client_for

pytestmark = pytest.mark.django_db
H = timedelta(hours=1)
T0 = berlin(*MON, 10)  # Monday 10:00: a card's hour runs to 11:00, it warns at 10:45
WARNS, BREACHES = T0 + 45 * M, T0 + 61 * M  # due 11:00, breached once past it
TUE = berlin(2026, 11, 24, 0)
State = Notification.State

ALL_ON = {f"{channel}_{kind}": "on" for kind in (
    "warning", "breach", "escalation", "approval_asked", "decision", "status_change"
) for channel in CHOOSABLE}  # fmt: skip


def choose(user, **fields):
    """Save settings the way she does: a POST of the profile form (everything on unless
    said otherwise)."""
    data = {"timezone": "", "quiet_start": "", "quiet_end": "", "digest_hour": "", **ALL_ON}
    data.update(fields)
    data = {k: v for k, v in data.items() if v is not None}
    answer = client_for(user).post(reverse("profile"), data)
    assert answer.status_code == 302, answer.content.decode()[:2000]


@pytest.fixture
def policy(round_the_clock, make_policy, make_rule):
    policy = make_policy(round_the_clock)  # 1 h resolution, warning at 75 %
    make_rule(policy, Trigger.WARNING, notify_owner=True, in_app=True, email=True)
    make_rule(policy, Trigger.BREACH, notify_owner=True, in_app=True, email=True)
    return policy


def subjects() -> list[str]:
    return [m.subject.split(": ", 1)[0] for m in mail.outbox]


# --------------------------------------------------------------------------- timezone


def test_a_timezone_chosen_on_the_profile_changes_the_times_in_her_email(
    policy, new_card, performer
):
    before = new_card(T0)
    mail.outbox.clear()
    scan(WARNS)
    [email] = mail.outbox
    assert f"#{before.pk}" in email.subject
    assert "due Mon 23 Nov 2026, 11:00 CET" in email.body  # the server's zone

    choose(performer, timezone="America/New_York")
    after = new_card(T0 + 2 * H)
    mail.outbox.clear()
    scan(WARNS + 2 * H)  # `before` breaches meanwhile; `after` warns
    [email] = [m for m in mail.outbox if f"#{after.pk}" in m.subject]
    assert "due Mon 23 Nov 2026, 07:00 EST" in email.body  # 13:00 in Berlin
    assert "07:00 EST" in email.alternatives[0][0] and "CET" not in email.body


def test_a_timezone_chosen_on_the_profile_changes_the_time_in_a_slack_post_to_her(
    round_the_clock, make_policy, make_rule, new_card, team, performer, manager, lena,
    slack_server,
):  # fmt: skip
    """A decision asked on the team's Slack channel addresses the approver: its time is in
    her zone; a post to someone who chose none is in the server's."""
    team.slack_webhook_url = slack_server.url("/team")
    team.save()
    make_rule(make_policy(round_the_clock), Trigger.WARNING, notify_owner=True, in_app=True,
              email=False, slack=True)  # fmt: skip
    choose(manager, timezone="Asia/Tokyo")
    first, second = new_card(T0), new_card(T0)
    with time_machine.travel(T0 + 5 * M, tick=False):
        actions.change_status(task=first, to=Status.IN_PROGRESS, actor=performer)
        actions.change_status(task=first, to=Status.ON_APPROVAL, actor=performer, approver=lena)
        actions.change_status(task=second, to=Status.IN_PROGRESS, actor=performer)
        actions.change_status(task=second, to=Status.ON_APPROVAL, actor=performer, approver=manager)

    to_lena, to_maria = slack_server.posts_to("/team")
    assert f"#{first.pk}" in to_lena.body["text"] and f"#{second.pk}" in to_maria.body["text"]
    assert "Mon 23 Nov 10:05 CET" in to_lena.body["text"]
    assert "Mon 23 Nov 18:05 JST" in to_maria.body["text"]  # 09:05 UTC in Tokyo


def test_the_slack_zone_function_reads_the_stored_zone(performer, settings):
    from sla.notify import recipient_zone

    assert str(recipient_zone(performer)) == settings.TIME_ZONE
    choose(performer, timezone="Australia/Sydney")
    performer.refresh_from_db()
    assert str(recipient_zone(performer)) == "Australia/Sydney"


# --------------------------------------------------------------------------- quiet hours


def test_quiet_hours_hold_back_a_warning_but_not_a_breach(policy, new_card, performer):
    choose(performer, timezone="Europe/Berlin", quiet_start="10:30", quiet_end="12:00")
    card = new_card(T0)
    mail.outbox.clear()

    scan(WARNS)  # 10:45, quiet
    assert mail.outbox == []
    warning = Notification.objects.get(event__kind=SlaEvent.Kind.WARNING, channel=Channel.EMAIL)
    assert warning.state == State.PENDING and warning.next_attempt_at == berlin(*MON, 12)
    # In-app is recorded at once, whatever the quiet hours.
    assert (
        Notification.objects.get(event__kind=SlaEvent.Kind.WARNING, channel=Channel.IN_APP).state
        == State.SENT
    )

    scan(BREACHES)  # 11:01, still quiet: a breach goes out anyway
    assert subjects() == ["[Turnaround] SLA breached"]
    assert f"#{card.pk}" in mail.outbox[0].subject

    deliver(berlin(*MON, 11, 59))
    assert len(mail.outbox) == 1
    # Held by her choice, with the reason, and not "delivery behind" on /health/.
    warning.refresh_from_db()
    assert warning.last_error == f"{outbox.HELD_BACK}quiet hours"
    assert health.check_notifications(berlin(*MON, 11, 59)).ok
    # Once due again (12:00) it counts from then: behind after 15 minutes undelivered.
    assert health.check_notifications(berlin(*MON, 12, 14)).ok
    assert not health.check_notifications(berlin(*MON, 12, 16)).ok
    deliver(berlin(*MON, 12))  # quiet hours over: the held warning goes out
    assert subjects() == ["[Turnaround] SLA breached", "[Turnaround] At risk"]
    warning.refresh_from_db()
    assert warning.state == State.SENT and warning.attempts == 1 and warning.last_error == ""


def test_quiet_hours_span_midnight_in_her_own_zone(policy, new_card, performer):
    # 22:00–07:00 in New York is 04:00–13:00 in Berlin: the 10:45 warning waits until 13:00.
    choose(performer, timezone="America/New_York", quiet_start="22:00", quiet_end="07:00")
    new_card(T0)
    mail.outbox.clear()
    scan(WARNS)
    assert mail.outbox == []
    held = Notification.objects.get(event__kind=SlaEvent.Kind.WARNING, channel=Channel.EMAIL)
    assert held.next_attempt_at == berlin(*MON, 13)


# --------------------------------------------------------------------------- digest


def test_a_daily_digest_gathers_her_non_urgent_emails_into_one(
    round_the_clock, make_policy, make_rule, new_card, performer
):
    make_rule(make_policy(round_the_clock), Trigger.WARNING, notify_owner=True, email=True)
    choose(performer, timezone="Europe/Berlin", digest_hour="9")
    first, second = new_card(T0), new_card(T0 + 30 * M)
    mail.outbox.clear()
    scan(WARNS)
    scan(WARNS + 30 * M)
    assert mail.outbox == []
    assert Notification.objects.filter(channel=Channel.EMAIL, state=State.PENDING).count() == 2

    deliver(berlin(2026, 11, 24, 8, 59))
    assert mail.outbox == []
    deliver(berlin(2026, 11, 24, 9))
    [digest] = mail.outbox
    assert digest.to == [performer.email]
    assert digest.subject == "[Turnaround] Your daily digest: 2 notices"
    assert f"At risk: #{first.pk}" in digest.body and f"At risk: #{second.pk}" in digest.body
    assert "due Mon 23 Nov 2026, 11:00 CET" in digest.body
    assert "due Mon 23 Nov 2026, 11:30 CET" in digest.body
    assert set(
        Notification.objects.filter(channel=Channel.EMAIL).values_list("state", flat=True)
    ) == {State.SENT}
    deliver(berlin(2026, 11, 24, 9, 5))
    assert len(mail.outbox) == 1  # sent once


def test_a_breach_is_never_gathered_into_the_digest(policy, new_card, performer):
    choose(performer, digest_hour="9")
    new_card(T0)
    mail.outbox.clear()
    scan(WARNS)  # held for tomorrow's digest
    scan(BREACHES)  # goes out at once
    assert subjects() == ["[Turnaround] SLA breached"]


# --------------------------------------------------------------------------- turned off


def test_a_kind_turned_off_sends_no_email_but_keeps_the_in_app_notice(policy, new_card, performer):
    choose(performer, email_warning=None)  # unticked: warnings not by email
    assert NotificationPreference.objects.get(user=performer).muted == ["warning:email"]
    new_card(T0)
    mail.outbox.clear()
    scan(WARNS)
    scan(BREACHES)

    assert subjects() == ["[Turnaround] SLA breached"]
    dropped = Notification.objects.get(event__kind=SlaEvent.Kind.WARNING, channel=Channel.EMAIL)
    assert dropped.state == State.SKIPPED and dropped.last_error == outbox.MUTED
    kept = Notification.objects.get(event__kind=SlaEvent.Kind.WARNING, channel=Channel.IN_APP)
    assert kept.state == State.SENT and kept.read_at is None
    page = client_for(performer).get(reverse("notifications")).content.decode()
    assert "Warning — resolution timer" in page  # under the card's heading


def test_preferences_of_someone_else_do_not_touch_her_mail(policy, new_card, performer, manager):
    save_preferences(user=manager, muted=[("warning", "email")], quiet_start=time(0),
                     quiet_end=time(23, 59), digest_hour=None)  # fmt: skip
    new_card(T0)
    mail.outbox.clear()
    scan(WARNS)
    assert subjects() == ["[Turnaround] At risk"]
