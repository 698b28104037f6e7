"""Thresholds firing: warnings, breaches and escalation levels, written as an outbox.

`advance` decides (in memory, no queries) which thresholds of a timer have passed by `now`
and moves the timer past them; `record` writes one SlaEvent per fired threshold and one
Notification per (event, recipient, channel) in the caller's transaction. Both the
per-minute scan (sla.scan) and the per-card sync (sla.actions) use these two functions, so
a threshold fires the same way whichever notices it first; the unique constraint on
(timer, key) makes it exactly-once.

Rules the set-based scan (sla/sql/scan_batch.sql) mirrors from the Python path (`advance`,
`record`, `needs_follow_up` in sla/escalation.py). Change both paths and both copies of this
table together; CAPITALS are constants of sla/scan_rules.py, passed to the SQL as parameters.

| rule             | what both paths do                                                |
|------------------|-------------------------------------------------------------------|
| set-based timers | on PostgreSQL, not replaying history: open timers due for a check |
|                  | whose policy has no active after-breach rule and no rule action   |
|                  | for their kind; every other timer takes the Python path           |
| breach           | not yet breached and due_at < now: breached_at = due_at (stamped  |
|                  | at the due time, not the scan time), state breached               |
| no late warning  | a timer found breached gets no warning event: a warning not yet   |
|                  | fired is stamped warned_at = warn_at silently                     |
| warning          | running, not warned and warn_at <= now: warned_at = warn_at       |
| next check       | earliest of warn_at (running, not warned) and due_at (not yet     |
|                  | breached); neither: none                                          |
| event            | one per (timer, key): key BREACH_KEY or WARNING_KEY, at = the     |
|                  | threshold crossed, recorded_at = now; one already there is kept   |
| observe mode     | the event is written (observe set) and nobody is notified         |
| follow-up        | a response timer's warning or breach (not observe) is marked for  |
|                  | the card's dispatch flag, set after the timers' commit            |
| rules            | active rules of the trigger (warning, breach) whose timer_kind is |
|                  | ALL_KINDS or the timer's kind                                     |
| recipients       | owner, performers, approver, team manager, the team's members in  |
|                  | DISPATCHER_ROLE, the rule's user and group: active users, once    |
| in-app           | written sent (sent_at = now); key USER_KEY + user id              |
| email            | pending now, to the user's address; none: failed, username +      |
|                  | NO_EMAIL; key USER_KEY + user id                                  |
| slack            | once per rule, to its webhook, else the card team's: pending now, |
|                  | key SLACK_KEY + url; none: failed, NO_SLACK_WEBHOOK, key          |
|                  | SLACK_RULE_KEY + rule id                                          |
| watchers         | a breach (not observe) also tells the card's watchers who chose   |
|                  | breaches and its observers without a watch row who may still see |
|                  | the card (active users): in-app sent, email pending (none without |
|                  | an address); key USER_KEY + user id; written by one shared        |
|                  | function after the batch's statement (`notify_breach_watchers`)   |
| outbox           | one notification per (event, channel, key), the first one kept;   |
|                  | delivery enqueued in the same transaction if any is pending       |
| webhooks         | a warning or breach (not observe) is one webhook row per active   |
|                  | endpoint whose event_kinds hold its kind (timer.warning, timer.   |
|                  | breached): pending now, to its URL; key WEBHOOK_KEY + endpoint id |
|                  | + WEBHOOK_KIND_SEP + kind (sla.webhooks)                          |
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple

from django.contrib.auth.models import User
from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef, Q

from sla import bulk, rules, webhooks
from sla.models import (
    Channel,
    EscalationRule,
    Notification,
    SlaEvent,
    SlaPolicy,
    SlaTimer,
    TimerKind,
    TimerState,
)
from sla.scan_rules import (
    BREACH_KEY,
    DISPATCHER_ROLE,
    NO_EMAIL,
    NO_SLACK_WEBHOOK,
    SLACK_KEY,
    SLACK_RULE_KEY,
    USER_KEY,
    WARNING_KEY,
)
from sla.slack_app import alerts as slack_alerts
from tasks import actions
from tasks.models import Priority, Task, Team, Watch
from tasks.queries import NOT_TAKEN_IN_TIME, SEE_ALL_GROUPS

Trigger = EscalationRule.Trigger

_replaying = ContextVar("replaying_history", default=False)
log = logging.getLogger(__name__)


@contextmanager
def replaying_history() -> Iterator[None]:
    """While past history is replayed (importing old cards), thresholds crossed long ago are
    recorded as events, for the reports, but announce nothing and trigger no automatic
    reactions: nobody wants an email about a breach from last March."""
    token = _replaying.set(True)
    try:
        yield
    finally:
        _replaying.reset(token)


def is_replaying() -> bool:
    return _replaying.get()


_seeding = ContextVar("seeding_history", default=False)
SEEDED_HISTORY = "Not sent: a threshold of seeded history (recorded when the demo was set up)."


@contextmanager
def seeding_history() -> Iterator[None]:
    """While a history just written (the demo seeder's cards) is brought up to now:
    thresholds that passed in it are recorded as the first scan would — events, in-app
    notifications, card-side reactions — but their email and Slack rows are written
    `skipped` (sla.outbox.skip_history's state), so a fresh demo does not flood outboxes
    with news of a past that never happened. Takes the general (Python) path."""
    token = _seeding.set(True)
    try:
        yield
    finally:
        _seeding.reset(token)


def general_path_only() -> bool:
    """Replaying or seeding history: the set-based scan (which always notifies) stays out."""
    return _replaying.get() or _seeding.get()


@dataclass(frozen=True)
class Fired:
    key: str
    kind: str
    at: datetime
    rule: EscalationRule | None = None


def after_breach_rules(policy: SlaPolicy, kind: str) -> list[EscalationRule]:
    """The policy's after-breach levels for a timer kind, in the order they fire.
    Uses `policy.rules.all()`, so prefetch `rules` when handling many timers."""
    rules = [
        r for r in policy.rules.all() if r.trigger == Trigger.AFTER_BREACH and r.applies_to(kind)
    ]
    return sorted(rules, key=lambda r: (r.minutes_after_breach, r.pk))


def escalation_at(timer: SlaTimer, rule: EscalationRule) -> datetime:
    delay = timedelta(minutes=rule.minutes_after_breach)
    if rule.clock == EscalationRule.Clock.BUSINESS:
        return timer.calendar.work_calendar().add(timer.breached_at, delay)
    return timer.breached_at + delay


def next_check(timer: SlaTimer, levels: Sequence[EscalationRule]) -> datetime | None:
    """The next instant something may fire for this timer (None: nothing pending)."""
    if timer.stopped_at is not None:
        return None
    pending = []
    if timer.running_since is not None and timer.warned_at is None and timer.warn_at is not None:
        pending.append(timer.warn_at)
    # A paused timer has no due time, except one re-targeted below the time it had used.
    if timer.breached_at is None and timer.due_at is not None:
        pending.append(timer.due_at)
    if timer.breached_at is not None and timer.escalation_level < len(levels):
        pending.append(escalation_at(timer, levels[timer.escalation_level]))
    return min(pending) if pending else None


def advance(timer: SlaTimer, levels: Sequence[EscalationRule], now: datetime) -> list[Fired]:
    """Move an open timer past every threshold that passed by `now`, stamping each at the
    instant it was crossed (not when it was noticed). A timer found already breached gets
    no warning: the breach says more."""
    fired: list[Fired] = []
    if timer.stopped_at is not None:
        return fired
    if rules.is_overdue(timer, now):
        timer.breached_at = timer.due_at
        timer.state = TimerState.BREACHED
        fired.append(Fired(BREACH_KEY, SlaEvent.Kind.BREACH, timer.due_at))
        if timer.warned_at is None and timer.warn_at is not None:
            timer.warned_at = timer.warn_at  # passed silently, see docstring
    elif rules.warning_due(timer, now):
        timer.warned_at = timer.warn_at
        fired.append(Fired(WARNING_KEY, SlaEvent.Kind.WARNING, timer.warn_at))
    if timer.breached_at is not None:
        while timer.escalation_level < len(levels):
            rule = levels[timer.escalation_level]
            at = escalation_at(timer, rule)
            if at > now:
                break
            fired.append(Fired(f"escalation:{rule.pk}", SlaEvent.Kind.ESCALATION, at, rule))
            timer.escalation_level += 1
    timer.next_check_at = next_check(timer, levels)
    return fired


def rules_for(timer: SlaTimer, fired: Fired) -> list[EscalationRule]:
    if fired.rule is not None:
        return [fired.rule]
    trigger = Trigger.WARNING if fired.kind == SlaEvent.Kind.WARNING else Trigger.BREACH
    return [
        r for r in timer.policy.rules.all() if r.trigger == trigger and r.applies_to(timer.kind)
    ]


class _People:
    """Recipients of a batch of cards, loaded in a fixed number of queries."""

    def __init__(self, tasks: Iterable[Task]) -> None:
        tasks = list(tasks)
        task_ids = [t.pk for t in tasks]
        team_ids = {t.team_id for t in tasks if t.team_id}
        self.performers: dict[int, list[User]] = defaultdict(list)
        for row in Task.performers.through.objects.filter(task_id__in=task_ids).select_related(
            "user"
        ):
            self.performers[row.task_id].append(row.user)
        self.dispatchers: dict[int, list[User]] = defaultdict(list)
        members = Task.team.field.related_model.members.through.objects.filter(
            team_id__in=team_ids, user__groups__name=DISPATCHER_ROLE, user__is_active=True
        ).select_related("user")
        for row in members:
            self.dispatchers[row.team_id].append(row.user)
        self._groups: dict[int, list[User]] = {}

    def group(self, group_id: int) -> list[User]:
        if group_id not in self._groups:
            self._groups[group_id] = list(User.objects.filter(groups__id=group_id, is_active=True))
        return self._groups[group_id]

    def for_rule(self, task: Task, rule: EscalationRule) -> list[User]:
        people: list[User | None] = []
        if rule.notify_owner:
            people.append(task.owner)
        if rule.notify_performers:
            people.extend(self.performers[task.pk])
        if rule.notify_approver:
            people.append(task.approver)
        if rule.notify_team_manager and task.team_id:
            people.append(task.team.manager)
        if rule.notify_dispatchers and task.team_id:
            people.extend(self.dispatchers[task.team_id])
        if rule.notify_user_id:
            people.append(rule.notify_user)
        if rule.notify_group_id:
            people.extend(self.group(rule.notify_group_id))
        unique = {p.pk: p for p in people if p is not None and p.is_active}
        return list(unique.values())


EVENT_FIELDS = (
    "timer_id", "key", "kind", "rule_id", "at", "recorded_at", "observe", "follow_up"
)  # fmt: skip


class NoteRow(NamedTuple):
    """One outbox row, in the column order `bulk.insert_rows` writes."""

    event_id: int
    recipient_id: int | None
    channel: str
    recipient_key: str
    address: str
    state: str
    attempts: int
    last_error: str
    next_attempt_at: datetime | None
    created_at: datetime
    sent_at: datetime | None


def event_row(timer: SlaTimer, fired: Fired, now: datetime, *, replaying: bool) -> tuple:
    """The SlaEvent of a fired threshold as a row in EVENT_FIELDS order (`record` and the
    replay of past cards, sla.replay)."""
    return (
        timer.pk,
        fired.key,
        fired.kind,
        fired.rule.pk if fired.rule else None,
        fired.at,
        now,
        timer.observe,
        not replaying and needs_follow_up(timer, fired),
    )


def record(batch: Sequence[tuple[SlaTimer, list[Fired]]], now: datetime) -> int:
    """Write the events and their notifications for fired thresholds (caller's transaction),
    as plain rows (no model instances: this is the scan's hot path). Observe-mode timers get
    events but no notifications. Returns the number of events written."""
    rows = [(timer, f) for timer, fired in batch for f in fired]
    if not rows:
        return 0
    # Normally nothing here exists yet (the timers are locked); if something did write the
    # same threshold, skip it rather than fail the whole batch on the unique constraint.
    existing = set(
        SlaEvent.objects.filter(
            timer_id__in={t.pk for t, _ in rows}, key__in={f.key for _, f in rows}
        ).values_list("timer_id", "key")
    )
    rows = [(timer, f) for timer, f in rows if (timer.pk, f.key) not in existing]
    if not rows:
        return 0
    replaying = _replaying.get()
    inserted = bulk.insert_rows(
        SlaEvent,
        EVENT_FIELDS,
        [event_row(timer, f, now, replaying=replaying) for timer, f in rows],
        returning=("id", "timer_id", "key"),
    )
    if replaying:
        return len(inserted)
    event_ids = {(timer_id, key): pk for pk, timer_id, key in inserted}
    people = _People(timer.task for timer, _ in rows if not timer.observe)
    notes: dict[tuple[int, str, str], NoteRow] = {}
    for timer, f in rows:
        if timer.observe:
            continue
        event_id = event_ids[(timer.pk, f.key)]
        for rule in rules_for(timer, f):
            for note in _notifications(event_id, timer.task, rule, people, now):
                notes.setdefault((event_id, note.channel, note.recipient_key), note)
    if _seeding.get():
        notes = {key: _skipped(note) for key, note in notes.items()}
    bulk.insert_rows(Notification, NoteRow._fields, list(notes.values()))
    hooks = webhooks.timer_event_rows(
        [(event_ids[(timer.pk, f.key)], f.kind) for timer, f in rows if not timer.observe], now
    )
    if hooks:
        if _seeding.get():
            hooks = [quiet(hook) for hook in hooks]
        Notification.objects.bulk_create(hooks, ignore_conflicts=True)
    breaches = [
        (event_ids[(timer.pk, f.key)], timer.task_id)
        for timer, f in rows
        if f.kind == SlaEvent.Kind.BREACH and not timer.observe
    ]
    watched = notify_breach_watchers(breaches, now)
    fired = [
        (event_ids[(timer.pk, f.key)], timer.task_id, f.kind, timer.kind)
        for timer, f in rows
        if not timer.observe
    ]
    watched += slack_alerts.notify_thresholds(fired, now, quiet=_seeding.get())
    if (
        watched
        or any(n.state == Notification.State.PENDING for n in notes.values())
        or any(h.state == Notification.State.PENDING for h in hooks)
    ):
        enqueue_delivery()
    return len(inserted)


def may_see_card(task: str, user: str) -> Q:
    """Whether the user at `user` may read the card at `task` (both field paths from the
    queried model), as one condition: `tasks.queries.TaskQuerySet.visible_to` for many
    (card, person) pairs at once — staff, superusers and the see-all groups, or the card's
    owner, approver, performers, observers and its team's members."""
    through = Task.performers.through, Task.observers.through, Team.members.through
    performers, observers, members = (model.objects for model in through)
    return (
        Q(**{f"{user}__is_superuser": True})
        | Q(**{f"{user}__is_staff": True})
        | Exists(
            User.groups.through.objects.filter(
                user_id=OuterRef(f"{user}_id"), group__name__in=SEE_ALL_GROUPS
            )
        )
        | Q(**{f"{task}__owner_id": F(f"{user}_id")})
        | Q(**{f"{task}__approver_id": F(f"{user}_id")})
        | Exists(performers.filter(task_id=OuterRef(f"{task}_id"), user_id=OuterRef(f"{user}_id")))
        | Exists(observers.filter(task_id=OuterRef(f"{task}_id"), user_id=OuterRef(f"{user}_id")))
        | Exists(
            members.filter(team_id=OuterRef(f"{task}__team_id"), user_id=OuterRef(f"{user}_id"))
        )
    )


def _followed(task_ids: list[int]) -> list[int]:
    """Which of these cards have a watcher or an observer at all: one query, by index (most
    breached cards have neither, and then nothing more is read)."""
    if connection.vendor != "postgresql":
        watched = Watch.objects.filter(task_id__in=task_ids).values_list("task_id", flat=True)
        observed = Task.observers.through.objects.filter(task_id__in=task_ids)
        return list(set(watched) | set(observed.values_list("task_id", flat=True)))
    quote = connection.ops.quote_name
    sql = (
        "SELECT task_id FROM {} WHERE task_id = ANY(%s) "
        "UNION SELECT task_id FROM {} WHERE task_id = ANY(%s)"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            sql.format(quote(Watch._meta.db_table), quote(Task.observers.through._meta.db_table)),
            [task_ids, task_ids],
        )
        return [row[0] for row in cursor.fetchall()]


def notify_breach_watchers(breaches: Sequence[tuple[int, int]], now: datetime) -> int:
    """Tell a card's followers of its breaches: its watchers who chose breaches and its
    observers without a watch row of their own (a row with breaches off mutes one), if they
    are active and may still see the card — in-app, and by email to those with an address,
    whatever the rules say (they asked to hear). Both paths of the scan call this after
    writing a batch's events (`breaches`: (event id, card id) of its breaches not in observe
    mode): one query for the whole batch when none of its cards is followed, four when some
    are, none per card. Returns the number of pending rows written (emails). Rows already
    there (the same person as a rule's recipient) are kept."""
    if not breaches or _replaying.get():
        return 0
    cards = _followed(sorted({task_id for _, task_id in breaches}))
    if not cards:
        return 0
    card_of = dict(breaches)  # event id → card id
    fields = ("task_id", "user_id", "user__email", "user__username")
    watchers = Watch.objects.filter(task_id__in=cards, breaches=True, user__is_active=True).filter(
        may_see_card("task", "user")
    )
    observers = Task.observers.through.objects.filter(
        task_id__in=cards, user__is_active=True
    ).exclude(
        Exists(Watch.objects.filter(task_id=OuterRef("task_id"), user_id=OuterRef("user_id")))
    )
    people: dict[int, dict[int, str]] = defaultdict(dict)
    for rows in (watchers.values_list(*fields), observers.values_list(*fields)):
        for task_id, user_id, email, _ in rows:
            people[task_id][user_id] = email
    email_state = Notification.State.SKIPPED if _seeding.get() else Notification.State.PENDING
    notes = []
    for event_id, task_id in card_of.items():
        for user_id, email in people.get(task_id, {}).items():
            key = f"{USER_KEY}{user_id}"
            notes.append(
                Notification(
                    event_id=event_id, recipient_id=user_id, channel=Channel.IN_APP,
                    recipient_key=key, state=Notification.State.SENT, created_at=now,
                    sent_at=now,
                )
            )  # fmt: skip
            if email:
                notes.append(
                    Notification(
                        event_id=event_id, recipient_id=user_id, channel=Channel.EMAIL,
                        recipient_key=key, address=email, state=email_state, created_at=now,
                        next_attempt_at=now if email_state == Notification.State.PENDING else None,
                        last_error=SEEDED_HISTORY if _seeding.get() else "",
                    )
                )  # fmt: skip
    Notification.objects.bulk_create(notes, ignore_conflicts=True)
    return sum(1 for n in notes if n.state == Notification.State.PENDING)


def quiet(note: Notification) -> Notification:
    """A pending email, Slack or webhook row of seeded history: written skipped instead."""
    if note.state == Notification.State.PENDING:
        note.state, note.next_attempt_at = Notification.State.SKIPPED, None
        note.last_error = SEEDED_HISTORY
    return note


def _skipped(note: NoteRow) -> NoteRow:
    if note.channel == Channel.IN_APP or note.state != Notification.State.PENDING:
        return note
    return note._replace(
        state=Notification.State.SKIPPED, next_attempt_at=None, last_error=SEEDED_HISTORY
    )


def enqueue_delivery() -> None:
    """Ask the cluster to deliver now. Enqueued inside the outbox transaction (ORM broker):
    the job exists exactly when the notifications do. The per-minute schedule is the net."""
    from django_q.tasks import async_task

    async_task("sla.jobs.send_pending_notifications", task_name="deliver notifications")


def _notifications(event_id, task, rule, people, now) -> Iterable[NoteRow]:
    def note(channel, key, recipient=None, address="", state=Notification.State.PENDING, error=""):
        return NoteRow(
            event_id=event_id,
            recipient_id=recipient.pk if recipient else None,
            channel=channel,
            recipient_key=key,
            address=address,
            state=state,
            attempts=0,
            last_error=error,
            next_attempt_at=now if state == Notification.State.PENDING else None,
            created_at=now,
            sent_at=now if state == Notification.State.SENT else None,
        )

    for user in people.for_rule(task, rule):
        if rule.in_app:
            # In-app needs no delivery: the bell reads it straight away.
            yield note(Channel.IN_APP, f"{USER_KEY}{user.pk}", user, state=Notification.State.SENT)
        if rule.email:
            if user.email:
                yield note(Channel.EMAIL, f"{USER_KEY}{user.pk}", user, address=user.email)
            else:
                yield note(
                    Channel.EMAIL, f"{USER_KEY}{user.pk}", user, state=Notification.State.FAILED,
                    error=f"{user.get_username()}{NO_EMAIL}",
                )  # fmt: skip
    if rule.slack:
        url = rule.slack_webhook_url or (task.team.slack_webhook_url if task.team_id else "")
        if url:
            yield note(Channel.SLACK, f"{SLACK_KEY}{url}", address=url)
        else:
            yield note(
                Channel.SLACK, f"{SLACK_RULE_KEY}{rule.pk}", state=Notification.State.FAILED,
                error=NO_SLACK_WEBHOOK,
            )  # fmt: skip


def _not_taken_in_time(timer: SlaTimer, kind: str) -> bool:
    """A response timer's warning or breach: the card was not taken into work in time."""
    return timer.kind == TimerKind.RESPONSE and kind != SlaEvent.Kind.ESCALATION


def needs_follow_up(timer: SlaTimer, fired: Fired) -> bool:
    """Whether a fired threshold has card-side reactions: the dispatch flag when a response
    timer warns or breaches, and rule actions."""
    if timer.observe:
        return False
    return _not_taken_in_time(timer, fired.kind) or any(
        rule.action for rule in rules_for(timer, fired)
    )


def follow_up(batch: Sequence[tuple[SlaTimer, list[Fired]]], now: datetime) -> None:
    """Run the card-side reactions still due for the thresholds of these timers (see
    `run_follow_ups`)."""
    timer_ids = [timer.pk for timer, fired in batch if fired]
    if timer_ids:
        run_follow_ups(now, timer_ids=timer_ids)


# Events whose reactions one transaction of `run_follow_ups` takes on.
FOLLOW_UP_BATCH = 500


def run_follow_ups(now: datetime, *, timer_ids: Sequence[int] | None = None) -> int:
    """Card-side reactions of recorded thresholds: flag cards not taken in time for
    dispatch, run rule actions (raise priority, move to the dispatch queue).

    `record` marks the events that have any (`follow_up`); this clears each mark in the same
    transaction as its reactions, so they run exactly once, and a scan that died after its
    timers' transaction committed leaves them marked for the next scan, which runs every
    pending one (`timer_ids=None`). The scan runs them after its timers' transactions (so it
    never holds timer locks while taking card locks); a change of a card runs those of its
    own timers in its own transaction. Events are claimed with SKIP LOCKED: two scans never
    run the same reactions. A reaction that fails is logged and not retried. Returns the
    number of events handled."""
    if _replaying.get():
        return 0
    handled = 0
    while True:
        with transaction.atomic():
            pending = SlaEvent.objects.filter(follow_up=True).order_by("pk")
            if timer_ids is not None:
                pending = pending.filter(timer_id__in=timer_ids)
            if connection.features.has_select_for_update_skip_locked:
                pending = pending.select_for_update(skip_locked=True, of=("self",))
            events = list(
                pending.select_related("timer__policy", "rule").prefetch_related(
                    "timer__policy__rules"
                )[:FOLLOW_UP_BATCH]
            )
            if not events:
                return handled
            # Cleared first: a reaction that changes the card syncs its timers, which must
            # not see these events as still to follow up.
            SlaEvent.objects.filter(pk__in=[e.pk for e in events]).update(follow_up=False)
            not_taken = []
            for event in events:
                fired = Fired(event.key, event.kind, event.at, event.rule)
                if _not_taken_in_time(event.timer, event.kind):
                    not_taken.append(event.timer.task_id)
                for rule in rules_for(event.timer, fired):
                    if rule.action:
                        _run_action(rule, event.timer, fired, now)
            flag_not_taken(not_taken, now)
        handled += len(events)
        if len(events) < FOLLOW_UP_BATCH:
            return handled


def _run_action(rule: EscalationRule, timer: SlaTimer, fired: Fired, now: datetime) -> None:
    try:
        with transaction.atomic():  # a failed action leaves the others and the marks alone
            task = Task.objects.get(pk=timer.task_id)
            if rule.action == EscalationRule.Action.RAISE_PRIORITY:
                actions.change_priority(
                    task=task,
                    priority=Priority.raised(Priority(task.priority)),
                    actor=None,
                    at=now,
                )
            elif rule.action == EscalationRule.Action.TO_DISPATCH:
                actions.flag_for_dispatch(
                    task=task,
                    reason=f"Escalated: {timer.get_kind_display().lower()} {fired.kind}",
                    at=now,
                )
    except Exception:
        log.exception("rule %s: could not %s card %s", rule.pk, rule.action, timer.task_id)


def flag_not_taken(task_ids: Sequence[int], now: datetime) -> None:
    """Flag cards whose response timer warned or breached for dispatch."""
    if task_ids and not _replaying.get():
        actions.flag_many_for_dispatch(task_ids=list(task_ids), reason=NOT_TAKEN_IN_TIME, at=now)
