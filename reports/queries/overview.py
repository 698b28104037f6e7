"""The overview page: share of clocks met, time to first response, volume per week."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from django.db.models import Avg, Count, Q, Sum
from django.db.models.functions import TruncWeek
from django.utils import timezone

from reports import metrics
from reports.db import Percentile, nth_values
from reports.figures import Chart, Column, Figure, Kind
from reports.filters import Scope
from reports.queries.common import OUTCOME, card_facts, cards_in, daily_volume
from sla.models import SlaEvent, SlaTimer, TimerKind, TimerState
from tasks.models import Priority, Task

# The kinds counted in the rollup (reports.rollup.CLOCK_KINDS), by column prefix.
KIND_PREFIX = {TimerKind.RESPONSE: "response", TimerKind.RESOLUTION: "resolution"}
# Kinds with no rollup columns, read from the timers (one grouped query): the time to
# decision's row appears when some card created in the period had one.
LIVE_KINDS = tuple(k for k in TimerKind if k not in KIND_PREFIX)
STATES = ("met", "missed", "running", "cancelled")


def on_time(scope: Scope) -> Figure:
    """Per timer kind: met, missed, still running, cancelled, and cards with no such SLA.
    Share met = met / (met + missed); cards without SLA are shown, not dropped. Read from
    the daily rollup (CardFacts when a client is chosen)."""
    if scope.client is None:
        source = daily_volume(scope)
        totals = {"total": Sum("created")}
        counted = {f"{k}_cards": Sum(f"{k}_cards") for k in KIND_PREFIX.values()}
    else:
        source = card_facts(scope)
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
    return _on_time_figure(total, grouped | _outcomes(scope, LIVE_KINDS))


def on_time_live(scope: Scope) -> Figure:
    """on_time from the cards and their timers (what the rollup must agree with)."""
    return _on_time_figure(cards_in(scope).count(), _outcomes(scope, tuple(TimerKind)))


def _outcomes(scope: Scope, kinds: tuple[TimerKind, ...]) -> dict:
    """Per kind of timer of the cards created in the period: met, missed, running,
    cancelled clocks and the cards that have one (one grouped query)."""
    return {
        row["kind"]: row
        for row in SlaTimer.objects.filter(
            scope.cards("task__"), scope.during("task__created_at"), kind__in=kinds
        )
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


def _on_time_figure(total: int, grouped: dict) -> Figure:
    rows = []
    if total:
        for kind in TimerKind:
            if kind in LIVE_KINDS and kind not in grouped:
                continue  # no card of the period had this clock: no row of zeros
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
        note="Counted per clock (a reopened card's new resolution cycle counts again; "
        "the time to decision counts each approval step asked). "
        "Share met = met ÷ (met + missed); cards without an SLA are counted separately.",
    )


# From this many cards created in the period on, first_response reads its percentiles from
# indexes in response-time order (reports.db.nth_values) instead of sorting the period's
# values (below this, sorting the period's values is still the cheaper plan).
PERCENTILES_BY_INDEX_FROM = 200_000


def first_response(scope: Scope, *, by_index_from: int = PERCENTILES_BY_INDEX_FROM) -> Figure:
    """Business time to first response, from stopped response clocks, per priority (read
    from CardFacts: a card has one response clock at most)."""
    measured = card_facts(scope).filter(response_consumed__isnull=False)
    return _first_response_figure(
        measured, "response_consumed", "priority", lambda: _created(scope), by_index_from
    )


def _created(scope: Scope) -> int:
    """Cards created in the period (from the rollup unless a client is chosen)."""
    if scope.client is None:
        return daily_volume(scope).aggregate(n=Sum("created"))["n"] or 0
    return card_facts(scope).count()


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
        daily_volume(scope)
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
