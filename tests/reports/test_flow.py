"""Flow figures (reports.queries.flow) on the constructed history: exact numbers."""

from __future__ import annotations

import pytest

from reports.filters import Scope
from reports.queries import flow
from sla.models import SlaTarget
from tasks import actions
from tasks.models import Priority, Status
from tests.factories import WorkerFactory
from tests.reports.conftest import THU, H, M, berlin, by, week

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


# --- time to decision, by approver ---------------------------------------------------


@pytest.fixture
def timed_decisions(history, manager):
    """Support/normal decisions get a 2 h time to decision; on top of G (approved by Maria
    Thu 10:00, untimed): K rejected by Maria after 1 h and approved after 3 h, L waiting for
    Maria, N approved by Lena after 8 h (Thu 10:00 → Fri 10:00)."""
    target = SlaTarget.objects.get(policy__name="Standard", priority=Priority.NORMAL)
    target.approval_target = 2 * H
    target.save()  # saved, not updated: the policies version moves
    lena = WorkerFactory(username="lena", first_name="Lena", last_name="Legal", role="manager")
    support = history.cards["A"].request_type
    paula = history.cards["A"].owner

    def card(title, approver):
        task = actions.create_task(title=title, request_type=support, priority=Priority.NORMAL,
                                   actor=paula, owner=paula, at=berlin(*THU, 9))  # fmt: skip
        actions.change_status(task=task, to=Status.IN_PROGRESS, actor=paula, at=berlin(*THU, 9))
        return actions.change_status(task=task, to=Status.ON_APPROVAL, actor=paula,
                                     approver=approver, at=berlin(*THU, 10))  # fmt: skip

    k = card("K", manager)
    actions.decide(task=k, decision="reject", actor=manager, reason="Too dear",
                   at=berlin(*THU, 11))  # fmt: skip
    actions.change_status(task=k, to=Status.ON_APPROVAL, actor=paula, at=berlin(*THU, 13))
    actions.decide(task=k, decision="approve", actor=manager, at=berlin(*THU, 16))
    card("L", manager)
    n = card("N", lena)
    actions.decide(task=n, decision="approve", actor=lena, at=berlin(2026, 11, 20, 10))


def test_time_to_decision_by_approver(timed_decisions):
    rows = by(flow.flow(week())[4], "approver")
    assert rows["Maria Manager"] == {
        "approver": "Maria Manager",
        "decisions": 3,  # G (untimed), K rejected, K approved
        "approved": 2,
        "rejected": 1,
        "p50": H,  # nearest rank of 1 h and 3 h
        "p90": 3 * H,
        "share": 0.5,
        "breached": 1,
        "waiting": 1,  # L
    }
    assert rows["Lena Legal"] == {
        "approver": "Lena Legal",
        "decisions": 1,
        "approved": 1,
        "rejected": 0,
        "p50": 8 * H,
        "p90": 8 * H,
        "share": 0.0,
        "breached": 1,
        "waiting": 0,
    }
    assert list(rows) == ["Maria Manager", "Lena Legal"]  # most decisions first
    assert flow.flow_live(week())[4].rows == flow.flow(week())[4].rows


def test_time_to_decision_follows_the_filters_and_the_period(timed_decisions, history):
    friday = flow.decisions_by_approver(Scope(start=berlin(2026, 11, 20, 0), end=week().end))
    assert [(r["approver"], r["decisions"], r["waiting"]) for r in friday.rows] == [
        ("Lena Legal", 1, 0),
        ("Maria Manager", 0, 1),  # nothing decided on Friday; L still waits
    ]
    sales = flow.decisions_by_approver(week(team=history.sales))
    assert [(r["approver"], r["decisions"]) for r in sales.rows] == [("Maria Manager", 1)]  # G


def test_time_to_decision_uses_two_queries_however_many_approvers(
    timed_decisions, django_assert_num_queries
):
    with django_assert_num_queries(2):
        figure = flow.decisions_by_approver(week())
    assert len(figure.rows) == 2
