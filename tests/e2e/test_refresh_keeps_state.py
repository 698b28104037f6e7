"""The 30 s refreshes morph the new answer into the page (idiomorph): what the user opened
stays open and the nodes stay the same nodes."""

from __future__ import annotations

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

    with page.expect_response(
        lambda r: f"/cards/{card.pk}/timers/" in r.url and r.status == 200
    ) as refresh:
        page.clock.fast_forward("00:31")
    assert refresh.value.ok
    page.wait_for_function("!document.querySelector('#timers').classList.contains('htmx-settling')")
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
    with page.expect_response(lambda r: "/at-risk/" in r.url and r.status == 200):
        page.clock.fast_forward("00:31")
    page.wait_for_function("!document.querySelector('#queue').classList.contains('htmx-settling')")
    expect(row).to_contain_text("Late one")
    assert page.evaluate("document.querySelector('#queue tbody tr') === window.firstRow")
