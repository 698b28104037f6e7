"""Every main page at phone width (390×844) over the demo company: nothing scrolls sideways,
the nav folds into a Menu that opens without JavaScript, table rows become cards and the
dispatch board's Assign controls can be reached."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from tasks.demo import DEMO_PASSWORD
from tasks.models import Task

pytestmark = pytest.mark.django_db(transaction=True)

PHONE = {"width": 390, "height": 844}
REPORTS = ["overview", "flow", "misses", "causes", "workload", "automation"]


@pytest.fixture
def demo_company(transactional_db):
    call_command("seed_demo", "--cards", "60", "--seed", "7", stdout=io.StringIO())


def _no_sideways_scroll(page, path: str) -> None:
    page.goto(path)
    page.wait_for_load_state("load")
    width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"{path} scrolls sideways: {width[0]} px wide at {width[1]}"


def _log_in(page, live_server, username: str) -> None:
    page.context.clear_cookies()
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(lambda url: "/login/" not in url)


def test_no_page_scrolls_sideways_at_phone_width(live_server, page, demo_company):
    page.set_viewport_size(PHONE)
    url = live_server.url
    card = Task.objects.open().filter(timers__isnull=False).order_by("pk").first()
    assert card is not None

    _log_in(page, live_server, "manager")
    for path in ["/at-risk/", "/cards/?open=true", f"/cards/{card.pk}/", "/reports/calibration/"]:
        _no_sideways_scroll(page, url + path)
    for slug in REPORTS:
        _no_sideways_scroll(page, f"{url}/reports/{slug}/")
    # The queue's rows are cards: each cell names its column.
    row = page.goto(url + "/at-risk/") and page.locator("#queue tbody tr[data-band]").first
    expect(row.locator("td[data-label=Owner]")).to_be_visible()
    assert row.evaluate("r => getComputedStyle(r).display") == "block"

    _log_in(page, live_server, "dispatcher")
    _no_sideways_scroll(page, url + "/dispatch/")
    assign = page.get_by_role("button", name="Assign").first
    assign.scroll_into_view_if_needed()
    box = assign.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]

    _log_in(page, live_server, "performer")
    _no_sideways_scroll(page, url + "/my-work/")
    _no_sideways_scroll(page, url + "/cards/?open=true")


def test_the_nav_folds_into_a_menu_that_opens_without_javascript(
    live_server, browser, demo_company
):
    context = browser.new_context(java_script_enabled=False, viewport=PHONE)
    page = context.new_page()
    _log_in(page, live_server, "manager")
    reports = page.get_by_role("link", name="Reports", exact=True)
    expect(reports).to_be_hidden()
    page.get_by_text("Menu", exact=True).click()
    expect(reports).to_be_visible()
    # The filters fold too: the queue's first row is on the first screen.
    expect(page.locator("form.filters")).to_be_hidden()
    page.get_by_text("Filters", exact=True).click()
    expect(page.locator("form.filters")).to_be_visible()
    context.close()


def test_the_nav_is_open_on_a_wide_screen(live_server, page, demo_company):
    page.set_viewport_size({"width": 1366, "height": 900})
    _log_in(page, live_server, "manager")
    expect(page.get_by_role("link", name="Reports", exact=True)).to_be_visible()
    expect(page.locator("form.filters")).to_be_visible()
