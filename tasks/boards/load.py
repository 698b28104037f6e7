"""Who can take a card and how loaded they are: the dispatch board's owner choices."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import F
from django.utils import timezone

from sla.models import SlaTimer
from tasks.models import Task
from tasks.permissions import people_who_may_work_cards

User = get_user_model()


def people_with_load() -> list:
    """Everyone who can own cards (`tasks.permissions.people_who_may_work_cards`, the rule
    the assignment applies), with their open cards and how many of those are at risk
    (`open_load`, `at_risk_load`), in one query: the people LEFT JOIN one grouped count over
    open cards only (a per-person subquery read every card a person ever owned)."""
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
    user = connection.ops.quote_name(User._meta.db_table)
    return list(
        User.objects.raw(
            "SELECT u.id, u.username, u.first_name, u.last_name,"
            " COALESCE(loads.open_n, 0) AS open_load, COALESCE(loads.risk_n, 0) AS at_risk_load"
            f" FROM {user} u LEFT JOIN ({load_sql}) loads ON loads.person = u.id"
            f" WHERE u.id IN ({people_sql})"
            " ORDER BY u.first_name, u.last_name, u.username",
            (*owned_params, *risky_params, *people_params),
        )
    )
