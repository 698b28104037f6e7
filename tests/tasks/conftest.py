"""Fixtures of the tasks tests: a 24/7 calendar, and a default policy on it (1 h to respond,
8 h to resolve, whatever the priority)."""

from datetime import timedelta

import pytest

from sla.models import BusinessCalendar
from tests.factories import sla_policy

H = timedelta(hours=1)


@pytest.fixture
def always(db):
    return BusinessCalendar.objects.create(name="24/7", always_open=True)


@pytest.fixture
def default_policy(always):
    return sla_policy("Default", always, 1 * H, 8 * H, is_default=True)
