"""The bell in the nav, its HTMX partial, the inbox and marking notifications read.

Notifications come from a real scan: a card owned by Paula breaches; the rule tells the
owner and the team manager (Maria) in-app.
"""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from sla.models import Channel, Notification
from tests.sla.conftest import MON, M, Trigger, berlin, scan

pytestmark = pytest.mark.django_db

T0 = berlin(*MON, 10)
BELL = reverse("notification_bell")
INBOX = reverse("notifications")
READ = reverse("notifications_read")


@pytest.fixture
def breached(round_the_clock, make_policy, make_rule, new_card):
    """Two breached cards: Paula and Maria each have two unread in-app notifications."""
    policy = make_policy(round_the_clock)
    make_rule(policy, Trigger.BREACH, notify_owner=True, notify_team_manager=True)
    cards = [new_card(T0, title="Quote for 40 desks"), new_card(T0, title="Chairs")]
    assert scan(T0 + 61 * M) == 2
    return cards


def own(user) -> list[Notification]:
    return list(Notification.objects.filter(recipient=user, channel=Channel.IN_APP))


def unread(user) -> int:
    return Notification.objects.unread_for(user).count()


@pytest.fixture
def paula(client, performer):
    client.force_login(performer)
    return client


def test_unread_count_is_shown_in_the_nav(breached, paula):
    response = paula.get(INBOX)  # any page: the bell is in the nav of base.html

    html = response.content.decode()
    assert response.status_code == 200
    assert 'aria-label="Notifications: 2 unread"' in html
    assert '<span class="badge breached">2</span>' in html


def test_bell_partial_is_only_the_bell(breached, paula, performer):
    Notification.objects.filter(pk=own(performer)[0].pk).update(read_at=T0 + 70 * M)

    response = paula.get(BELL, headers={"HX-Request": "true"})

    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<a id="bell"')
    assert "<html" not in html
    assert 'aria-label="Notifications: 1 unread"' in html


def test_bell_without_unread_notifications_shows_no_badge(breached, client, observer):
    client.force_login(observer)
    html = client.get(BELL).content.decode()
    assert 'aria-label="Notifications: 0 unread"' in html
    assert "badge" not in html


def test_inbox_lists_the_users_own_notifications(breached, paula):
    html = paula.get(INBOX).content.decode()
    for card in breached:
        assert f'<a href="/cards/{card.pk}/">#{card.pk} {card.title}</a>' in html
    assert html.count("Breach — resolution timer of") == 2


def test_marking_one_read_marks_only_that_one(breached, paula, performer):
    first, second = own(performer)

    response = paula.post(READ, {"id": first.pk})

    assert response.status_code == 302
    assert response["Location"] == INBOX
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.read_at is not None
    assert second.read_at is None


def test_marking_all_read_leaves_other_users_notifications_unread(
    breached, paula, performer, manager
):
    paula.post(READ)

    assert unread(performer) == 0
    assert unread(manager) == 2


def test_another_users_notification_id_is_ignored(breached, paula, performer, manager):
    theirs = own(manager)[0]

    response = paula.post(READ, {"id": theirs.pk})

    assert response.status_code == 302
    theirs.refresh_from_db()
    assert theirs.read_at is None
    assert unread(manager) == 2
    assert unread(performer) == 2


@pytest.mark.parametrize("bad", ["abc", "1 OR 1=1", "-1", "1.5"])
def test_a_non_numeric_id_is_refused(breached, paula, performer, bad):
    response = paula.post(READ, {"id": bad})

    assert response.status_code == 400
    assert unread(performer) == 2


def test_htmx_mark_read_answers_with_the_inbox_partial(breached, paula, performer):
    response = paula.post(READ, {"id": own(performer)[0].pk}, headers={"HX-Request": "true"})

    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<section id="inbox">')
    assert "<html" not in html
    assert html.count('name="id"') == 1  # one "Mark read" button left
    assert unread(performer) == 1


def test_mark_read_requires_the_csrf_token(breached, performer):
    client = Client(enforce_csrf_checks=True)
    client.force_login(performer)

    response = client.post(READ, {"id": own(performer)[0].pk})

    assert response.status_code == 403
    assert unread(performer) == 2


def test_mark_read_with_the_csrf_token_works(breached, performer):
    client = Client(enforce_csrf_checks=True)
    client.force_login(performer)
    client.get(INBOX)  # sets the CSRF cookie
    token = client.cookies["csrftoken"].value

    response = client.post(READ, {"id": own(performer)[0].pk}, headers={"X-CSRFToken": token})

    assert response.status_code == 302
    assert unread(performer) == 1


def test_mark_read_is_post_only(breached, paula, performer):
    assert paula.get(READ).status_code == 405
    assert unread(performer) == 2


def test_the_bell_needs_a_login(client):
    response = client.get(BELL)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
