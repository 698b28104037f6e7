"""The Slack app's outbox rows (Channel.SLACK_APP): direct messages people can act on, and
news posted into the thread a card was made from. Delivered by sla.delivery.SlackAppLane.

Who hears what (only with the app installed, `SLACK_BOT_TOKEN`, and only people the app
knows on Slack, a SlackUser row with their account: those who used the app once):

- a timer's warning, breach or escalation: the card's owner as a direct message (an
  approval timer's: the approver), with buttons;
- a decision asked: the approver, with Approve / Reject;
- a card made from a message (CardThread): its status changes, breach and resolution, as
  replies in that thread.

Rows are unique per (event, channel, recipient_key) like every outbox row, so recording the
same threshold or change twice writes nothing more; both paths of the scan and the card
notices call these functions after writing their own rows. A person is USER_KEY + id (or
DECIDE_KEY + id when asked to decide), a thread THREAD_KEY + CardThread id; `address` is the
Slack user id (direct message) or the channel (thread), the destination a hold applies to.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sla.models import CardThread, Channel, Notification, SlaEvent, TimerKind
from sla.notice_words import DECIDE_KEY
from sla.scan_rules import USER_KEY
from sla.slack_app import people, web
from tasks.models import Task, TaskEvent

THREAD_KEY = "slack-thread:"
SEEDED = "Not sent: seeded history."


def _row(*, event_id=None, card_event=None, user_id=None, key, address, now, quiet) -> Notification:
    return Notification(
        event_id=event_id,
        card_event=card_event,
        recipient_id=user_id,
        channel=Channel.SLACK_APP,
        recipient_key=key,
        address=address,
        state=Notification.State.SKIPPED if quiet else Notification.State.PENDING,
        next_attempt_at=None if quiet else now,
        last_error=SEEDED if quiet else "",
        created_at=now,
    )


def _write(rows: list[Notification]) -> int:
    if not rows:
        return 0
    Notification.objects.bulk_create(rows, ignore_conflicts=True)
    return sum(1 for r in rows if r.state == Notification.State.PENDING)


def notify_thresholds(
    fired: Sequence[tuple[int, int, str, str]], now: datetime, *, quiet: bool = False
) -> int:
    """Direct messages for recorded thresholds — (event id, card id, event kind, timer kind),
    observe mode already left out — and thread posts for breaches. A fixed number of queries
    for the whole batch. Returns the number of pending rows written."""
    if not fired or not web.configured():
        return 0
    cards = {
        pk: (owner, approver)
        for pk, owner, approver in Task.objects.filter(pk__in={f[1] for f in fired}).values_list(
            "pk", "owner_id", "approver_id"
        )
    }
    recipient = {
        event_id: cards[card][1] if timer_kind == TimerKind.APPROVAL else cards[card][0]
        for event_id, card, _, timer_kind in fired
        if card in cards
    }
    slack_ids = people.slack_ids([u for u in recipient.values() if u])
    rows = [
        _row(event_id=event_id, user_id=user, key=f"{USER_KEY}{user}",
             address=slack_ids[user], now=now, quiet=quiet)
        for event_id, user in recipient.items()
        if user in slack_ids
    ]  # fmt: skip
    breaches = {card: event_id for event_id, card, kind, _ in fired if kind == SlaEvent.Kind.BREACH}
    if breaches:
        for thread in CardThread.objects.filter(task_id__in=breaches):
            rows.append(
                _row(event_id=breaches[thread.task_id], key=f"{THREAD_KEY}{thread.pk}",
                     address=thread.channel, now=now, quiet=quiet)
            )  # fmt: skip
    return _write(rows)


def notify_card_change(
    *, task: Task, asking: TaskEvent | None, status: TaskEvent | None, now: datetime,
    quiet: bool = False,
) -> int:  # fmt: skip
    """A decision asked (`asking`: the approver, if known on Slack) and a status change
    (`status`: the card's thread, if it was made from a message)."""
    if not web.configured():
        return 0
    rows = []
    if asking is not None and task.approver_id:
        slack_id = people.slack_ids([task.approver_id]).get(task.approver_id)
        if slack_id:
            rows.append(
                _row(card_event=asking, user_id=task.approver_id,
                     key=f"{DECIDE_KEY}{task.approver_id}", address=slack_id, now=now, quiet=quiet)
            )  # fmt: skip
    if status is not None:
        thread = CardThread.objects.filter(task=task).first()
        if thread is not None:
            rows.append(
                _row(card_event=status, key=f"{THREAD_KEY}{thread.pk}", address=thread.channel,
                     now=now, quiet=quiet)
            )  # fmt: skip
    return _write(rows)
