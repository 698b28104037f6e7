"""The causes page: the Pareto of business time lost per blocking reason."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Count, Sum

from reports import metrics
from reports.figures import Chart, Column, Figure, Kind
from reports.filters import Scope
from reports.queries.common import STATUS_LABEL
from sla.models import SlaPause, TimerKind


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
