"""People are told: the outbox rows a change of a card writes (card notices).

Called by the SLA side's listener of the card-change hook (`sla.card_changes`, after the
timers' sync), `notify_card_change` reads the change's events and writes one `Notification`
per (card event, channel, recipient) with `card_event` set and `event` NULL; the unique constraint
`one_card_notice_per_target` makes writing them twice harmless. Delivery is the outbox's
(sla.outbox, sla.delivery): in-app rows are written sent (the bell reads them), email and
Slack rows pending. The words of each notice are `sla.notice_words`'.

Who hears what:

- **A decision asked** — the card sent for approval (`status_changed` to on approval), the
  next step of its chain asked (an `approved` event that leaves the card on approval), or
  another approver named while it waits (`approver_changed` on approval): the approver
  asked, on the channels of the active escalation rules of the card's SLA policy that apply
  to the approval kind (`EscalationRule.applies_to("approval")`: the union of their in-app,
  email and Slack flags; Slack once per webhook, the rule's or else the card team's). With
  no such rule, or no policy, in-app and email. Its key is `DECIDE_KEY` + user id, so the
  words can say "Decision needed" to her and her alone.
- **A decision** (`approved`, `rejected`): the card's owner and performers, its watchers who
  chose decisions and its observers without a watch row — in-app and email.
- **A status change**: its watchers who chose status changes and its observers without a
  watch row — in-app and email. A move to waiting is told through its `blocking_reason_set`
  event (so the words can name what the card waits for).

Outgoing webhooks: the change's rows for the active endpoints subscribed to its kinds
(`sla.webhooks.card_change_rows`: card created, updated, status changed, approval requested
or decided, timers met) are written with these notices, in the same statement.
With the Slack app installed (sla.slack_app.alerts), the approver asked also gets a direct
message with Approve / Reject, and a card made from a Slack message gets its status changes
in that thread.

Never to the person who made the change; only to active users who may still see the card
(`sla.escalation.may_see_card`); an email only to someone with an address; one notice per
person and change (a decision asked, then a decision, then a status change: the first that
applies). Breaches reach watchers and observers through the scan
(`sla.escalation.notify_breach_watchers`). History being replayed tells nobody; while a
demo's history is seeded, emails and Slack posts are written skipped.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from django.contrib.auth.models import User

from sla import escalation, webhooks
from sla.actions import match_policy
from sla.models import Channel, Notification, SlaPolicy, TimerKind, WebhookEndpoint
from sla.notice_words import DECIDE_KEY
from sla.scan_rules import NO_SLACK_WEBHOOK, SLACK_KEY, SLACK_RULE_KEY, USER_KEY
from sla.slack_app import alerts as slack_alerts
from tasks.models import Status, Task, TaskEvent, Watch

Kind = TaskEvent.Kind

DEFAULT_ASK_CHANNELS = (Channel.IN_APP, Channel.EMAIL)
TOLD_CHANNELS = (Channel.IN_APP, Channel.EMAIL)


def notify_card_change(
    *,
    task: Task,
    at: datetime,
    events: Sequence[TaskEvent] = (),
    policies: list[SlaPolicy] | None = None,
    endpoints: list[WebhookEndpoint] | None = None,
) -> None:
    """Write the notices of this change (see the module); called by the SLA side's
    card-change listener (`sla.card_changes`) with the active policies and webhook
    endpoints it read (read here when not given)."""
    if escalation.is_replaying() or not events:
        return
    by_kind: dict[str, TaskEvent] = {}
    for event in events:
        by_kind.setdefault(event.kind, event)
    actor_id = events[0].actor_id
    told: set[int] = set() if actor_id is None else {actor_id}
    asking = _asking_event(task, by_kind)
    # Outgoing webhooks of the change (every kind an endpoint subscribes to, sla.webhooks).
    notes = webhooks.card_change_rows(
        task=task, at=at, events=events, asking=asking, endpoints=endpoints
    )

    asked = None
    if asking is not None and task.approver_id and task.approver_id not in told:
        approver = User.objects.get(pk=task.approver_id)
        if approver.is_active:
            notes += _ask(task, asking, approver, at, policies)
            told.add(approver.pk)
            asked = asking

    decision = by_kind.get(Kind.APPROVED) or by_kind.get(Kind.REJECTED)
    status = by_kind.get(Kind.STATUS_CHANGED)
    # The Slack app: the approver asked by direct message, the card's thread told.
    if slack_alerts.notify_card_change(
        task=task, asking=asked, status=status and by_kind.get(Kind.BLOCKING_REASON_SET, status),
        now=at, quiet=escalation.general_path_only(),
    ):  # fmt: skip
        escalation.enqueue_delivery()
    if decision is None and status is None:
        return _write(notes)
    followers = _Followers(task)
    if decision is not None:
        people = [task.owner, *task.performers.all(), *followers.hearing("decisions")]
        notes += _tell(decision, people, told, at)
    if status is not None:
        told_by = by_kind.get(Kind.BLOCKING_REASON_SET, status)
        notes += _tell(told_by, followers.hearing("status_changes"), told, at)
    _write(notes)


def _asking_event(task: Task, by_kind: dict[str, TaskEvent]) -> TaskEvent | None:
    """The event of this change that asks the card's approver for a decision, if any."""
    if task.status != Status.ON_APPROVAL:
        return None
    status = by_kind.get(Kind.STATUS_CHANGED)
    if status is not None:
        return status if status.new_value == Status.ON_APPROVAL else None
    return by_kind.get(Kind.APPROVED) or by_kind.get(Kind.APPROVER_CHANGED)


class _Followers:
    """A card's watchers and its observers without a watch row (they hear everything)."""

    def __init__(self, task: Task) -> None:
        self.watches = list(
            Watch.objects.filter(task=task, user__is_active=True)
            .filter(escalation.may_see_card("task", "user"))
            .select_related("user")
        )
        watching = {w.user_id for w in self.watches}
        self.observers = [u for u in task.observers.filter(is_active=True) if u.pk not in watching]

    def hearing(self, what: str) -> list[User]:
        return [w.user for w in self.watches if getattr(w, what)] + self.observers


def _note(event: TaskEvent, user: User, channel: str, key: str, at: datetime) -> Notification:
    if channel == Channel.IN_APP:
        return Notification(
            card_event=event, recipient=user, channel=channel, recipient_key=key,
            state=Notification.State.SENT, created_at=at, sent_at=at,
        )  # fmt: skip
    return Notification(
        card_event=event, recipient=user, channel=channel, recipient_key=key,
        address=user.email, state=Notification.State.PENDING, next_attempt_at=at, created_at=at,
    )  # fmt: skip


def _tell(
    event: TaskEvent, people: Iterable[User | None], told: set[int], at: datetime
) -> list[Notification]:
    """In-app and email notices of `event` to each of `people` not told yet (marked told)."""
    notes = []
    for user in people:
        if user is None or user.pk in told or not user.is_active:
            continue
        told.add(user.pk)
        key = f"{USER_KEY}{user.pk}"
        for channel in TOLD_CHANNELS:
            if channel == Channel.EMAIL and not user.email:
                continue
            notes.append(_note(event, user, channel, key, at))
    return notes


def ask_channels(
    task: Task, policies: list[SlaPolicy] | None = None
) -> tuple[set[str], list[tuple[str, int]]]:
    """How the approver is asked: the channels of the card's policy's active rules that
    apply to the approval kind, and the Slack webhooks with the rule each came from (an
    empty URL: a Slack rule with no webhook anywhere); in-app and email without such a
    rule."""
    policy = match_policy(task, policies)
    rules = [r for r in policy.rules.all() if r.applies_to(TimerKind.APPROVAL)] if policy else []
    if not rules:
        return set(DEFAULT_ASK_CHANNELS), []
    channels = {
        channel
        for rule in rules
        for channel, on in (
            (Channel.IN_APP, rule.in_app),
            (Channel.EMAIL, rule.email),
            (Channel.SLACK, rule.slack),
        )
        if on
    }
    team_url = task.team.slack_webhook_url if task.team_id else ""
    webhooks = [(r.slack_webhook_url or team_url, r.pk) for r in rules if r.slack]
    return channels, webhooks


def _ask(
    task: Task, event: TaskEvent, approver: User, at: datetime, policies: list[SlaPolicy] | None
) -> list[Notification]:
    channels, webhooks = ask_channels(task, policies)
    key = f"{DECIDE_KEY}{approver.pk}"
    notes = [
        _note(event, approver, channel, key, at)
        for channel in (Channel.IN_APP, Channel.EMAIL)
        if channel in channels and (channel == Channel.IN_APP or approver.email)
    ]
    seen = set()
    for url, rule_id in webhooks:
        slack_key = f"{SLACK_KEY}{url}" if url else f"{SLACK_RULE_KEY}{rule_id}"
        if slack_key in seen:
            continue
        seen.add(slack_key)
        notes.append(
            Notification(
                card_event=event, channel=Channel.SLACK, recipient_key=slack_key, address=url,
                state=Notification.State.PENDING if url else Notification.State.FAILED,
                next_attempt_at=at if url else None, created_at=at,
                last_error="" if url else NO_SLACK_WEBHOOK,
            )
        )  # fmt: skip
    return notes


def _write(notes: list[Notification]) -> None:
    if not notes:
        return
    if escalation.general_path_only():  # a demo's history being seeded: nothing goes out
        notes = [escalation.quiet(n) for n in notes]
    Notification.objects.bulk_create(notes, ignore_conflicts=True)
    if any(n.state == Notification.State.PENDING for n in notes):
        escalation.enqueue_delivery()
