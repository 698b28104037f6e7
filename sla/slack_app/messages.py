"""What a Slack-app outbox row says (rendered on the delivery run's main thread, where the
ORM may be used): a direct message with buttons, or a reply in a card's thread."""

from __future__ import annotations

from dataclasses import dataclass

from sla.models import Notification, SlaEvent, TimerKind
from sla.notice_words import asks, words
from sla.notify import idempotency_key, one_line, slack_escape
from sla.slack_app import blocks, web
from sla.slack_app.alerts import THREAD_KEY
from tasks.models import BlockingReason, Status, Task

THRESHOLD = {
    SlaEvent.Kind.WARNING: "at risk",
    SlaEvent.Kind.BREACH: "SLA breached",
    SlaEvent.Kind.ESCALATION: "escalated: SLA breached",
}


@dataclass(frozen=True)
class Post:
    channel: str  # a channel, or a person's Slack user id (`direct`)
    text: str
    blocks: list[dict] | None
    thread_ts: str
    metadata: dict
    direct: bool


def render(note: Notification, reasons: list[BlockingReason]) -> Post:
    """The message of a row (`reasons`: the active blocking reasons, read once per batch)."""
    task = _task(note)
    meta = blocks.metadata(task, idempotency_key(note))
    if note.recipient_key.startswith(THREAD_KEY):
        thread = task.slack_thread
        return Post(thread.channel, _thread_text(note, task), None, thread.thread_ts, meta, False)
    headline, detail = _alert_words(note, task)
    decide = task.status == Status.ON_APPROVAL and note.recipient_id == task.approver_id
    return Post(
        channel=note.address,
        text=f"{slack_escape(one_line(headline))}: #{task.pk} {slack_escape(one_line(task.title))}",
        blocks=blocks.alert_blocks(task, headline, detail, reasons=reasons, decide=decide),
        thread_ts="",
        metadata=meta,
        direct=True,
    )


def _task(note: Notification) -> Task:
    if note.card_event_id is not None:
        return words(note).task
    return _event(note).timer.task


def _event(note: Notification) -> SlaEvent:
    """The threshold a row tells of (a row tells of a threshold or of a card event)."""
    assert note.event is not None
    return note.event


def _alert_words(note: Notification, task: Task) -> tuple[str, str]:
    """(headline, detail) of a direct message; the detail is mrkdwn, escaped here."""
    owner = slack_escape(blocks.name_of(task.owner))
    if note.card_event_id is not None:
        said = words(note)
        who = slack_escape(blocks.name_of(said.event.actor))
        if asks(note):
            return "Decision needed", f"Asked by {who} · owner {owner}"
        return one_line(said.headline), f"Owner {owner}"
    event = _event(note)
    timer = event.timer
    kind = TimerKind(timer.kind).label
    due = web.slack_time(timer.due_at or event.at, note.recipient)
    what = "decision due" if timer.kind == TimerKind.APPROVAL else "due"
    return f"{kind} {THRESHOLD[SlaEvent.Kind(event.kind)]}", f"Owner {owner} · {what} {due}"


def _thread_text(note: Notification, task: Task) -> str:
    """A reply in the card's thread: a status change, the resolution, or a breach."""
    card = blocks.card_line(task)
    if note.card_event_id is None:
        event = _event(note)
        due = web.slack_time(event.timer.due_at or event.at, None)
        return f":warning: SLA breached (was due {due}): {card}"
    said = words(note)
    who = slack_escape(blocks.name_of(said.event.actor))
    if said.event.new_value == Status.DONE:
        return f":white_check_mark: Resolved by {who}: {card}"
    if said.event.new_value == Status.CANCELLED:
        return f"Cancelled by {who}: {card}"
    return f"{slack_escape(one_line(said.headline))}: {card}"
