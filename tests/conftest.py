"""Shared fixtures: named personas with their real role groups, and a team they work in."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from sla.models import clear_calendar_cache
from tasks.roles import ensure_role_groups
from tests.factories import RequestTypeFactory, TeamFactory, UserFactory


@pytest.fixture(autouse=True)
def _fresh_caches():
    """Rolled-back tests reuse ids (SQLite); never serve a previous test's calendar or a
    previous test's cached at-risk queue."""
    clear_calendar_cache()
    cache.clear()
    yield
    clear_calendar_cache()
    cache.clear()


@pytest.fixture
def roles(db):
    return ensure_role_groups()


def _persona(roles, username: str, role: str | None, **extra):
    user = UserFactory(username=username, **extra)
    if role:
        user.groups.add(roles[role])
    return user


@pytest.fixture
def manager(roles):
    return _persona(roles, "maria", "manager", first_name="Maria", last_name="Manager")


@pytest.fixture
def dispatcher(roles):
    return _persona(roles, "dan", "dispatcher", first_name="Dan", last_name="Dispatcher")


@pytest.fixture
def performer(roles):
    return _persona(roles, "paula", "performer", first_name="Paula", last_name="Performer")


@pytest.fixture
def other_performer(roles):
    return _persona(roles, "pete", "performer", first_name="Pete", last_name="Performer")


@pytest.fixture
def observer(roles):
    return _persona(roles, "olga", "observer", first_name="Olga", last_name="Observer")


@pytest.fixture
def outsider(roles):
    """A performer of another team."""
    user = _persona(roles, "otto", "performer", first_name="Otto", last_name="Outsider")
    TeamFactory(name="Warehouse").members.add(user)
    return user


@pytest.fixture
def team(manager, dispatcher, performer, other_performer):
    team = TeamFactory(name="Sales", manager=manager)
    team.members.add(dispatcher, performer, other_performer)
    return team


@pytest.fixture
def request_type(team):
    return RequestTypeFactory(name="Sales lead", default_team=team)
