"""The weekly causes-of-delay review: last week's breaches and near misses grouped by cause,
with the week before for comparison. About causes (blocking reason, stage, approval, team,
request type), never a ranking of people: no owner or performer dimension on purpose.

A near miss is a warning whose clock was then met (warned, never breached).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.db.models import Count, OuterRef, Q, Subquery
from django.utils import timezone

from reports import metrics
from reports.filters import day_start
from reports.models import StageInterval
from sla.models import SlaEvent, TimerState
from tasks.models import Status, Team

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


def build(week_start: date, team: Team | None = None) -> Digest:
    """The review of the week starting on Monday `week_start`, for one team or all."""
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
        grouped = (
            events.values(*fields)
            .annotate(**counts)
            .filter(Q(breaches__gt=0) | Q(near_misses__gt=0))
            .order_by("-breaches", "-near_misses")[:ROWS_PER_CAUSE]
        )
        rows = [CauseRow(name(g), **{k: g[k] for k in counts}) for g in grouped]
        digest.sections.append((title, rows))
    return digest
