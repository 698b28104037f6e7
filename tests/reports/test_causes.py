"""The Pareto of causes (reports.queries.causes) on the constructed history: exact numbers."""

from __future__ import annotations

import pytest

from reports.filters import Scope
from reports.queries import causes
from tests.reports.conftest import H, berlin, week

# Every test here runs on the shared history (conftest.report_world), built once per module.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("report_world")]


def test_pareto_of_causes_from_pause_intervals(history):
    rows = causes.causes(week()).rows
    assert [(r["reason"], r["lost"], r["pauses"], r["cumulative"]) for r in rows] == [
        ("Customer", 6 * H, 1, 1.0)
    ]


def test_a_period_without_pauses_gives_an_empty_figure_not_an_error(history):
    empty = Scope(start=berlin(2025, 1, 1), end=berlin(2025, 2, 1))
    assert causes.causes(empty).rows == []
