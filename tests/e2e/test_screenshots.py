"""The three main screens and the card page over the demo company (seed_demo, 150 cards),
each checked for realistic content and photographed at 1280x900 (the queue also at
phone width, 390x844).

Screenshots go to a temporary folder; to refresh the ones in docs/screenshots/ run
    SCREENSHOTS=docs/screenshots .venv/bin/pytest tests/e2e/test_screenshots.py -p no:cacheprovider
"""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db.models import Count
from playwright.sync_api import expect

from tasks.demo import DEMO_PASSWORD
from tasks.models import Task

pytestmark = pytest.mark.django_db(transaction=True)

VIEWPORT = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def demo_company(transactional_db):
    call_command("seed_demo", "--cards", "150", "--seed", "7", stdout=io.StringIO())


@pytest.fixture
def shots(tmp_path) -> Path:
    folder = Path(os.environ.get("SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_the_main_screens_show_the_demo_company_and_are_photographed(
    live_server, page, log_in, demo_company, shots
):
    page.set_viewport_size(VIEWPORT)

    log_in("manager", DEMO_PASSWORD)
    expect(page).to_have_url(re.compile(r"/at-risk/$"))
    expect(page.locator("#queue tbody tr[data-band]").first).to_be_visible()
    assert page.locator("#queue tbody tr[data-band]").count() >= 10
    expect(page.locator("#queue .counts")).to_contain_text("breached")
    page.screenshot(path=shots / "at_risk.png")
    # The same queue on a phone: rows as cards, the nav and filters folded.
    page.set_viewport_size(PHONE)
    page.reload()
    expect(page.locator("#queue tbody tr[data-band]").first).to_be_visible()
    page.screenshot(path=shots / "at_risk_phone.png")
    page.set_viewport_size(VIEWPORT)

    _log_out(page)
    log_in("dispatcher", DEMO_PASSWORD)
    expect(page).to_have_url(re.compile(r"/dispatch/$"))
    expect(page.get_by_role("heading", name="Dispatch board")).to_be_visible()
    assert page.locator("tr[id^=dispatch-row-]").count() >= 1
    page.screenshot(path=shots / "dispatch.png")

    _log_out(page)
    log_in("performer", DEMO_PASSWORD)
    expect(page).to_have_url(re.compile(r"/my-work/$"))
    assert page.locator("article.work-card").count() >= 3
    page.screenshot(path=shots / "my_work.png")

    # The card page: the performer's open card with the richest history.
    card = (
        Task.objects.open()
        .filter(owner__username="performer", timers__isnull=False)
        .annotate(n=Count("events", distinct=True))
        .order_by("-n", "pk")
        .first()
    )
    assert card is not None
    page.goto(f"{live_server.url}{card.get_absolute_url()}")
    expect(page.locator("#timers article.timer").first).to_be_visible()
    expect(page.locator(".timeline li").first).to_be_visible()
    page.screenshot(path=shots / "card.png")

    for name in ("at_risk", "at_risk_phone", "dispatch", "my_work", "card"):
        assert (shots / f"{name}.png").stat().st_size > 10_000


def _log_out(page) -> None:
    page.context.clear_cookies()
