"""Approval in a real browser: the performer sends her card to the manager, who rejects it
with a reason; she reads the reason and sends it again; the manager approves; the card is in
progress. The performer never has an Approve button, and Done asks for confirmation."""

import pytest
from playwright.sync_api import expect

from tasks.models import Status, TaskEvent
from tests.factories import make_task

pytestmark = pytest.mark.django_db(transaction=True)


def test_send_reject_resend_approve(
    live_server, log_in, sla_config, performer, manager, dispatcher, request_type, browser
):
    card = make_task(actor=dispatcher, owner=performer, request_type=request_type, title="Deal")
    url = f"{live_server.url}/cards/{card.pk}/"

    page = log_in("paula")
    page.goto(url)
    expect(page.locator("#moves button").first).to_have_text("Take into work")
    page.get_by_role("button", name="Take into work").click()
    expect(page.locator("#card hgroup")).to_contain_text("In progress")
    expect(page.locator("#moves button").first).to_have_text("Done")

    # Done asks first; "Keep open" leaves the card as it was.
    page.get_by_role("button", name="Done", exact=True).click()
    expect(page.locator("#card")).to_contain_text(f"Mark #{card.pk} done?")
    page.get_by_role("button", name="Keep open").click()
    expect(page.locator("#card")).not_to_contain_text(f"Mark #{card.pk} done?")
    card.refresh_from_db()
    assert card.status == Status.IN_PROGRESS

    page.get_by_role("button", name="Send for approval").click()
    page.get_by_label("Approver").select_option(label="Maria Manager")
    page.get_by_role("button", name="Send for approval").click()
    expect(page.locator("#approval-state")).to_contain_text(
        "Waiting for a decision by Maria Manager"
    )
    expect(page.get_by_role("button", name="Approve")).to_have_count(0)
    expect(page.get_by_role("button", name="Done", exact=True)).to_have_count(0)

    # The manager, in a browser of her own.
    context = browser.new_context()
    boss = context.new_page()
    boss.goto(f"{live_server.url}/login/")
    boss.get_by_label("Username").fill("maria")
    boss.get_by_label("Password").fill("pw")
    boss.get_by_role("button", name="Log in").click()
    boss.wait_for_url(lambda u: "/login/" not in u)
    boss.goto(url)
    expect(boss.locator("#moves button").first).to_have_text("Approve")
    boss.get_by_role("button", name="Reject").click()
    boss.get_by_label("Reason").fill("Discount above 20 % needs a second quote")
    boss.get_by_role("button", name="Reject").click()
    expect(boss.locator(".timeline")).to_contain_text(
        "rejected: Discount above 20 % needs a second quote"
    )

    page.goto(url)
    expect(page.locator("#approval-state")).to_contain_text(
        "Rejected by Maria Manager: Discount above 20 % needs a second quote"
    )
    page.get_by_role("button", name="Send for approval").click()
    expect(page.get_by_label("Approver")).to_have_value(str(manager.pk))  # asked before
    page.get_by_role("button", name="Send for approval").click()
    expect(page.locator("#approval-state")).to_contain_text("Waiting for a decision by")
    expect(page.locator("#approval-state")).not_to_contain_text("Rejected")

    boss.goto(url)
    boss.get_by_role("button", name="Approve").click()
    boss.get_by_label("Note (optional)").fill("Second quote attached")
    boss.get_by_role("button", name="Approve").click()
    expect(boss.locator("#card")).to_contain_text("Approved: the card is in progress.")
    context.close()

    page.goto(url)
    expect(page.locator("#card hgroup")).to_contain_text("In progress")
    expect(page.locator(".timeline")).to_contain_text("approved it")
    card.refresh_from_db()
    assert card.status == Status.IN_PROGRESS
    kinds = list(
        card.events.filter(kind__in=["approved", "rejected"]).values_list("kind", flat=True)
    )
    assert kinds == [TaskEvent.Kind.REJECTED, TaskEvent.Kind.APPROVED]

    # Done, confirmed this time.
    page.get_by_role("button", name="Done", exact=True).click()
    page.get_by_role("button", name="Confirm").click()
    expect(page.locator("#card hgroup")).to_contain_text("Done")
    expect(page.locator("#moves button").first).to_have_text("Reopen")


def test_the_card_page_works_without_javascript(
    live_server, sla_config, performer, manager, dispatcher, request_type, browser
):
    card = make_task(actor=dispatcher, owner=performer, request_type=request_type, title="NoJS")
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill("paula")
    page.get_by_label("Password").fill("pw")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(lambda u: "/login/" not in u)
    page.goto(f"{live_server.url}/cards/{card.pk}/")
    page.get_by_role("button", name="Take into work").click()
    expect(page.locator("#card hgroup")).to_contain_text("In progress")
    page.get_by_role("button", name="Send for approval").click()
    page.get_by_label("Approver").select_option(label="Maria Manager")
    page.get_by_role("button", name="Send for approval").click()
    expect(page.locator("#approval-state")).to_contain_text("Waiting for a decision by")
    card.refresh_from_db()
    assert (card.status, card.approver) == (Status.ON_APPROVAL, manager)
    context.close()


def test_my_works_done_asks_first(live_server, log_in, sla_config, performer, dispatcher,
                                  request_type):  # fmt: skip
    card = make_task(actor=dispatcher, owner=performer, request_type=request_type, title="Q")
    page = log_in("paula")
    page.goto(f"{live_server.url}/my-work/")
    work = page.locator(f"#work-{card.pk}")
    work.get_by_role("button", name="Done", exact=True).click()
    expect(work).to_contain_text(f"Mark #{card.pk} done?")
    work.get_by_role("button", name="Keep open").click()
    expect(work).not_to_contain_text("done?")
    card.refresh_from_db()
    assert card.status == Status.ASSIGNED
    work.get_by_role("button", name="Done", exact=True).click()
    work.get_by_role("button", name="Confirm").click()
    expect(work).to_contain_text("Done.")
    card.refresh_from_db()
    assert card.status == Status.DONE
