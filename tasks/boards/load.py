"""Who can take a card and how loaded they are: the dispatch board's owner choices."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import F
from django.utils import timezone

from sla.models import SlaTimer
from tasks.models import Task, Team
from tasks.permissions import people_who_may_work_cards

User = get_user_model()


def people_with_load() -> list:
    """Everyone who can own cards (`tasks.permissions.people_who_may_work_cards`, the rule
    the assignment applies), with their open cards and how many of those are at risk
    (`open_load`, `at_risk_load`) and the teams they are in (`team_ids`), in one query: the
    people LEFT JOIN one grouped count over open cards only (a per-person subquery read every
    card a person ever owned) and their teams (a row per team, folded here)."""
    now = timezone.now()
    people = people_who_may_work_cards().values("pk").order_by()
    owned = (
        Task.objects.open()
        .filter(owner__in=people)
        .order_by()
        .values(card=F("pk"), person=F("owner"))
    )
    # Open timers breached or at risk (the rules of sla.rules, as the queue counts them),
    # read in the covering index's order (timer_open_counts holds every column used):
    # unordered, PostgreSQL walked timer_open_due and each open timer's row. The two sets
    # joined by OR, not the queue's band: a CASE in the WHERE clause is not read from the index.
    risky = (
        (SlaTimer.objects.breached(now) | SlaTimer.objects.at_risk(now))
        .order_by("calendar_id", "target_seconds")
        .values(card=F("task_id"))
    )
    (people_sql, people_params), (owned_sql, owned_params), (risky_sql, risky_params) = (
        qs.query.sql_with_params() for qs in (people, owned, risky)
    )
    # One pass over open owned cards: how many per person, and how many with a timer at risk.
    load_sql = (
        "SELECT cards.person, COUNT(*) AS open_n, COUNT(risky.card) AS risk_n"
        f" FROM ({owned_sql}) cards"
        f" LEFT JOIN (SELECT DISTINCT card FROM ({risky_sql}) timers) risky"
        " ON risky.card = cards.card GROUP BY cards.person"
    )
    # Each person's teams (member or manager) ride along, one row per team: the board offers a
    # card only its team's people (tasks.permissions.people_who_may_own).
    # Unordered parts: SQLite refuses an ORDER BY (Team's default) inside a compound SELECT.
    members = Team.members.through.objects.order_by().values(
        person=F("user_id"), of_team=F("team_id")
    )
    managers = (
        Team.objects.filter(manager__isnull=False)
        .order_by()
        .values(person=F("manager_id"), of_team=F("pk"))
    )
    teams_sql, teams_params = members.union(managers).query.sql_with_params()
    user = connection.ops.quote_name(User._meta.db_table)
    rows = User.objects.raw(
        "SELECT u.id, u.username, u.first_name, u.last_name,"
        " COALESCE(loads.open_n, 0) AS open_load, COALESCE(loads.risk_n, 0) AS at_risk_load,"
        " teams.of_team AS team_id"
        f" FROM {user} u LEFT JOIN ({load_sql}) loads ON loads.person = u.id"
        f" LEFT JOIN ({teams_sql}) teams ON teams.person = u.id"
        f" WHERE u.id IN ({people_sql})"
        " ORDER BY u.first_name, u.last_name, u.username, u.id",
        (*owned_params, *risky_params, *teams_params, *people_params),
    )
    people: dict[int, Any] = {}
    for row in rows:
        person = people.setdefault(row.pk, row)
        if not hasattr(person, "team_ids"):
            person.team_ids = set()
        if row.team_id is not None:
            person.team_ids.add(row.team_id)
    return list(people.values())


def owners_by_team(people: list) -> dict[int, list]:
    """`people_with_load`'s people by team (a person of two teams is in both): the owners the
    board offers a card of that team (a card without a team is offered everyone)."""
    teams: dict[int, list] = {}
    for person in people:
        for team in sorted(person.team_ids):
            teams.setdefault(team, []).append(person)
    return teams
