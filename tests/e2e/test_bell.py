"""The nav's bell follows the inbox: "Mark all read" empties its count at once (it used to
keep showing the old number until the next poll). Clicking it opens a panel of the latest
unread notices by card (loaded by htmx), where one card's notices are marked read."""

import pytest
from playwright.sync_api import expect

from tasks import actions
from tasks.models import Status
from tests.e2e.axe import serious_violations
from tests.factories import make_task

pytestmark = pytest.mark.django_db(transaction=True)


def test_mark_all_read_empties_the_bell(
    live_server, log_in, sla_config, performer, manager, dispatcher, request_type
):
    for title in ("Discount", "Contract"):
        card = make_task(actor=dispatcher, owner=performer, request_type=request_type, title=title)
        actions.change_status(task=card, to=Status.IN_PROGRESS, actor=performer)
        actions.change_status(task=card, to=Status.ON_APPROVAL, actor=performer, approver=manager)
    page = log_in("maria")
    page.goto(f"{live_server.url}/notifications/")
    expect(page.get_by_role("link", name="Notifications: 2 unread")).to_be_visible()
    page.get_by_role("button", name="Mark all read").click()
    expect(page.get_by_role("link", name="Notifications: 0 unread")).to_be_visible()
    page.reload()
    expect(page.get_by_role("link", name="Notifications: 0 unread")).to_be_visible()


def _two_decisions(performer, manager, dispatcher, request_type):
    cards = []
    for title in ("Discount", "Contract"):
        card = make_task(actor=dispatcher, owner=performer, request_type=request_type, title=title)
        actions.change_status(task=card, to=Status.IN_PROGRESS, actor=performer)
        actions.change_status(task=card, to=Status.ON_APPROVAL, actor=performer, approver=manager)
        cards.append(card)
    return cards


def test_the_bell_opens_a_panel_where_a_card_is_marked_read(
    live_server, log_in, sla_config, performer, manager, dispatcher, request_type
):
    discount, contract = _two_decisions(performer, manager, dispatcher, request_type)
    page = log_in("maria")
    page.goto(f"{live_server.url}/cards/")
    bell = page.get_by_role("link", name="Notifications: 2 unread")
    expect(bell).to_have_attribute("aria-expanded", "false")
    panel = page.get_by_role("region", name="Latest unread notifications")
    expect(panel).to_be_hidden()

    bell.focus()
    page.keyboard.press("Enter")  # the keyboard opens it as a click does

    expect(panel).to_be_visible()
    expect(bell).to_have_attribute("aria-expanded", "true")
    expect(panel.get_by_role("link", name=f"#{contract.pk} Contract")).to_be_visible()
    expect(panel.get_by_role("link", name=f"#{discount.pk} Discount")).to_be_visible()
    assert page.url == f"{live_server.url}/cards/"  # the link was not followed
    assert serious_violations(page) == []  # axe-core, with the panel open

    panel.get_by_role("button", name=f"Mark read: #{discount.pk} Discount").click()

    expect(panel.get_by_role("link", name=f"#{discount.pk} Discount")).to_have_count(0)
    expect(panel.get_by_role("link", name=f"#{contract.pk} Contract")).to_be_visible()
    bell = page.get_by_role("link", name="Notifications: 1 unread")
    expect(bell).to_be_visible()
    expect(bell).to_have_attribute("aria-expanded", "true")  # still open after the swap

    page.keyboard.press("Escape")
    expect(panel).to_be_hidden()
    expect(bell).to_have_attribute("aria-expanded", "false")

    page.get_by_role("link", name="Notifications: 1 unread").click()
    panel.get_by_role("link", name="All notifications").click()
    page.wait_for_url(f"{live_server.url}/notifications/")
    expect(page.get_by_role("button", name=f"Mark read: #{contract.pk} Contract")).to_be_visible()
    expect(page.get_by_role("button", name=f"Mark read: #{discount.pk} Discount")).to_have_count(0)


def test_the_panel_fits_a_phone(
    live_server, log_in, sla_config, performer, manager, dispatcher, request_type
):
    _two_decisions(performer, manager, dispatcher, request_type)
    page = log_in("maria")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server.url}/cards/")
    page.get_by_text("Menu").click()
    page.get_by_role("link", name="Notifications: 2 unread").click()
    panel = page.get_by_role("region", name="Latest unread notifications")
    expect(panel.get_by_role("link", name="All notifications")).to_be_visible()
    box = panel.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


def test_without_javascript_the_bell_is_a_link_to_the_inbox(
    live_server, browser, sla_config, performer, manager, dispatcher, request_type
):
    _two_decisions(performer, manager, dispatcher, request_type)
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill("maria")
    page.get_by_label("Password").fill("pw")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(lambda url: "/login/" not in url)

    page.get_by_role("link", name="Notifications: 2 unread").click()

    page.wait_for_url(f"{live_server.url}/notifications/")
    page.get_by_role("button", name="Mark read: #").first.click()  # a plain POST, then back
    page.wait_for_url(f"{live_server.url}/notifications/")
    expect(page.get_by_role("link", name="Notifications: 1 unread")).to_be_visible()
    context.close()
