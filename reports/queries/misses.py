"""The misses page: finished clocks and misses by team, request type, owner and client."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Count, F, Q, Sum

from reports import metrics
from reports.figures import Chart, Column, Figure, Kind
from reports.filters import Scope
from reports.queries.common import (
    NAME_LIMIT,
    OUTCOME,
    card_facts,
    daily_volume,
    label_of,
    person_name,
)
from sla.models import SlaTimer, TimerState
from tasks.models import RelatedObject, RequestType, Team

MISS_DIMENSIONS: dict[str, tuple[str, tuple[str, ...], Callable[[dict], str]]] = {
    "team": ("Team", ("team__name",), lambda r: label_of(r["team__name"], "no team")),
    "request_type": ("Request type", ("request_type__name",), lambda r: r["request_type__name"]),
    "owner": (
        "Owner",
        ("owner__first_name", "owner__last_name", "owner__username"),
        lambda r: label_of(
            person_name(r["owner__first_name"], r["owner__last_name"], r["owner__username"]),
            "no owner",
        ),
    ),
    "client": (
        "Client / related object",
        ("client__name",),
        lambda r: label_of(r["client__name"], "none"),
    ),
}
# The card's own fields for the live computation (the derived tables carry the client's root).
LIVE_FIELD = {"client__name": "task__related_object__root__name"}
ROLLUP_DIMENSIONS = ("team", "request_type")  # the others are not in DailyVolume


def misses_by(scope: Scope, dimension: str) -> Figure:
    """Finished clocks and misses per team / request type (from the daily rollup) or per
    owner / client (from CardFacts)."""
    label, fields, name = MISS_DIMENSIONS[dimension]
    sums = {
        "clocks": Sum(
            F("response_met") + F("response_missed") + F("resolution_met") + F("resolution_missed")
        ),
        "missed": Sum(F("response_missed") + F("resolution_missed")),
    }
    if dimension in ROLLUP_DIMENSIONS and scope.client is None:
        rows = (
            daily_volume(scope)
            .values(*fields)
            .annotate(**sums)
            .filter(clocks__gt=0)
            .order_by("-missed", "-clocks", *fields)[:NAME_LIMIT]
        )
    else:
        rows = _facts_misses(card_facts(scope).values(MISS_IDS[dimension]).annotate(**sums), fields)
    return _misses_figure(dimension, label, [{**r, "name": name(r)} for r in rows])


# The CardFacts column of each dimension, the model its names come from and their columns
# (in the order of MISS_DIMENSIONS' fields).
MISS_IDS = {
    "team": "team_id",
    "request_type": "request_type_id",
    "owner": "owner_id",
    "client": "client_id",
}
MISS_NAMES = {
    "team_id": (Team, ("name",)),
    "request_type_id": (RequestType, ("name",)),
    "owner_id": (get_user_model(), ("first_name", "last_name", "username")),
    "client_id": (RelatedObject, ("name",)),
}


def _facts_misses(grouped, fields: tuple[str, ...]) -> list[dict]:
    """Misses per owner / client / … from CardFacts: grouped by the id (a parallel hash
    aggregate over the period's cards, no join per card), then the few thousand groups
    joined to their names and summed per name as the rollup's figures are (the same rows,
    order and limit as grouping by the names directly)."""
    (column,) = grouped.query.values_select
    model, columns = MISS_NAMES[column]
    inner, params = grouped.order_by().query.sql_with_params()
    q = connection.ops.quote_name
    names = [f"n.{q(c)}" for c in columns]
    sql = (
        f"SELECT {', '.join(f'{n} AS {q(f)}' for n, f in zip(names, fields, strict=True))}, "
        f"SUM(g.clocks) AS clocks, SUM(g.missed) AS missed FROM ({inner}) g "
        f"LEFT JOIN {q(model._meta.db_table)} n ON n.{q(model._meta.pk.column)} = g.{q(column)} "
        f"GROUP BY {', '.join(names)} HAVING SUM(g.clocks) > 0 "
        f"ORDER BY missed DESC, clocks DESC, {', '.join(q(f) for f in fields)} LIMIT {NAME_LIMIT}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return [
        {**dict(zip(fields, row, strict=False)), "clocks": int(row[-2]), "missed": int(row[-1])}
        for row in rows
    ]


def misses_by_live(scope: Scope, dimension: str) -> Figure:
    label, fields, name = MISS_DIMENSIONS[dimension]
    live = {LIVE_FIELD.get(f, f"task__{f}"): f for f in fields}
    rows = (
        SlaTimer.objects.filter(
            scope.cards("task__"), scope.during("task__created_at"), state__in=OUTCOME
        )
        .values(*live)
        .annotate(clocks=Count("pk"), missed=Count("pk", filter=Q(state=TimerState.BREACHED)))
        .order_by("-missed", "-clocks", *live)[:NAME_LIMIT]
    )
    named = []
    for r in rows:
        r = {live.get(k, k): v for k, v in r.items()}
        named.append({**r, "name": name(r)})
    return _misses_figure(dimension, label, named)


def _misses_figure(dimension: str, label: str, rows: list[dict]) -> Figure:
    return Figure(
        f"misses_{dimension}",
        f"Misses by {label.lower()}",
        [
            Column("name", label, Kind.TEXT),
            Column("clocks", "Clocks finished"),
            Column("missed", "Missed"),
            Column("share", "Share missed", Kind.SHARE),
        ],
        [{**r, "share": metrics.rate(r["missed"], r["clocks"])} for r in rows],
        Chart("bar", "name", ("missed",), horizontal=True),
        note="Finished SLA clocks (met or missed) of cards created in the period.",
    )
