"""The nav's bell follows the inbox: "Mark all read" empties its count at once (it used to
keep showing the old number until the next poll)."""

import pytest
from playwright.sync_api import expect

from tasks import actions
from tasks.models import Status
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
