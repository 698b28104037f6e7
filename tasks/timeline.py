"""The card timeline: TaskEvents (typed values) turned into readable lines, in a fixed
number of queries however long the history is."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth import get_user_model

from tasks.models import (
    ApprovalStep,
    BlockingReason,
    Comment,
    Priority,
    RequestType,
    Status,
    TaskEvent,
    Team,
)

User = get_user_model()
Kind = TaskEvent.Kind


@dataclass
class Entry:
    at: datetime
    actor: str
    kind: str
    text: str
    note: str = ""
    comment: Comment | None = None


def _label(choices, value) -> str:
    try:
        return choices(value).label
    except ValueError:
        return str(value)


def _details_text(field: str, old, new) -> str:
    # The title is short and says what the card is: both texts. A description can be long:
    # the page shows the current one, the history only says it changed.
    if field == "title":
        return f"renamed it from “{old}” to “{new}”"
    if field == "description":
        return "edited the description" if new else "removed the description"
    if field == "source_url":
        return f"set the source link to {new}" if new else "removed the source link"
    return f"changed the {field or 'details'}"


def _decision_text(kind: str, new: dict, note: str, step_names: dict[int, str]) -> str:
    """An approval decision in words: "approved step 1 of 2 (Budget)", "rejected: <reason>",
    "… as the team's manager" when the manager decided in the approver's stead."""
    new = new or {}
    step, total = new.get("step", 1), new.get("of", 1)
    name = step_names.get(step, "")
    which = f" step {step} of {total}" if total > 1 else ""
    if name:
        which += f" ({name})"
    if kind == Kind.APPROVED:
        text = f"approved{which}" if which else "approved it"
    else:
        text = f"rejected{which}: {note}"
    if new.get("as") == "team_manager":
        text += " as the team's manager"
    return text


def timeline(events: list[TaskEvent], *, step_names: dict[int, str] | None = None) -> list[Entry]:
    """The events in words. `step_names` (position → name of the card's approval steps)
    names the steps of decisions; without it they are read in one query when needed."""
    user_ids, reason_ids, type_ids, team_ids = set(), set(), set(), set()
    for e in events:
        values = [e.old_value, e.new_value]
        if e.kind in (Kind.OWNER_CHANGED, Kind.APPROVER_CHANGED):
            user_ids.update(v for v in values if v)
        elif e.kind == Kind.PERFORMERS_CHANGED:
            user_ids.update(u for v in values for u in (v or []))
        elif e.kind in (Kind.BLOCKING_REASON_SET, Kind.BLOCKING_REASON_CLEARED):
            reason_ids.update(v for v in values if v)
        elif e.kind == Kind.REQUEST_TYPE_CHANGED:
            type_ids.update(v for v in values if v)
        elif e.kind == Kind.TEAM_CHANGED:
            team_ids.update(v for v in values if v)
    if step_names is None:
        decided = [e.task_id for e in events if e.kind in (Kind.APPROVED, Kind.REJECTED)]
        step_names = (
            dict(
                ApprovalStep.objects.filter(request_type__task=decided[0]).values_list(
                    "position", "name"
                )
            )
            if decided
            else {}
        )
    users = {
        u.pk: u.get_full_name() or u.get_username() for u in User.objects.filter(pk__in=user_ids)
    }
    reasons = dict(BlockingReason.objects.filter(pk__in=reason_ids).values_list("pk", "name"))
    types = dict(RequestType.objects.filter(pk__in=type_ids).values_list("pk", "name"))
    teams = dict(Team.objects.filter(pk__in=team_ids).values_list("pk", "name"))

    def who(pk) -> str:
        return users.get(pk, "nobody") if pk else "nobody"

    entries = []
    for e in events:
        old, new = e.old_value, e.new_value
        match e.kind:
            case Kind.CREATED:
                text = f"created the card ({_label(Priority, new.get('priority'))} priority)"
            case Kind.STATUS_CHANGED:
                text = f"moved it from {_label(Status, old)} to {_label(Status, new)}"
            case Kind.BLOCKING_REASON_SET:
                text = f"marked it blocked: {reasons.get(new, new)}"
            case Kind.BLOCKING_REASON_CLEARED:
                text = f"cleared the blocking reason ({reasons.get(old, old)})"
            case Kind.OWNER_CHANGED:
                text = f"made {who(new)} the owner (was {who(old)})"
            case Kind.APPROVER_CHANGED:
                text = f"made {who(new)} the approver (was {who(old)})"
            case Kind.PERFORMERS_CHANGED:
                names = ", ".join(who(pk) for pk in new or []) or "nobody"
                text = f"set the performers to {names}"
            case Kind.PRIORITY_CHANGED:
                old_label, new_label = _label(Priority, old), _label(Priority, new)
                text = f"changed the priority from {old_label} to {new_label}"
            case Kind.REQUEST_TYPE_CHANGED:
                text = f"changed the type from {types.get(old, old)} to {types.get(new, new)}"
            case Kind.TEAM_CHANGED:
                text = f"handed it from {teams.get(old, 'no team')} to {teams.get(new, 'no team')}"
            case Kind.NEXT_STEP_SET:
                text = f"set the next step: {new.get('text') or '(cleared)'}"
            case Kind.DETAILS_CHANGED:
                text = _details_text(e.field, old, new)
            case Kind.DISPATCH_FLAGGED:
                text = f"flagged it for dispatch: {new}"
            case Kind.COMMENTED:
                text = "commented"
            case Kind.APPROVED | Kind.REJECTED:
                text = _decision_text(e.kind, new, e.note, step_names)
            case _:
                text = e.get_kind_display()
        actor = (e.actor.get_full_name() or e.actor.get_username()) if e.actor else "System"
        note = "" if e.kind == Kind.REJECTED else e.note  # the reason is in the text
        entries.append(Entry(e.at, actor, e.kind, text, note, e.comment))
    return entries
