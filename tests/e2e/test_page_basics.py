"""What every page has: no request answered 404 (the favicon was), a skip link as the first
keyboard stop, and a visible focus ring."""

import pytest
from playwright.sync_api import expect

from tests.factories import make_task

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_page_loads_without_a_failed_request_and_starts_with_a_skip_link(
    live_server, log_in, sla_config, performer, dispatcher, request_type
):
    card = make_task(actor=dispatcher, owner=performer, request_type=request_type, title="ACME")
    page = log_in("paula")
    failed = []
    page.on("response", lambda r: failed.append((r.status, r.url)) if r.status >= 400 else None)
    page.goto(f"{live_server.url}/cards/{card.pk}/")
    page.wait_for_load_state("networkidle")
    assert failed == []
    icon = page.locator("link[rel=icon]").get_attribute("href")
    assert page.request.get(f"{live_server.url}{icon}").status == 200

    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    expect(skip).to_be_visible()
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid"
    skip.press("Enter")
    assert page.url.endswith("#main")
