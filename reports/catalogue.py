"""The report pages and the figures each one shows (split so that each page stays fast)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from reports import queries
from reports.figures import Figure
from reports.filters import Scope


@dataclass(frozen=True)
class Report:
    slug: str
    title: str
    build: Callable[[Scope, datetime], list[Figure]]
    current_state: bool = False  # ignores the period: shows the cards as they are now


REPORTS: dict[str, Report] = {
    r.slug: r
    for r in [
        Report(
            "overview",
            "On time and volume",
            lambda s, now: [queries.on_time(s), queries.first_response(s), queries.volume(s)],
        ),
        Report(
            "flow",
            "Stages and hand-offs",
            lambda s, now: queries.flow(s),
        ),
        Report(
            "misses",
            "Misses",
            lambda s, now: [queries.misses_by(s, d) for d in queries.MISS_DIMENSIONS],
        ),
        Report("causes", "Causes of delay", lambda s, now: [queries.causes(s)]),
        Report(
            "workload",
            "Workload and attention",
            lambda s, now: [
                queries.approaching_breach(s, now),
                queries.attention(s, now),
                *queries.workload(s, now),
            ],
            current_state=True,
        ),
        Report("automation", "Repetitive work", lambda s, now: [queries.repetitive(s)]),
    ]
}
