"""The automation page: repetitive request types worth automating."""

from __future__ import annotations

from django.db.models import Count

from reports import metrics
from reports.db import Percentile, grouped_with_names
from reports.figures import Chart, Column, Figure, Kind
from reports.filters import Scope
from reports.models import CardFacts
from reports.queries.common import NAME_LIMIT
from tasks.models import RequestType


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
