"""The workload page (current state): open cards per team and person, cards needing
attention, clocks approaching a breach."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Count, Q
from django.urls import reverse
from django.utils import timezone

from reports.figures import Chart, Column, Figure, Kind
from reports.filters import Scope
from reports.queries.common import KIND_LABEL, NAME_LIMIT, label_of, person_name
from sla.models import SlaTimer
from tasks.models import Task


def _open_cards(scope: Scope):
    return Task.objects.open().filter(scope.cards())


def _workload_counts(now: datetime) -> dict:
    """Open cards, and of them those with an open clock at risk / breached (the rules of
    sla.rules): each a hashed set of the open timers' cards (partial index on open timers),
    not a join of all timers counted distinct."""
    at_risk = SlaTimer.objects.at_risk(now)
    breached = SlaTimer.objects.breached(now)
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
            {"person": label_of(person_name(*owner), "no owner"), **counts}
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
        [{"team": label_of(team, "no team"), **counts} for team, counts in _largest(teams)],
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
    # At risk (sla.rules) and running: a paused clock does not approach its deadline.
    timers = (
        SlaTimer.objects.at_risk(now)
        .filter(scope.cards("task__"), running_since__isnull=False)
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
                "team": label_of(t.task.team.name if t.task.team else None),
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
