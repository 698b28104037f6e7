"""Fixtures of the tasks tests: a 24/7 calendar, and a default policy on it (1 h to respond,
8 h to resolve, whatever the priority); for the bad-input modules, a card with running timers
and the people and things a bad request names (`world`)."""

from datetime import timedelta

import pytest

from sla.models import BusinessCalendar
from tests.factories import (
    BlockingReasonFactory,
    RequestTypeFactory,
    UserFactory,
    WorkerFactory,
    make_task,
    sla_policy,
)

H = timedelta(hours=1)


@pytest.fixture
def always(db):
    return BusinessCalendar.objects.create(name="24/7", always_open=True)


@pytest.fixture
def default_policy(always):
    return sla_policy("Default", always, 1 * H, 8 * H, is_default=True)


@pytest.fixture
def world(roles, team, request_type, performer, other_performer, observer, dispatcher, manager):
    """Who and what bad requests name: people who may work cards, people who may not
    (an observer, a user without a role, an inactive performer), reasons and types in use
    and retired."""
    return {
        "team": team,
        "request_type": request_type,
        "performer": performer,
        "other_performer": other_performer,
        "dispatcher": dispatcher,
        "manager": manager,
        "observer": observer,
        "nobody": UserFactory(username="nobody"),
        "retired": WorkerFactory(username="retired", is_active=False),
        "reason": BlockingReasonFactory(name="Customer"),
        "retired_reason": BlockingReasonFactory(name="Old reason", active=False),
        "retired_type": RequestTypeFactory(name="Old type", active=False),
    }


@pytest.fixture
def card(world, default_policy):
    """An assigned card of the Sales team (owner: the performer) with running SLA timers."""
    return make_task(
        actor=world["dispatcher"],
        owner=world["performer"],
        request_type=world["request_type"],
        title="Lead",
        description="A customer asked",
    )
