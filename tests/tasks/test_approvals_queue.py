"""The approver's queue at /approvals/ (tasks.boards.approvals) and the nav's Approvals link:
who may see it, which cards and in which order, what each row says, its query count."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html import unescape

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from sla import engine
from sla.models import BusinessCalendar, SlaPolicy, SlaTimer, TimerKind, TimerState
from tasks import actions
from tasks.models import ApprovalStep, Status
from tests.factories import TeamFactory, make_task
from tests.tasks.bad_input import client_for

pytestmark = pytest.mark.django_db
H = timedelta(hours=1)
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday


def on_approval(title, *, performer, approver, request_type, at, dispatcher):
    with time_machine.travel(at, tick=False):
        task = make_task(actor=dispatcher, owner=performer, request_type=request_type, title=title)
        actions.change_status(task=task, to=Status.IN_PROGRESS, actor=performer)
        return actions.change_status(
            task=task, to=Status.ON_APPROVAL, actor=performer, approver=approver
        )


def row_titles(response) -> list[str]:
    body = response.content.decode()
    found = re.findall(
        r'<tr id="approval-\d+">\s*<td data-label="Card"><a href="[^"]+">#\d+ ([^<]+)</a>', body
    )
    return [unescape(title) for title in found]


def approval_timer(task, *, consumed, running_since, due_at, calendar, started_at=None) -> SlaTimer:
    """The card's open time-to-decision timer with known figures (created if the SLA side
    did not start one)."""
    policy = SlaPolicy.objects.get_or_create(name="Approvals", defaults={"calendar": calendar})[0]
    timer, _ = SlaTimer.objects.get_or_create(
        task=task,
        kind=TimerKind.APPROVAL,
        cycle=task.approval_round,
        defaults={
            "policy": policy,
            "calendar": calendar,
            "target": 8 * H,
            "started_at": running_since,
            "state": TimerState.RUNNING,
        },
    )
    SlaTimer.objects.filter(pk=timer.pk).update(
        calendar=calendar,
        consumed=consumed,
        running_since=running_since,
        started_at=started_at or running_since - consumed,
        due_at=due_at,
        stopped_at=None,
        state=TimerState.RUNNING,
        target_seconds=8 * 3600,
        due_clock=engine.position(calendar.work_calendar(), due_at),
    )
    return timer


def test_the_queue_lists_my_decisions_oldest_first_with_the_time_waiting_in_business_hours(
    manager, lena, performer, dispatcher, request_type
):
    ApprovalStep.objects.create(request_type=request_type, position=1, name="Budget")
    ApprovalStep.objects.create(request_type=request_type, position=2, name="Legal", approver=lena)
    young = on_approval(
        "Young",
        performer=performer,
        approver=manager,
        request_type=request_type,
        at=T0 + 2 * H,
        dispatcher=dispatcher,
    )
    old = on_approval(
        "Old",
        performer=performer,
        approver=manager,
        request_type=request_type,
        at=T0,
        dispatcher=dispatcher,
    )
    on_approval(
        "Lena's",
        performer=performer,
        approver=lena,
        request_type=request_type,
        at=T0,
        dispatcher=dispatcher,
    )
    office = BusinessCalendar.objects.create(name="24/7", always_open=True)
    now = T0 + 5 * H
    # Paused for an hour: one hour consumed, running again for two.
    approval_timer(
        old, consumed=H, running_since=T0 + 3 * H, due_at=T0 + 4 * H, calendar=office, started_at=T0
    )

    with time_machine.travel(now, tick=False):
        response = client_for(manager).get(reverse("approvals"))

    assert response.status_code == 200
    assert row_titles(response) == ["Old", "Young"]
    body = response.content.decode()
    old_row = body[body.index(f'id="approval-{old.pk}"') : body.index(f'id="approval-{young.pk}"')]
    # One hour consumed before, two running since: 3 h of business time; due an hour ago.
    assert '3h 00m <small class="muted">business hours</small>' in old_row
    assert "late" in old_row and "Paula Performer" in old_row and "Sales lead" in old_row
    assert "step 1 of 2: Budget" in old_row and "Open to decide" in old_row
    young_row = body[body.index(f'id="approval-{young.pk}"') :]
    assert '3h 00m <small class="muted">calendar time</small>' in young_row  # no timer


def test_a_team_manager_switches_to_every_pending_decision_of_her_teams(
    manager, lena, performer, dispatcher, request_type
):
    on_approval(
        "Mine",
        performer=performer,
        approver=manager,
        request_type=request_type,
        at=T0 + H,
        dispatcher=dispatcher,
    )
    on_approval(
        "Lena's",
        performer=performer,
        approver=lena,
        request_type=request_type,
        at=T0,
        dispatcher=dispatcher,
    )
    elsewhere = TeamFactory(name="Legal", manager=lena)
    other = on_approval(
        "Other team",
        performer=performer,
        approver=lena,
        request_type=request_type,
        at=T0,
        dispatcher=dispatcher,
    )
    other.team = elsewhere
    other.save(update_fields=["team"])
    client = client_for(manager)

    assert row_titles(client.get(reverse("approvals"))) == ["Mine"]
    teams = client.get(reverse("approvals"), {"scope": "teams"})
    assert row_titles(teams) == ["Lena's", "Mine"]
    assert "All pending in my teams" in teams.content.decode()


@pytest.mark.parametrize(
    "query",
    [
        {"scope": "everything"},
        {"scope": ""},
        {"page": "x"},
        {"page": "999"},
        {"scope": "teams\x00"},
    ],
)
def test_bad_query_strings_fall_back_to_the_default_never_an_error(
    query, manager, performer, dispatcher, request_type
):
    on_approval(
        "Mine",
        performer=performer,
        approver=manager,
        request_type=request_type,
        at=T0,
        dispatcher=dispatcher,
    )
    response = client_for(manager).get(reverse("approvals"), query)
    assert response.status_code == 200
    assert row_titles(response) == ["Mine"]


def test_an_approver_who_manages_no_team_has_no_switch(lena, performer, dispatcher, request_type):
    on_approval(
        "Lena's",
        performer=performer,
        approver=lena,
        request_type=request_type,
        at=T0,
        dispatcher=dispatcher,
    )
    response = client_for(lena).get(reverse("approvals"), {"scope": "teams"})
    assert row_titles(response) == ["Lena's"]
    assert "All pending in my teams" not in response.content.decode()


def test_people_who_may_not_approve_get_403_with_a_reason_and_no_link(performer, observer):
    for user in (performer, observer):
        response = client_for(user).get(reverse("approvals"))
        assert response.status_code == 403
        assert "for people who decide approvals" in response.content.decode()
        page = client_for(user).get(reverse("task_list")).content.decode()
        assert 'href="/approvals/"' not in page


def test_the_queue_needs_a_login():
    response = Client().get(reverse("approvals"))
    assert response.status_code == 302 and "/login" in response["Location"]


def test_the_nav_shows_approvers_how_many_decisions_wait_for_them(
    manager, performer, dispatcher, request_type
):
    client = client_for(manager)
    assert 'aria-label="Approvals: 0 waiting"' in client.get(reverse("task_list")).content.decode()
    for n in range(2):
        on_approval(
            f"C{n}",
            performer=performer,
            approver=manager,
            request_type=request_type,
            at=T0,
            dispatcher=dispatcher,
        )
    page = client.get(reverse("task_list")).content.decode()
    assert 'aria-label="Approvals: 2 waiting"' in page


def test_the_queue_renders_in_a_constant_number_of_queries(
    manager, performer, dispatcher, request_type, django_assert_max_num_queries
):
    office = BusinessCalendar.objects.create(name="24/7", always_open=True)

    def add(count, start):
        for n in range(count):
            task = on_approval(
                f"C{start + n}",
                performer=performer,
                approver=manager,
                request_type=request_type,
                at=T0 + n * H,
                dispatcher=dispatcher,
            )
            if n % 2:
                approval_timer(
                    task, consumed=H, running_since=T0 + n * H, due_at=T0 + 9 * H, calendar=office
                )

    add(2, 0)
    client = client_for(manager)
    client.get(reverse("approvals"))  # warm the calendar cache
    with django_assert_max_num_queries(12) as few:
        client.get(reverse("approvals"), {"scope": "teams"})
    add(12, 2)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(reverse("approvals"), {"scope": "teams"})
    assert len(row_titles(response)) == 14
