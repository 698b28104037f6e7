"""Repetitive work (reports.queries.automation) on the constructed history: exact numbers."""

from __future__ import annotations

from datetime import timedelta

import pytest

from reports.queries import automation
from tests.reports.conftest import by, week

# Every test here runs on the shared history (conftest.report_world), built once per module.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("report_world")]


def test_repetitive_work_flags_short_uniform_high_volume_types(history):
    rows = by(automation.repetitive(week()), "type")
    assert rows["Support"]["count"] == 3  # A, B, G done
    assert rows["Support"]["p50"] == timedelta(hours=8, minutes=30)  # B: Mon 10:00 → Tue 10:30
    assert rows["Support"]["candidate"] == ""
