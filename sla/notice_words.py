"""What a card notice says (a `Notification` with `card_event` set, written by
sla.card_notices): one line for the bell, the inbox, the email's subject and Slack.

    Decision needed: #12 Discount for ACME — sent by Paula (step 1 of 2: Budget)
    #12 approved by Maria (step 1 of 2)
    #12 rejected by Maria: budget too high
    #12 moved to waiting (Client documents) by Paula

Everything comes from the card event (its kind, values, note and actor), its card and the
card's request type's approval steps; `attach` reads those for many notices in a fixed
number of queries (the inbox, a delivery batch), `words` for one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.contrib.auth.models import User

from sla.models import Channel, Notification
from tasks.models import ApprovalStep, BlockingReason, Status, Task, TaskEvent

Kind = TaskEvent.Kind

# Notification.recipient_key of the person asked to decide (sla.card_notices writes it;
# everyone else told of a card event has sla.scan_rules.USER_KEY + id).
DECIDE_KEY = "decide:"

# What a notice reads through the ORM: select_related(*RELATED) on notifications.
RELATED = ("card_event__task__owner", "card_event__task__blocking_reason", "card_event__actor")


@dataclass(frozen=True)
class Words:
    headline: str
    task: Task
    event: TaskEvent
    asks: bool  # the recipient is asked to decide
    reason: str  # the decision's reason or the status change's note


def name(user: User | None) -> str:
    """How a notice names a person: the first name, else the login."""
    if user is None:
        return "automatically"
    return user.first_name or user.get_username()


def _step_words(step: int, of: int, step_name: str) -> str:
    if of > 1:
        return f" (step {step} of {of}: {step_name})" if step_name else f" (step {step} of {of})"
    return f" ({step_name})" if step_name else ""


class _Lookups:
    """Approval steps of the cards' request types and blocking reasons: two queries."""

    def __init__(self, events: list[TaskEvent]) -> None:
        types = {e.task.request_type_id for e in events}
        self.steps: dict[tuple[int, int], str] = {}
        self.counts: dict[int, int] = {}
        for type_id, position, step in ApprovalStep.objects.filter(
            request_type_id__in=types
        ).values_list("request_type_id", "position", "name"):
            self.steps[(type_id, position)] = step
            self.counts[type_id] = self.counts.get(type_id, 0) + 1
        reason_ids = {
            e.new_value
            for e in events
            if e.kind == Kind.BLOCKING_REASON_SET and isinstance(e.new_value, int)
        }
        self.reasons = (
            dict(BlockingReason.objects.filter(pk__in=reason_ids).values_list("pk", "name"))
            if reason_ids
            else {}
        )

    def asked(self, event: TaskEvent) -> tuple[int, int, str]:
        """The step (n of m, its name) a notice asking for a decision is about."""
        task = event.task
        of = max(self.counts.get(task.request_type_id, 0), 1)
        if event.kind == Kind.APPROVED and isinstance(event.new_value, dict):
            step = int(event.new_value.get("step", 0)) + 1
            of = int(event.new_value.get("of", of))
        elif event.kind == Kind.STATUS_CHANGED:
            step = 1
        else:  # another approver named while the card waits
            step = max(task.approval_step, 1)
        return step, of, self.steps.get((task.request_type_id, step), "")


def asks(note: Notification) -> bool:
    """Whether the notice asks for a decision: the approver's (DECIDE_KEY), or a Slack post
    (card notices go to Slack only to ask, sla.card_notices)."""
    return note.recipient_key.startswith(DECIDE_KEY) or note.channel == Channel.SLACK


def addressee(note: Notification) -> User | None:
    """The one person a notification addresses: its recipient, or for a decision asked on a
    team's Slack channel the approver asked; None for a post to a channel. Her timezone
    (sla.notify) and her preferences (sla.preferences) apply to it."""
    if note.recipient_id is not None:
        return note.recipient
    if note.card_event is not None and asks(note):
        return note.card_event.task.approver
    return None


def _headline(note: Notification, event: TaskEvent, lookups: _Lookups) -> str:
    task, who = event.task, name(event.actor)
    if asks(note):
        step, of, step_name = lookups.asked(event)
        how = {Kind.STATUS_CHANGED: "sent", Kind.APPROVED: "passed on"}.get(
            event.kind, "handed to you"
        )
        return (
            f"Decision needed: #{task.pk} {task.title} — {how} by {who}"
            f"{_step_words(step, of, step_name)}"
        )
    values = event.new_value if isinstance(event.new_value, dict) else {}
    if event.kind == Kind.APPROVED:
        step = _step_words(values.get("step", 1), values.get("of", 1), "")
        return f"#{task.pk} approved by {who}{step}"
    if event.kind == Kind.REJECTED:
        return f"#{task.pk} rejected by {who}: {event.note}"
    if event.kind == Kind.BLOCKING_REASON_SET:
        waiting_for = lookups.reasons.get(event.new_value, "")
        detail = f" ({waiting_for})" if waiting_for else ""
        return f"#{task.pk} moved to waiting{detail} by {who}"
    if event.kind == Kind.STATUS_CHANGED:
        try:
            label = Status(event.new_value).label.lower()
        except ValueError:
            label = str(event.new_value)
        return f"#{task.pk} moved to {label} by {who}"
    return f"#{task.pk} {event.get_kind_display().lower()} by {who}"


def attach(notifications: Iterable[Notification]) -> None:
    """Give each card notice its `words` (notifications read with `RELATED`); notices of
    timer events are left as they are."""
    notes = [n for n in notifications if n.card_event_id is not None]
    if not notes:
        return
    lookups = _Lookups([n.card_event for n in notes])
    for note in notes:
        event = note.card_event
        note.words = Words(
            headline=_headline(note, event, lookups),
            task=event.task,
            event=event,
            asks=asks(note),
            reason=event.note,
        )


def words(notification: Notification) -> Words:
    """The words of one card notice (attached by `attach` if not yet)."""
    if getattr(notification, "words", None) is None:
        attach([notification])
    return notification.words
