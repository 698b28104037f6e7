"""The derived tables (CardFacts' clock outcomes, the DailyVolume rollup) give the same
figures as the live computation on cards and timers, whatever the filters, and stay so as
cards change and the scan records breaches without touching the cards."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.utils import timezone

from reports import rollup
from reports.filters import Scope
from reports.models import CardFacts, DailyVolume, StageInterval, StaleDay
from reports.queries import flow, misses, overview
from sla.jobs import scan_due_timers
from tasks import actions
from tasks.models import Priority, Status
from tests.factories import RelatedObjectFactory
from tests.reports.conftest import MON, THU, TUE, WED, H, M, berlin

# Every test here runs on the shared history (conftest.report_world), built once per module.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("report_world")]
FRI = (2026, 11, 20)
HOUR = timedelta(hours=1)
THU_DAY = date(*THU)

FIGURES = {
    "on_time": (overview.on_time, overview.on_time_live),
    "first_response": (overview.first_response, overview.first_response_live),
    # The percentiles read from indexes in response-time order, whatever the number of cards.
    "first_response by index": (
        lambda s: overview.first_response(s, by_index_from=1),
        overview.first_response_live,
    ),
    "volume": (overview.volume, overview.volume_live),
    **{
        f"misses_{d}": (
            lambda s, d=d: misses.misses_by(s, d),
            lambda s, d=d: misses.misses_by_live(s, d),
        )
        for d in misses.MISS_DIMENSIONS
    },
    **{
        figure: (lambda s, i=i: flow.flow(s)[i], lambda s, i=i: flow.flow_live(s)[i])
        for i, figure in enumerate(("stages", "handoffs", "approvers", "departments"))
    },
}


def table(figure) -> list[tuple]:
    return [tuple(row.get(c.key) for c in figure.columns) for row in figure.rows]


def scopes(history) -> dict[str, Scope]:
    week = {"start": berlin(*MON, 0), "end": berlin(2026, 11, 23, 0)}
    return {
        "week": Scope(**week),
        "two days": Scope(start=berlin(*TUE, 0), end=berlin(*THU, 0)),
        "team": Scope(**week, team=history.support),
        "request type": Scope(**week, request_type=history.cards["D"].request_type),
        "priority": Scope(**week, priority=Priority.NORMAL),
        "low priority": Scope(**week, priority=Priority.LOW),
        "empty": Scope(start=berlin(2025, 1, 1), end=berlin(2025, 2, 1)),
    }


def assert_agree(history) -> None:
    for scope_name, scope in scopes(history).items():
        for name, (derived, live) in FIGURES.items():
            assert table(derived(scope)) == table(live(scope)), (name, scope_name)


def test_the_rollup_and_card_facts_agree_with_the_live_figures(history):
    assert DailyVolume.objects.exists()
    assert_agree(history)


def test_they_agree_for_a_client_too(history, support, performer):
    client = RelatedObjectFactory(name="Acme")
    for hour, minutes in ((9, 20), (10, 45)):  # high: 30 min to respond
        card = actions.create_task(
            title=f"Acme {hour}", request_type=support, priority=Priority.HIGH, actor=performer,
            owner=performer, related_object=client, at=berlin(*TUE, hour),
        )  # fmt: skip
        actions.change_status(
            task=card, to=Status.IN_PROGRESS, actor=performer, at=berlin(*TUE, hour, minutes)
        )
    rollup.refresh()
    scope = Scope(start=berlin(*MON, 0), end=berlin(2026, 11, 23, 0), client=client)
    response = overview.on_time(scope).rows[0]
    assert (response["met"], response["missed"], response["cards"]) == (1, 1, 2)
    for name, (derived, live) in FIGURES.items():
        assert table(derived(scope)) == table(live(scope)), name


def test_they_still_agree_after_cards_change_team_reopen_and_close(history, performer, manager):
    sales = Scope(start=berlin(*MON, 0), end=berlin(*FRI, 0), team=history.sales)
    met_before = overview.on_time(sales).rows[0]["met"]
    h, a = history.cards["H"], history.cards["A"]
    h.refresh_from_db()
    actions.change_team(task=h, team=history.sales, actor=manager, at=berlin(*THU, 15))
    actions.change_status(task=h, to=Status.DONE, actor=performer, at=berlin(*FRI, 10))
    a.refresh_from_db()
    actions.change_status(task=a, to=Status.IN_PROGRESS, actor=performer, at=berlin(*WED, 9))

    assert rollup.refresh() == 2
    assert_agree(history)
    # H's met response clock moved with the card to Sales.
    assert overview.on_time(sales).rows[0]["met"] == met_before + 1


def test_a_breach_recorded_by_the_scan_refreshes_the_card_without_a_version_bump(history):
    h = history.cards["H"]
    h.refresh_from_db()
    version = h.version

    assert scan_due_timers(now=timezone.now()) > 0  # H's resolution clock was due Thu 13:00

    h.refresh_from_db()
    assert h.version == version
    assert h.pk in set(rollup.stale_cards().values_list("pk", flat=True))
    assert rollup.refresh() >= 1
    assert_agree(history)
    week = overview.volume(Scope(start=berlin(*MON, 0), end=berlin(2026, 11, 23, 0))).rows
    assert [r["breached"] for r in week] == [5]  # the 4 of the history and H's
    assert CardFacts.objects.get(task=h).timers_seen is not None
    assert rollup.refresh() == 0


def test_days_left_stale_by_an_interrupted_refresh_are_rebuilt_by_the_next(history, manager):
    h = history.cards["H"]
    h.refresh_from_db()
    actions.change_team(task=h, team=history.sales, actor=manager, at=berlin(*THU, 15))
    # A run that refreshed H's facts and stopped before rebuilding the rollup:
    rollup._refresh_batch([h.pk], None, timezone.now())
    assert StaleDay.objects.filter(day=THU_DAY).exists()
    sales = Scope(start=berlin(*MON, 0), end=berlin(*FRI, 0), team=history.sales)
    assert table(overview.on_time(sales)) != table(overview.on_time_live(sales))

    assert rollup.refresh() == 0  # no card is stale any more, but the day is

    assert not StaleDay.objects.exists()
    assert_agree(history)


def test_flow_counts_each_card_once_per_group_whatever_its_returns(history, manager):
    """A card back in the same stage, on approval with the same approver, waiting in the
    same team and handed over the same way twice, across the start of a period: the cards
    counted from first stretches equal COUNT(DISTINCT) over the period's stretches."""
    h = history.cards["H"]  # Support, in progress since Thu 09:50
    h.refresh_from_db()
    actions.set_approver(task=h, approver=manager, actor=manager, at=berlin(*THU, 10))
    steps = [
        (Status.ON_APPROVAL, {}, (*THU, 11)),
        (Status.IN_PROGRESS, {}, (*THU, 12)),
        (Status.ON_APPROVAL, {}, (*FRI, 9)),
        (Status.IN_PROGRESS, {}, (*FRI, 10)),
        (Status.WAITING, {"blocking_reason": history.customer}, (*FRI, 11)),
        (Status.IN_PROGRESS, {}, (*FRI, 12)),
    ]
    for status, extra, at in steps:
        if h.status == Status.ON_APPROVAL:  # a card on approval moves on by a decision
            actions.decide(task=h, decision="approve", actor=manager, at=berlin(*at))
            continue
        actions.change_status(task=h, to=status, actor=manager, at=berlin(*at), **extra)
    for team, hour in ((history.sales, 13), (history.support, 14), (history.sales, 15)):
        actions.change_team(task=h, team=team, actor=manager, at=berlin(*FRI, hour))
    actions.change_status(task=h, to=Status.DONE, actor=manager, at=berlin(*FRI, 16))
    rollup.refresh()

    for start in (MON, THU, FRI):
        scope = Scope(start=berlin(*start, 0), end=berlin(2026, 11, 23, 0))
        for i, figure in enumerate(flow.flow(scope)):
            assert table(figure) == table(flow.flow_live(scope)[i]), (start, figure.key)
    week = Scope(start=berlin(*MON, 0), end=berlin(2026, 11, 23, 0))
    stages = {r["stage"]: r for r in flow.flow(week)[0].rows}
    assert stages["On approval"]["cards"] == 2  # G; H twice
    assert stages["On approval"]["total"] == 9 * HOUR  # G 7 h; H 1 h on Thursday, 1 h on Friday
    pairs = {r["handoff"]: r["cards"] for r in flow.flow(week)[1].rows}
    assert pairs == {"Support → Sales": 2, "Sales → Support": 1}  # G; H twice, and back once
    friday = Scope(start=berlin(*FRI, 0), end=berlin(2026, 11, 23, 0))
    departments = {r["team"]: r["cards"] for r in flow.flow(friday)[3].rows}
    assert departments == {"Support": 1}  # H: on approval, then waiting


# --- the derived tables themselves ---------------------------------------------------


def test_stage_table_agrees_with_the_calendar_for_every_finished_card(history, office):
    calendar = office.work_calendar()
    for task in history.cards.values():
        task.refresh_from_db()
        if task.resolved_at is None:
            continue
        stored = sum((s.business for s in StageInterval.objects.filter(task=task)), timedelta(0))
        assert stored == calendar.between(task.created_at, task.resolved_at), task.title
        facts = CardFacts.objects.get(task=task)
        assert facts.resolution_business == stored


def test_refresh_recomputes_only_changed_cards_and_is_idempotent(history, performer):
    assert rollup.refresh() == 0
    h = history.cards["H"]
    actions.change_status(task=h, to=Status.DONE, actor=performer, at=berlin(*THU, 16))
    assert rollup.refresh() == 1
    assert CardFacts.objects.get(task=h).resolution_business == 7 * H
    closed = StageInterval.objects.get(task=h, status=Status.IN_PROGRESS)
    assert (closed.ended_at, closed.business) == (berlin(*THU, 16), 6 * H + 10 * M)


def test_a_new_card_without_history_beyond_creation_gets_facts(history, support, manager):
    card = actions.create_task(
        title="fresh", request_type=support, priority=Priority.HIGH, actor=manager,
        at=berlin(*TUE, 9),
    )  # fmt: skip
    rollup.refresh()
    facts = CardFacts.objects.get(task=card)
    assert (facts.has_sla, facts.response_business) == (True, None)
    assert StageInterval.objects.filter(task=card, ended_at=None).count() == 1
