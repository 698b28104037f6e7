"""A small, fully known history for the report tests, made through tasks.actions with `at=`.

Calendar "Office": Mon–Fri 09:00–17:00 Europe/Berlin. 2026-11-16 is a Monday.
Policies: "Standard" (default, enforce; normal 1h/4h, high 30m/2h, no target for low, so low
cards have no SLA) and "Leads observe" (request type Sales lead, observe; normal 2h/8h).
Warnings at 75 %.

Cards (Support unless said), times Berlin:
  A normal: created Mon 09:00 (owner Paula), in progress 09:30, done 11:30.
  B normal: created Mon 10:00, in progress 11:30 (response 1h30: missed), waiting for
     "Customer" 12:00, in progress Tue 10:00 (pause: 6h business), done Tue 10:30.
  C low, no owner: created Tue 09:00, never touched (no SLA).
  D Sales lead normal: created Mon 09:00, in progress 10:00, done 13:00 (observe: met, met).
  E Sales lead normal: created Tue 09:00, in progress 12:00, done Wed 11:00
     (observe: response 3h and resolution 10h both missed).
  G normal, approver Maria: created Wed 09:00, in progress 09:40, on approval 11:00,
     approved by Maria Thu 10:00 → in progress (approval 7h; no time-to-decision target),
     handed to Sales Thu 11:00, done Thu 14:00
     (resolution 13h: missed at Wed 13:00).
  H normal: created Thu 09:00, in progress 09:50 (response 50m: warned, met: a near miss);
     still in progress.

The history is built once per test module that uses it (`report_world`, marked in the
module's `pytestmark`), inside a transaction that each test's own transaction nests in and
that is rolled back after the module: each test starts from the same rows and may change
them. The fixtures below and the personas of tests/conftest.py find these rows where they
exist (the factories get or create by name), so a test asks for them as before.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.cache import cache
from django.test import TestCase

from reports import rollup
from reports.filters import Scope
from sla.models import (
    BusinessCalendar,
    PolicyMode,
    SlaPolicy,
    SlaTarget,
    WorkingInterval,
    clear_calendar_cache,
)
from tasks import actions
from tasks.models import BlockingReason, Priority, RequestType, Status, Task, Team
from tasks.roles import ensure_role_groups
from tests.conftest import _persona
from tests.factories import BlockingReasonFactory, RequestTypeFactory, TeamFactory

BERLIN = ZoneInfo("Europe/Berlin")
M = timedelta(minutes=1)
H = timedelta(hours=1)
MON, TUE, WED, THU = (2026, 11, 16), (2026, 11, 17), (2026, 11, 18), (2026, 11, 19)


def berlin(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN)


def _office() -> BusinessCalendar:
    calendar = BusinessCalendar.objects.filter(name="Office").first()
    if calendar is None:
        calendar = BusinessCalendar.objects.create(name="Office", timezone="Europe/Berlin")
        for day in range(5):
            WorkingInterval.objects.create(
                calendar=calendar, weekday=day, start=time(9), end=time(17)
            )
    return calendar


@pytest.fixture
def office(db):
    return _office()


def _policy(name, calendar, targets, **fields) -> SlaPolicy:
    policy = SlaPolicy.objects.create(name=name, calendar=calendar, **fields)
    for priority, (response, resolution) in targets.items():
        SlaTarget.objects.create(
            policy=policy,
            priority=priority,
            response_target=response,
            resolution_target=resolution,
            warn_pct=75,
        )
    return policy


def _policies(office: BusinessCalendar, request_type: RequestType) -> tuple[SlaPolicy, SlaPolicy]:
    existing = {p.name: p for p in SlaPolicy.objects.filter(name__in=("Standard", "Leads observe"))}
    if existing:
        return existing["Standard"], existing["Leads observe"]
    standard = _policy(
        "Standard",
        office,
        {Priority.NORMAL: (H, 4 * H), Priority.HIGH: (30 * M, 2 * H)},
        is_default=True,
    )
    leads = _policy(
        "Leads observe",
        office,
        {Priority.NORMAL: (2 * H, 8 * H)},
        order=10,
        request_type=request_type,
        mode=PolicyMode.OBSERVE,
    )
    return standard, leads


@pytest.fixture
def support_team(db):
    return TeamFactory(name="Support")


@pytest.fixture
def support(support_team):
    return RequestTypeFactory(name="Support", default_team=support_team)


@pytest.fixture
def policies(office, request_type):
    return _policies(office, request_type)


@dataclass
class History:
    cards: dict[str, Task]
    customer: object
    sales: Team
    support: Team


def _card(title, rtype, at, owner, actor, priority=Priority.NORMAL) -> Task:
    return actions.create_task(
        title=title, request_type=rtype, priority=priority, actor=actor, owner=owner, at=at
    )


def _move(task, to, at, actor, **kw) -> Task:
    return actions.change_status(task=task, to=to, actor=actor, at=at, **kw)


def _history(team, support, support_team, request_type, manager, performer) -> dict[str, Task]:
    customer = BlockingReasonFactory(name="Customer", pauses_sla=True)
    support_team.members.add(performer)
    p, IP = performer, Status.IN_PROGRESS
    cards = {}

    a = cards["A"] = _card("A", support, berlin(*MON, 9), p, p)
    _move(a, IP, berlin(*MON, 9, 30), p)
    _move(a, Status.DONE, berlin(*MON, 11, 30), p)

    b = cards["B"] = _card("B", support, berlin(*MON, 10), p, p)
    _move(b, IP, berlin(*MON, 11, 30), p)
    _move(b, Status.WAITING, berlin(*MON, 12), p, blocking_reason=customer)
    _move(b, IP, berlin(*TUE, 10), p)
    _move(b, Status.DONE, berlin(*TUE, 10, 30), p)

    cards["C"] = _card("C", support, berlin(*TUE, 9), None, manager, priority=Priority.LOW)

    d = cards["D"] = _card("D", request_type, berlin(*MON, 9), p, p)
    _move(d, IP, berlin(*MON, 10), p)
    _move(d, Status.DONE, berlin(*MON, 13), p)

    e = cards["E"] = _card("E", request_type, berlin(*TUE, 9), p, p)
    _move(e, IP, berlin(*TUE, 12), p)
    _move(e, Status.DONE, berlin(*WED, 11), p)

    g = cards["G"] = _card("G", support, berlin(*WED, 9), p, p)
    actions.set_approver(task=g, approver=manager, actor=p, at=berlin(*WED, 9))
    _move(g, IP, berlin(*WED, 9, 40), p)
    _move(g, Status.ON_APPROVAL, berlin(*WED, 11), p)
    actions.decide(task=g, decision="approve", actor=manager, at=berlin(*THU, 10))
    actions.change_team(task=g, team=team, actor=p, at=berlin(*THU, 11))
    _move(g, Status.DONE, berlin(*THU, 14), p)

    h = cards["H"] = _card("H", support, berlin(*THU, 9), p, p)
    _move(h, IP, berlin(*THU, 9, 50), p)

    rollup.refresh(now=berlin(*THU, 15))
    return cards


@dataclass(frozen=True)
class World:
    """The primary keys of the shared rows (each test reads its own instances)."""

    cards: dict[str, int]
    customer: int
    sales: int
    support: int


@contextmanager
def rolled_back_after(django_db_blocker) -> Iterator[None]:
    """Rows written inside stay for the tests run meanwhile (their transactions nest in
    this one, as in Django's TestCase.setUpTestData) and are rolled back on exit."""
    with django_db_blocker.unblock():
        atomics = TestCase._enter_atomics()
    try:
        yield
    finally:
        with django_db_blocker.unblock():
            TestCase._rollback_atomics(atomics)
        clear_calendar_cache()  # ids are reused after a rollback (SQLite)
        cache.clear()


@pytest.fixture(scope="module")
def report_world(django_db_setup, django_db_blocker) -> Iterator[World]:
    """The personas of tests/conftest.py that the history needs, its teams, request types,
    calendar and policies, and the history itself: built once per module."""
    with rolled_back_after(django_db_blocker):
        with django_db_blocker.unblock():
            clear_calendar_cache()
            cache.clear()
            roles = ensure_role_groups()
            manager = _persona(roles, "maria", "manager", first_name="Maria", last_name="Manager")
            dispatcher = _persona(
                roles, "dan", "dispatcher", first_name="Dan", last_name="Dispatcher"
            )
            performer = _persona(
                roles, "paula", "performer", first_name="Paula", last_name="Performer"
            )
            other = _persona(roles, "pete", "performer", first_name="Pete", last_name="Performer")
            team = TeamFactory(name="Sales", manager=manager)
            team.members.add(dispatcher, performer, other)
            request_type = RequestTypeFactory(name="Sales lead", default_team=team)
            support_team = TeamFactory(name="Support")
            support = RequestTypeFactory(name="Support", default_team=support_team)
            _policies(_office(), request_type)
            cards = _history(team, support, support_team, request_type, manager, performer)
            world = World(
                cards={title: task.pk for title, task in cards.items()},
                customer=BlockingReason.objects.get(name="Customer").pk,
                sales=team.pk,
                support=support_team.pk,
            )
        yield world


@pytest.fixture
def history(db, report_world: World) -> History:
    """The history's cards and teams, read afresh for this test."""
    tasks = Task.objects.in_bulk(report_world.cards.values())
    teams = Team.objects.in_bulk([report_world.sales, report_world.support])
    return History(
        {title: tasks[pk] for title, pk in report_world.cards.items()},
        BlockingReason.objects.get(pk=report_world.customer),
        teams[report_world.sales],
        teams[report_world.support],
    )


WEEK = {"start": "2026-11-16", "end": "2026-11-22"}


def week(**kw) -> Scope:
    """The week of the history (Mon 16 – Sun 22 Nov 2026), with filters."""
    return Scope(start=berlin(*MON, 0), end=berlin(2026, 11, 23, 0), **kw)


def by(figure, key):
    """A figure's rows keyed by one column."""
    return {row[key]: row for row in figure.rows}


def reviewed(policy, priority: str) -> dict[str, object]:
    """The fields the calibration confirm page adds to an apply: reviewed, and the target
    as it is stored now (what the person saw)."""
    from sla.models import SlaTarget

    target = SlaTarget.objects.filter(policy=policy, priority=priority).first()

    def seconds(value: timedelta | None) -> object:
        return "" if value is None else int(value.total_seconds())

    return {
        "reviewed": "1",
        "seen_response_seconds": seconds(target.response_target if target else None),
        "seen_resolution_seconds": seconds(target.resolution_target if target else None),
    }
