"""Overview figures (reports.queries.overview) on the constructed history
(tests/reports/conftest.py): exact numbers."""

from __future__ import annotations

import pytest

from reports import rollup
from reports.filters import Scope
from reports.queries import overview
from sla.models import SlaTarget
from tasks import actions
from tasks.models import Priority, Status
from tests.reports.conftest import THU, H, M, berlin, by, week

# Every test here runs on the shared history (conftest.report_world), built once per module.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("report_world")]


def test_on_time_counts_met_missed_and_cards_without_sla_separately(history):
    rows = by(overview.on_time(week()), "kind")

    response, resolution = rows["First response"], rows["Resolution"]
    # 7 cards; C (low) has no SLA. Response: A D G H met, B E missed.
    assert (response["met"], response["missed"], response["no_sla"]) == (4, 2, 1)
    assert response["cards"] == 7
    assert response["share"] == pytest.approx(4 / 6)
    # Resolution: A B D met, E G missed, H still running.
    assert (resolution["met"], resolution["missed"], resolution["running"]) == (3, 2, 1)
    assert resolution["no_sla"] == 1
    assert resolution["share"] == pytest.approx(3 / 5)


def test_a_period_without_cards_gives_empty_figures_not_errors(history):
    empty = Scope(start=berlin(2025, 1, 1), end=berlin(2025, 2, 1))
    assert overview.on_time(empty).rows == []
    assert overview.first_response(empty).rows == []


def test_first_response_average_median_and_p90_in_business_time(history):
    rows = by(overview.first_response(week()), "group")

    # Response clocks: A 30m, B 1h30, D 1h, E 3h, G 40m, H 50m.
    overall = rows["All priorities"]
    assert overall["count"] == 6
    assert overall["avg"] == (30 + 90 + 60 + 180 + 40 + 50) * M / 6
    assert overall["p50"] == 50 * M
    assert overall["p90"] == 3 * H


def test_filters_narrow_every_figure(history, support):
    rows = by(overview.first_response(week(request_type=support)), "group")
    assert rows["All priorities"]["count"] == 4  # A B G H


def test_volume_counts_created_closed_and_breaches_per_week(history):
    rows = overview.volume(week()).rows
    assert [(r["created"], r["closed"], r["breached"]) for r in rows] == [(7, 5, 4)]
    assert str(rows[0]["week"]) == "2026-11-16"


def test_the_time_to_decision_is_a_clock_row_of_its_own(history, manager):
    """Shown only when a card of the period had one; read from the timers, so the rollup's
    figure and the live one agree. G was decided before its policy timed decisions."""
    assert "Time to decision" not in by(overview.on_time(week()), "kind")
    target = SlaTarget.objects.get(policy__name="Standard", priority=Priority.NORMAL)
    target.approval_target = 2 * H
    target.save()  # saved, not updated: the policies version moves
    paula, support = history.cards["A"].owner, history.cards["A"].request_type
    for title, decided in (("K", berlin(*THU, 11)), ("L", berlin(*THU, 15)), ("M", None)):
        card = actions.create_task(title=title, request_type=support, priority=Priority.NORMAL,
                                   actor=paula, owner=paula, at=berlin(*THU, 9))  # fmt: skip
        actions.change_status(task=card, to=Status.ON_APPROVAL, actor=paula, approver=manager,
                              at=berlin(*THU, 10))  # fmt: skip
        if decided:
            actions.decide(task=card, decision="approve", actor=manager, at=decided)
    rollup.refresh(now=berlin(*THU, 16))

    rows = by(overview.on_time(week()), "kind")
    decision = rows["Time to decision"]
    # K decided in 1 h (met), L in 5 h (missed), M still waiting; 10 cards, 3 timed.
    assert (decision["met"], decision["missed"], decision["running"]) == (1, 1, 1)
    assert (decision["no_sla"], decision["cards"], decision["share"]) == (7, 10, 0.5)
    assert overview.on_time(week()).rows == overview.on_time_live(week()).rows
