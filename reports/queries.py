"""Report figures, each one or a few GROUP BY queries; rows never come into Python one card
at a time (only the grouped results do, a few dozen rows at most).

Periods: cards *created* in the period, except volume (created / closed / breached in each
week), the Pareto of causes (pauses that began in the period) and stage times (stretches
that began in the period). Workload and attention lists are the current state.

On-time shares, volume and misses by team or request type read the daily rollup
(DailyVolume) unless a client is chosen (the rollup has no client dimension); first response
and misses by owner or client read CardFacts. Both are kept by reports.rollup (every few
minutes); the `*_live` functions compute the same figures from the cards and timers
themselves, for the tests that hold the derived tables to them.
"""

from __future__ import annotations

import operator
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import reduce

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Avg, Count, F, Q, Sum
from django.db.models.functions import TruncWeek
from django.urls import reverse
from django.utils import timezone

from reports import metrics
from reports.db import Percentile, grouped_with_names, nth_values
from reports.figures import Chart, Column, Figure, Kind
from reports.filters import Scope
from reports.models import CardFacts, DailyVolume, StageInterval
from sla.models import SlaEvent, SlaPause, SlaTimer, TimerKind, TimerState
from tasks.models import OPEN_STATUSES, Priority, RelatedObject, RequestType, Status, Task, Team

NAME_LIMIT = 30  # rows per "by …" table, the largest first
OUTCOME = (TimerState.MET, TimerState.BREACHED)
STATUS_LABEL = dict(Status.choices)
KIND_LABEL = dict(TimerKind.choices)


def _label(value, fallback: str = "—") -> str:
    return fallback if value in (None, "") else str(value)


def _person(first: str | None, last: str | None, username: str | None) -> str | None:
    if username is None:
        return None
    return f"{first or ''} {last or ''}".strip() or username


def cards_in(scope: Scope):
    return Task.objects.filter(scope.cards(), scope.during("created_at"))


# --- Overview: on time, first response, volume ------------------------------------------


KIND_PREFIX = {TimerKind.RESPONSE: "response", TimerKind.RESOLUTION: "resolution"}
STATES = ("met", "missed", "running", "cancelled")


def on_time(scope: Scope) -> Figure:
    """Per timer kind: met, missed, still running, cancelled, and cards with no such SLA.
    Share met = met / (met + missed); cards without SLA are shown, not dropped. Read from
    the daily rollup (CardFacts when a client is chosen)."""
    if scope.client is None:
        source = _rollup(scope)
        totals = {"total": Sum("created")}
        counted = {f"{k}_cards": Sum(f"{k}_cards") for k in KIND_PREFIX.values()}
    else:
        source = _facts(scope)
        totals = {"total": Count("pk")}
        counted = {
            f"{k}_cards": Count("pk", filter=Q(**{f"{k}_clocks__gt": 0}))
            for k in KIND_PREFIX.values()
        }
    sums = source.aggregate(
        **totals,
        **counted,
        **{f"{k}_{s}": Sum(f"{k}_{s}") for k in KIND_PREFIX.values() for s in STATES},
    )
    total = sums["total"] or 0
    grouped = {
        kind: {
            "met": sums[f"{k}_met"] or 0,
            "missed": sums[f"{k}_missed"] or 0,
            "running": sums[f"{k}_running"] or 0,
            "cancelled": sums[f"{k}_cancelled"] or 0,
            "cards": sums[f"{k}_cards"] or 0,
        }
        for kind, k in KIND_PREFIX.items()
    }
    return _on_time_figure(total, grouped)


def on_time_live(scope: Scope) -> Figure:
    """on_time from the cards and their timers (what the rollup must agree with)."""
    total = cards_in(scope).count()
    grouped = {
        row["kind"]: row
        for row in SlaTimer.objects.filter(scope.cards("task__"), scope.during("task__created_at"))
        .values("kind")
        .annotate(
            met=Count("pk", filter=Q(state=TimerState.MET)),
            missed=Count("pk", filter=Q(state=TimerState.BREACHED)),
            running=Count("pk", filter=Q(state__in=[TimerState.RUNNING, TimerState.PAUSED])),
            cancelled=Count("pk", filter=Q(state=TimerState.CANCELLED)),
            cards=Count("task", distinct=True),
        )
        .order_by()
    }
    return _on_time_figure(total, grouped)


def _rollup(scope: Scope):
    """DailyVolume rows of the period and dimensions (not for a client: it has none)."""
    return DailyVolume.objects.filter(
        scope.derived(), day__gte=scope.first_day, day__lte=scope.last_day
    )


def _facts(scope: Scope):
    return CardFacts.objects.filter(scope.derived(), scope.during("created_at"))


def _on_time_figure(total: int, grouped: dict) -> Figure:
    rows = []
    if total:
        for kind in TimerKind:
            g = grouped.get(kind, {})
            met, missed = g.get("met", 0), g.get("missed", 0)
            rows.append(
                {
                    "kind": kind.label,
                    "met": met,
                    "missed": missed,
                    "running": g.get("running", 0),
                    "cancelled": g.get("cancelled", 0),
                    "no_sla": total - g.get("cards", 0),
                    "cards": total,
                    "share": metrics.rate(met, met + missed),
                }
            )
    return Figure(
        "on_time",
        "Closed on time",
        [
            Column("kind", "Clock", Kind.TEXT),
            Column("met", "Met"),
            Column("missed", "Missed"),
            Column("running", "Still running"),
            Column("cancelled", "Cancelled"),
            Column("no_sla", "Cards without this SLA"),
            Column("cards", "Cards created"),
            Column("share", "Share met", Kind.SHARE),
        ],
        rows,
        Chart("bar", "kind", ("met", "missed", "running", "no_sla"), stacked=True),
        note="Counted per clock (a reopened card's new resolution cycle counts again). "
        "Share met = met ÷ (met + missed); cards without an SLA are counted separately.",
    )


# From this many cards created in the period on, first_response reads its percentiles from
# indexes in response-time order (reports.db.nth_values) instead of sorting the period's
# values (at 1M cards: 90 days ≈ 125,000 cards; sorting them is still the cheaper plan).
PERCENTILES_BY_INDEX_FROM = 200_000


def first_response(scope: Scope, *, by_index_from: int = PERCENTILES_BY_INDEX_FROM) -> Figure:
    """Business time to first response, from stopped response clocks, per priority (read
    from CardFacts: a card has one response clock at most)."""
    measured = _facts(scope).filter(response_consumed__isnull=False)
    return _first_response_figure(
        measured, "response_consumed", "priority", lambda: _created(scope), by_index_from
    )


def _created(scope: Scope) -> int:
    """Cards created in the period (from the rollup unless a client is chosen)."""
    if scope.client is None:
        return _rollup(scope).aggregate(n=Sum("created"))["n"] or 0
    return _facts(scope).count()


def first_response_live(scope: Scope) -> Figure:
    measured = SlaTimer.objects.filter(
        scope.cards("task__"),
        scope.during("task__created_at"),
        kind=TimerKind.RESPONSE,
        state__in=OUTCOME,
    )
    return _first_response_figure(
        measured, "consumed", "task__priority", lambda: cards_in(scope).count()
    )


def _first_response_figure(
    measured, value: str, priority: str, count: Callable[[], int], by_index_from: int | None = None
):
    """Per priority and overall as FILTERed aggregates of a single query. With
    `by_index_from` and at least that many cards created in the period (`count`, from the
    rollup): counts and averages in one query, the percentiles read from indexes in the
    value's order in another (the choice of plan only: both are exact)."""
    groups = {"": Q(), **{choice: Q(**{priority: choice}) for choice in Priority.values}}
    stats, percentiles = {}, {}
    for key, only in groups.items():
        stats |= {
            f"count{key}": Count(value, filter=only),  # not the pk: the index covers `value`
            f"avg{key}": Avg(value, filter=only),
        }
        percentiles |= {
            f"p50{key}": Percentile(value, 0.5, filter=only),
            f"p90{key}": Percentile(value, 0.9, filter=only),
        }
    total = count()
    if by_index_from is None or total < by_index_from:
        got = measured.aggregate(**stats, **percentiles)
    else:
        got = measured.aggregate(**stats)
        if not got["count"]:
            got |= dict.fromkeys(percentiles)
        else:
            probes = [
                (measured.filter(only), value, got[f"count{key}"], fraction)
                for key, only in groups.items()
                for fraction in (0.5, 0.9)
            ]
            read = iter(nth_values(probes))
            got |= {f"p{p}{key}": next(read) for key in groups for p in (50, 90)}
    measures = ("count", "avg", "p50", "p90")
    rows = [
        {"group": label, **{m: got[f"{m}{choice}"] for m in measures}}
        for choice, label in Priority.choices
        if got[f"count{choice}"]
    ]
    overall = {m: got[m] for m in measures}
    if overall["count"]:
        rows.append({"group": "All priorities", **overall})
    return Figure(
        "first_response",
        "Time to first response",
        [
            Column("group", "Priority", Kind.TEXT),
            Column("count", "Cards measured"),
            Column("avg", "Average", Kind.DURATION),
            Column("p50", "Median", Kind.DURATION),
            Column("p90", "90th percentile", Kind.DURATION),
        ],
        rows,
        Chart("bar", "group", ("avg", "p50", "p90")),
        note=f"Business time on each card's calendar, pauses excluded. "
        f"{total - (overall['count'] or 0)} of {total} cards created in the period have no "
        f"measured first response (no response SLA, or not yet taken into work).",
    )


def volume(scope: Scope) -> Figure:
    """Per week: cards created, closed (done) and SLA breaches, from the daily rollup (from
    the cards when a client is chosen)."""
    if scope.client is not None:
        return volume_live(scope)
    rows = (
        _rollup(scope)
        .annotate(week=TruncWeek("day"))
        .values("week")
        .annotate(created=Sum("created"), closed=Sum("closed"), breached=Sum("breached"))
        .order_by("week")
    )
    return _volume_figure(
        [
            {
                "week": _day(r["week"]),
                "created": r["created"],
                "closed": r["closed"],
                "breached": r["breached"],
            }
            for r in rows
            if r["created"] or r["closed"] or r["breached"]
        ]
    )


def volume_live(scope: Scope) -> Figure:
    week = TruncWeek("created_at")
    created = _weekly(cards_in(scope), week)
    closed = _weekly(
        Task.objects.filter(scope.cards(), scope.during("resolved_at")), TruncWeek("resolved_at")
    )
    breached = _weekly(
        SlaEvent.objects.filter(
            scope.cards("timer__task__"), scope.during("at"), kind=SlaEvent.Kind.BREACH
        ),
        TruncWeek("at"),
    )
    weeks = sorted(set(created) | set(closed) | set(breached))
    return _volume_figure(
        [
            {
                "week": w,
                "created": created.get(w, 0),
                "closed": closed.get(w, 0),
                "breached": breached.get(w, 0),
            }
            for w in weeks
        ]
    )


def _volume_figure(rows: list[dict]) -> Figure:
    return Figure(
        "volume",
        "Volume per week",
        [
            Column("week", "Week of", Kind.TEXT),
            Column("created", "Created"),
            Column("closed", "Closed"),
            Column("breached", "Breaches"),
        ],
        rows,
        Chart("line", "week", ("created", "closed", "breached")),
    )


def _weekly(queryset, trunc) -> dict:
    rows = queryset.annotate(week=trunc).values("week").annotate(n=Count("pk")).order_by()
    return {_day(r["week"]): r["n"] for r in rows}


def _day(value):
    if isinstance(value, datetime):
        return timezone.localtime(value).date() if timezone.is_aware(value) else value.date()
    return value


# --- Flow: stages, hand-offs, bottlenecks -----------------------------------------------
#
# flow() gives the four figures from one grouped pass over the period's stretches (counts,
# sums and cards, additive across the groups: the cards are counted as each card's first
# stretch of the group in the period, from StageInterval's previous_* columns) and, per
# figure, one query reading each group's 90th percentile from the top of an index in
# business-time order. With a team filter (a stretch's team, which the previous_* columns
# do not follow) it computes them as the *_live functions do: each figure one GROUP BY with
# COUNT(DISTINCT) and percentile_disc, over a twelfth of the rows.


def _stages(scope: Scope):
    # order_by(): the model's default ordering (by card) would join every row to its card.
    return StageInterval.objects.filter(
        scope.derived(), scope.during("started_at"), business__isnull=False
    ).order_by()


STAGE_STATS = {
    "cards": Count("task_id", distinct=True),  # the column: no join to the cards
    "total": Sum("business"),
    "avg": Avg("business"),
    "p90": Percentile("business", 0.9),
}
STAGE_COLUMNS = [
    Column("cards", "Cards"),
    Column("total", "Total time", Kind.DURATION),
    Column("avg", "Average stretch", Kind.DURATION),
    Column("p90", "90th percentile stretch", Kind.DURATION),
]
WAITING = [Status.WAITING, Status.ON_APPROVAL]
APPROVER = ("approver__first_name", "approver__last_name", "approver__username")


@dataclass
class _Group:
    """One row of a flow figure while it is summed: its stretches, cards, total and the
    ids its stretches carry (a name may stand for several ids)."""

    ids: set = field(default_factory=set)
    n: int = 0
    cards: int = 0
    total: timedelta = timedelta(0)

    def add(self, ids, n: int, cards: int, total: timedelta) -> None:
        self.ids.add(ids)
        self.n += n
        self.cards += cards
        self.total += total


def flow(scope: Scope) -> list[Figure]:
    """Time per stage, after hand-offs, by approver and by department (the flow page)."""
    if scope.team is not None:
        return flow_live(scope)
    start = scope.start

    def first(previous: str):
        return Count(
            "pk", filter=Q(**{f"{previous}__isnull": True}) | Q(**{previous + "__lt": start})
        )

    # Grouped by the ids alone (a parallel hash aggregate), the names joined to the few
    # hundred groups afterwards.
    ids = ("status", "team_id", "handoff_from_id", "approver_id")
    inner = (
        _stages(scope)
        .values(*ids)
        .annotate(
            n=Count("business"),
            total=Sum("business"),
            in_status=first("previous_in_status"),
            waiting_in_team=first("previous_waiting_in_team"),
            with_approver=first("previous_with_approver"),
            after_handoff=first("previous_after_handoff"),
        )
    )
    approver = {key: (get_user_model(), "approver_id", key.rpartition("__")[2]) for key in APPROVER}
    grouped = grouped_with_names(
        inner,
        {"team__name": (Team, "team_id"), "handoff_from__name": (Team, "handoff_from_id"),
         **approver},
    )  # fmt: skip
    stages: dict = defaultdict(_Group)
    handoff_pairs: dict = defaultdict(_Group)
    approvers: dict = defaultdict(_Group)
    departments: dict = defaultdict(_Group)
    for r in grouped:
        n, total = r["n"], r["total"]
        stages[r["status"]].add(r["status"], n, r["in_status"], total)
        if r["handoff_from_id"] is not None:
            key = (r["handoff_from__name"], r["team__name"])
            pair = (r["handoff_from_id"], r["team_id"])
            handoff_pairs[key].add(pair, n, r["after_handoff"], total)
        if r["status"] == Status.ON_APPROVAL:
            key = tuple(r[f] for f in APPROVER)
            approvers[key].add(r["approver_id"], n, r["with_approver"], total)
        if r["status"] in WAITING:
            departments[r["team__name"]].add(r["team_id"], n, r["waiting_in_team"], total)
    shown = {
        "stages": {s.value: stages[s.value] for s in Status if s.value in stages},
        "handoffs": _largest_groups(handoff_pairs),
        "approvers": _largest_groups(approvers),
        "departments": _largest_groups(departments),
    }
    p90 = {
        "stages": _p90s(scope, shown["stages"], lambda ids: _ids_q("status", ids)),
        "handoffs": _p90s(scope, shown["handoffs"], _pairs_q),
        "approvers": _p90s(
            scope,
            shown["approvers"],
            lambda ids: Q(status=Status.ON_APPROVAL) & _ids_q("approver_id", ids),
        ),
        "departments": _p90s(
            scope, shown["departments"], lambda ids: Q(status__in=WAITING) & _ids_q("team_id", ids)
        ),
    }

    def stats(figure: str, key) -> dict:
        g = shown[figure][key]
        return {"cards": g.cards, "total": g.total, "avg": g.total / g.n, "p90": p90[figure][key]}

    return [
        _stage_figure([{"stage": STATUS_LABEL[k], **stats("stages", k)} for k in shown["stages"]]),
        _handoffs_figure(
            [
                {"handoff_from__name": f, "team__name": t, **stats("handoffs", (f, t))}
                for f, t in shown["handoffs"]
            ]
        ),
        _approvers_figure(
            [
                dict(zip(APPROVER, k, strict=True)) | stats("approvers", k)
                for k in shown["approvers"]
            ]
        ),
        _departments_figure(
            [{"team__name": k, **stats("departments", k)} for k in shown["departments"]]
        ),
    ]


def _largest_groups(groups: dict) -> dict:
    """The NAME_LIMIT groups with the most time, as the live figures order them."""
    ordered = sorted(groups.items(), key=lambda item: item[1].total, reverse=True)
    return dict(ordered[:NAME_LIMIT])


def _ids_q(column: str, ids) -> Q:
    """`column` is one of `ids` (None among them: or empty)."""
    named = sorted(i for i in ids if i is not None)
    parts = [Q(**{column: named[0]})] if len(named) == 1 else []
    if len(named) > 1:
        parts.append(Q(**{f"{column}__in": named}))
    if None in ids:
        parts.append(Q(**{f"{column}__isnull": True}))
    return reduce(operator.or_, parts)


def _pairs_q(pairs) -> Q:
    return reduce(
        operator.or_,
        (Q(handoff_from_id=f) & _ids_q("team_id", {t}) for f, t in sorted(pairs, key=str)),
    )


def _p90s(scope: Scope, groups: dict, only: Callable[[set], Q]) -> dict:
    """Each group's nearest-rank 90th percentile of business time, in one query (skipping
    the stretches above it from the top of the group's index: `nth_values`)."""
    values = nth_values(
        [(_stages(scope).filter(only(g.ids)), "business", g.n, 0.9) for g in groups.values()]
    )
    return dict(zip(groups, values, strict=True))


def flow_live(scope: Scope) -> list[Figure]:
    return [
        stage_time_live(scope),
        handoffs_live(scope),
        approver_wait_live(scope),
        department_wait_live(scope),
    ]


def stage_time(scope: Scope) -> Figure:
    return flow(scope)[0]


def handoffs(scope: Scope) -> Figure:
    return flow(scope)[1]


def approver_wait(scope: Scope) -> Figure:
    return flow(scope)[2]


def department_wait(scope: Scope) -> Figure:
    return flow(scope)[3]


def stage_time_live(scope: Scope) -> Figure:
    rows = {r["status"]: r for r in _stages(scope).values("status").annotate(**STAGE_STATS)}
    return _stage_figure([{"stage": s.label, **rows[s]} for s in Status if s in rows])


def _stage_figure(rows: list[dict]) -> Figure:
    return Figure(
        "stages",
        "Time per workflow stage",
        [Column("stage", "Stage", Kind.TEXT), *STAGE_COLUMNS],
        rows,
        Chart("bar", "stage", ("avg", "p90")),
        note="Business time of finished stretches that began in the period (a stretch ends "
        "when the status, team or approver changes). Refreshed every few minutes.",
    )


def handoffs_live(scope: Scope) -> Figure:
    rows = (
        _stages(scope)
        .filter(handoff_from__isnull=False)
        .values("handoff_from__name", "team__name")
        .annotate(**STAGE_STATS)
        .order_by("-total")[:NAME_LIMIT]
    )
    return _handoffs_figure(list(rows))


def _handoffs_figure(rows: list[dict]) -> Figure:
    return Figure(
        "handoffs",
        "After hand-offs between teams",
        [
            Column("handoff", "Hand-off", Kind.TEXT),
            Column("cards", "Cards"),
            Column("total", "Time until next move", Kind.DURATION),
            Column("avg", "Average", Kind.DURATION),
            Column("p90", "90th percentile", Kind.DURATION),
        ],
        [
            {"handoff": f"{r['handoff_from__name']} → {_label(r['team__name'], 'no team')}", **r}
            for r in rows
        ],
        Chart("bar", "handoff", ("avg", "p90"), horizontal=True),
        note="Business time from a hand-off until the receiving team first moved the card.",
        empty="No hand-offs between teams in this period.",
    )


def approver_wait_live(scope: Scope) -> Figure:
    rows = (
        _stages(scope)
        .filter(status=Status.ON_APPROVAL)
        .values(*APPROVER)
        .annotate(**STAGE_STATS)
        .order_by("-total")[:NAME_LIMIT]
    )
    return _approvers_figure(list(rows))


def _approvers_figure(rows: list[dict]) -> Figure:
    return Figure(
        "approvers",
        "Waiting for approval, by approver",
        [Column("approver", "Approver", Kind.TEXT), *STAGE_COLUMNS],
        [
            {
                "approver": _label(
                    _person(
                        r["approver__first_name"],
                        r["approver__last_name"],
                        r["approver__username"],
                    ),
                    "no approver",
                ),
                **r,
            }
            for r in rows
        ],
        Chart("bar", "approver", ("total",), horizontal=True),
        empty="No card waited for approval in this period.",
    )


def department_wait_live(scope: Scope) -> Figure:
    rows = (
        _stages(scope)
        .filter(status__in=WAITING)
        .values("team__name")
        .annotate(**STAGE_STATS)
        .order_by("-total")[:NAME_LIMIT]
    )
    return _departments_figure(list(rows))


def _departments_figure(rows: list[dict]) -> Figure:
    return Figure(
        "departments",
        "Waiting (blocked or on approval), by department",
        [Column("team", "Team", Kind.TEXT), *STAGE_COLUMNS],
        [{"team": _label(r["team__name"], "no team"), **r} for r in rows],
        Chart("bar", "team", ("total",), horizontal=True),
        empty="No card waited in this period.",
    )


# --- Misses ------------------------------------------------------------------------------

MISS_DIMENSIONS: dict[str, tuple[str, tuple[str, ...], Callable[[dict], str]]] = {
    "team": ("Team", ("team__name",), lambda r: _label(r["team__name"], "no team")),
    "request_type": ("Request type", ("request_type__name",), lambda r: r["request_type__name"]),
    "owner": (
        "Owner",
        ("owner__first_name", "owner__last_name", "owner__username"),
        lambda r: _label(
            _person(r["owner__first_name"], r["owner__last_name"], r["owner__username"]),
            "no owner",
        ),
    ),
    "client": (
        "Client / related object",
        ("client__name",),
        lambda r: _label(r["client__name"], "none"),
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
            _rollup(scope)
            .values(*fields)
            .annotate(**sums)
            .filter(clocks__gt=0)
            .order_by("-missed", "-clocks", *fields)[:NAME_LIMIT]
        )
    else:
        rows = _facts_misses(_facts(scope).values(MISS_IDS[dimension]).annotate(**sums), fields)
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


# --- Causes: Pareto of blocking reasons ---------------------------------------------------


def causes(scope: Scope) -> Figure:
    """Business time lost per blocking reason, from finished pauses of resolution clocks
    (response clocks pause at the same moments; counting both would count twice)."""
    grouped = (
        SlaPause.objects.filter(
            scope.cards("timer__task__"),
            scope.during("started_at"),
            timer__kind=TimerKind.RESOLUTION,
            business_lost__isnull=False,
        )
        .values("blocking_reason__name", "status")
        .annotate(pauses=Count("pk"), cards=Count("timer__task_id", distinct=True))
        .annotate(lost=Sum("business_lost"))
        .order_by()
    )
    by_label: dict[str, dict] = {}
    for r in grouped:
        label = r["blocking_reason__name"] or f"{STATUS_LABEL.get(r['status'], r['status'])}"
        entry = by_label.setdefault(label, {"pauses": 0, "cards": 0, "lost": timedelta(0)})
        entry["pauses"] += r["pauses"]
        entry["cards"] += r["cards"]
        entry["lost"] += r["lost"]
    rows = [
        {
            "reason": p.label,
            "lost": p.value,
            "pauses": by_label[p.label]["pauses"],
            "cards": by_label[p.label]["cards"],
            "share": p.share,
            "cumulative": p.cumulative,
        }
        for p in metrics.pareto((label, e["lost"]) for label, e in by_label.items())
    ]
    return Figure(
        "causes",
        "Time lost per blocking reason",
        [
            Column("reason", "Cause", Kind.TEXT),
            Column("lost", "Business time lost", Kind.DURATION),
            Column("pauses", "Pauses"),
            Column("cards", "Cards"),
            Column("share", "Share", Kind.SHARE),
            Column("cumulative", "Cumulative share", Kind.SHARE),
        ],
        rows,
        Chart("bar", "reason", ("lost",)),
        note="Finished pauses that began in the period. A pause without a blocking reason "
        "is named by the status that paused the clock.",
        empty="No SLA clock was paused in this period.",
    )


# --- Workload and attention (current state) ---------------------------------------------


def _open_cards(scope: Scope):
    return Task.objects.filter(scope.cards(), status__in=OPEN_STATUSES)


def _workload_counts(now: datetime) -> dict:
    """Open cards, and of them those with a live clock at risk / breached: each a hashed
    set of the live timers' cards (partial index on open timers), not a join of all timers
    counted distinct."""
    live = SlaTimer.objects.filter(stopped_at__isnull=True)
    at_risk = live.filter(breached_at__isnull=True, warn_at__lte=now, due_at__gt=now)
    breached = live.filter(Q(breached_at__isnull=False) | Q(due_at__lte=now))
    return {
        "open": Count("pk"),
        "at_risk": Count("pk", filter=Q(pk__in=at_risk.values("task_id"))),
        "breached": Count("pk", filter=Q(pk__in=breached.values("task_id"))),
    }


WORKLOAD_COLUMNS = [
    Column("open", "Open cards"),
    Column("at_risk", "At risk"),
    Column("breached", "Breached"),
]


OWNER = ("owner__first_name", "owner__last_name", "owner__username")


def workload(scope: Scope, now: datetime) -> list[Figure]:
    """Workload per team and per person from one GROUP BY (team, owner): its rows number
    the team × owner pairs with open cards (bounded by the people, not the cards), summed
    here into the two tables."""
    pairs = _open_cards(scope).values("team__name", *OWNER).annotate(**_workload_counts(now))
    teams: dict = {}
    people: dict = {}
    for r in pairs.order_by():
        for totals, key in ((teams, r["team__name"]), (people, tuple(r[f] for f in OWNER))):
            entry = totals.setdefault(key, dict.fromkeys(("open", "at_risk", "breached"), 0))
            for name in entry:
                entry[name] += r[name]
    return [_workload_teams_figure(teams), _workload_people_figure(people)]


def _largest(totals: dict) -> list[tuple]:
    return sorted(totals.items(), key=lambda item: -item[1]["open"])[:NAME_LIMIT]


def workload_people(scope: Scope, now: datetime) -> Figure:
    return workload(scope, now)[1]


def workload_teams(scope: Scope, now: datetime) -> Figure:
    return workload(scope, now)[0]


def _workload_people_figure(people: dict) -> Figure:
    return Figure(
        "workload_people",
        "Workload per person (owner)",
        [Column("person", "Owner", Kind.TEXT), *WORKLOAD_COLUMNS],
        [
            {"person": _label(_person(*owner), "no owner"), **counts}
            for owner, counts in _largest(people)
        ],
        Chart("bar", "person", ("open", "at_risk", "breached"), horizontal=True),
        empty="No open cards.",
    )


def _workload_teams_figure(teams: dict) -> Figure:
    return Figure(
        "workload_teams",
        "Workload per team",
        [Column("team", "Team", Kind.TEXT), *WORKLOAD_COLUMNS],
        [{"team": _label(team, "no team"), **counts} for team, counts in _largest(teams)],
        Chart("bar", "team", ("open", "at_risk", "breached")),
        empty="No open cards.",
    )


def attention(scope: Scope, now: datetime) -> Figure:
    counts = _open_cards(scope).aggregate(
        no_owner=Count("pk", filter=Q(owner__isnull=True)),
        no_next_step=Count("pk", filter=Q(next_step="")),
        overdue=Count("pk", filter=Q(next_step_due__lt=now)),
    )
    cards = reverse("task_list")
    rows = [
        {"what": "Open cards without an owner", "n": counts["no_owner"]},
        {"what": "Open cards without a next step", "n": counts["no_next_step"]},
        {"what": "Open cards with an overdue next step", "n": counts["overdue"]},
    ]
    return Figure(
        "attention",
        "Cards needing attention",
        [Column("what", "Cards", Kind.TEXT), Column("n", "How many")],
        rows,
        Chart("bar", "what", ("n",), horizontal=True),
        links={0: f"{cards}?open=true&no_owner=true"},
    )


def approaching_breach(scope: Scope, now: datetime, limit: int = 25) -> Figure:
    timers = (
        SlaTimer.objects.filter(
            scope.cards("task__"),
            stopped_at__isnull=True,
            breached_at__isnull=True,
            running_since__isnull=False,
            warn_at__lte=now,
            due_at__gt=now,
        )
        .select_related("task", "task__owner", "task__team")
        .order_by("due_at")[:limit]
    )
    rows, links = [], {}
    for i, t in enumerate(timers):
        owner = t.task.owner
        rows.append(
            {
                "card": f"#{t.task_id} {t.task.title}",
                "clock": KIND_LABEL[t.kind],
                "team": _label(t.task.team.name if t.task.team else None),
                "owner": owner.get_full_name() or owner.username if owner else "no owner",
                "due": timezone.localtime(t.due_at),
                "left": t.due_at - now,
            }
        )
        links[i] = t.task.get_absolute_url()
    return Figure(
        "approaching",
        "Cards approaching breach",
        [
            Column("card", "Card", Kind.TEXT),
            Column("clock", "Clock", Kind.TEXT),
            Column("team", "Team", Kind.TEXT),
            Column("owner", "Owner", Kind.TEXT),
            Column("due", "Due", Kind.TEXT),
            Column("left", "Calendar time left", Kind.DURATION),
        ],
        rows,
        note=f"Open clocks past their warning threshold, soonest due first (at most {limit}).",
        empty="No card is approaching a breach.",
        links=links,
    )


# --- Repetitive work ---------------------------------------------------------------------


def repetitive(scope: Scope, rule: metrics.AutomationRule | None = None) -> Figure:
    rule = rule or metrics.AutomationRule()
    # Grouped by the request type's id (in the order of the covering index on request type
    # and priority), its name joined to the groups after.
    grouped = (
        CardFacts.objects.filter(
            scope.derived(), scope.during("created_at"), resolution_business__isnull=False
        )
        .values("request_type_id")
        .annotate(
            count=Count("resolution_business"),  # not the pk: the index covers this
            p50=Percentile("resolution_business", 0.5),
            p90=Percentile("resolution_business", 0.9),
        )
        .order_by("-count", "request_type_id")[:NAME_LIMIT]
    )
    rows = grouped_with_names(
        grouped,
        {"request_type__name": (RequestType, "request_type_id")},
        order=("-count", "request_type__name"),
    )
    out = []
    for r in rows:
        spread = metrics.spread(r["p50"], r["p90"])
        out.append(
            {
                "type": r["request_type__name"],
                "count": r["count"],
                "p50": r["p50"],
                "p90": r["p90"],
                "spread": None if spread is None or spread == float("inf") else round(spread, 2),
                "candidate": "yes" if metrics.is_repetitive(r["count"], r["p50"], r["p90"], rule)
                else "",
            }
        )  # fmt: skip
    return Figure(
        "repetitive",
        "Repetitive work worth automating",
        [
            Column("type", "Request type", Kind.TEXT),
            Column("count", "Cards done"),
            Column("p50", "Median handling", Kind.DURATION),
            Column("p90", "90th percentile", Kind.DURATION),
            Column("spread", "p90 ÷ median"),
            Column("candidate", "Automation candidate", Kind.TEXT),
        ],
        out,
        Chart("bar", "type", ("count",)),
        note=f"Candidates: at least {rule.min_count} done cards, median business time ≤ "
        f"{metrics.format_duration(rule.max_median)}, p90 ≤ {rule.max_spread:g} × median.",
    )
