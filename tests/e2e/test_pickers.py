"""The type-ahead pickers in Chromium (static/app.js, Tom Select, tasks.pickers): typing
searches the server, the choice is posted, the owner changes; another team's people are not
offered; the same select works as a plain one without JavaScript."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.factories import make_task

pytestmark = pytest.mark.django_db(transaction=True)


def test_dispatcher_types_in_the_owner_picker_and_assigns(
    live_server, log_in, sla_config, dispatcher, performer, outsider, request_type
):
    card = make_task(actor=dispatcher, request_type=request_type, title="Pick me")
    page = log_in("dan")
    page.goto(f"{live_server.url}/dispatch/")
    row = page.locator(f"#dispatch-row-{card.pk}")
    picker = row.get_by_role("combobox", name=f"Owner for card #{card.pk}")
    expect(picker).to_be_visible()

    with page.expect_response(lambda r: "/pick/people/" in r.url and "q=pe" in r.url) as asked:
        picker.click()
        picker.press_sequentially("pe")
    assert f"card={card.pk}" in asked.value.url and "role=owner" in asked.value.url
    options = page.locator(".ts-dropdown:visible .option")
    expect(options.filter(has_text="Paula Performer")).to_have_count(1)
    expect(options.filter(has_text="Otto Outsider")).to_have_count(0)  # Warehouse's
    options.filter(has_text="Paula Performer").click()
    row.get_by_role("button", name="Assign").click()

    expect(row).to_contain_text("Assigned to Paula Performer")
    card.refresh_from_db()
    assert card.owner == performer
    # The row that came back is a picker again.
    expect(row.get_by_role("combobox", name=f"Owner for card #{card.pk}")).to_be_visible()


def test_the_owner_picker_on_the_card_page_changes_the_owner(
    live_server, log_in, sla_config, dispatcher, performer, other_performer, request_type
):
    card = make_task(actor=dispatcher, owner=performer, request_type=request_type, title="Swap")
    page = log_in("dan")
    page.goto(f"{live_server.url}/cards/{card.pk}/")
    page.locator("summary", has_text="Assign").click()
    picker = page.get_by_role("combobox", name="Owner")
    # A picker with a choice shows the choice; a click on it opens the search.
    page.locator(".ts-control", has=picker).click()
    expect(picker).to_be_focused()
    page.keyboard.type("pete")
    page.locator(".ts-dropdown:visible .option", has_text="Pete Performer").click()
    page.get_by_role("button", name="Save people").click()

    expect(page.locator("#card")).to_contain_text("People updated.")
    card.refresh_from_db()
    assert card.owner == other_performer


def test_without_javascript_the_owner_select_is_plain_and_still_assigns(
    live_server, browser, sla_config, dispatcher, performer, request_type
):
    card = make_task(actor=dispatcher, request_type=request_type, title="No JS")
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill("dan")
    page.get_by_label("Password").fill("pw")
    page.get_by_role("button", name="Log in").click()
    page.goto(f"{live_server.url}/dispatch/")
    row = page.locator(f"#dispatch-row-{card.pk}")
    expect(row.locator(".ts-wrapper")).to_have_count(0)
    row.get_by_label(f"Owner for card #{card.pk}").select_option(str(performer.pk))
    row.get_by_role("button", name="Assign").click()
    page.wait_for_url(f"{live_server.url}/dispatch/")
    card.refresh_from_db()
    assert card.owner == performer
    context.close()
