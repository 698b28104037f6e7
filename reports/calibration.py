"""SLA calibration: observed business times per request type × priority, proposed targets,
what-if compliance for candidate targets, and applying a proposal to a policy's target.

Two sources: `observe` reads the finished clocks of observe-mode policies (pauses excluded,
exactly what the SLA would have measured); `history` reads every card's business times
derived from its history (reports.rollup), including imported cards that never had an SLA.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from reports import metrics
from reports.db import Percentile, grouped_with_names
from reports.filters import Scope
from reports.models import CalibrationApply, CardFacts
from sla.history import settings_change
from sla.models import SlaPolicy, SlaTarget, SlaTimer, TimerKind, TimerState
from sla.policies import delete_target, set_targets
from tasks.models import Priority, RequestType

SOURCES = {
    "observe": "Observe-mode SLA clocks (pauses excluded)",
    "history": "Card history (created → first response / done)",
}
PERCENTILES = {"50": 0.5, "80": 0.8, "90": 0.9}
KINDS = (TimerKind.RESPONSE, TimerKind.RESOLUTION)
# The reason the settings history gives for a target written by "apply".
APPLY_REASON = "calibration apply"
UNDO_REASON = "calibration undo"
# Proposals read from fewer finished cards than this are flagged as thin: applying one takes
# an extra, explicit confirmation.
THIN_SAMPLE = 20


@dataclass
class Measure:
    count: int
    p50: timedelta | None
    p80: timedelta | None
    p90: timedelta | None
    proposal: timedelta | None
    within: float | None = None  # share of past cards within the candidate target
    current: timedelta | None = None

    @property
    def thin(self) -> bool:
        """The proposal is read from too few cards to trust (THIN_SAMPLE)."""
        return self.proposal is not None and is_thin(self.count)


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


class StaleProposal(ValidationError):
    """The target is no longer what the person saw when they decided (changed by someone
    else meanwhile, or the apply was undone already): nothing is written."""


class ThinProposal(ValidationError):
    """A proposal read from fewer than THIN_SAMPLE cards, not confirmed as such."""


@dataclass(frozen=True)
class Change:
    """What setting a proposal does to a policy's target for one priority."""

    policy: SlaPolicy
    priority: str
    exists: bool  # the policy has a target for this priority now
    response_before: timedelta | None
    resolution_before: timedelta | None
    response_after: timedelta | None
    resolution_after: timedelta | None
    response_cards: int | None = None
    resolution_cards: int | None = None

    @property
    def priority_label(self) -> str:
        return Priority(self.priority).label

    @property
    def lines(self) -> list[tuple[str, timedelta | None, timedelta | None, int | None]]:
        """(label, before, after, cards) of each value that changes."""
        rows = [
            ("First response", self.response_before, self.response_after, self.response_cards),
            ("Resolution", self.resolution_before, self.resolution_after, self.resolution_cards),
        ]
        return [row for row in rows if row[1] != row[2]]

    @property
    def fewest_cards(self) -> int | None:
        """The smallest sample behind a value that changes (None: not known)."""
        counts = [cards for _label, _before, _after, cards in self.lines if cards is not None]
        return min(counts) if counts else None

    @property
    def thin(self) -> bool:
        return is_thin(self.fewest_cards)

    def summary(self) -> str:
        changes = "; ".join(
            f"{label.lower()} {format_duration_or_none(before)} → {format_duration_or_none(after)}"
            for label, before, after, _cards in self.lines
        )
        return f"{self.policy} · {self.priority_label}: {changes or 'no change'}"


def is_thin(cards: int | None) -> bool:
    """A proposal read from fewer than THIN_SAMPLE finished cards says little."""
    return cards is not None and cards < THIN_SAMPLE


def format_duration_or_none(value: timedelta | None) -> str:
    """As the calibration table shows it (business hours and minutes), "none" for no target."""
    return "none" if value is None else metrics.format_duration(value)


def _seen(target: SlaTarget | None) -> tuple[timedelta | None, timedelta | None]:
    return (target.response_target, target.resolution_target) if target else (None, None)


def preview_change(
    *,
    policy: SlaPolicy,
    priority: str,
    response: timedelta | None,
    resolution: timedelta | None,
    response_cards: int | None = None,
    resolution_cards: int | None = None,
) -> Change:
    """What applying the proposal would change, read from the target as stored now (a value
    left out keeps the current one). Writes nothing."""
    target = SlaTarget.objects.filter(policy=policy, priority=priority).first()
    return _change(target, policy, priority, response, resolution, response_cards, resolution_cards)


def _change(target, policy, priority, response, resolution, response_cards, resolution_cards):
    before = _seen(target)
    return Change(
        policy=policy,
        priority=priority,
        exists=target is not None,
        response_before=before[0],
        resolution_before=before[1],
        response_after=before[0] if response is None else response,
        resolution_after=before[1] if resolution is None else resolution,
        response_cards=response_cards if response is not None else None,
        resolution_cards=resolution_cards if resolution is not None else None,
    )


_UNCHECKED = object()


@transaction.atomic
def apply_proposal(
    *,
    policy: SlaPolicy,
    priority: str,
    response: timedelta | None,
    resolution: timedelta | None,
    actor: AbstractBaseUser,
    seen: Any = _UNCHECKED,
    response_cards: int | None = None,
    resolution_cards: int | None = None,
    thin_confirmed: bool = False,
    request_type: RequestType | None = None,
    at: datetime | None = None,
) -> CalibrationApply:
    """Create or update the policy's target for `priority` from a proposal and record it
    (CalibrationApply: before and after, who, when, the cards behind it). A missing value
    keeps the current one. `seen`: the (response, resolution) target the person saw when
    deciding; anything else stored now raises StaleProposal. A proposal from fewer than
    THIN_SAMPLE cards raises ThinProposal unless `thin_confirmed`. Raises ValidationError for
    values a target may not have, PermissionError for a person who may not set targets;
    nothing is written then. Through `sla.policies.set_targets`, as the admin: running
    timers follow the new target from now on, time already used stays used."""
    if not can_apply(actor):
        raise PermissionError("You may not change SLA targets.")
    if response is None and resolution is None:
        raise ValidationError("There is nothing to apply: no observed times.")
    try:
        priority = Priority(priority)
    except ValueError:
        raise ValidationError(f"Unknown priority {priority!r}.") from None
    target = SlaTarget.objects.select_for_update().filter(policy=policy, priority=priority).first()
    change = _change(
        target, policy, priority, response, resolution, response_cards, resolution_cards
    )
    if seen is not _UNCHECKED and _whole(tuple(seen)) != _whole(_seen(target)):
        raise StaleProposal(
            f"The target of {policy} for {change.priority_label.lower()} cards changed since "
            f"you looked: it is now {_pair(_seen(target))}. Review the proposal again."
        )
    if not change.lines:
        raise ValidationError("The target already has these values: there is nothing to apply.")
    if change.thin and not thin_confirmed:
        raise ThinProposal(
            f"This proposal comes from only {change.fewest_cards} card(s) (fewer than "
            f"{THIN_SAMPLE}): confirm that you want it anyway."
        )
    observed = {"response": response, "resolution": resolution}
    with settings_change(actor=actor, reason=APPLY_REASON):
        set_targets(
            policy=policy,
            priority=priority,
            actor=actor,
            **{kind: value for kind, value in observed.items() if value is not None},
        )
    return CalibrationApply.objects.create(
        policy=policy,
        priority=priority,
        request_type=request_type,
        created_target=target is None,
        response_before=change.response_before,
        response_after=change.response_after,
        resolution_before=change.resolution_before,
        resolution_after=change.resolution_after,
        response_cards=change.response_cards,
        resolution_cards=change.resolution_cards,
        applied_by=actor,
        applied_at=at or timezone.now(),
    )


def _whole(values: tuple) -> tuple:
    """Targets to the whole second, as the confirm page carries them."""
    return tuple(None if v is None else timedelta(seconds=int(v.total_seconds())) for v in values)


def _pair(values: tuple[timedelta | None, timedelta | None]) -> str:
    response, resolution = values
    return (
        f"response {format_duration_or_none(response)}, "
        f"resolution {format_duration_or_none(resolution)}"
    )


@transaction.atomic
def undo_apply(
    *, record: CalibrationApply, actor: AbstractBaseUser, at: datetime | None = None
) -> CalibrationApply:
    """Write back the values the target had before `record` (removing the target when the
    apply created it) and record who undid it and when. Raises StaleProposal when it was
    undone already or the target changed since (an undo would overwrite someone's later
    change), PermissionError for a person who may not set targets; nothing is written then."""
    if not can_apply(actor):
        raise PermissionError("You may not change SLA targets.")
    record = CalibrationApply.objects.select_for_update().select_related("policy").get(pk=record.pk)
    if record.undone_at is not None:
        raise StaleProposal("This change was undone already.")
    target = (
        SlaTarget.objects.select_for_update()
        .filter(policy=record.policy, priority=record.priority)
        .first()
    )
    if _seen(target) != (record.response_after, record.resolution_after):
        raise StaleProposal(
            f"The target changed since this apply (it is now {_pair(_seen(target))}): "
            "undoing it would overwrite that change. Change it in the admin instead."
        )
    with settings_change(actor=actor, reason=UNDO_REASON):
        if record.created_target:
            delete_target(policy=record.policy, priority=record.priority, actor=actor)
        else:
            set_targets(
                policy=record.policy,
                priority=record.priority,
                response=record.response_before,
                resolution=record.resolution_before,
                actor=actor,
            )
    record.undone_by, record.undone_at = actor, at or timezone.now()
    record.save(update_fields=["undone_by", "undone_at"])
    return record


def recent_applies(limit: int = 10) -> list[CalibrationApply]:
    """The latest proposals set from the calibration page, newest first (one query)."""
    return list(
        CalibrationApply.objects.select_related(
            "policy", "request_type", "applied_by", "undone_by"
        )[:limit]
    )
