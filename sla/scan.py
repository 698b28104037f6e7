"""The timer scan: fire every threshold that has passed, in batches of claimed timers.

Two paths, one rule. The general path (`_scan_batch`) claims due timers and runs
`escalation.advance` and `escalation.record` on them; it handles everything and is the
reference. On PostgreSQL a set-based path (`_scan_batch_sql`, the statement in
sql/scan_batch.sql) runs first for the overwhelmingly common case, timers whose policy has
no after-breach level and no rule action for their kind: one statement per batch claims
them, moves them past their warning or breach exactly as `advance` would and writes the
events and notifications as `record` would, through data-modifying CTEs. Everything else
(escalation levels, which may need the business calendar; rule actions; history replay;
other databases) is left to the general path. tests/sla/test_scan_sql.py runs both over the
same cards and compares the rows written.

Both paths claim timers with SELECT … FOR UPDATE SKIP LOCKED and the outbox rows are unique
per threshold, so scans may run concurrently (several clusters on PostgreSQL).
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from functools import cache
from importlib import resources

from django.contrib.auth.models import Group, User
from django.db import connection, transaction
from django.utils import timezone

from sla import bulk, escalation, scan_rules
from sla.models import (
    Channel,
    EscalationRule,
    Notification,
    SlaEvent,
    SlaTimer,
    TimerKind,
    TimerState,
    WebhookEndpoint,
)
from sla.slack_app import alerts as slack_alerts
from tasks.models import Task, Team

log = logging.getLogger(__name__)

SCAN_BATCH = 1000
# The set-based path writes a batch in one statement: bigger batches mean fewer round trips
# and commits, while a batch still holds its timer locks for well under a second.
SQL_SCAN_BATCH = 5000
# Connections that run set-based batches side by side once a scan has more than one batch
# to do (a no-op or one-batch scan stays on the caller's connection). SKIP LOCKED gives each
# its own timers; PostgreSQL does nearly all the work, so this is what spreads it over
# cores. Not used inside a caller's transaction (other connections could not see its rows).
SCAN_WORKERS = 2
TIMER_FIELDS = [
    "warned_at",
    "breached_at",
    "state",
    "escalation_level",
    "next_check_at",
    "updated_at",
]


def run(
    now: datetime | None = None,
    batch_size: int | None = None,
    *,
    set_based: bool = True,
    workers: int | None = None,
) -> int:
    """Fire every threshold that has passed by `now`; returns the number of thresholds fired.

    Reads only timers with `next_check_at <= now` (partial index `timer_next_check`), so its
    cost follows due timers, not open ones. Works from state: after downtime one run stamps
    each breach at its due time and fires each threshold once. On PostgreSQL the common case
    (no escalation levels, no rule actions) is handled set-based first (`_scan_batch_sql`);
    `set_based=False` forces the general path for everything (the reference, in tests).
    `batch_size` (default: SQL_SCAN_BATCH set-based, SCAN_BATCH otherwise) caps the timers
    one transaction claims; `workers` (default SCAN_WORKERS) caps the connections running
    set-based batches at once.
    """
    now = now or timezone.now()
    total = 0
    if set_based and connection.vendor == "postgresql" and not escalation.general_path_only():
        total += _scan_sql(now, batch_size or SQL_SCAN_BATCH, workers or SCAN_WORKERS)
    batch_size = batch_size or SCAN_BATCH
    while True:
        claimed, recorded = _scan_batch(now, batch_size)
        total += recorded
        if claimed < batch_size:
            break
    # Card-side reactions (dispatch flags, rule actions) of what was just recorded, and of
    # anything a scan that died before this point left marked: after the timers' commits.
    escalation.run_follow_ups(now)
    if total:
        log.info("scan fired %d thresholds", total)
    return total


# --------------------------------------------------------------------------- general path


@transaction.atomic
def _scan_batch(now: datetime, batch_size: int) -> tuple[int, int]:
    """One batch of the general path; returns (timers claimed, events written)."""
    due = (
        SlaTimer.objects.due_for_check(now)
        .select_related("calendar", "policy")
        .prefetch_related("policy__rules")
        .order_by("next_check_at")
    )
    if connection.features.has_select_for_update_skip_locked:
        due = due.select_for_update(skip_locked=True, of=("self",))
    timers = list(due[:batch_size])
    fired = []
    for timer in timers:
        try:
            fired.append((timer, escalation.advance(timer, _levels(timer), now)))
        except Exception:
            # One bad row must not wedge the scan: push it forward and carry on.
            log.exception("could not evaluate timer %s; retrying in 10 minutes", timer.pk)
            timer.next_check_at = now + timedelta(minutes=10)
            fired.append((timer, []))
        timer.updated_at = now
    bulk.update_rows(timers, TIMER_FIELDS)
    # Cards and people only for the timers that fired (often far fewer than claimed).
    cards = Task.objects.select_related("owner", "approver", "team__manager").in_bulk(
        {timer.task_id for timer, f in fired if f}
    )
    for timer, f in fired:
        if f:
            timer.task = cards[timer.task_id]
    recorded = escalation.record(fired, now)
    return len(timers), recorded


def _levels(timer: SlaTimer):
    return escalation.after_breach_rules(timer.policy, timer.kind)


# --------------------------------------------------------------------------- set-based path


def _load_sql(name: str) -> str:
    """A statement from sla/sql/ (a package resource: found wherever `sla` is installed),
    without its comment lines: they document the file and need not travel with every batch."""
    text = resources.files(__package__).joinpath("sql", name).read_text(encoding="utf-8")
    lines = (line for line in text.splitlines() if not line.lstrip().startswith("--"))
    return "\n".join(lines).strip()


SCAN_BATCH_SQL = _load_sql("scan_batch.sql")


@cache
def sql_params() -> dict[str, str]:
    """The values the set-based statement shares with the Python path (see the table at the
    top of both), as parameters: the SQL spells none of them."""
    values = {
        "warning": SlaEvent.Kind.WARNING,
        "breach": SlaEvent.Kind.BREACH,
        "warning_key": scan_rules.WARNING_KEY,
        "breach_key": scan_rules.BREACH_KEY,
        "on_warning": EscalationRule.Trigger.WARNING,
        "on_breach": EscalationRule.Trigger.BREACH,
        "after_breach": EscalationRule.Trigger.AFTER_BREACH,
        "no_action": EscalationRule.Action.NONE,
        "all_kinds": scan_rules.ALL_KINDS,
        "breached": TimerState.BREACHED,
        "response": TimerKind.RESPONSE,
        "dispatcher": scan_rules.DISPATCHER_ROLE,
        "in_app": Channel.IN_APP,
        "email": Channel.EMAIL,
        "slack": Channel.SLACK,
        "pending": Notification.State.PENDING,
        "sent": Notification.State.SENT,
        "failed": Notification.State.FAILED,
        "user_key": scan_rules.USER_KEY,
        "slack_key": scan_rules.SLACK_KEY,
        "slack_rule_key": scan_rules.SLACK_RULE_KEY,
        "no_email": scan_rules.NO_EMAIL,
        "no_slack_webhook": scan_rules.NO_SLACK_WEBHOOK,
        # outgoing webhooks (the `hooks` block)
        "webhook": Channel.WEBHOOK,
        "webhook_key": scan_rules.WEBHOOK_KEY,
        "webhook_kind_sep": scan_rules.WEBHOOK_KIND_SEP,
        "timer_warning": WebhookEndpoint.EventKind.TIMER_WARNING,
        "timer_breached": WebhookEndpoint.EventKind.TIMER_BREACHED,
    }
    return {name: str(value) for name, value in values.items()}


@cache
def _fast_scan_sql() -> str:
    table = connection.ops.quote_name
    return SCAN_BATCH_SQL.format(
        timer=table(SlaTimer._meta.db_table),
        rule=table(EscalationRule._meta.db_table),
        event=table(SlaEvent._meta.db_table),
        note=table(Notification._meta.db_table),
        task=table(Task._meta.db_table),
        team=table(Team._meta.db_table),
        performers=table(Task.performers.through._meta.db_table),
        members=table(Team.members.through._meta.db_table),
        user=table(User._meta.db_table),
        group=table(Group._meta.db_table),
        user_groups=table(User.groups.through._meta.db_table),
        endpoint=table(WebhookEndpoint._meta.db_table),
    )


def _scan_sql(now: datetime, size: int, workers: int) -> int:
    """The set-based path: batches until one comes back short; returns events written.

    When more than one batch is due, `workers - 1` threads, each with its own connection,
    run the same loop alongside this one: each batch claims its timers with SKIP LOCKED, so
    the connections never share a timer, and each batch commits on its own, exactly as one
    after the other. A no-op or one-batch scan stays on this connection."""
    if workers < 2 or connection.in_atomic_block or not _more_due_than(now, size):
        return _scan_batches_sql(now, size)
    with ThreadPoolExecutor(workers - 1, thread_name_prefix="scan") as pool:
        helpers = [pool.submit(_scan_worker, now, size) for _ in range(workers - 1)]
        total = _scan_batches_sql(now, size)
        return total + sum(helper.result() for helper in helpers)


def _more_due_than(now: datetime, size: int) -> bool:
    """Whether more than `size` timers are due (at most size + 1 entries of the partial
    index `timer_next_check` read; counts the general path's timers too)."""
    return SlaTimer.objects.due_for_check(now).order_by()[: size + 1].count() > size


def _scan_worker(now: datetime, size: int) -> int:
    try:
        return _scan_batches_sql(now, size)
    finally:
        connection.close()  # this thread's own connection


def _scan_batches_sql(now: datetime, size: int) -> int:
    total = 0
    while True:
        claimed, recorded = _scan_batch_sql(now, size)
        total += recorded
        if claimed < size:
            return total


def _scan_batch_sql(now: datetime, batch_size: int) -> tuple[int, int]:
    """One batch of the set-based path; returns (timers claimed, events written)."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(_fast_scan_sql(), {**sql_params(), "now": now, "batch": batch_size})
            claimed, recorded, pending, breaches, cards, fired = cursor.fetchone()
        # Watchers and observers of the breached cards: one shared function for both paths.
        breached = list(zip(breaches or [], cards or [], strict=True))
        pending += escalation.notify_breach_watchers(breached, now)
        # The Slack app's direct messages and thread posts: likewise shared.
        pending += slack_alerts.notify_thresholds([tuple(f) for f in fired or []], now)
        if pending:
            escalation.enqueue_delivery()
    return claimed, recorded
