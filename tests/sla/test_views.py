"""The bell in the nav, its HTMX partial, the inbox and marking notifications read.

Notifications come from a real scan: a card owned by Paula breaches; the rule tells the
owner and the team manager (Maria) in-app.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
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
    assert html.count("Breach — resolution timer") == 2
    assert html.count('name="card"') == 2  # one "Mark read" per card


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
    assert html.count('name="card"') == 1  # one "Mark read" left: the other card's
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


# ----------------------------------------------------------------------------- grouped inbox

# Session, user, the notices with their cards (one query), the bell's count (the page only),
# and the card notices' words (sla.notice_words.attach: steps and reasons, none here).
MAX_QUERIES = {reverse("notifications"): 5, reverse("notification_preview"): 4}


@pytest.fixture
def warned_and_breached(round_the_clock, make_policy, make_rule, new_card):
    """Paula's notices: the desks card warned at 10:45 and breached at 11:00, the chairs card
    (created ten minutes later) warned at 10:55. Maria is told of the breach only."""
    policy = make_policy(round_the_clock)
    make_rule(policy, Trigger.WARNING, notify_owner=True)
    make_rule(policy, Trigger.BREACH, notify_owner=True, notify_team_manager=True)
    desks = new_card(T0, title="Quote for 40 desks")
    chairs = new_card(T0 + 10 * M, title="Chairs")
    for minutes in (46, 56, 61):
        scan(T0 + minutes * M)
    return desks, chairs


def _positions(html: str, *needles: str) -> list[int]:
    found = [html.find(needle) for needle in needles]
    assert -1 not in found, list(zip(needles, found, strict=True))
    return found


def test_inbox_groups_notices_by_card_newest_first(warned_and_breached, paula):
    desks, chairs = warned_and_breached

    html = paula.get(INBOX).content.decode()

    inbox = html[html.index('<section id="inbox">') :]
    # The desks card first (its breach at 11:00 is the newest), its breach above its warning,
    # then the chairs card; each card once, with one "Mark read".
    desks_at, chairs_at = _positions(inbox, f"#{desks.pk} {desks.title}<", f"#{chairs.pk} Chairs<")
    assert desks_at < chairs_at
    breach, warning = _positions(inbox[desks_at:chairs_at], "Breach —", "Warning —")
    assert breach < warning
    assert "Warning —" in inbox[chairs_at:]
    assert inbox.count(f"#{desks.pk} {desks.title}<") == 1
    assert inbox.count('name="card"') == 2
    # Times in the project's words: dated, as these days are not today.
    assert "Mon 23 Nov 11:00" in inbox and "Mon 23 Nov 10:55" in inbox
    assert "Mon 23 Nov 10:45" in inbox


def test_marking_a_card_read_marks_only_that_cards_notices(warned_and_breached, paula, performer):
    desks, chairs = warned_and_breached

    response = paula.post(READ, {"card": desks.pk})

    assert response.status_code == 302
    assert response["Location"] == INBOX
    left = Notification.objects.unread_for(performer)
    assert [n.event.timer.task_id for n in left] == [chairs.pk]
    html = paula.get(INBOX).content.decode()
    assert html.count('name="card"') == 1  # the desks group has no "Mark read" any more


def test_marking_a_card_read_leaves_other_users_rows(warned_and_breached, paula, manager):
    desks, _ = warned_and_breached

    paula.post(READ, {"card": desks.pk})

    assert unread(manager) == 1  # Maria's breach of the same card


def test_another_user_cannot_mark_my_card_read(warned_and_breached, client, observer, performer):
    desks, _ = warned_and_breached
    client.force_login(observer)  # Olga is told of nothing

    response = client.post(READ, {"card": desks.pk}, headers={"HX-Request": "true"})

    assert response.status_code == 404
    assert "None of your notifications is about this card." in response.content.decode()
    assert unread(performer) == 3


@pytest.mark.parametrize("bad", ["abc", "-1", "1.5", "²"])
def test_a_bad_card_id_is_refused(warned_and_breached, paula, performer, bad):
    response = paula.post(READ, {"card": bad})

    assert response.status_code == 400
    assert unread(performer) == 3


def test_htmx_mark_card_read_updates_the_bell(warned_and_breached, paula, performer):
    desks, _ = warned_and_breached

    response = paula.post(READ, {"card": desks.pk}, headers={"HX-Request": "true"})

    html = response.content.decode()
    assert html.lstrip().startswith('<section id="inbox">')
    assert 'hx-swap-oob="true"' in html
    assert 'aria-label="Notifications: 1 unread"' in html


def test_htmx_mark_all_read_updates_the_bell(warned_and_breached, paula, performer):
    response = paula.post(READ, headers={"HX-Request": "true"})

    html = response.content.decode()
    assert 'id="bell"' in html and 'hx-swap-oob="true"' in html
    assert 'aria-label="Notifications: 0 unread"' in html
    assert unread(performer) == 0


def test_mark_card_read_from_the_panel_answers_with_the_panel(
    warned_and_breached, paula, performer
):
    desks, chairs = warned_and_breached

    response = paula.post(READ, {"card": desks.pk, "from": "panel"}, headers={"HX-Request": "true"})

    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<h2 class="bell-panel-title">')
    assert f"#{chairs.pk} Chairs" in html and f"#{desks.pk} " not in html
    assert 'aria-label="Notifications: 1 unread"' in html


# ----------------------------------------------------------------------------- bell's panel

PREVIEW = reverse("notification_preview")


def test_the_panel_shows_the_latest_unread_notices_by_card(warned_and_breached, paula, performer):
    desks, chairs = warned_and_breached
    Notification.objects.filter(
        recipient=performer, event__timer__task=desks, event__kind="warning"
    ).update(read_at=T0 + 62 * M)

    response = paula.get(PREVIEW, headers={"HX-Request": "true"})

    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html
    desks_at, chairs_at = _positions(html, f"#{desks.pk} {desks.title}<", f"#{chairs.pk} Chairs<")
    assert desks_at < chairs_at
    assert html.count("Warning —") == 1  # the read one is not previewed
    assert html.count("Breach —") == 1
    assert 'value="panel"' in html
    assert f'<a href="{INBOX}">All notifications</a>' in html


def test_the_panel_shows_at_most_five_notices(
    round_the_clock, make_policy, make_rule, new_card, paula
):
    policy = make_policy(round_the_clock)
    make_rule(policy, Trigger.BREACH, notify_owner=True)
    for n in range(7):
        new_card(T0 + n * M, title=f"Card {n}")
    scan(T0 + 70 * M)

    html = paula.get(PREVIEW).content.decode()

    assert html.count("Breach —") == 5
    assert "Card 6<" in html and "Card 1<" not in html  # the newest five


def test_the_panel_without_unread_notices(breached, paula):
    paula.post(READ)
    html = paula.get(PREVIEW).content.decode()
    assert "No unread notifications." in html


def test_the_panel_needs_a_login(warned_and_breached, client):
    response = client.get(PREVIEW, headers={"HX-Request": "true"})
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_the_bell_links_to_the_inbox_and_names_its_panel(breached, paula):
    html = paula.get(INBOX).content.decode()
    assert f'<a id="bell" class="bell" href="{INBOX}"' in html
    assert f'hx-get="{PREVIEW}" hx-trigger="bell-open"' in html


@pytest.mark.parametrize("url", [INBOX, PREVIEW])
def test_query_count_does_not_grow_with_notices(
    url, round_the_clock, make_policy, make_rule, new_card, paula, django_assert_max_num_queries
):
    policy = make_policy(round_the_clock)
    make_rule(policy, Trigger.WARNING, notify_owner=True)
    make_rule(policy, Trigger.BREACH, notify_owner=True)
    new_card(T0, title="First")
    scan(T0 + 61 * M)
    paula.get(url)  # the session is warm
    with CaptureQueriesContext(connection) as few:
        assert paula.get(url).status_code == 200
    for n in range(6):
        new_card(T0 + (n + 1) * M, title=f"More {n}")
    scan(T0 + 70 * M)
    with django_assert_max_num_queries(MAX_QUERIES[url]):
        html = paula.get(url).content.decode()
    assert html.count("Breach —") == (7 if url == INBOX else 5)
    with CaptureQueriesContext(connection) as many:
        paula.get(url)
    assert len(many) == len(few), [q["sql"][:80] for q in many.captured_queries]
