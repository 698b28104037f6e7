"""The outbox's links have no database-level foreign key (sla/models/events.py,
OUTBOX_LINKS): deleting a card, a timer or a user through Django must still take its events
and notifications along, leaving nothing that points nowhere."""

from __future__ import annotations

import pytest
from django.db import connection

from sla.models import Notification, SlaEvent, SlaTimer
from tests.sla.conftest import MON, M, Trigger, berlin, scan

pytestmark = pytest.mark.django_db

T0 = berlin(*MON, 10)
BREACHED = T0 + 61 * M


@pytest.fixture
def breached_cards(round_the_clock, make_policy, make_rule, new_card, manager):
    policy = make_policy(round_the_clock)
    make_rule(policy, Trigger.BREACH, notify_owner=True, email=True, notify_user=manager)
    cards = [new_card(T0, title=f"Card {n}") for n in range(3)]
    assert scan(BREACHED) > 0
    return cards


def orphans() -> dict[str, int]:
    """Rows whose parent is gone, counted in SQL (the ORM would hide them)."""
    queries = {
        "events without timer": """SELECT count(*) FROM sla_slaevent e
            WHERE NOT EXISTS (SELECT 1 FROM sla_slatimer t WHERE t.id = e.timer_id)""",
        "notifications without event": """SELECT count(*) FROM sla_notification n
            WHERE NOT EXISTS (SELECT 1 FROM sla_slaevent e WHERE e.id = n.event_id)""",
        "notifications without recipient": """SELECT count(*) FROM sla_notification n
            WHERE n.recipient_id IS NOT NULL
              AND NOT EXISTS (SELECT 1 FROM auth_user u WHERE u.id = n.recipient_id)""",
    }
    with connection.cursor() as cursor:
        counts = {}
        for name, sql in queries.items():
            cursor.execute(sql)
            counts[name] = cursor.fetchone()[0]
    return counts


NONE = {
    "events without timer": 0,
    "notifications without event": 0,
    "notifications without recipient": 0,
}


def test_deleting_a_card_deletes_its_events_and_notifications(breached_cards):
    gone, kept = breached_cards[0], breached_cards[1:]
    assert SlaEvent.objects.filter(timer__task=gone).exists()
    assert Notification.objects.filter(event__timer__task=gone).count() >= 3

    gone.delete()

    assert orphans() == NONE
    assert not SlaTimer.objects.filter(task_id=gone.pk).exists()
    for card in kept:  # the other cards' outbox is untouched
        assert Notification.objects.filter(event__timer__task=card).count() >= 3


def test_deleting_a_user_deletes_the_notifications_addressed_to_them(breached_cards, manager):
    assert Notification.objects.filter(recipient=manager).count() == 2 * len(breached_cards)
    total = Notification.objects.count()

    manager.delete()

    assert orphans() == NONE
    assert Notification.objects.count() == total - 2 * len(breached_cards)
