"""Flow figures (reports.queries.flow) on the constructed history: exact numbers."""

from __future__ import annotations

import pytest

from reports.queries import flow
from tests.reports.conftest import H, M, by, week

# Every test here runs on the shared history (conftest.report_world), built once per module.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("report_world")]


def test_time_per_stage_from_the_stage_table(history):
    rows = by(flow.stage_time(week()), "stage")

    assert rows["Waiting"]["total"] == 6 * H  # B waited for the customer
    assert rows["On approval"]["total"] == 7 * H  # G
    # Assigned: A 30m, B 1h30, D 1h, E 3h, G 40m, H 50m.
    assert rows["Assigned"]["cards"] == 6
    assert rows["Assigned"]["total"] == (30 + 90 + 60 + 180 + 40 + 50) * M


def test_time_after_a_hand_off_is_attributed_to_the_pair_of_teams(history):
    rows = flow.handoffs(week()).rows
    assert [(r["handoff"], r["cards"], r["total"]) for r in rows] == [("Support → Sales", 1, 3 * H)]


def test_bottlenecks_by_approver_and_by_department(history):
    approvers = flow.approver_wait(week()).rows
    assert [(r["approver"], r["total"]) for r in approvers] == [("Maria Manager", 7 * H)]
    departments = by(flow.department_wait(week()), "team")
    assert departments["Support"]["total"] == 13 * H  # B waiting 6h + G approval 7h
