"""The report pages and the figures each one shows (split so that each page stays fast)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from reports.figures import Figure
from reports.filters import Scope
from reports.queries import automation, causes, flow, misses, overview, workload


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
            lambda s, now: [overview.on_time(s), overview.first_response(s), overview.volume(s)],
        ),
        Report(
            "flow",
            "Stages and hand-offs",
            lambda s, now: flow.flow(s),
        ),
        Report(
            "misses",
            "Misses",
            lambda s, now: [misses.misses_by(s, d) for d in misses.MISS_DIMENSIONS],
        ),
        Report("causes", "Causes of delay", lambda s, now: [causes.causes(s)]),
        Report(
            "workload",
            "Workload and attention",
            lambda s, now: [
                workload.approaching_breach(s, now),
                workload.attention(s, now),
                *workload.workload(s, now),
            ],
            current_state=True,
        ),
        Report("automation", "Repetitive work", lambda s, now: [automation.repetitive(s)]),
    ]
}
