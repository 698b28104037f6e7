"""The calibration page at a laptop's 1,366 px: the table fits without scrolling sideways,
and "Set on …" asks (values before → after), applies, and undoes, in a real Chromium."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from reports import rollup
from reports.models import CalibrationApply
from tasks.demo import DEMO_PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)

LAPTOP = {"width": 1366, "height": 768}


@pytest.fixture
def demo_history(transactional_db):
    call_command("seed_demo", "--cards", "150", "--seed", "7", stdout=io.StringIO())
    rollup.refresh()


def test_the_calibration_table_fits_1366_px_and_set_on_asks_applies_and_undoes(
    live_server, page, log_in, demo_history
):
    page.set_viewport_size(LAPTOP)
    log_in("manager", DEMO_PASSWORD)
    page.goto(f"{live_server.url}/reports/calibration/?source=history")
    table = page.locator("table.calibration")
    expect(table).to_be_visible()
    assert table.locator("tbody tr").count() >= 3
    # Nothing wider than the window: no horizontal scroll of the page, the table inside it.
    widths = page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth,"
        " document.querySelector('table.calibration').getBoundingClientRect().right]"
    )
    scroll_width, client_width, table_right = widths
    assert scroll_width <= client_width, widths
    assert table_right <= client_width, widths

    button = table.get_by_role("button", name="Set on").first
    button.click()
    expect(page.get_by_role("heading", name="Set the proposal on")).to_be_visible()
    expect(page.locator("table.calibration-change")).to_contain_text("After")
    thin = page.get_by_label("I know it comes from only")
    if thin.count():  # the demo's proposals may be thin: then the extra tick is needed
        thin.check()
    page.get_by_role("button", name="Set ").click()
    expect(page.locator(".flash").first).to_contain_text("Applied")
    record = CalibrationApply.objects.get()
    assert record.applied_by.username == "manager"

    page.locator("table.calibration-applies").get_by_role("button", name="Undo").click()
    expect(page.locator(".flash").first).to_contain_text("Undone")
    record.refresh_from_db()
    assert record.undone_at is not None
    expect(page.locator("table.calibration-applies")).to_contain_text("undone by")
