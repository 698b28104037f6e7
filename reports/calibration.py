"""SLA calibration: observed business times per request type × priority, proposed targets,
what-if compliance for candidate targets, and applying a proposal to a policy's target.

Two sources: `observe` reads the finished clocks of observe-mode policies (pauses excluded,
exactly what the SLA would have measured); `history` reads every card's business times
derived from its history (reports.rollup), including imported cards that never had an SLA.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Q

from reports import metrics
from reports.db import Percentile, grouped_with_names
from reports.filters import Scope
from reports.models import CardFacts
from sla.history import settings_change
from sla.models import SlaPolicy, SlaTarget, SlaTimer, TimerKind, TimerState
from sla.policies import set_targets
from tasks.models import Priority, RequestType

SOURCES = {
    "observe": "Observe-mode SLA clocks (pauses excluded)",
    "history": "Card history (created → first response / done)",
}
PERCENTILES = {"50": 0.5, "80": 0.8, "90": 0.9}
KINDS = (TimerKind.RESPONSE, TimerKind.RESOLUTION)
# The reason the settings history gives for a target written by "apply".
APPLY_REASON = "calibration apply"


@dataclass
class Measure:
    count: int
    p50: timedelta | None
    p80: timedelta | None
    p90: timedelta | None
    proposal: timedelta | None
    within: float | None = None  # share of past cards within the candidate target
    current: timedelta | None = None


@dataclass
class Row:
    request_type_id: int
    request_type: str
    priority: str
    measures: dict[str, Measure] = field(default_factory=dict)
    policy: SlaPolicy | None = None

    @property
    def priority_label(self) -> str:
        return Priority(self.priority).label

    @property
    def response(self) -> Measure:
        return self.measures[TimerKind.RESPONSE]

    @property
    def resolution(self) -> Measure:
        return self.measures[TimerKind.RESOLUTION]


def _source(scope: Scope, source: str):
    """(queryset, group fields: request type id and priority, value expression per kind,
    kind filter per kind)."""
    if source == "observe":
        qs = SlaTimer.objects.filter(
            scope.cards("task__"),
            scope.during("task__created_at"),
            observe=True,
            state__in=[TimerState.MET, TimerState.BREACHED],
        )
        fields = ("task__request_type", "task__priority")
        return qs, fields, dict.fromkeys(KINDS, "consumed"), {k: Q(kind=k) for k in KINDS}
    qs = CardFacts.objects.filter(scope.derived(), scope.during("created_at"))
    fields = ("request_type_id", "priority")
    values = {TimerKind.RESPONSE: "response_business", TimerKind.RESOLUTION: "resolution_business"}
    return qs, fields, values, {k: Q(**{f"{values[k]}__isnull": False}) for k in KINDS}


def distribution(
    scope: Scope,
    *,
    source: str = "observe",
    percentile: float = 0.8,
    candidates: dict[str, timedelta | None] | None = None,
) -> list[Row]:
    """One row per request type × priority with data; one GROUP BY query for both kinds."""
    if source not in SOURCES:
        raise ValueError(f"Unknown source {source!r}.")
    candidates = candidates or {}
    qs, fields, value, only = _source(scope, source)
    aggregates = {}
    for kind in KINDS:
        # Count the value (never NULL under `only`), not the pk: an index covering the
        # period and the values then answers without reading the table.
        aggregates[f"{kind}_n"] = Count(value[kind], filter=only[kind])
        for name, fraction in PERCENTILES.items():
            aggregates[f"{kind}_p{name}"] = Percentile(value[kind], fraction, filter=only[kind])
        aggregates[f"{kind}_pick"] = Percentile(value[kind], percentile, filter=only[kind])
        if candidates.get(kind):
            aggregates[f"{kind}_within"] = Count(
                value[kind], filter=only[kind] & Q(**{f"{value[kind]}__lte": candidates[kind]})
            )
    # Grouped by the ids (the covering index on request type and priority serves the
    # groups in order), the request type's name joined to the hundred-odd groups after.
    grouped = grouped_with_names(
        qs.values(*fields).annotate(**aggregates).order_by(),
        {"type_name": (RequestType, fields[0])},
        order=("type_name", fields[1]),
    )
    policies = _calibrated_policies()
    rows = []
    for g in grouped:
        row = Row(g[fields[0]], g["type_name"], g[fields[1]])
        row.policy = _policy_for(policies, row.request_type_id, row.priority)
        target = row.policy.target_for(row.priority) if row.policy else None
        for kind in KINDS:
            n = g[f"{kind}_n"]
            pick = g[f"{kind}_pick"]
            within = g.get(f"{kind}_within")
            row.measures[kind] = Measure(
                count=n,
                p50=g[f"{kind}_p50"],
                p80=g[f"{kind}_p80"],
                p90=g[f"{kind}_p90"],
                proposal=metrics.round_up_human(pick) if pick is not None else None,
                within=metrics.rate(within, n) if within is not None else None,
                current=target.get(kind) if target else None,
            )
        if any(m.count for m in row.measures.values()):
            rows.append(row)
    return rows


def _calibrated_policies() -> list[SlaPolicy]:
    return list(
        SlaPolicy.objects.filter(active=True, request_type__isnull=False)
        .prefetch_related("targets")
        .order_by("order", "name")
    )


def _policy_for(policies: list[SlaPolicy], request_type_id: int, priority: str):
    """The policy a proposal for this request type × priority belongs to: the first active
    policy for exactly this request type (and this priority or any), with no other criteria."""
    for policy in policies:
        if (
            policy.request_type_id == request_type_id
            and policy.priority in ("", priority)
            and policy.team_id is None
            and not policy.related_object_kind
        ):
            return policy
    return None


def can_apply(user: AbstractBaseUser) -> bool:
    return user.has_perm("sla.change_slatarget") and user.has_perm("sla.add_slatarget")


@transaction.atomic
def apply_proposal(
    *,
    policy: SlaPolicy,
    priority: str,
    response: timedelta | None,
    resolution: timedelta | None,
    actor: AbstractBaseUser,
) -> SlaTarget:
    """Create or update the policy's target for `priority` from a proposal. A missing value
    keeps the current one. Raises ValidationError for values a target may not have. Through
    `sla.policies.set_targets`, as the admin: running timers follow the new target from now
    on, time already used stays used."""
    if not can_apply(actor):
        raise PermissionError("You may not change SLA targets.")
    if response is None and resolution is None:
        raise ValidationError("There is nothing to apply: no observed times.")
    observed = {"response": response, "resolution": resolution}
    with settings_change(actor=actor, reason=APPLY_REASON):
        return set_targets(
            policy=policy,
            priority=priority,
            actor=actor,
            **{kind: value for kind, value in observed.items() if value is not None},
        )
