"""Report figures on the constructed history (tests/reports/conftest.py): exact numbers."""

from __future__ import annotations

from datetime import timedelta

import pytest

from reports import queries, rollup
from reports.filters import Scope
from reports.models import CardFacts, StageInterval
from tasks import actions
from tasks.models import Priority, Status
from tests.reports.conftest import MON, THU, TUE, H, M, berlin

pytestmark = pytest.mark.django_db


def week(**kw) -> Scope:
    return Scope(start=berlin(*MON, 0), end=berlin(2026, 11, 23, 0), **kw)


def by(figure, key):
    return {row[key]: row for row in figure.rows}


def test_on_time_counts_met_missed_and_cards_without_sla_separately(history):
    rows = by(queries.on_time(week()), "kind")

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
    assert queries.on_time(empty).rows == []
    assert queries.first_response(empty).rows == []
    assert queries.causes(empty).rows == []


def test_first_response_average_median_and_p90_in_business_time(history):
    rows = by(queries.first_response(week()), "group")

    # Response clocks: A 30m, B 1h30, D 1h, E 3h, G 40m, H 50m.
    overall = rows["All priorities"]
    assert overall["count"] == 6
    assert overall["avg"] == (30 + 90 + 60 + 180 + 40 + 50) * M / 6
    assert overall["p50"] == 50 * M
    assert overall["p90"] == 3 * H


def test_filters_narrow_every_figure(history, support):
    rows = by(queries.first_response(week(request_type=support)), "group")
    assert rows["All priorities"]["count"] == 4  # A B G H


def test_volume_counts_created_closed_and_breaches_per_week(history):
    rows = queries.volume(week()).rows
    assert [(r["created"], r["closed"], r["breached"]) for r in rows] == [(7, 5, 4)]
    assert str(rows[0]["week"]) == "2026-11-16"


def test_time_per_stage_from_the_stage_table(history):
    rows = by(queries.stage_time(week()), "stage")

    assert rows["Waiting"]["total"] == 6 * H  # B waited for the customer
    assert rows["On approval"]["total"] == 7 * H  # G
    # Assigned: A 30m, B 1h30, D 1h, E 3h, G 40m, H 50m.
    assert rows["Assigned"]["cards"] == 6
    assert rows["Assigned"]["total"] == (30 + 90 + 60 + 180 + 40 + 50) * M


def test_time_after_a_hand_off_is_attributed_to_the_pair_of_teams(history):
    rows = queries.handoffs(week()).rows
    assert [(r["handoff"], r["cards"], r["total"]) for r in rows] == [("Support → Sales", 1, 3 * H)]


def test_bottlenecks_by_approver_and_by_department(history):
    approvers = queries.approver_wait(week()).rows
    assert [(r["approver"], r["total"]) for r in approvers] == [("Maria Manager", 7 * H)]
    departments = by(queries.department_wait(week()), "team")
    assert departments["Support"]["total"] == 13 * H  # B waiting 6h + G approval 7h


def test_misses_by_team_type_owner_and_client(history):
    types = by(queries.misses_by(week(), "request_type"), "name")
    assert (types["Sales lead"]["missed"], types["Sales lead"]["clocks"]) == (2, 4)
    assert (types["Support"]["missed"], types["Support"]["clocks"]) == (2, 7)
    owners = by(queries.misses_by(week(), "owner"), "name")
    assert owners["Paula Performer"]["missed"] == 4
    clients = by(queries.misses_by(week(), "client"), "name")
    assert clients["none"]["clocks"] == 11


def test_pareto_of_causes_from_pause_intervals(history):
    rows = queries.causes(week()).rows
    assert [(r["reason"], r["lost"], r["pauses"], r["cumulative"]) for r in rows] == [
        ("Customer", 6 * H, 1, 1.0)
    ]


def test_workload_and_attention_are_the_current_state(history):
    now = berlin(*THU, 12, 30)  # H's resolution clock warned at 12:00, due 13:00
    teams = by(queries.workload_teams(week(), now), "team")
    assert (teams["Support"]["open"], teams["Support"]["at_risk"]) == (2, 1)  # C and H
    attention = by(queries.attention(week(), now), "what")
    assert attention["Open cards without an owner"]["n"] == 1  # C
    assert attention["Open cards without a next step"]["n"] == 2
    approaching = queries.approaching_breach(week(), now).rows
    assert [r["card"] for r in approaching] == [f"#{history.cards['H'].pk} H"]
    later = by(queries.workload_teams(week(), berlin(*THU, 14)), "team")
    assert (later["Support"]["at_risk"], later["Support"]["breached"]) == (0, 1)


def test_repetitive_work_flags_short_uniform_high_volume_types(history):
    rows = by(queries.repetitive(week()), "type")
    assert rows["Support"]["count"] == 3  # A, B, G done
    assert rows["Support"]["p50"] == timedelta(hours=8, minutes=30)  # B: Mon 10:00 → Tue 10:30
    assert rows["Support"]["candidate"] == ""


# --- the derived tables agree with a live computation ----------------------------------


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
