"""Timers count down in the browser between refreshes, in business time: while the calendar
is open the remaining time ticks; while it is closed, or the card waits, it stands still and
says until when (tasks.templatetags countdown_for, static/app.js, sla.engine.tick) — on the
card page and on the at-risk queue's rows alike."""

from __future__ import annotations

import re
from datetime import time, timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from sla.models import BusinessCalendar, WorkingInterval
from tasks import actions
from tasks.models import BlockingReason, Status
from tests.factories import RequestTypeFactory, make_task, sla_policy

pytestmark = pytest.mark.django_db(transaction=True)


WHERE = ["card page", "queue row"]


def _countdown(page, live_server, where: str, card):
    """The Resolution timer's countdown of `card` on its page or on its row of the queue."""
    if where == "card page":
        page.goto(f"{live_server.url}/cards/{card.pk}/")
        return page.locator("#timers [data-countdown]").last  # Resolution, shown after response
    page.goto(f"{live_server.url}/at-risk/")
    rows = page.locator("#queue tbody tr").filter(has_text=f"#{card.pk} {card.title}")
    return rows.filter(has_text="Resolution").locator("[data-countdown]")


def _left_after(timer, page, seconds: int) -> tuple[int, int, str]:
    expect(timer).to_have_attribute("data-left-now", re.compile(r"^-?\d+$"))
    before = int(timer.get_attribute("data-left-now") or "0")
    page.clock.fast_forward(seconds * 1000)
    page.clock.run_for(1100)
    after = int(timer.get_attribute("data-left-now") or "0")
    return before, after, timer.inner_text()


def _viewer(log_in, where: str) -> str:
    """The card's owner reads her card; the team's manager reads the queue."""
    return log_in("paula" if where == "card page" else "maria")


@pytest.mark.parametrize("where", WHERE)
def test_the_countdown_ticks_while_the_calendar_is_open(
    live_server, log_in, page, sla_config, performer, dispatcher, manager, request_type, where
):
    card = make_task(actor=dispatcher, owner=performer, request_type=request_type, title="Open")
    page.clock.install()
    _viewer(log_in, where)
    before, after, text = _left_after(_countdown(page, live_server, where, card), page, 20)
    assert 19 <= before - after <= 22
    assert text.endswith("remaining") and "paused" not in text


@pytest.mark.parametrize("where", WHERE)
def test_the_countdown_stands_still_while_the_calendar_is_closed(
    live_server, log_in, page, sla_config, performer, dispatcher, manager, team, where
):
    # Open one hour a week, three days from now: closed for the whole test.
    calendar = BusinessCalendar.objects.create(name="Rarely open", timezone="UTC")
    day = (timezone.now() + timedelta(days=3)).weekday()
    WorkingInterval.objects.create(calendar=calendar, weekday=day, start=time(9), end=time(10))
    desk = RequestTypeFactory(name="Closed desk", default_team=team)
    sla_policy("Rare", calendar, timedelta(hours=1), timedelta(hours=8), request_type=desk, order=1)
    card = make_task(actor=dispatcher, owner=performer, request_type=desk, title="Closed")
    page.clock.install()
    _viewer(log_in, where)
    before, after, text = _left_after(_countdown(page, live_server, where, card), page, 20)
    assert before == after == 8 * 3600
    # In the browser's zone: a day that is not today carries its date.
    assert re.fullmatch(r"8h 00m remaining · paused until \w{3} \d{1,2} \w{3} \d\d:00", text)


@pytest.mark.parametrize("where", WHERE)
def test_the_countdown_stands_still_while_the_card_waits(
    live_server, log_in, page, sla_config, performer, dispatcher, manager, request_type, where
):
    card = make_task(actor=dispatcher, owner=performer, request_type=request_type, title="Wait")
    actions.change_status(task=card, to=Status.IN_PROGRESS, actor=performer)
    reason = BlockingReason.objects.get(name="Waiting for customer")
    actions.change_status(task=card, to=Status.WAITING, actor=performer, blocking_reason=reason)
    page.clock.install()
    _viewer(log_in, where)
    before, after, text = _left_after(_countdown(page, live_server, where, card), page, 20)
    assert before == after
    assert text.endswith("paused while the card waits")
