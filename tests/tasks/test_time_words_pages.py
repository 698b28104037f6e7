"""Every page that shows times says them in tasks.time_words' words (issue 14): a bare time
today and a date on any other day, in the viewer's zone, which the page names ("Times in
Asia/Tokyo"); a finished timer says "met at …" or "missed by …", never what is left; First
response is listed before Resolution; the queue's remaining time ticks in the browser."""

from __future__ import annotations

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from sla.models import SlaTimer, TimerKind
from tasks import actions, time_words
from tasks.models import Status, Task, TaskEvent
from tests.factories import make_task

pytestmark = pytest.mark.django_db
H, M = timedelta(hours=1), timedelta(minutes=1)
ZONE = "Asia/Tokyo"
NOTE = f"Times in {ZONE}"


def said(at) -> str:
    """`at` as a page says it to a viewer in ZONE."""
    return time_words.moment(at, timezone.now(), ZoneInfo(ZONE))


def viewer(user) -> Client:
    client = Client()
    client.force_login(user)
    client.cookies["tz"] = ZONE
    return client


@pytest.fixture
def three_days_ago():
    return timezone.now().replace(second=0, microsecond=0) - 72 * H


@pytest.fixture
def desks(three_days_ago, dispatcher, performer, request_type, default_policy) -> Task:
    """Created three days ago, taken into work 30 minutes later (First response met with
    30m to spare), a next step due in two days: its Resolution (8 h) is long overdue."""
    with time_machine.travel(three_days_ago, tick=False):
        card = make_task(actor=dispatcher, owner=performer, request_type=request_type,
                         title="Desks")  # fmt: skip
    with time_machine.travel(three_days_ago + 30 * M, tick=False):
        actions.change_status(task=card, to=Status.IN_PROGRESS, actor=performer)
    card.refresh_from_db()
    due = timezone.now().replace(second=0, microsecond=0) + 48 * H
    actions.set_next_step(task=card, text="Call back", due=due, actor=performer)
    card.refresh_from_db()
    return card


@pytest.fixture
def chairs(three_days_ago, dispatcher, performer, manager, request_type, default_policy) -> Task:
    """Sent to the manager for approval three days ago (her inbox and approvals)."""
    with time_machine.travel(three_days_ago, tick=False):
        card = make_task(actor=dispatcher, owner=performer, request_type=request_type,
                         title="Chairs")  # fmt: skip
        actions.change_status(task=card, to=Status.IN_PROGRESS, actor=performer)
    with time_machine.travel(three_days_ago + H, tick=False):
        actions.change_status(task=card, to=Status.ON_APPROVAL, actor=performer, approver=manager)
    return card


def test_a_day_other_than_today_carries_its_date_and_today_does_not(three_days_ago):
    assert re.fullmatch(r"\w{3} \d{1,2} \w{3}( \d{4})? \d\d:\d\d", said(three_days_ago))
    assert re.fullmatch(r"\d\d:\d\d", said(timezone.now()))


def test_the_card_page_lists_first_response_first_and_a_finished_timer_says_met_at(
    desks, three_days_ago, performer
):
    page = viewer(performer).get(desks.get_absolute_url()).content.decode()
    assert NOTE in page
    timers = page[page.index('<section id="timers"') : page.index("</section>")]
    response, resolution = re.findall(r'<article class="timer".*?</article>', timers, re.S)
    assert 'data-kind="response"' in response and 'data-kind="resolution"' in resolution
    assert f"met at {said(three_days_ago + 30 * M)}, 30m to spare" in response
    assert not re.search(r"remaining|\bleft\b", response)
    assert "data-countdown" not in response  # a stopped clock does not tick
    assert "overdue by" in resolution and "data-countdown" in resolution
    assert re.search(r"Due <time [^>]+>\w{3} \d{1,2} \w{3} [^<]*\d\d:\d\d JST</time>", resolution)
    assert f"<dd>{said(desks.created_at)}</dd>" in page  # Created
    assert f">{said(desks.next_step_due)}</time>" in page


def test_the_timeline_says_today_bare_and_other_days_dated(desks, performer):
    actions.add_comment(task=desks, text="Called them", actor=performer)
    page = viewer(performer).get(desks.get_absolute_url()).content.decode()
    timeline = page[page.index('<section aria-labelledby="timeline-h">') :]
    assert NOTE in timeline[: timeline.index("<ol")]
    events = TaskEvent.objects.filter(task=desks)
    first, last = events.earliest("at"), events.latest("at")
    assert f">{said(first.at)}</time>" in timeline and said(first.at) != said(last.at)
    assert re.search(rf">{said(last.at)}</time>", timeline)
    assert re.fullmatch(r"\d\d:\d\d", said(last.at))


@pytest.mark.parametrize(
    ("page", "who"),
    [("task_list", "dispatcher"), ("my_work", "performer"), ("at_risk", "manager")],
)
def test_the_lists_say_their_times_in_time_words_in_the_viewers_zone(desks, page, who, request):
    html = viewer(request.getfixturevalue(who)).get(reverse(page)).content.decode()
    assert NOTE in html
    assert not re.search(r"\d+m left", html)  # the old words ("58m left")
    if page in ("task_list", "my_work"):
        assert (
            f"{said(desks.next_step_due)}</" in html or f"(by {said(desks.next_step_due)})" in html
        )
    if page in ("my_work", "at_risk"):
        resolution = SlaTimer.objects.get(task=desks, kind=TimerKind.RESOLUTION)
        assert f"{said(resolution.due_at)}</small>" in html
        assert said(resolution.due_at) != said(timezone.now())


def test_the_queue_rows_tick_first_response_never_as_a_finished_timer(desks, manager):
    html = viewer(manager).get(reverse("at_risk")).content.decode()
    row = html[html.index(f"#{desks.pk} Desks") :]
    row = row[: row.index("</tr>")]
    assert '<td data-label="Timer">Resolution' in row  # the response timer stopped: not listed
    assert 'data-countdown data-stamp="' in row and 'data-running="true"' in row
    assert re.search(r">overdue by \d+h \d\dm</span>", row)


def test_the_dispatch_board_dates_a_card_created_on_another_day(
    three_days_ago, dispatcher, request_type, default_policy
):
    with time_machine.travel(three_days_ago, tick=False):
        card = make_task(actor=dispatcher, request_type=request_type, title="Nobody's")
    html = viewer(dispatcher).get(reverse("dispatch")).content.decode()
    assert NOTE in html
    assert f"· {said(card.created_at)}</small>" in html


def test_approvals_and_the_inbox_date_what_happened_on_another_day(chairs, manager):
    client = viewer(manager)
    approvals = client.get(reverse("approvals")).content.decode()
    assert NOTE in approvals and f"#{chairs.pk} Chairs" in approvals
    deadline = re.search(r'<td data-label="Deadline">(.*?)</td>', approvals, re.S)
    assert deadline
    shown = re.sub(r"<[^>]+>", "", deadline.group(1)).replace("late", "").strip()
    assert shown == "—" or re.fullmatch(r"(\w{3} \d{1,2} \w{3} )?(\d{4} )?\d\d:\d\d", shown)

    inbox = client.get(reverse("notifications")).content.decode()
    assert NOTE in inbox
    asked = TaskEvent.objects.filter(task=chairs).latest("at").at
    assert f">{said(asked)}</time>" in inbox
    assert re.fullmatch(r"\w{3} \d{1,2} \w{3}( \d{4})? \d\d:\d\d", said(asked))


@pytest.mark.parametrize("sort", ["title", "-title", "-priority"])
def test_the_queue_sorted_by_a_column_lists_first_response_before_resolution(
    sort, manager, dispatcher, request_type, default_policy
):
    for title in ("Alpha", "Bravo"):
        make_task(actor=dispatcher, request_type=request_type, title=title)
    html = viewer(manager).get(reverse("at_risk"), {"sort": sort}).content.decode()
    kinds = re.findall(r'<td data-label="Timer">(First response|Resolution)', html)
    assert kinds == ["First response", "Resolution"] * 2
