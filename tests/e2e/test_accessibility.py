"""axe-core on every main page, for the role that sees it (demo company): no serious or
critical violation. And the queue is dense enough: at least 12 rows on a 1366×900 screen."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tasks.models import Task
from tests.e2e.axe import serious_violations
from tests.e2e.test_phone_layout import _log_in, demo_company  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db(transaction=True)

PAGES = {
    "manager": [
        "/at-risk/", "/cards/?open=true", "/cards/{card}/", "/reports/overview/",
        "/reports/workload/", "/reports/calibration/", "/approvals/", "/notifications/",
        "/search/?q=support", "/views/", "/profile/",
    ],
    "dispatcher": ["/dispatch/"],
    "performer": ["/my-work/", "/cards/new/"],
}  # fmt: skip


def test_every_main_page_has_no_serious_accessibility_violation(
    live_server,
    page,
    demo_company,  # noqa: F811
):
    page.set_viewport_size({"width": 1366, "height": 900})
    card = Task.objects.open().filter(timers__isnull=False).order_by("pk").first()
    assert card is not None
    found = {}
    for user, paths in PAGES.items():
        _log_in(page, live_server, user)
        for path in paths:
            response = page.goto(live_server.url + path.format(card=card.pk))
            assert response is not None and response.ok, path
            page.wait_for_load_state("load")
            if problems := serious_violations(page):
                found[path] = problems
    assert found == {}


def test_the_queue_shows_at_least_twelve_rows_at_1366_by_900(
    live_server,
    page,
    demo_company,  # noqa: F811
):
    page.set_viewport_size({"width": 1366, "height": 900})
    _log_in(page, live_server, "manager")
    page.goto(live_server.url + "/at-risk/?teams=all")
    rows = page.locator("#queue tbody tr[data-band]")
    expect(rows.first).to_be_visible()
    assert rows.count() >= 12
    visible = page.evaluate(
        """() => [...document.querySelectorAll('#queue tbody tr[data-band]')]
            .filter(r => r.getBoundingClientRect().bottom <= window.innerHeight).length"""
    )
    assert visible >= 12, f"{visible} queue rows fit on the first screen"
    width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"the queue scrolls sideways: {width[0]} px wide at {width[1]}"
