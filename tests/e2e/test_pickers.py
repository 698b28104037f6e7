"""The type-ahead pickers in Chromium (static/app.js, Tom Select, tasks.pickers): typing
searches the server, the choice is posted, the owner changes; another team's people are not
offered; the same select works as a plain one without JavaScript."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.factories import make_task

pytestmark = pytest.mark.django_db(transaction=True)


def open_picker(page, name: str):
    """Click a picker as a person does (on the control, which may show a choice already) and
    wait until its search box has the focus and its list is open."""
    picker = page.get_by_role("combobox", name=name)
    page.locator(".ts-control", has=picker).click()
    expect(picker).to_be_focused()
    expect(picker).to_have_attribute("aria-expanded", "true")
    return picker


def search(page, picker: str, text: str) -> None:
    """Type `text` in the open picker and wait for the server's answer (a person reads the
    list before choosing; Tom Select refreshes it a moment after the last key)."""
    with page.expect_response(lambda r: f"/pick/{picker}/" in r.url and "q=" in r.url):
        page.keyboard.type(text)


def choose(page, name: str, option: str) -> None:
    """Click `option` in the open picker `name`, and wait until the picker has taken it and
    closed."""
    page.locator(".ts-dropdown:visible .option", has_text=option).click()
    picker = page.get_by_role("combobox", name=name)
    expect(picker).to_have_attribute("aria-expanded", "false")
    expect(page.locator(".ts-wrapper", has=picker).locator(".item")).to_contain_text(option)


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
    open_picker(page, "Owner")  # it shows Paula, the owner: a click opens the search
    search(page, "people", "pete")
    choose(page, "Owner", "Pete Performer")
    # Performers: a picker of many (anyone who may work cards), the list stays open.
    open_picker(page, "Performers")
    search(page, "people", "dan")
    page.locator(".ts-dropdown:visible .option", has_text="Dan Dispatcher").click()
    page.keyboard.press("Escape")
    performers = page.locator(".ts-wrapper", has=page.get_by_role("combobox", name="Performers"))
    expect(performers.locator(".item")).to_have_text(["Dan Dispatcher"])
    page.get_by_role("button", name="Save people").click()

    expect(page.locator("#card")).to_contain_text("People updated.")
    card.refresh_from_db()
    assert card.owner == other_performer
    assert list(card.performers.all()) == [dispatcher]


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


def test_a_new_card_finds_its_related_object_and_type_by_typing(
    live_server, log_in, sla_config, dispatcher, request_type
):
    from tasks.models import RelatedObject, Task
    from tests.factories import RelatedObjectFactory, RequestTypeFactory

    RequestTypeFactory(name="Refund")
    for n in range(40):
        RelatedObjectFactory(kind=RelatedObject.Kind.CLIENT, name=f"Client {n:02}")
    acme = RelatedObjectFactory(kind=RelatedObject.Kind.CLIENT, name="Acme", external_ref="C-17")
    page = log_in("dan")
    page.goto(f"{live_server.url}/cards/new/")
    page.get_by_label("Title").fill("Typed")
    open_picker(page, "Request type")
    search(page, "request-types", "sales")
    choose(page, "Request type", "Sales lead")
    open_picker(page, "Related object")
    with page.expect_response(lambda r: "/pick/related-objects/" in r.url and "q=C-1" in r.url):
        page.keyboard.type("C-1")
    choose(page, "Related object", "Client: Acme (C-17)")
    page.get_by_role("button", name="Create card").click()

    expect(page.locator("h1")).to_contain_text("Typed")
    card = Task.objects.get(title="Typed")
    assert (card.request_type, card.related_object) == (request_type, acme)
