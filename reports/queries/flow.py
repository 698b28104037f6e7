"""The flow page: time per stage, after hand-offs, waiting by approver and by department,
and each approver's time to decision.

flow() gives the four figures from one grouped pass over the period's stretches (counts,
sums and cards, additive across the groups: the cards are counted as each card's first
stretch of the group in the period, from StageInterval's previous_* columns) and, per
figure, one query reading each group's 90th percentile from the top of an index in
business-time order. With a team filter (a stretch's team, which the previous_* columns
do not follow) it computes them as the *_live functions do: each figure one GROUP BY with
COUNT(DISTINCT) and percentile_disc, over a twelfth of the rows.

The time to decision (`decisions_by_approver`) is read from the decisions themselves and
their stopped time-to-decision clocks, in two queries whatever the period.
"""

from __future__ import annotations

import operator
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from functools import reduce

from django.contrib.auth import get_user_model
from django.db.models import Avg, Count, OuterRef, Q, Subquery, Sum

from reports import metrics
from reports.db import Percentile, grouped_with_names, nth_values
from reports.figures import Chart, Column, Figure, Kind
from reports.filters import Scope
from reports.models import StageInterval
from reports.queries.common import NAME_LIMIT, OUTCOME, STATUS_LABEL, label_of, person_name
from reports.rollup import WAITING  # the statuses its previous_waiting_in_team follows
from sla.models import SlaTimer, TimerKind, TimerState
from tasks.models import Status, Task, TaskEvent, Team


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
        decisions_by_approver(scope),
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
        decisions_by_approver(scope),
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
            {"handoff": f"{r['handoff_from__name']} → {label_of(r['team__name'], 'no team')}", **r}
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
                "approver": label_of(
                    person_name(
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
        [{"team": label_of(r["team__name"], "no team"), **r} for r in rows],
        Chart("bar", "team", ("total",), horizontal=True),
        empty="No card waited in this period.",
    )


DECISIONS = (TaskEvent.Kind.APPROVED, TaskEvent.Kind.REJECTED)
DECIDER = ("actor_id", "actor__first_name", "actor__last_name", "actor__username")
ASKED = ("approver_id", "approver__first_name", "approver__last_name", "approver__username")


def decisions_by_approver(scope: Scope) -> Figure:
    """Per approver: decisions made in the period (approved, rejected; by whoever decided,
    the approver or the team's manager), the business time they took (median, 90th
    percentile; from the time-to-decision clock each decision stopped: decisions under a
    policy without that target are counted, not timed), the share decided within target,
    those breached, and the cards waiting for the approver now. Two queries: the decisions
    with their clocks (each decision stops its card's open clock at its own instant), and
    the cards on approval now."""
    clock = SlaTimer.objects.filter(
        task_id=OuterRef("task_id"),
        kind=TimerKind.APPROVAL,
        stopped_at=OuterRef("at"),
        state__in=OUTCOME,
    ).order_by()
    decided = (
        TaskEvent.objects.filter(scope.cards("task__"), scope.during("at"), kind__in=DECISIONS)
        .annotate(
            took=Subquery(clock.values("consumed")[:1]),
            outcome=Subquery(clock.values("state")[:1]),
        )
        .values(*DECIDER)
        .annotate(
            decisions=Count("pk"),
            approved=Count("pk", filter=Q(kind=TaskEvent.Kind.APPROVED)),
            rejected=Count("pk", filter=Q(kind=TaskEvent.Kind.REJECTED)),
            p50=Percentile("took", 0.5),
            p90=Percentile("took", 0.9),
            within=Count("pk", filter=Q(outcome=TimerState.MET)),
            breached=Count("pk", filter=Q(outcome=TimerState.BREACHED)),
        )
        .order_by()
    )
    waiting = (
        Task.objects.filter(scope.cards(), status=Status.ON_APPROVAL)
        .values(*ASKED)
        .annotate(waiting=Count("pk"))
        .order_by()
    )
    people: dict = {}
    for r in decided:
        people[r["actor_id"]] = {"name": _name(r, "actor"), "waiting": 0, **r}
    for r in waiting:
        row = people.setdefault(
            r["approver_id"],
            {"name": _name(r, "approver"), "decisions": 0, "approved": 0, "rejected": 0,
             "p50": None, "p90": None, "within": 0, "breached": 0},
        )  # fmt: skip
        row["waiting"] = r["waiting"]
    ordered = sorted(
        people.values(), key=lambda r: (-r["decisions"], -r["waiting"], r["name"] or "")
    )
    return _decisions_figure(ordered[:NAME_LIMIT])


def _name(row: dict, who: str) -> str | None:
    return person_name(row[f"{who}__first_name"], row[f"{who}__last_name"], row[f"{who}__username"])


def _decisions_figure(rows: list[dict]) -> Figure:
    return Figure(
        "decisions",
        "Time to decision, by approver",
        [
            Column("approver", "Approver", Kind.TEXT),
            Column("decisions", "Decisions"),
            Column("approved", "Approved"),
            Column("rejected", "Rejected"),
            Column("p50", "Median time to decision", Kind.DURATION),
            Column("p90", "90th percentile", Kind.DURATION),
            Column("share", "Within target", Kind.SHARE),
            Column("breached", "Breached"),
            Column("waiting", "Waiting now"),
        ],
        [
            {
                "approver": label_of(r["name"], "no approver"),
                **{k: r[k] for k in ("decisions", "approved", "rejected", "p50", "p90")},
                "share": metrics.rate(r["within"], r["within"] + r["breached"]),
                "breached": r["breached"],
                "waiting": r["waiting"],
            }
            for r in rows
        ],
        Chart("bar", "approver", ("p50", "p90"), horizontal=True),
        note="Decisions made in the period by the person who decided (the approver or the "
        "team's manager); business time from the step being asked to the decision, on the "
        "card's calendar. A decision under a policy without a time to decision is counted, "
        "not timed. Waiting now: cards on approval with this approver today, whatever the "
        "period.",
        empty="No approval decided or waiting in this period.",
    )
