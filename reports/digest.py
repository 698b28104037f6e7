"""The weekly causes-of-delay review: last week's breaches and near misses grouped by cause,
with the week before for comparison. About causes (blocking reason, stage, approval, team,
request type), never a ranking of people: no owner or performer dimension on purpose.

A near miss is a warning whose clock was then met (warned, never breached).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Count, OuterRef, Q, Subquery
from django.utils import timezone

from reports import metrics
from reports.filters import day_start
from reports.models import StageInterval
from sla.models import SlaEvent, SlaPause, SlaTimer, TimerState
from tasks.models import BlockingReason, RequestType, Status, Task, Team

ROWS_PER_CAUSE = 10
STATUS_LABEL = dict(Status.choices)


@dataclass(frozen=True)
class CauseRow:
    label: str
    breaches: int
    near_misses: int
    previous_breaches: int
    previous_near_misses: int

    @property
    def breach_change(self) -> int:
        return metrics.change(self.breaches, self.previous_breaches)

    @property
    def near_miss_change(self) -> int:
        return metrics.change(self.near_misses, self.previous_near_misses)


@dataclass
class Digest:
    week_start: date
    team: Team | None
    total: CauseRow
    sections: list[tuple[str, list[CauseRow]]] = field(default_factory=list)

    @property
    def week_end(self) -> date:
        return self.week_start + timedelta(days=6)

    @property
    def quiet(self) -> bool:
        return not (self.total.breaches or self.total.near_misses)


def week_of(day: date) -> date:
    """The Monday of the week containing `day`."""
    return day - timedelta(days=day.weekday())


def last_week(now: datetime | None = None) -> date:
    """Monday of the last full week before `now` (site timezone)."""
    today = timezone.localtime(now or timezone.now()).date()
    return week_of(today) - timedelta(days=7)


def _person(first, last, username) -> str | None:
    if username is None:
        return None
    return f"{first or ''} {last or ''}".strip() or username


# Each cause: (title, fields grouped, how a group is named)
CAUSES = [
    (
        "Blocking reason",
        ("timer__pauses__blocking_reason__name",),
        lambda r: r["timer__pauses__blocking_reason__name"] or "No blocking reason",
    ),
    ("Stage when it happened", ("stage",), lambda r: STATUS_LABEL.get(r["stage"], "Unknown")),
    (
        "Waiting on approval by",
        ("timer__task__approver__first_name", "timer__task__approver__last_name",
         "timer__task__approver__username"),
        lambda r: _person(
            r["timer__task__approver__first_name"],
            r["timer__task__approver__last_name"],
            r["timer__task__approver__username"],
        ) or "No approval step",
    ),
    ("Team", ("stage_team_name",), lambda r: r["stage_team_name"] or "No team"),
    ("Request type", ("timer__task__request_type__name",),
     lambda r: r["timer__task__request_type__name"]),
]  # fmt: skip


def _top(rows: list[CauseRow]) -> list[CauseRow]:
    """The causes with something this week, the most breaches first (then near misses,
    then by name), at most ROWS_PER_CAUSE."""
    shown = [r for r in rows if r.breaches or r.near_misses]
    shown.sort(key=lambda r: (-r.breaches, -r.near_misses, r.label))
    return shown[:ROWS_PER_CAUSE]


def build(week_start: date, team: Team | None = None) -> Digest:
    """The review of the week starting on Monday `week_start`, for one team or all: one
    query. The fortnight's events are read once, each with the stretch the card was in
    (one index probe per event), and grouped by every cause in the same statement (a
    UNION ALL over that set), so the figures cost one pass over two weeks of SLA events.
    `build_live` computes the same review with one ORM query per cause."""
    start = day_start(week_start)
    end, previous = start + timedelta(days=7), start - timedelta(days=7)
    sql, params = _fortnight_sql(start, end, previous, team)
    grouped: dict[int, list[CauseRow]] = defaultdict(list)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for cause, first, last, username, *counts in cursor.fetchall():
            if cause == 0:
                label = "All"
            else:
                _, fields, name = CAUSES[cause - 1]
                values = (first, last, username)[: len(fields)]
                label = name(dict(zip(fields, values, strict=True)))
            grouped[cause].append(CauseRow(label, *(int(n or 0) for n in counts)))
    total = grouped[0][0] if grouped[0] else CauseRow("All", 0, 0, 0, 0)
    digest = Digest(week_start, team, total)
    for i, (title, _, _) in enumerate(CAUSES, start=1):
        digest.sections.append((title, _top(grouped[i])))
    return digest


def _fortnight_sql(start: datetime, end: datetime, previous: datetime, team: Team | None):
    """(sql, params) of the review's single query: rows of (cause, up to three group
    fields, the four counts); cause 0 is the total, 1… the CAUSES in order."""
    table = {
        name: connection.ops.quote_name(model._meta.db_table)
        for name, model in {
            "event": SlaEvent,
            "timer": SlaTimer,
            "pause": SlaPause,
            "reason": BlockingReason,
            "stage": StageInterval,
            "task": Task,
            "user": get_user_model(),
            "team": Team,
            "type": RequestType,
        }.items()
    }
    counts = ", ".join(
        f"COUNT(DISTINCT CASE WHEN ev.this_week = {this} AND ev.is_breach = {breach} "
        f"THEN ev.id END)"
        for this, breach in ((1, 1), (1, 0), (0, 1), (0, 0))
    )
    team_only = "WHERE found.stage_team = %(team)s" if team is not None else ""
    branches = [
        f"SELECT 0, NULL, NULL, NULL, {counts} FROM ev",
        f"SELECT 1, r.name, NULL, NULL, {counts} FROM ev "
        f"LEFT JOIN {table['pause']} p ON p.timer_id = ev.timer_id "
        f"LEFT JOIN {table['reason']} r ON r.id = p.blocking_reason_id GROUP BY r.name",
        f"SELECT 2, ev.stage, NULL, NULL, {counts} FROM ev GROUP BY ev.stage",
        f"SELECT 3, u.first_name, u.last_name, u.username, {counts} FROM ev "
        f"LEFT JOIN {table['user']} u ON u.id = ev.approver_id "
        f"GROUP BY u.first_name, u.last_name, u.username",
        f"SELECT 4, tm.name, NULL, NULL, {counts} FROM ev "
        f"LEFT JOIN {table['team']} tm ON tm.id = ev.stage_team GROUP BY tm.name",
        f"SELECT 5, rt.name, NULL, NULL, {counts} FROM ev "
        f"JOIN {table['type']} rt ON rt.id = ev.request_type_id GROUP BY rt.name",
    ]
    # The stretch the card was in when it happened (its latest that began by then).
    stretch = (
        f"FROM {table['stage']} s WHERE s.task_id = t.task_id AND s.started_at <= e.at "
        f"ORDER BY s.started_at DESC LIMIT 1"
    )
    sql = f"""
        WITH found AS (
            SELECT e.id, t.id AS timer_id, c.approver_id, c.request_type_id,
                CASE WHEN e.kind = %(breach)s THEN 1 ELSE 0 END AS is_breach,
                CASE WHEN e.at >= %(start)s THEN 1 ELSE 0 END AS this_week,
                (SELECT s.status {stretch}) AS stage,
                (SELECT s.team_id {stretch}) AS stage_team
            FROM {table["event"]} e
            JOIN {table["timer"]} t ON t.id = e.timer_id
            JOIN {table["task"]} c ON c.id = t.task_id
            WHERE e.at >= %(previous)s AND e.at < %(end)s
              AND (e.kind = %(breach)s OR (e.kind = %(warning)s AND t.state = %(met)s))
        ),
        ev AS (SELECT * FROM found {team_only})
        {" UNION ALL ".join(branches)}
    """
    params = {
        "breach": SlaEvent.Kind.BREACH,
        "warning": SlaEvent.Kind.WARNING,
        "met": TimerState.MET,
        "start": start,
        "end": end,
        "previous": previous,
        "team": team.pk if team is not None else None,
    }
    return sql, params


def build_live(week_start: date, team: Team | None = None) -> Digest:
    """build(), one ORM query per cause (what the single query must agree with)."""
    start = day_start(week_start)
    end, previous = start + timedelta(days=7), start - timedelta(days=7)
    events = SlaEvent.objects.filter(at__gte=previous, at__lt=end).filter(
        Q(kind=SlaEvent.Kind.BREACH) | Q(kind=SlaEvent.Kind.WARNING, timer__state=TimerState.MET)
    )
    # The stretch the card was in when it happened: its stage and the team holding it then
    # (a card handed on later still counts for the team that held it).
    stage = StageInterval.objects.filter(
        task=OuterRef("timer__task"), started_at__lte=OuterRef("at")
    ).order_by("-started_at")
    events = events.annotate(
        stage=Subquery(stage.values("status")[:1]),
        stage_team=Subquery(stage.values("team")[:1]),
        stage_team_name=Subquery(stage.values("team__name")[:1]),
    )
    if team is not None:
        events = events.filter(stage_team=team.pk)
    this, before = Q(at__gte=start), Q(at__lt=start)
    breach, near = Q(kind=SlaEvent.Kind.BREACH), Q(kind=SlaEvent.Kind.WARNING)
    counts = {
        "breaches": Count("pk", distinct=True, filter=this & breach),
        "near_misses": Count("pk", distinct=True, filter=this & near),
        "previous_breaches": Count("pk", distinct=True, filter=before & breach),
        "previous_near_misses": Count("pk", distinct=True, filter=before & near),
    }
    digest = Digest(week_start, team, CauseRow("All", **events.aggregate(**counts)))
    for title, fields, name in CAUSES:
        grouped = events.values(*fields).annotate(**counts).order_by()
        rows = [CauseRow(name(g), **{k: g[k] for k in counts}) for g in grouped]
        digest.sections.append((title, _top(rows)))
    return digest
