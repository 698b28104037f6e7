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

    # The time to decision runs on the card (4 h target in sla_config).
    expect(page.locator('#timers article[data-kind="approval"]')).to_contain_text(
        "Time to decision"
    )
    # A forged decision or Done from the performer: refused, nothing changes.
    token = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    for path, form in (("decide/", {"decision": "approve"}), ("status/", {"to": "done"})):
        forged = page.request.post(
            f"{url}{path}",
            form={**form, "version": str(card.__class__.objects.get(pk=card.pk).version)},
            headers={"X-CSRFToken": token, "Referer": url},
        )
        assert forged.status == 403, path
    card.refresh_from_db()
    assert card.status == Status.ON_APPROVAL

    # The manager, in a browser of her own: the card waits in her Approvals queue and the
    # bell says she was asked.
    context = browser.new_context()
    boss = context.new_page()
    boss.goto(f"{live_server.url}/login/")
    boss.get_by_label("Username").fill("maria")
    boss.get_by_label("Password").fill("pw")
    boss.get_by_role("button", name="Log in").click()
    boss.wait_for_url(lambda u: "/login/" not in u)
    expect(boss.get_by_role("link", name="Approvals: 1 waiting")).to_be_visible()
    expect(boss.get_by_role("link", name="Notifications: 1 unread")).to_be_visible()
    boss.get_by_role("link", name="Approvals: 1 waiting").click()
    row = boss.locator(f"#approval-{card.pk}")
    expect(row).to_contain_text("Deal")
    expect(row).to_contain_text("Paula Performer")
    boss.goto(f"{live_server.url}/notifications/")
    expect(boss.locator("#main")).to_contain_text(f"Decision needed: #{card.pk} Deal")
    row_link = f"{live_server.url}/approvals/"
    boss.goto(row_link)
    boss.locator(f"#approval-{card.pk}").get_by_role("link").first.click()
    boss.wait_for_url(url)
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

    # The time to decision of both sendings, in the approver bottleneck report.
    report = browser.new_context().new_page()
    report.goto(f"{live_server.url}/login/")
    report.get_by_label("Username").fill("maria")
    report.get_by_label("Password").fill("pw")
    report.get_by_role("button", name="Log in").click()
    report.wait_for_url(lambda u: "/login/" not in u)
    report.goto(f"{live_server.url}/reports/flow/")
    decisions = report.locator("section", has_text="Time to decision, by approver").last
    expect(decisions).to_contain_text("Maria Manager")
    report.context.close()

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
