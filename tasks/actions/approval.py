"""Deciding an approval: the approver (or the team's manager) approves or rejects the step a
card on approval waits for.

Sending a card for approval is a status move (`change_status(to="on_approval", approver=…)`,
which asks the first step of the request type's chain). Each step of the chain is a row of
`tasks.models.ApprovalStep`; approving a step asks the next one, approving the last moves the
card to its request type's `approved_status`, rejecting any step sends it back to work with
the reason. Each decision is a typed event (`approved` / `rejected`) with the step, the
decider's role and the reason; each step asked bumps `approval_round`, the cycle of the
time-to-decision timer the SLA side keeps.
"""

from __future__ import annotations

from datetime import datetime

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from tasks.actions.core import (
    Kind,
    NotAllowed,
    WorkflowError,
    _event,
    _save,
    clean_text,
    lock_task,
)
from tasks.actions.lifecycle import NOTE_MAX_LENGTH, check_approver, move
from tasks.actions.people import _approver_events
from tasks.models import ApprovalStep, Status, Task, TaskEvent
from tasks.permissions import decider_role

APPROVE, REJECT = "approve", "reject"
DECISIONS = (APPROVE, REJECT)


def approval_steps(task: Task) -> list[ApprovalStep]:
    """The request type's chain, in order (empty: one step, approver named by the sender)."""
    return list(task.request_type.approval_steps.select_related("approver").order_by("position"))


@transaction.atomic
def decide(
    *,
    task: Task,
    decision: str,
    actor: User,
    reason: str = "",
    next_approver: User | None = None,
    at: datetime | None = None,
    expected_version: int | None = None,
) -> Task:
    """Approve or reject the approval step the card waits for.

    Only the card's approver or its team's manager decides (`NotAllowed` otherwise; the
    event records which of the two decided). Rejecting needs a reason and sends the card back
    to work (in progress). Approving the last step moves the card to the request type's
    `approved_status`; approving an earlier one asks the next step, whose default approver
    decides (or `next_approver`, which must be given when the step has none).
    """
    at = at or timezone.now()
    if decision not in DECISIONS:
        raise WorkflowError(f"Unknown decision {decision!r}: approve or reject.")
    reason = clean_text(reason, what="Reason", max_length=NOTE_MAX_LENGTH).strip()
    lock_task(task, expected_version=expected_version)
    if task.status != Status.ON_APPROVAL:
        raise WorkflowError("The card is not waiting for a decision.")
    role = decider_role(actor, task)
    if role is None:
        who = task.approver
        name = (who.get_full_name() or who.get_username()) if who else "none named"
        raise NotAllowed(f"Only the card's approver ({name}) or its team's manager may decide.")
    steps = approval_steps(task)
    total = max(len(steps), 1)
    step = min(max(task.approval_step, 1), total)
    recorded = {"step": step, "of": total, "as": role}
    events: list[TaskEvent]
    if decision == REJECT:
        if not reason:
            raise WorkflowError("Say why the card is rejected: the performer needs the reason.")
        events = [_event(task, Kind.REJECTED, actor=actor, at=at, new=recorded, note=reason)]
        events += move(
            task, Status.IN_PROGRESS, actor=actor, blocking_reason=None, note=reason, at=at
        )
    elif step < total:
        events = [_event(task, Kind.APPROVED, actor=actor, at=at, new=recorded, note=reason)]
        following = steps[step]  # positions are ordered; the next row is the next step
        chosen = next_approver or following.approver
        if chosen is None:
            raise WorkflowError(f"Name who decides the next step ({following.name}).")
        check_approver(chosen)
        events += _approver_events(task, chosen, actor=actor, at=at)
        task.approval_step = step + 1
        task.approval_round += 1  # a new decision is asked: a new time-to-decision cycle
    else:
        events = [_event(task, Kind.APPROVED, actor=actor, at=at, new=recorded, note=reason)]
        to = Status(task.request_type.approved_status or Status.IN_PROGRESS)
        events += move(task, to, actor=actor, blocking_reason=None, note=reason, at=at)
    _save(task, events, at=at)
    return task
