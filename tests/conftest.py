"""Shared fixtures: named personas with their real role groups, and a team they work in.

Also the `postgresql` marker: tests marked `@pytest.mark.postgresql(reason=…)` run on
PostgreSQL only. On any other database they are skipped and listed, loudly, at the end of
the run, so a laptop run on SQLite cannot look like a full one.
"""

from __future__ import annotations

from collections.abc import Iterable

import pytest
from django.core.cache import cache
from django.db import connection

from sla.models import clear_calendar_cache
from tasks.roles import ensure_role_groups
from tests.factories import RequestTypeFactory, TeamFactory, UserFactory

POSTGRESQL = "postgresql"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if connection.vendor == POSTGRESQL:
        return
    for item in items:
        marker = item.get_closest_marker(POSTGRESQL)
        if marker is not None:
            why = marker.kwargs.get("reason") or "needs PostgreSQL"
            item.add_marker(pytest.mark.skip(reason=f"PostgreSQL only: {why}"))


def postgresql_only_not_run(skipped: Iterable[pytest.TestReport]) -> list[str]:
    """Node ids of the skipped reports of `postgresql` tests (also from xdist workers: their
    reports carry the item's keywords, markers included)."""
    return sorted({report.nodeid for report in skipped if POSTGRESQL in report.keywords})


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    not_run = postgresql_only_not_run(terminalreporter.stats.get("skipped", []))
    if not not_run:
        return
    terminalreporter.section(
        f"NOT RUN on {connection.vendor}: {len(not_run)} PostgreSQL-only tests",
        sep="!",
        red=True,
        bold=True,
    )
    for nodeid in not_run:
        terminalreporter.write_line(f"  {nodeid}", red=True)
    terminalreporter.write_line(
        "Run them with DATABASE_URL=postgres://USER@HOST:5432/DBNAME (as .ci/run does).",
        red=True,
        bold=True,
    )


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
def lena(roles):
    """A second manager (Legal, of no team here): a card's other possible approver."""
    return _persona(roles, "lena", "manager", first_name="Lena", last_name="Legal")


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
