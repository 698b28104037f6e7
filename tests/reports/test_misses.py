"""Misses (reports.queries.misses) on the constructed history: exact numbers."""

from __future__ import annotations

import pytest

from reports.queries import misses
from tests.reports.conftest import by, week

# Every test here runs on the shared history (conftest.report_world), built once per module.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("report_world")]


def test_misses_by_team_type_owner_and_client(history):
    types = by(misses.misses_by(week(), "request_type"), "name")
    assert (types["Sales lead"]["missed"], types["Sales lead"]["clocks"]) == (2, 4)
    assert (types["Support"]["missed"], types["Support"]["clocks"]) == (2, 7)
    owners = by(misses.misses_by(week(), "owner"), "name")
    assert owners["Paula Performer"]["missed"] == 4
    clients = by(misses.misses_by(week(), "client"), "name")
    assert clients["none"]["clocks"] == 11
