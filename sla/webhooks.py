"""Outgoing webhooks: which outbox rows an event writes for the admin-managed endpoints.

Every event of a kind an active `WebhookEndpoint` subscribes to is one `Notification` in the
same outbox as email and Slack (channel `webhook`, no recipient user, `address` the
endpoint's URL), delivered by its own lane (sla.delivery.WebhookLane) with the outbox's
retries, holds and resend; what goes over the wire is `sla.webhook_messages`'.

    kind                  told by                                   the row points at
    card.created          a card made (TaskEvent created)           card_event
    card.updated          a change of its fields (CARD_FIELD_KINDS) card_event (the first)
    card.status_changed   a move (TaskEvent status_changed)         card_event
    approval.requested    a decision asked (sla.card_notices)       card_event
    approval.decided      approved or rejected                      card_event
    timer.warning         a timer's warning (SlaEvent)              event
    timer.breached        a timer's breach (SlaEvent)               event
    timer.met             a timer stopped in time by the change     card_event (+ timer id)

The row's `recipient_key` is WEBHOOK_KEY + "<endpoint id>:<kind>" (":<timer id>" after
timer.met): with the outbox's unique constraints (one row per event, channel and key) each
(event, endpoint, kind) is written exactly once, however often the change or the scan is
seen, and one card event may tell one endpoint two kinds (a move to on approval is both a
status change and a decision asked). Card changes are recorded by the card-change listener
(sla.card_notices calls `card_change_rows`), timer thresholds by both paths of the scan
(`timer_event_rows` for the Python path; the `hooks` block of sla/sql/scan_batch.sql).
Observe-mode timers tell no endpoint (nobody is told), nor does history being replayed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sla.models import Channel, Notification, SlaEvent, SlaTimer, TimerState, WebhookEndpoint
from sla.scan_rules import WEBHOOK_KEY, WEBHOOK_KIND_SEP
from tasks.models import Task, TaskEvent

Kind = TaskEvent.Kind
EventKind = WebhookEndpoint.EventKind

# Changes of a card's fields told as `card.updated` (one per change, however many fields).
# A blocking reason set or cleared with a move is part of the status change; comments and
# the dispatch flag are not changes of the card's fields.
CARD_FIELD_KINDS = frozenset(
    {
        Kind.OWNER_CHANGED,
        Kind.PERFORMERS_CHANGED,
        Kind.APPROVER_CHANGED,
        Kind.PRIORITY_CHANGED,
        Kind.REQUEST_TYPE_CHANGED,
        Kind.TEAM_CHANGED,
        Kind.NEXT_STEP_SET,
        Kind.DETAILS_CHANGED,
        Kind.BLOCKING_REASON_SET,
        Kind.BLOCKING_REASON_CLEARED,
    }
)
_BLOCKING = frozenset({Kind.BLOCKING_REASON_SET, Kind.BLOCKING_REASON_CLEARED})

# The webhook kind of a timer's SlaEvent (escalation levels are not told to endpoints).
TIMER_EVENT_KINDS: dict[str, str] = {
    SlaEvent.Kind.WARNING: EventKind.TIMER_WARNING,
    SlaEvent.Kind.BREACH: EventKind.TIMER_BREACHED,
}


@dataclass(frozen=True)
class Address:
    """What a webhook row's recipient_key says: the endpoint, the kind, the met timer."""

    endpoint_id: int
    kind: str
    timer_id: int | None = None


def recipient_key(endpoint_id: int, kind: str, timer_id: int | None = None) -> str:
    key = f"{WEBHOOK_KEY}{endpoint_id}{WEBHOOK_KIND_SEP}{kind}"
    return key if timer_id is None else f"{key}{WEBHOOK_KIND_SEP}{timer_id}"


def address_of(note: Notification) -> Address:
    """The endpoint, kind and met timer of a webhook row (ValueError: not one)."""
    if not note.recipient_key.startswith(WEBHOOK_KEY):
        raise ValueError(f"not a webhook row: {note.recipient_key}")
    endpoint, kind, *timer = note.recipient_key[len(WEBHOOK_KEY) :].split(WEBHOOK_KIND_SEP)
    return Address(int(endpoint), kind, int(timer[0]) if timer else None)


def subscribers() -> list[WebhookEndpoint]:
    """The active endpoints (few: one query, read once per change or scan batch)."""
    return list(WebhookEndpoint.objects.filter(active=True).only("id", "url", "event_kinds"))


def _pending(at: datetime, endpoint: WebhookEndpoint, kind: str, **about) -> Notification:
    return Notification(
        channel=Channel.WEBHOOK,
        recipient_key=recipient_key(endpoint.pk, kind, about.pop("timer_id", None)),
        address=endpoint.url,
        state=Notification.State.PENDING,
        next_attempt_at=at,
        created_at=at,
        **about,
    )


def card_change_kinds(
    events: Sequence[TaskEvent], asking: TaskEvent | None
) -> list[tuple[str, TaskEvent]]:
    """The webhook kinds a change of a card tells, each with the event its row points at.
    `asking`: the change's event that asks the card's approver for a decision, if any
    (sla.card_notices decides that, for the approver's notice and for this)."""
    by_kind: dict[str, TaskEvent] = {}
    for event in events:
        by_kind.setdefault(event.kind, event)
    if created := by_kind.get(Kind.CREATED):
        return [(EventKind.CARD_CREATED, created)]
    told: list[tuple[str, TaskEvent]] = []
    status = by_kind.get(Kind.STATUS_CHANGED)
    if status is not None:
        told.append((EventKind.CARD_STATUS_CHANGED, status))
    decision = by_kind.get(Kind.APPROVED) or by_kind.get(Kind.REJECTED)
    if decision is not None:
        told.append((EventKind.APPROVAL_DECIDED, decision))
    if asking is not None:
        told.append((EventKind.APPROVAL_REQUESTED, asking))
    fields = [
        e
        for e in events
        if e.kind in CARD_FIELD_KINDS and not (status is not None and e.kind in _BLOCKING)
    ]
    if fields:
        told.append((EventKind.CARD_UPDATED, fields[0]))
    return told


def card_change_rows(
    *,
    task: Task,
    at: datetime,
    events: Sequence[TaskEvent],
    asking: TaskEvent | None,
    endpoints: list[WebhookEndpoint] | None = None,
) -> list[Notification]:
    """The webhook rows of one change of a card (unsaved; sla.card_notices writes them with
    its notices): one per (kind told, endpoint subscribed to it), and `timer.met` for each
    timer the change stopped in time (sla.actions.sync_timers ran first, in the same
    transaction)."""
    endpoints = subscribers() if endpoints is None else endpoints
    if not endpoints or not events:
        return []
    told = card_change_kinds(events, asking)
    notes = [
        _pending(at, endpoint, kind, card_event=event)
        for kind, event in told
        for endpoint in endpoints
        if kind in endpoint.event_kinds
    ]
    # A card just created has no timer that could be met yet: nothing to read.
    new_card = any(kind == EventKind.CARD_CREATED for kind, _ in told)
    hearing_met = [e for e in endpoints if EventKind.TIMER_MET in e.event_kinds]
    if hearing_met and not new_card:
        met = SlaTimer.objects.filter(
            task=task, stopped_at=at, state=TimerState.MET, observe=False
        ).values_list("pk", flat=True)
        # The move or decision that stopped them (else the change's first event).
        anchor = next((event for _, event in told), events[0])
        notes += [
            _pending(at, endpoint, EventKind.TIMER_MET, card_event=anchor, timer_id=timer_id)
            for timer_id in met
            for endpoint in hearing_met
        ]
    return notes


def timer_event_rows(
    events: Iterable[tuple[int, str]], now: datetime, endpoints: list[WebhookEndpoint] | None = None
) -> list[Notification]:
    """The webhook rows of thresholds just recorded (`events`: (SlaEvent id, kind) of timers
    not in observe mode): one per (event, endpoint subscribed to its kind). The Python
    path of the scan (sla.escalation.record); the SQL path writes the same rows itself."""
    events = [(pk, TIMER_EVENT_KINDS[kind]) for pk, kind in events if kind in TIMER_EVENT_KINDS]
    if not events:
        return []
    endpoints = subscribers() if endpoints is None else endpoints
    return [
        _pending(now, endpoint, kind, event_id=event_id)
        for event_id, kind in events
        for endpoint in endpoints
        if kind in endpoint.event_kinds
    ]
