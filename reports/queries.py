"""Report figures, each one or a few GROUP BY queries; rows never come into Python one card
at a time (only the grouped results do, a few dozen rows at most).

Periods: cards *created* in the period, except volume (created / closed / breached in each
week), the Pareto of causes (pauses that began in the period) and stage times (stretches
that began in the period). Workload and attention lists are the current state.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from django.db.models import Avg, Count, Q, Sum
from django.db.models.functions import TruncWeek
from django.urls import reverse
from django.utils import timezone

from reports import metrics
from reports.db import Percentile
from reports.figures import Chart, Column, Figure, Kind
from reports.filters import Scope
from reports.models import CardFacts, StageInterval
from sla.models import SlaEvent, SlaPause, SlaTimer, TimerKind, TimerState
from tasks.models import OPEN_STATUSES, Status, Task

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


def on_time(scope: Scope) -> Figure:
    """Per timer kind: met, missed, still running, cancelled, and cards with no such SLA.
    Share met = met / (met + missed); cards without SLA are shown, not dropped."""
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


def first_response(scope: Scope) -> Figure:
    """Business time to first response, from stopped response clocks, per priority."""
    measured = SlaTimer.objects.filter(
        scope.cards("task__"),
        scope.during("task__created_at"),
        kind=TimerKind.RESPONSE,
        state__in=OUTCOME,
    )
    stats = {
        "count": Count("pk"),
        "avg": Avg("consumed"),
        "p50": Percentile("consumed", 0.5),
        "p90": Percentile("consumed", 0.9),
    }
    by_priority = {
        r["task__priority"]: r
        for r in measured.values("task__priority").annotate(**stats).order_by()
    }
    overall = measured.aggregate(**stats)
    rows = [
        {"group": label, **by_priority[value]}
        for value, label in Task._meta.get_field("priority").choices
        if value in by_priority
    ]
    if overall["count"]:
        rows.append({"group": "All priorities", **overall})
    total = cards_in(scope).count()
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
    """Per week: cards created, closed (done) and SLA breaches."""
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
    rows = [
        {
            "week": w,
            "created": created.get(w, 0),
            "closed": closed.get(w, 0),
            "breached": breached.get(w, 0),
        }
        for w in weeks
    ]
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


def _stages(scope: Scope):
    return StageInterval.objects.filter(
        scope.derived(), scope.during("started_at"), business__isnull=False
    )


STAGE_STATS = {
    "cards": Count("task", distinct=True),
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


def stage_time(scope: Scope) -> Figure:
    rows = {r["status"]: r for r in _stages(scope).values("status").annotate(**STAGE_STATS)}
    ordered = [{"stage": s.label, **rows[s]} for s in Status if s in rows]
    return Figure(
        "stages",
        "Time per workflow stage",
        [Column("stage", "Stage", Kind.TEXT), *STAGE_COLUMNS],
        ordered,
        Chart("bar", "stage", ("avg", "p90")),
        note="Business time of finished stretches that began in the period (a stretch ends "
        "when the status, team or approver changes). Refreshed every few minutes.",
    )


def handoffs(scope: Scope) -> Figure:
    rows = (
        _stages(scope)
        .filter(handoff_from__isnull=False)
        .values("handoff_from__name", "team__name")
        .annotate(**STAGE_STATS)
        .order_by("-total")[:NAME_LIMIT]
    )
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


def approver_wait(scope: Scope) -> Figure:
    rows = (
        _stages(scope)
        .filter(status=Status.ON_APPROVAL)
        .values("approver__first_name", "approver__last_name", "approver__username")
        .annotate(**STAGE_STATS)
        .order_by("-total")[:NAME_LIMIT]
    )
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


def department_wait(scope: Scope) -> Figure:
    rows = (
        _stages(scope)
        .filter(status__in=[Status.WAITING, Status.ON_APPROVAL])
        .values("team__name")
        .annotate(**STAGE_STATS)
        .order_by("-total")[:NAME_LIMIT]
    )
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
    "team": ("Team", ("task__team__name",), lambda r: _label(r["task__team__name"], "no team")),
    "request_type": (
        "Request type",
        ("task__request_type__name",),
        lambda r: r["task__request_type__name"],
    ),
    "owner": (
        "Owner",
        ("task__owner__first_name", "task__owner__last_name", "task__owner__username"),
        lambda r: _label(
            _person(
                r["task__owner__first_name"],
                r["task__owner__last_name"],
                r["task__owner__username"],
            ),
            "no owner",
        ),
    ),
    "client": (
        "Client / related object",
        ("task__related_object__root__name",),
        lambda r: _label(r["task__related_object__root__name"], "none"),
    ),
}


def misses_by(scope: Scope, dimension: str) -> Figure:
    label, fields, name = MISS_DIMENSIONS[dimension]
    rows = (
        SlaTimer.objects.filter(
            scope.cards("task__"), scope.during("task__created_at"), state__in=OUTCOME
        )
        .values(*fields)
        .annotate(clocks=Count("pk"), missed=Count("pk", filter=Q(state=TimerState.BREACHED)))
        .order_by("-missed", "-clocks")[:NAME_LIMIT]
    )
    return Figure(
        f"misses_{dimension}",
        f"Misses by {label.lower()}",
        [
            Column("name", label, Kind.TEXT),
            Column("clocks", "Clocks finished"),
            Column("missed", "Missed"),
            Column("share", "Share missed", Kind.SHARE),
        ],
        [{**r, "name": name(r), "share": metrics.rate(r["missed"], r["clocks"])} for r in rows],
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
        .annotate(pauses=Count("pk"), cards=Count("timer__task", distinct=True))
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
    live = Q(timers__stopped_at__isnull=True)
    return {
        "open": Count("pk", distinct=True),
        "at_risk": Count(
            "pk",
            distinct=True,
            filter=live
            & Q(timers__breached_at__isnull=True, timers__warn_at__lte=now, timers__due_at__gt=now),
        ),
        "breached": Count(
            "pk",
            distinct=True,
            filter=live & (Q(timers__breached_at__isnull=False) | Q(timers__due_at__lte=now)),
        ),
    }


WORKLOAD_COLUMNS = [
    Column("open", "Open cards"),
    Column("at_risk", "At risk"),
    Column("breached", "Breached"),
]


def workload_people(scope: Scope, now: datetime) -> Figure:
    rows = (
        _open_cards(scope)
        .values("owner__first_name", "owner__last_name", "owner__username")
        .annotate(**_workload_counts(now))
        .order_by("-open")[:NAME_LIMIT]
    )
    return Figure(
        "workload_people",
        "Workload per person (owner)",
        [Column("person", "Owner", Kind.TEXT), *WORKLOAD_COLUMNS],
        [
            {
                "person": _label(
                    _person(r["owner__first_name"], r["owner__last_name"], r["owner__username"]),
                    "no owner",
                ),
                **r,
            }
            for r in rows
        ],
        Chart("bar", "person", ("open", "at_risk", "breached"), horizontal=True),
        empty="No open cards.",
    )


def workload_teams(scope: Scope, now: datetime) -> Figure:
    rows = (
        _open_cards(scope)
        .values("team__name")
        .annotate(**_workload_counts(now))
        .order_by("-open")[:NAME_LIMIT]
    )
    return Figure(
        "workload_teams",
        "Workload per team",
        [Column("team", "Team", Kind.TEXT), *WORKLOAD_COLUMNS],
        [{"team": _label(r["team__name"], "no team"), **r} for r in rows],
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
    rows = (
        CardFacts.objects.filter(
            scope.derived(), scope.during("created_at"), resolution_business__isnull=False
        )
        .values("request_type__name")
        .annotate(
            count=Count("pk"),
            p50=Percentile("resolution_business", 0.5),
            p90=Percentile("resolution_business", 0.9),
        )
        .order_by("-count")[:NAME_LIMIT]
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
