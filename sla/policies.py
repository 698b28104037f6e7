"""Writes of SLA policy configuration: targets, and bringing the cards a policy times in line.

`set_targets` and `delete_target` are the only writers of `SlaTarget` rows in the product
(demo and benchmark data generators seed theirs directly): the policy admin
and the calibration report's "apply" both call them, so a new target reaches the timers
already running the same way whoever sets it. Running timers follow through
`sla.jobs.recompute_policy_timers`, a background job queued when the transaction commits
(time already used stays used; the new target applies from the moment the card is visited,
recorded as an `SlaRetarget`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import Enum
from typing import Final, Protocol

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Case, Count, IntegerField, Value, When
from django_q.tasks import async_task

from sla import actions, jobs
from sla.history import settings_change
from sla.models import SlaPolicy, SlaTarget
from sla.schedules import dotted_name
from tasks.models import Priority, Task


class Actor(Protocol):
    """Who changes a target: a user (only their permissions are read)."""

    def has_perm(self, perm: str) -> bool: ...


class _Keep(Enum):
    KEEP = "keep"


KEEP: Final = _Keep.KEEP  # leave the stored value as it is


class _Recompute:
    """An on-commit callback queueing one policy's recompute; `queue_policy_recompute`
    widens a pending one instead of queueing a second job for the same policy."""

    def __init__(self, policy_id: int, rematch: bool) -> None:
        self.policy_id, self.rematch = policy_id, rematch

    def __call__(self) -> None:
        async_task(
            dotted_name(jobs.recompute_policy_timers),
            policy_id=self.policy_id,
            rematch=self.rematch,
            task_name=f"recompute policy {self.policy_id}",
        )


def queue_policy_recompute(*, policy: SlaPolicy, rematch: bool) -> None:
    """Once the transaction commits, bring the open cards the policy times in line with it
    (`rematch`: match every open card again, because its criteria changed). Several changes
    of one policy in a transaction queue one job."""
    conn = transaction.get_connection()
    if conn.in_atomic_block:
        # A pending callback can stand for this change: a savepoint still open when it was
        # registered encloses this change too (rolling it back drops both), and one that
        # was rolled back took its callbacks with it.
        for _savepoints, callback, _robust in conn.run_on_commit:
            if isinstance(callback, _Recompute) and callback.policy_id == policy.pk:
                callback.rematch = callback.rematch or rematch
                return
    transaction.on_commit(_Recompute(policy.pk, rematch))


@dataclass(frozen=True)
class Shadow:
    """Open cards a policy's criteria match that stay with `winner`, an active policy tried
    before it (the first match wins, sla.actions.match_policy)."""

    winner: SlaPolicy
    count: int
    card_ids: list[int]  # the first few, by id


def shadowed_cards(policy: SlaPolicy, *, limit: int = 10) -> list[Shadow]:
    """Which earlier policies keep the open cards `policy` matches, and which cards: one
    entry per such policy, in the order they are tried. None for an inactive policy (it
    times nothing) or the default (tried last by definition). One query for the counts and
    one per shadowing policy for its first `limit` card ids."""
    if not policy.active or policy.is_default:
        return []
    ordered = actions.active_policies()
    position = next((i for i, p in enumerate(ordered) if p.pk == policy.pk), None)
    earlier = [p for p in ordered[:position] if not p.is_default]
    if position is None or not earlier:
        return []
    winner = Case(
        *[When(p.criteria(), then=Value(p.pk)) for p in earlier],
        default=None,
        output_field=IntegerField(),
    )
    cards = Task.objects.open().filter(policy.criteria()).annotate(winner=winner)
    counts = dict(
        cards.exclude(winner=None)
        .values("winner")
        .annotate(n=Count("pk"))
        .order_by()
        .values_list("winner", "n")
    )
    return [
        Shadow(
            winner=p,
            count=counts[p.pk],
            card_ids=list(
                cards.filter(winner=p.pk).order_by("pk").values_list("pk", flat=True)[:limit]
            ),
        )
        for p in earlier
        if counts.get(p.pk)
    ]


def _may(actor: Actor, action: str) -> None:
    if not actor.has_perm(f"sla.{action}_slatarget"):
        raise PermissionError("You may not change SLA targets.")


@transaction.atomic
def set_targets(
    *,
    policy: SlaPolicy,
    priority: str,
    response: timedelta | _Keep | None = KEEP,
    resolution: timedelta | _Keep | None = KEEP,
    approval: timedelta | _Keep | None = KEEP,
    warn_pct: int | _Keep | None = KEEP,
    warn_lead: timedelta | _Keep | None = KEEP,
    actor: Actor,
) -> SlaTarget:
    """Create or change the policy's target for `priority`; a value left out (KEEP) stays
    as stored, None clears it. `approval` is the time to decision of each approval step
    (optional: a response or resolution target is still needed). Validated by
    `SlaTarget.clean`, the one rule for targets whoever sets them (each within
    MIN_TARGET..MAX_TARGET by `validate_target`, resolution not shorter than response, the
    warning before the deadline): raises ValidationError with
    the reason, which the admin and the calibration page show, or PermissionError. Nothing
    is written when it raises. When anything changed, the running
    timers under the policy are re-targeted after commit (`queue_policy_recompute`)."""
    try:
        priority = Priority(priority)
    except ValueError:
        raise ValidationError(f"Unknown priority {priority!r}.") from None
    target = SlaTarget.objects.select_for_update().filter(policy=policy, priority=priority).first()
    _may(actor, "add" if target is None else "change")
    target = target or SlaTarget(policy=policy, priority=priority)
    values = {
        "response_target": response,
        "resolution_target": resolution,
        "approval_target": approval,
        "warn_pct": warn_pct,
        "warn_lead": warn_lead,
    }
    changed = target.pk is None
    for field, value in values.items():
        if value is not KEEP and getattr(target, field) != value:
            setattr(target, field, value)
            changed = True
    if target.response_target is None and target.resolution_target is None:
        raise ValidationError("Set a response target, a resolution target or both.")
    target.full_clean()
    if changed:
        with settings_change(actor=actor):  # the history names who, whatever the path
            target.save()
        queue_policy_recompute(policy=policy, rematch=False)
    return target


@transaction.atomic
def delete_target(*, policy: SlaPolicy, priority: str, actor: Actor) -> bool:
    """Remove the policy's target for `priority` (False: there was none). Timers already
    running keep the target they have; new cards of that priority get no timers from it."""
    _may(actor, "delete")
    with settings_change(actor=actor):
        deleted, _ = SlaTarget.objects.filter(policy=policy, priority=priority).delete()
    if deleted:
        queue_policy_recompute(policy=policy, rematch=False)
    return bool(deleted)
