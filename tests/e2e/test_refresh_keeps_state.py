"""The 30 s refreshes morph the new answer into the page (idiomorph): what the user opened
stays open and the nodes stay the same nodes."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tests.factories import make_task

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_opened_explanation_survives_the_timers_refresh(
    live_server, log_in, page, sla_config, performer, dispatcher, request_type
):
    card = make_task(
        actor=dispatcher,
        owner=performer,
        request_type=request_type,
        title="ACME",
        at=timezone.now() - timedelta(minutes=20),
    )
    page.clock.install()
    log_in("paula")
    page.goto(f"{live_server.url}/cards/{card.pk}/")
    why = page.locator("#timers details").first
    why.get_by_text("Why this deadline?").click()
    expect(why).to_have_attribute("open", "")
    page.evaluate("window.firstTimer = document.querySelector('#timers article')")
    stamp = page.locator("#timers [data-countdown]").first
    before = stamp.get_attribute("data-stamp")
    time.sleep(1.1)  # real time: the refresh is rendered at a later second

    with page.expect_response(
        lambda r: f"/cards/{card.pk}/timers/" in r.url and r.status == 200
    ) as refresh:
        page.clock.fast_forward("00:31")
    assert refresh.value.ok
    expect(stamp).not_to_have_attribute("data-stamp", before or "")  # the refresh is in
    expect(page.locator("#timers")).not_to_have_class(re.compile("htmx-(swapping|settling)"))
    expect(why).to_have_attribute("open", "")
    expect(why.locator("ul")).to_be_visible()
    assert page.evaluate("document.querySelector('#timers article') === window.firstTimer")


def test_the_queue_refresh_keeps_the_rows_nodes(
    live_server, log_in, page, sla_config, manager, performer, dispatcher, request_type
):
    make_task(
        actor=dispatcher,
        owner=performer,
        request_type=request_type,
        title="Late one",
        at=timezone.now() - timedelta(hours=2),
    )
    page.clock.install()
    log_in("maria")
    row = page.locator("#queue tbody tr[data-band]").first
    expect(row).to_contain_text("Late one")
    page.evaluate("window.firstRow = document.querySelector('#queue tbody tr')")
    page.evaluate(
        "document.body.addEventListener('htmx:afterSwap', () => { window.swapped = true; })"
    )
    with page.expect_response(lambda r: "/at-risk/" in r.url and r.status == 200):
        page.clock.fast_forward("00:31")
    _wait_until(page, "window.swapped === true")  # the refresh (a cached queue) is in
    expect(row).to_contain_text("Late one")
    assert page.evaluate("document.querySelector('#queue tbody tr') === window.firstRow")


def _wait_until(page, condition: str) -> None:
    """Polled from here: the app's CSP forbids the eval that page.wait_for_function uses."""
    for _ in range(100):
        if page.evaluate(condition):
            return
        time.sleep(0.05)
    raise AssertionError(f"never true: {condition}")
