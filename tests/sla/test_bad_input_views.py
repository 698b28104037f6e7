"""Bad input to the SLA pages outside the admin (sla/urls.py): marking notifications read
takes an id, and anything that is not one of the user's notification ids is a 400 with a
message, never a 500, with nothing marked."""

from __future__ import annotations

import pytest
from django.urls import reverse

from sla.models import Notification
from tests.rows import settings_rows
from tests.sla.conftest import MON, M, Trigger, berlin, scan

pytestmark = pytest.mark.django_db

T0 = berlin(*MON, 10)
READ = reverse("notifications_read")


@pytest.fixture
def breached(round_the_clock, make_policy, make_rule, new_card):
    """A breached card owned by Paula: she has an unread in-app notification."""
    policy = make_policy(round_the_clock)
    make_rule(policy, Trigger.BREACH, notify_owner=True)
    card = new_card(T0, title="Quote for 40 desks")
    assert scan(T0 + 61 * M) == 1
    return card


def _notifications() -> list[dict]:
    return list(Notification.objects.order_by("pk").values())


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param("\u00b2", id="superscript-two"),
        pytest.param("\u0661", id="arabic-indic-one"),
        pytest.param("\uff11", id="fullwidth-one"),
        pytest.param("9" * 30, id="beyond-a-bigint"),
        pytest.param("9" * 5000, id="5000-digits"),
        pytest.param("1\x00", id="nul"),
        pytest.param(" 1", id="leading-space"),
        pytest.param("0x1", id="hex"),
        pytest.param("x" * 10_000, id="long"),
    ],
)
def test_a_bad_notification_id_is_a_400(breached, client, performer, bad):
    client.force_login(performer)
    before, rows = _notifications(), settings_rows()
    response = client.post(READ, {"id": bad})
    assert response.status_code == 400
    assert "Unknown notification." in response.content.decode()
    assert _notifications() == before
    assert settings_rows() == rows


@pytest.mark.parametrize("url", ["notifications", "notification_bell"])
def test_the_pages_without_input_ignore_a_query_string(breached, client, performer, url):
    client.force_login(performer)
    before = _notifications()
    response = client.get(reverse(url), {"id": "\u00b2", "page": "9" * 400, "q": "%00"})
    assert response.status_code == 200
    assert _notifications() == before
