"""A refused htmx form shows its message in place, with DEBUG on (as `make run` runs) and off:
django-htmx's debug helper used to replace the whole document with any 4xx answer."""

import pytest
from playwright.sync_api import expect

from tests.factories import make_task

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("debug", [True, False], ids=["debug", "production"])
def test_a_form_error_swaps_in_place_and_keeps_the_page(
    live_server, log_in, settings, sla_config, performer, dispatcher, request_type, debug
):
    settings.DEBUG = debug
    card = make_task(actor=dispatcher, owner=performer, request_type=request_type, title="ACME")
    page = log_in("paula")
    page.goto(f"{live_server.url}/cards/{card.pk}/")
    assert page.locator("body").get_attribute("data-debug") == ("true" if debug else "false")

    # A due time without a next step: the server answers 400 with the reason.
    page.get_by_label("Due").fill("2026-12-07T10:00")
    with page.expect_response(lambda r: r.url.endswith("/next-step/")) as answer:
        page.get_by_role("button", name="Save next step").click()
    assert answer.value.status == 400
    expect(page.locator("#card")).to_contain_text("Describe the next step")
    # The rest of the page is still there: nav, styles, the card's title.
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()
    expect(page.get_by_role("heading", name=f"#{card.pk} ACME")).to_be_visible()
    assert page.evaluate("getComputedStyle(document.body).fontFamily") != "Times New Roman"
