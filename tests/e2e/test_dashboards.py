"""The dashboards in a real browser: the at-risk queue (filters, live refresh), the dispatch
board (inline assignment, keyboard), My work (waiting with a reason) and who may assign."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from sla.jobs import scan_due_timers
from tasks.models import Priority, Status, Task
from tests.factories import make_task

pytestmark = pytest.mark.django_db(transaction=True)


def card_made_ago(ago: timedelta, **kwargs) -> Task:
    """A card created `ago` in the past, so its timers on the 24/7 calendar have run that long
    (response target 1 h, resolution 8 h: after 2 h the response timer is breached)."""
    return make_task(at=timezone.now() - ago, **kwargs)


def test_a_manager_filters_the_at_risk_queue_and_it_refreshes_itself_keeping_the_filter(
    live_server, log_in, page, sla_config, manager, dispatcher, performer, other_performer,
    request_type,
):  # fmt: skip
    made = {"actor": dispatcher, "request_type": request_type}
    mine = card_made_ago(timedelta(hours=2), title="Paula breached", owner=performer, **made)
    card_made_ago(timedelta(minutes=10), title="Pete running", owner=other_performer, **made)
    # Fake timers from the first page on: `every 30s` is then fired by advancing the clock.
    page.clock.install()
    log_in("maria")
    expect(page).to_have_url(re.compile(r"/at-risk/$"))  # a manager's landing page
    queue = page.locator("#queue")
    expect(queue).to_contain_text("Paula breached")
    expect(queue).to_contain_text("Pete running")

    page.get_by_label("Owner").select_option(str(performer.pk))
    expect(queue).not_to_contain_text("Pete running")
    expect(queue).to_contain_text("Paula breached")
    expect(page).to_have_url(re.compile(rf"[?&]owner={performer.pk}\b"))
    expect(queue.locator(f'tr:has-text("#{mine.pk} ")').first).to_have_attribute("data-band", "0")

    # Meanwhile two more cards breach; only Paula's belongs in the filtered queue.
    late = card_made_ago(timedelta(hours=3), title="Paula late too", owner=performer, **made)
    card_made_ago(timedelta(hours=3), title="Pete late too", owner=other_performer, **made)
    page.evaluate("window.notReloaded = true")
    with page.expect_response(
        lambda r: "/at-risk/" in r.url and r.request.headers.get("hx-request") == "true"
    ) as refresh:
        page.clock.fast_forward("00:31")
    assert f"owner={performer.pk}" in refresh.value.url
    expect(queue).to_contain_text(f"#{late.pk} Paula late too")
    expect(queue).not_to_contain_text("Pete late too")
    expect(queue).not_to_contain_text("Pete running")
    expect(page.get_by_label("Owner")).to_have_value(str(performer.pk))
    expect(page).to_have_url(re.compile(rf"[?&]owner={performer.pk}\b"))
    assert page.evaluate("window.notReloaded") is True  # swapped in place, not reloaded


def test_a_manager_narrows_the_queue_by_priority(
    live_server, log_in, sla_config, manager, dispatcher, performer, request_type
):
    made = {"actor": dispatcher, "request_type": request_type, "owner": performer}
    card_made_ago(timedelta(hours=2), title="Critical one", priority=Priority.CRITICAL, **made)
    card_made_ago(timedelta(hours=2), title="Low one", priority=Priority.LOW, **made)
    page = log_in("maria")
    queue = page.locator("#queue")
    expect(queue).to_contain_text("Low one")

    page.get_by_label("Priority").select_option(Priority.CRITICAL.value)
    expect(queue).not_to_contain_text("Low one")
    expect(queue).to_contain_text("Critical one")
    expect(page).to_have_url(re.compile(r"[?&]priority=critical\b"))
    # Two timers per card (response and resolution): both counted in the header.
    expect(queue.locator(".counts")).to_contain_text("1 breached")


def test_a_dispatcher_assigns_an_unowned_card_and_the_row_updates_in_place(
    live_server, log_in, sla_config, dispatcher, performer, request_type
):
    card = card_made_ago(
        timedelta(minutes=20), title="Nobody's yet", actor=dispatcher, request_type=request_type
    )
    page = log_in("dan")
    expect(page).to_have_url(re.compile(r"/dispatch/$"))  # a dispatcher's landing page
    row = page.locator(f"#dispatch-row-{card.pk}")
    expect(row).to_contain_text("unassigned")
    page.evaluate("window.notReloaded = true")

    # The owner select is a type-ahead picker (static/app.js, Tom Select): search, choose.
    row.get_by_role("combobox", name=f"Owner for card #{card.pk}").click()
    page.keyboard.type("Paula")
    page.locator(".ts-dropdown:visible .option", has_text="Paula Performer").click()
    row.get_by_role("button", name="Assign").click()

    expect(row).to_contain_text("Assigned to Paula Performer")
    expect(row).not_to_contain_text("unassigned")
    assert page.evaluate("window.notReloaded") is True
    card.refresh_from_db()
    assert card.owner == performer


def test_the_dispatch_assign_form_works_with_the_keyboard_alone(
    live_server, log_in, sla_config, dispatcher, performer, request_type
):
    card = card_made_ago(
        timedelta(minutes=5), title="By keyboard", actor=dispatcher, request_type=request_type
    )
    page = log_in("dan")
    # The owner select is a type-ahead picker (static/app.js, Tom Select): a combobox that
    # searches as one types; arrows and Enter choose, the select behind it takes the value.
    owner_picker = page.get_by_role("combobox", name=f"Owner for card #{card.pk}")
    for _ in range(60):  # Tab through the page until the owner picker has the focus
        page.keyboard.press("Tab")
        if owner_picker.evaluate("el => el === document.activeElement"):
            break
    expect(owner_picker).to_be_focused()
    page.keyboard.type("Paula")
    expect(page.locator(".ts-dropdown:visible .option.active")).to_contain_text("Paula Performer")
    page.keyboard.press("Enter")
    owner_select = page.locator(f"#dispatch-row-{card.pk} select[name=owner]")
    expect(owner_select).to_have_value(str(performer.pk))
    page.keyboard.press("Tab")
    expect(page.locator(f"#dispatch-row-{card.pk}").get_by_role("button")).to_be_focused()
    page.keyboard.press("Enter")

    expect(page.locator(f"#dispatch-row-{card.pk}")).to_contain_text("Assigned to Paula Performer")
    card.refresh_from_db()
    assert card.owner == performer


def test_a_performer_marks_a_card_waiting_from_my_work_and_its_timer_is_paused(
    live_server, log_in, sla_config, dispatcher, performer, request_type
):
    card = card_made_ago(
        timedelta(hours=1, minutes=30),
        title="Quote for ACME",
        actor=dispatcher,
        request_type=request_type,
        owner=performer,
    )
    scan_due_timers()  # the minutely job marks the response timer breached (due 30 min ago)
    page = log_in("paula")
    expect(page).to_have_url(re.compile(r"/my-work/$"))  # a performer's landing page
    work = page.locator(f"#work-{card.pk}")
    expect(work).to_contain_text("Breached")

    work.get_by_label(f"Waiting for (card #{card.pk})").select_option(label="Waiting for customer")
    work.get_by_role("button", name="Mark waiting").click()
    expect(work).to_contain_text("Waiting for customer")
    expect(work.get_by_role("button", name="Mark waiting")).to_have_count(0)
    card.refresh_from_db()
    assert card.status == Status.WAITING

    work.get_by_role("link", name=f"#{card.pk} Quote for ACME").click()
    resolution = page.locator('#timers article[data-kind="resolution"]')
    expect(resolution).to_have_attribute("data-state", "paused")
    expect(resolution).to_contain_text("Paused")
    expect(page.locator("#card")).to_contain_text("blocked: Waiting for customer")


def test_a_performer_can_neither_open_the_dispatch_board_nor_assign_through_its_endpoint(
    live_server, log_in, sla_config, dispatcher, performer, request_type
):
    card = card_made_ago(
        timedelta(minutes=5), title="Not yours", actor=dispatcher, request_type=request_type
    )
    page = log_in("paula")

    response = page.goto(f"{live_server.url}/dispatch/")
    assert response.status == 403
    expect(page.get_by_role("button", name="Assign")).to_have_count(0)

    # A well-formed request with a valid CSRF token: refused by permission, not by CSRF.
    page.goto(f"{live_server.url}/my-work/")
    token = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    refused = page.request.post(
        f"{live_server.url}/dispatch/{card.pk}/assign/",
        form={"owner": str(performer.pk), "version": str(card.version)},
        headers={"X-CSRFToken": token, "HX-Request": "true", "Referer": live_server.url},
    )
    assert refused.status == 403
    assert "Only dispatchers and managers" in refused.text()
    card.refresh_from_db()
    assert card.owner is None
