"""A performer works a card in a real browser: the HTMX forms, the timers and the timeline."""

import pytest
from playwright.sync_api import expect

from tests.factories import make_task

pytestmark = pytest.mark.django_db(transaction=True)


def test_performer_marks_a_card_waiting_with_a_reason_and_sees_the_timer_paused(
    live_server, log_in, sla_config, performer, dispatcher, request_type
):
    card = make_task(actor=dispatcher, owner=performer, request_type=request_type, title="ACME")
    page = log_in("paula")
    page.goto(f"{live_server.url}/cards/{card.pk}/")
    expect(page.locator("#timers")).to_contain_text("Running")

    # The forward move comes first; the blocking reason is asked only by "Waiting for…".
    expect(page.locator("#moves button").first).to_have_text("Take into work")
    expect(page.get_by_label("Waiting for", exact=True)).to_have_count(0)
    page.get_by_role("button", name="Waiting for…").click()
    # No reason: the server refuses with an inline message and nothing changes.
    page.get_by_role("button", name="Mark waiting").click()
    expect(page.locator("#card")).to_contain_text("Say what the card is waiting for")

    page.get_by_label("Waiting for", exact=True).select_option(label="Waiting for customer")
    page.get_by_role("button", name="Mark waiting").click()
    expect(page.locator("#card")).to_contain_text("blocked: Waiting for customer")
    expect(page.locator('#timers article[data-kind="resolution"]')).to_contain_text("Paused")
    expect(page.locator(".timeline")).to_contain_text("marked it blocked: Waiting for customer")
    card.refresh_from_db()
    assert card.status == "waiting"


def test_an_observer_sees_the_card_without_any_action_forms(
    live_server, log_in, sla_config, observer, dispatcher, performer, request_type
):
    card = make_task(actor=dispatcher, owner=performer, request_type=request_type, title="Look")
    page = log_in("olga")
    page.goto(f"{live_server.url}/cards/{card.pk}/")
    expect(page.get_by_role("heading", name=f"#{card.pk} Look")).to_be_visible()
    expect(page.locator("#moves")).to_have_count(0)
    expect(page.get_by_role("button", name="Take into work")).to_have_count(0)
    expect(page.get_by_role("button", name="Add comment")).to_have_count(0)
