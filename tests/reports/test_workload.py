"""Workload and attention (reports.queries.workload): the current state of the constructed
history."""

from __future__ import annotations

import pytest

from reports.queries import workload
from sla import rules
from sla.models import SlaTimer
from tests.reports.conftest import THU, berlin, by, week

# Every test here runs on the shared history (conftest.report_world), built once per module.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("report_world")]


def test_workload_and_attention_are_the_current_state(history):
    now = berlin(*THU, 12, 30)  # H's resolution clock warned at 12:00, due 13:00
    teams = by(workload.workload_teams(week(), now), "team")
    assert (teams["Support"]["open"], teams["Support"]["at_risk"]) == (2, 1)  # C and H
    attention = by(workload.attention(week(), now), "what")
    assert attention["Open cards without an owner"]["n"] == 1  # C
    assert attention["Open cards without a next step"]["n"] == 2
    approaching = workload.approaching_breach(week(), now).rows
    assert [r["card"] for r in approaching] == [f"#{history.cards['H'].pk} H"]
    later = by(workload.workload_teams(week(), berlin(*THU, 14)), "team")
    assert (later["Support"]["at_risk"], later["Support"]["breached"]) == (0, 1)


@pytest.mark.parametrize(
    "at", [(9, 0), (9, 50), (12, 0), (12, 30), (13, 0), (13, 1), (16, 0)], ids=str
)
def test_workload_counts_cards_at_risk_and_breached_by_the_timer_rules(history, at):
    """The same cards as each open timer's band (sla.rules), at H's deadline (13:00) too."""
    now = berlin(*THU, *at)
    open_timers = SlaTimer.objects.open().filter(task__in=history.cards.values())
    bands = [(timer.task_id, timer.band_at(now)) for timer in open_timers]
    expected = {
        "at_risk": len({task for task, band in bands if band == rules.WARNED}),
        "breached": len({task for task, band in bands if band == rules.BREACHED}),
    }
    support = by(workload.workload_teams(week(), now), "team")["Support"]
    assert {key: support[key] for key in expected} == expected
