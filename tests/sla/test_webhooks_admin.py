"""The admin of webhook endpoints (sla.admin.webhooks): clear form errors for a bad URL or
secret, a secret made when left empty, undelivered rows following a new URL, a bounded list."""

from __future__ import annotations

import base64

import pytest
from django.urls import reverse
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from sla.models import Channel, Notification, WebhookEndpoint
from sla.webhooks import recipient_key
from tests.factories import make_task

pytestmark = pytest.mark.django_db

Kind = WebhookEndpoint.EventKind
ADD = reverse("admin:sla_webhookendpoint_add")
GOOD_SECRET = "whsec_" + base64.b64encode(b"x" * 32).decode()


def form(**fields) -> dict:
    data = {
        "name": "CRM",
        "url": "https://crm.example.com/hooks/turnaround",
        "preset": WebhookEndpoint.Preset.STANDARD,
        "secret": GOOD_SECRET,
        "event_kinds": [Kind.CARD_CREATED, Kind.TIMER_BREACHED],
        "active": "on",
    }
    data.update(fields)
    return data


def errors(response) -> str:
    assert response.status_code == 200  # the form again, with its errors: no 500, no save
    return str(response.context["adminform"].form.errors)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"url": "not a url"}, "Enter a valid URL."),
        ({"url": "ftp://crm.example.com/x"}, "Enter an http:// or https:// URL."),
        ({"secret": "hunter2"}, "A secret starts with"),
        ({"secret": "whsec_%%%not-base64%%%"}, "is not valid base64"),
        ({"secret": "whsec_" + base64.b64encode(b"short").decode()}, "must be 24 to 64 bytes"),
        ({"event_kinds": []}, "This field is required."),
        ({"event_kinds": ["card.deleted"]}, "Select a valid choice."),
    ],
)
def test_bad_input_is_a_clear_form_error(admin_client, fields, message):
    response = admin_client.post(ADD, form(**fields))
    assert message in errors(response)
    assert not WebhookEndpoint.objects.exists()


def test_an_empty_secret_is_made_for_a_standard_endpoint_and_none_for_teams(admin_client):
    admin_client.post(ADD, form(secret=""))
    made = WebhookEndpoint.objects.get()
    assert made.secret.startswith("whsec_")
    Webhook(made.secret)  # usable by the receiver's library
    assert made.event_kinds == [Kind.CARD_CREATED, Kind.TIMER_BREACHED]

    admin_client.post(ADD, form(name="Teams", secret="", preset=WebhookEndpoint.Preset.TEAMS))
    assert WebhookEndpoint.objects.get(name="Teams").secret == ""


def test_a_new_url_moves_the_rows_not_yet_delivered(admin_client, performer):
    endpoint = WebhookEndpoint.objects.create(
        name="CRM", url="https://old.example.com/h", secret=GOOD_SECRET,
        event_kinds=[Kind.CARD_CREATED],
    )  # fmt: skip
    card = make_task(actor=performer, owner=performer)
    event = card.events.first()
    now = timezone.now()

    def row(state, kind):
        return Notification.objects.create(
            card_event=event, channel=Channel.WEBHOOK, address=endpoint.url, state=state,
            recipient_key=recipient_key(endpoint.pk, kind), created_at=now,
        )  # fmt: skip

    # The card's creation was recorded for the endpoint (its delivery failed: no such host).
    pending = Notification.objects.get(recipient_key=recipient_key(endpoint.pk, Kind.CARD_CREATED))
    assert pending.state == Notification.State.PENDING
    sent = row(Notification.State.SENT, Kind.CARD_UPDATED)
    change = reverse("admin:sla_webhookendpoint_change", args=[endpoint.pk])
    response = admin_client.post(change, form(url="https://new.example.com/h"))
    assert response.status_code == 302
    pending.refresh_from_db()
    sent.refresh_from_db()
    assert pending.address == "https://new.example.com/h"
    assert sent.address == "https://old.example.com/h"  # history stays as it was


def test_the_endpoint_list_reads_a_fixed_number_of_queries(
    admin_client, django_assert_max_num_queries
):
    for n in range(30):
        WebhookEndpoint.objects.create(
            name=f"Hook {n}", url=f"https://h{n}.example.com/", secret=GOOD_SECRET,
            event_kinds=list(Kind.values),
        )  # fmt: skip
    with django_assert_max_num_queries(8):
        response = admin_client.get(reverse("admin:sla_webhookendpoint_changelist"))
    assert response.status_code == 200
    assert "Hook 29" in response.content.decode()
