"""What an outgoing webhook sends: the JSON body of a webhook row (sla.webhooks), signed per
the Standard Webhooks spec, or an Adaptive Card for a Microsoft Teams Workflows URL.

    POST <endpoint URL>
    content-type: application/json
    webhook-id: turnaround-1234-5f0c…      the row's idempotency key: the same on every retry
    webhook-timestamp: 1764990000          when this attempt was signed (Unix seconds)
    webhook-signature: v1,<base64>         HMAC-SHA256 of "<id>.<timestamp>.<body>"

    {"type": "card.status_changed", "timestamp": "2026-11-23T10:05:00Z",
     "data": {"card": {...}, "actor": {...}, "status": {"from": "new", "to": "in_progress"}}}

Bodies are built on the delivery run's main thread (`prepare`: a fixed number of queries per
batch, whatever its size); the lane's threads only sign and post (`post`), so no thread but
the main one touches the database. The card in `data` is read when the row is delivered; the
event's own fields (`type`, `timestamp`, from/to, decision, timer) are as recorded. The
format is documented in docs/webhooks.md.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from standardwebhooks.webhooks import Webhook

from sla import notify
from sla.models import Notification, SlaTimer, WebhookEndpoint
from sla.webhooks import CARD_FIELD_KINDS, Address, address_of
from tasks.models import Priority, Status, Task, TaskEvent

EventKind = WebhookEndpoint.EventKind
Kind = TaskEvent.Kind

WEBHOOK_TIMEOUT = 10  # seconds, per request
USER_AGENT = "Turnaround-Webhooks/1"
ENDPOINT_GONE = "The webhook endpoint was deleted."
ENDPOINT_INACTIVE = "The webhook endpoint is inactive."


@dataclass(frozen=True)
class Message:
    """A webhook ready to go: where, what, and how to sign it (no database needed)."""

    url: str
    msg_id: str
    body: bytes
    signer: Webhook | None  # None: a Teams endpoint without a secret (sent unsigned)


def iso(at: datetime | None) -> str | None:
    """An instant as ISO 8601 in UTC with a Z (what every receiver parses)."""
    if at is None:
        return None
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def person(user: User | None) -> dict | None:
    if user is None:
        return None
    return {"id": user.pk, "username": user.get_username(), "name": user.get_full_name()}


def card_data(task: Task, owner: User | None) -> dict:
    return {
        "id": task.pk,
        "title": task.title,
        "status": task.status,
        "priority": task.priority,
        "owner": person(owner),
        "team_id": task.team_id,
        "source": task.source,
        "external_ref": task.external_ref,
        "url": f"{settings.SITE_URL}{task.get_absolute_url()}",
    }


def timer_data(timer: SlaTimer) -> dict:
    return {
        "id": timer.pk,
        "kind": timer.kind,
        "cycle": timer.cycle,
        "state": timer.state,
        "target_seconds": int(timer.target.total_seconds()),
        "started_at": iso(timer.started_at),
        "warn_at": iso(timer.warn_at),
        "due_at": iso(timer.due_at),
        "warned_at": iso(timer.warned_at),
        "breached_at": iso(timer.breached_at),
        "stopped_at": iso(timer.stopped_at),
    }


def change(event: TaskEvent) -> dict:
    return {
        "kind": event.kind,
        "field": event.field,
        "from": event.old_value,
        "to": event.new_value,
    }


class _Batch:
    """What the bodies of a batch of webhook rows read besides the rows themselves (loaded
    with the card, its owner and the event by `outbox.claim_due`): their endpoints, met
    timers, approvers and the other field changes of each card.updated — one query each,
    only when the batch needs it."""

    def __init__(self, rows: list[tuple[Notification, Address]]) -> None:
        self.endpoints = WebhookEndpoint.objects.in_bulk({a.endpoint_id for _, a in rows})
        met = {a.timer_id for _, a in rows if a.timer_id is not None}
        self.timers = SlaTimer.objects.in_bulk(met) if met else {}
        approvers = {
            n.card_event.task.approver_id
            for n, a in rows
            if a.kind == EventKind.APPROVAL_REQUESTED and n.card_event is not None
        } - {None}
        self.people = User.objects.in_bulk(approvers) if approvers else {}
        updated = [
            n.card_event
            for n, a in rows
            if a.kind == EventKind.CARD_UPDATED and n.card_event is not None
        ]
        self.changes: dict[tuple[int, datetime], list[TaskEvent]] = defaultdict(list)
        if updated:
            for event in TaskEvent.objects.filter(
                task_id__in={e.task_id for e in updated},
                at__in={e.at for e in updated},
                kind__in=CARD_FIELD_KINDS,
            ).order_by("at", "pk"):
                self.changes[(event.task_id, event.at)].append(event)


def body(note: Notification, address: Address, batch: _Batch) -> dict:
    """The Standard Webhooks body of a row: type, timestamp (when it happened), data."""
    data: dict[str, Any]
    if note.event is not None:  # a timer's warning or breach
        timer = note.event.timer
        data = {"card": card_data(timer.task, timer.task.owner), "timer": timer_data(timer)}
        return {"type": address.kind, "timestamp": iso(note.event.at), "data": data}
    event = note.card_event
    if event is None:
        raise notify.DeliveryError("The row tells no event.", final=True)
    task = event.task
    data = {"card": card_data(task, task.owner), "actor": person(event.actor)}
    values = event.new_value if isinstance(event.new_value, dict) else {}
    if address.kind == EventKind.CARD_STATUS_CHANGED:
        data["status"] = {"from": event.old_value, "to": event.new_value}
        data["note"] = event.note
    elif address.kind == EventKind.APPROVAL_DECIDED:
        decision = "approved" if event.kind == Kind.APPROVED else "rejected"
        data["approval"] = {
            "decision": decision,
            "step": values.get("step"),
            "of": values.get("of"),
            "as": values.get("as"),
            "reason": event.note,
        }
    elif address.kind == EventKind.APPROVAL_REQUESTED:
        data["approval"] = {
            "approver": person(batch.people.get(task.approver_id)),
            "step": task.approval_step or 1,
        }
    elif address.kind == EventKind.CARD_UPDATED:
        events = batch.changes.get((event.task_id, event.at)) or [event]
        data["changes"] = [change(e) for e in events]
    elif address.kind == EventKind.TIMER_MET:
        met = batch.timers.get(address.timer_id or 0)
        if met is None:
            raise notify.DeliveryError("The met timer no longer exists.", final=True)
        data["timer"] = timer_data(met)
        return {"type": address.kind, "timestamp": iso(met.stopped_at), "data": data}
    return {"type": address.kind, "timestamp": iso(event.at), "data": data}


# ----------------------------------------------------------------------------- Teams


def _label(choices, value: str) -> str:
    try:
        return str(choices(value).label)
    except ValueError:
        return value


def headline(payload: dict) -> str:
    """One line saying what happened (the Adaptive Card's title)."""
    data, kind = payload["data"], payload["type"]
    card = data["card"]
    what = f"#{card['id']} {card['title']}"
    actor = data.get("actor") or {}
    by = f" by {actor.get('name') or actor.get('username')}" if actor else ""
    if kind == EventKind.CARD_CREATED:
        return f"New card {what}{by}"
    if kind == EventKind.CARD_UPDATED:
        return f"{what} updated{by}"
    if kind == EventKind.CARD_STATUS_CHANGED:
        return f"{what} moved to {_label(Status, data['status']['to']).lower()}{by}"
    if kind == EventKind.APPROVAL_REQUESTED:
        approver = (data["approval"]["approver"] or {}).get("name") or (
            data["approval"]["approver"] or {}
        ).get("username", "")
        return f"Decision needed on {what}" + (f" from {approver}" if approver else "")
    if kind == EventKind.APPROVAL_DECIDED:
        decision = data["approval"]
        reason = f": {decision['reason']}" if decision["reason"] else ""
        return f"{what} {decision['decision']}{by}{reason}"
    timer = data["timer"]
    said = {
        EventKind.TIMER_WARNING: "At risk",
        EventKind.TIMER_BREACHED: "SLA breached",
        EventKind.TIMER_MET: "SLA met",
    }[kind]
    return f"{said}: {what} ({timer['kind']} timer)"


def teams_card(payload: dict) -> dict:
    """The body a Teams Workflows "When a Teams webhook request is received" flow posts to a
    channel: a message with one Adaptive Card (title, facts, a button to the card)."""
    card = payload["data"]["card"]
    owner = card["owner"] or {}
    facts = [
        {"title": "Status", "value": _label(Status, card["status"])},
        {"title": "Priority", "value": _label(Priority, card["priority"])},
        {"title": "Owner", "value": owner.get("name") or owner.get("username") or "unassigned"},
    ]
    timer = payload["data"].get("timer")
    if timer is not None and timer["due_at"]:
        facts.append({"title": "Due", "value": timer["due_at"]})
    content = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": [
            {
                "type": "TextBlock",
                "text": headline(payload),
                "weight": "Bolder",
                "size": "Medium",
                "wrap": True,
            },
            {"type": "FactSet", "facts": facts},
        ],
        "actions": [
            {"type": "Action.OpenUrl", "title": f"Open card #{card['id']}", "url": card["url"]}
        ],
    }
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": content,
            }
        ],
    }


# ----------------------------------------------------------------------------- sending


def prepare(rows: list[Notification]) -> list[tuple[Notification, Message | notify.DeliveryError]]:
    """Each claimed webhook row with its message, or why it cannot be sent (main thread)."""
    addressed = []
    outcomes: list[tuple[Notification, Message | notify.DeliveryError]] = []
    for note in rows:
        try:
            addressed.append((note, address_of(note)))
        except ValueError as error:
            outcomes.append((note, notify.DeliveryError(str(error), final=True)))
    if not addressed:
        return outcomes
    batch = _Batch(addressed)
    signers: dict[int, Webhook | None] = {}
    for note, address in addressed:
        endpoint = batch.endpoints.get(address.endpoint_id)
        try:
            if endpoint is None:
                raise notify.DeliveryError(ENDPOINT_GONE, final=True)
            if not endpoint.active:
                raise notify.DeliveryError(ENDPOINT_INACTIVE, final=True)
            if endpoint.pk not in signers:
                signers[endpoint.pk] = signer(endpoint)
            payload = body(note, address, batch)
            if endpoint.preset == WebhookEndpoint.Preset.TEAMS:
                payload = teams_card(payload)
            text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
            message = Message(
                url=endpoint.url,
                msg_id=notify.idempotency_key(note),
                body=text.encode(),
                signer=signers[endpoint.pk],
            )
        except notify.DeliveryError as error:
            outcomes.append((note, error))
            continue
        except Exception as error:  # a row that cannot be rendered: an attempt, not a crash
            outcomes.append((note, notify.DeliveryError(f"{type(error).__name__}: {error}")))
            continue
        outcomes.append((note, message))
    return outcomes


def signer(endpoint: WebhookEndpoint) -> Webhook | None:
    """The endpoint's signer (its secret, "whsec_" + base64); none for a Teams endpoint
    without one. A Standard Webhooks endpoint without a usable secret cannot be sent to."""
    if not endpoint.secret and endpoint.preset == WebhookEndpoint.Preset.TEAMS:
        return None
    try:
        return Webhook(endpoint.secret)
    except Exception as error:  # empty, or not base64
        raise notify.DeliveryError(
            f"The endpoint's secret is not usable ({type(error).__name__}): set a new one.",
            final=True,
        ) from error


def headers(message: Message, at: datetime) -> dict[str, str]:
    """The request's headers, signed at `at` (each attempt is signed when it is sent, so a
    receiver's check of the timestamp's age holds for retries too)."""
    sent = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "webhook-id": message.msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
    }
    if message.signer is not None:
        sent["webhook-signature"] = message.signer.sign(message.msg_id, at, message.body)
    return sent


def post(session: notify.HttpSession, message: Message, at: datetime) -> None:
    """Send one webhook (no database access: safe on a delivery thread). Any 2xx is
    delivered; DeliveryError otherwise: `retry_after` from a 429 or 503 Retry-After, `down`
    for a 5xx or no answer at all (the destination is held, not each row tried)."""
    try:
        answer = session.send(message.url, message.body, headers(message, at))
    except notify.DeliveryError as error:
        error.down = True
        raise
    if 200 <= answer.status < 300:
        return
    text = answer.body[:200].decode("utf-8", errors="replace")
    said = f"The endpoint answered {answer.status}: {text}".rstrip(": ")
    retry_after = answer.headers.get("retry-after")
    if answer.status == 429 or (answer.status == 503 and retry_after):
        wait = notify.retry_after_seconds(retry_after)
        raise notify.DeliveryError(f"{said} (retry after {wait:g} s)", retry_after=wait)
    raise notify.DeliveryError(said, down=answer.status >= 500)
