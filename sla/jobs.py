"""django-q2 entry points: the timer scan and notification delivery.

Both are idempotent and safe to run concurrently (several clusters on PostgreSQL): the scan
claims due timers with SELECT … FOR UPDATE SKIP LOCKED and the outbox rows are unique per
threshold; delivery claims notifications with a compare-and-set lease.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from functools import cache

from django.contrib.auth.models import Group, User
from django.db import connection, transaction
from django.utils import timezone

from sla import bulk, escalation, notify, outbox
from sla.models import Channel, EscalationRule, Notification, SlaEvent, SlaTimer
from tasks.models import Task, Team

log = logging.getLogger(__name__)

SCAN_BATCH = 1000
# The set-based path writes a batch in one statement: bigger batches mean fewer round trips
# and commits (10,000 due: 735 ms at 1,000, 609 ms at 5,000) while a batch still holds its
# timer locks for well under a second.
SQL_SCAN_BATCH = 5000
# Connections that run set-based batches side by side once a scan has more than one batch
# to do (a no-op or one-batch scan stays on the caller's connection). SKIP LOCKED gives each
# its own timers; PostgreSQL does nearly all the work, so this is what spreads it over
# cores. Not used inside a caller's transaction (other connections could not see its rows).
SCAN_WORKERS = 2
DELIVERY_BATCH = 200
# Threads posting to Slack webhooks in a delivery run (the database stays on the main thread).
SLACK_WORKERS = 8
MAX_ATTEMPTS = outbox.MAX_ATTEMPTS
# A delivery run stops claiming and sending after DELIVERY_BUDGET and hands back what it
# has not sent, so a claim (LEASE) never expires while its run still works on it, and every
# run ends well within the cluster's timeout (120 s).
DELIVERY_BUDGET = timedelta(seconds=60)
LEASE = outbox.LEASE
resend = outbox.resend  # the admin action's old name
TIMER_FIELDS = [
    "warned_at",
    "breached_at",
    "state",
    "escalation_level",
    "next_check_at",
    "updated_at",
]


def scan_due_timers(
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
    `set_based=False` forces the Python path for everything (the reference, in tests).
    `batch_size` (default: SQL_SCAN_BATCH set-based, SCAN_BATCH in Python) caps the timers
    one transaction claims; `workers` (default SCAN_WORKERS) caps the connections running
    set-based batches at once.
    """
    now = now or timezone.now()
    total = 0
    if set_based and connection.vendor == "postgresql" and not escalation.is_replaying():
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


@transaction.atomic
def _scan_batch(now: datetime, batch_size: int):
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

# The PostgreSQL fast path of the scan: one statement per batch claims due timers whose policy
# has no after-breach level and no rule action for their kind (the overwhelmingly common
# case), moves them past their warning or breach exactly as `escalation.advance` would, and
# writes the events and their notifications (recipients resolved like `escalation._People`)
# through data-modifying CTEs. Everything else (escalation levels, which may need the
# business calendar; rule actions; history replay; other databases) takes the Python path,
# which stays the reference: tests/sla/test_scan_sql.py runs both over the same cards and
# compares the rows written.
FAST_SCAN_SQL = """
WITH claimed AS (
    SELECT t.id, t.task_id, t.kind, t.observe, t.policy_id, t.running_since, t.warn_at,
           t.due_at, t.warned_at, t.breached_at,
           CASE WHEN t.breached_at IS NULL AND t.due_at IS NOT NULL AND t.due_at < %(now)s
                    THEN 'breach'
                WHEN t.running_since IS NOT NULL AND t.warned_at IS NULL
                     AND t.warn_at IS NOT NULL AND t.warn_at <= %(now)s
                    THEN 'warning'
           END AS fired
    FROM {timer} t
    WHERE t.stopped_at IS NULL AND t.next_check_at <= %(now)s
      AND NOT EXISTS (
          SELECT 1 FROM {rule} r
          WHERE r.policy_id = t.policy_id AND r.active
            AND (r.timer_kind = '' OR r.timer_kind = t.kind)
            AND (r.trigger = 'after_breach' OR r.action <> '')
      )
    ORDER BY t.next_check_at
    LIMIT %(batch)s
    FOR UPDATE OF t SKIP LOCKED
), decided AS (
    SELECT c.*,
           CASE WHEN c.fired = 'breach' THEN c.due_at ELSE c.breached_at END AS new_breached,
           CASE WHEN c.fired IS NOT NULL AND c.warned_at IS NULL THEN c.warn_at
                ELSE c.warned_at END AS new_warned
    FROM claimed c
), timers AS (
    UPDATE {timer} t
    SET breached_at = d.new_breached,
        warned_at = d.new_warned,
        state = CASE WHEN d.fired = 'breach' THEN 'breached' ELSE t.state END,
        next_check_at = LEAST(
            CASE WHEN d.running_since IS NOT NULL AND d.new_warned IS NULL
                      AND d.warn_at IS NOT NULL THEN d.warn_at END,
            CASE WHEN d.new_breached IS NULL THEN d.due_at END
        ),
        updated_at = %(now)s
    FROM decided d
    WHERE t.id = d.id
    RETURNING t.id, t.task_id, t.kind, t.observe, t.policy_id, d.fired,
              CASE d.fired WHEN 'breach' THEN d.due_at ELSE d.warn_at END AS at
), events AS (
    INSERT INTO {event} (timer_id, key, kind, rule_id, at, recorded_at, observe, follow_up)
    SELECT id, fired, fired, NULL, at, %(now)s, observe, kind = 'response' AND NOT observe
    FROM timers WHERE fired IS NOT NULL
    ON CONFLICT (timer_id, key) DO NOTHING
    RETURNING id, timer_id, kind, observe
), targets AS (
    SELECT e.id AS event_id, r.id AS rule_id, r.in_app, r.email, r.slack,
           r.notify_owner, r.notify_performers, r.notify_approver, r.notify_team_manager,
           r.notify_dispatchers, r.notify_user_id, r.notify_group_id,
           r.slack_webhook_url AS rule_url, tm.slack_webhook_url AS team_url,
           k.id AS task_id, k.owner_id, k.approver_id, k.team_id, tm.manager_id
    FROM events e
    JOIN timers t ON t.id = e.timer_id
    JOIN {rule} r ON r.policy_id = t.policy_id AND r.trigger = e.kind AND r.active
                 AND (r.timer_kind = '' OR r.timer_kind = t.kind)
    JOIN {task} k ON k.id = t.task_id
    LEFT JOIN {team} tm ON tm.id = k.team_id
    WHERE NOT e.observe
), people AS (
    SELECT DISTINCT g.event_id, g.in_app, g.email, u.id AS user_id, u.email AS address,
                    u.username
    FROM targets g
    CROSS JOIN LATERAL (
        SELECT g.owner_id WHERE g.notify_owner
        UNION ALL
        SELECT p.user_id FROM {performers} p
        WHERE g.notify_performers AND p.task_id = g.task_id
        UNION ALL
        SELECT g.approver_id WHERE g.notify_approver
        UNION ALL
        SELECT g.manager_id WHERE g.notify_team_manager
        UNION ALL
        SELECT m.user_id FROM {members} m
        JOIN {user_groups} ug ON ug.user_id = m.user_id
        JOIN {group} gr ON gr.id = ug.group_id AND gr.name = 'dispatcher'
        WHERE g.notify_dispatchers AND m.team_id = g.team_id
        UNION ALL
        SELECT g.notify_user_id
        UNION ALL
        SELECT ug.user_id FROM {user_groups} ug WHERE ug.group_id = g.notify_group_id
    ) AS x(user_id)
    JOIN {user} u ON u.id = x.user_id AND u.is_active
), slack AS (
    SELECT event_id, rule_id, COALESCE(NULLIF(rule_url, ''), team_url, '') AS url
    FROM targets WHERE slack
), notes AS (
    INSERT INTO {note} (event_id, recipient_id, channel, recipient_key, address, state,
                        attempts, last_error, next_attempt_at, created_at, sent_at)
    SELECT event_id, user_id, 'in_app', 'user:' || user_id, '', 'sent', 0, '',
           NULL::timestamptz, %(now)s, %(now)s
    FROM people WHERE in_app
    UNION ALL
    SELECT event_id, user_id, 'email', 'user:' || user_id, address,
           CASE WHEN address <> '' THEN 'pending' ELSE 'failed' END, 0,
           CASE WHEN address <> '' THEN '' ELSE username || ' has no email address.' END,
           CASE WHEN address <> '' THEN %(now)s END, %(now)s, NULL
    FROM people WHERE email
    UNION ALL
    SELECT event_id, NULL,
           'slack', CASE WHEN url <> '' THEN 'slack:' || url ELSE 'slack:rule' || rule_id END,
           url, CASE WHEN url <> '' THEN 'pending' ELSE 'failed' END, 0,
           CASE WHEN url <> '' THEN ''
                ELSE 'No Slack webhook configured on the rule or the card''s team.' END,
           CASE WHEN url <> '' THEN %(now)s END, %(now)s, NULL
    FROM slack
    ON CONFLICT (event_id, channel, recipient_key) DO NOTHING
    RETURNING state
)
SELECT (SELECT count(*) FROM timers),
       (SELECT count(*) FROM events),
       (SELECT count(*) FROM notes WHERE state = 'pending')
"""


@cache
def _fast_scan_sql() -> str:
    table = connection.ops.quote_name
    return FAST_SCAN_SQL.format(
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
    index `timer_next_check` read; counts the Python path's timers too)."""
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
            cursor.execute(_fast_scan_sql(), {"now": now, "batch": batch_size})
            claimed, recorded, pending = cursor.fetchone()
        if pending:
            escalation.enqueue_delivery()
    return claimed, recorded


def send_pending_notifications(
    now: datetime | None = None,
    batch: int = DELIVERY_BATCH,
    budget: timedelta = DELIVERY_BUDGET,
) -> int:
    """Deliver due email and Slack notifications; returns how many were sent.

    Each row is claimed by pushing its `next_attempt_at` forward with a compare-and-set
    update, so two workers never send the same row, and no lock is held while talking to
    the network. A failure is retried with exponential backoff up to MAX_ATTEMPTS (at the
    earliest after the receiver's Retry-After), then the row is left `failed` with its error
    (re-sendable from admin).

    Per batch: Slack posts run on SLACK_WORKERS threads over kept-alive connections while
    this thread sends the emails over one SMTP session; the database is written from this
    thread only, the sent rows in one UPDATE per batch. Trade-off: if the process dies
    between sending and that UPDATE, the batch's sent rows go out again once their lease
    runs out (at most DELIVERY_BATCH duplicates, instead of one).
    """
    now = now or timezone.now()
    deadline = time.monotonic() + budget.total_seconds()
    sent = 0
    with (
        notify.SlackSession() as slack,
        ThreadPoolExecutor(SLACK_WORKERS, thread_name_prefix="slack") as pool,
    ):
        while time.monotonic() < deadline:
            claimed = outbox.claim_due(now=now, batch=batch, lease=LEASE)
            if not claimed:
                break
            sent += _deliver(claimed, now, deadline, slack=slack, pool=pool)
            if len(claimed) < batch:
                break
    return sent


SENT = "sent"
LATE = "late"  # not tried: the run is out of time; handed back for the next run


class _Blocked:
    """Webhooks that answered 429 in this run, until when (monotonic), shared by threads."""

    def __init__(self) -> None:
        self._until: dict[str, float] = {}
        self._lock = threading.Lock()

    def wait_for(self, url: str) -> float:
        with self._lock:
            return max(0.0, self._until.get(url, 0.0) - time.monotonic())

    def block(self, url: str, seconds: float) -> None:
        with self._lock:
            self._until[url] = max(self._until.get(url, 0.0), time.monotonic() + seconds)


def _post(slack: notify.SlackSession, blocked: _Blocked, url: str, text: str, deadline: float):
    """One Slack post on a pool thread (no database access here). Returns SENT, LATE, the
    seconds to wait for a webhook that is rate limiting us, or the DeliveryError."""
    if time.monotonic() >= deadline:
        return LATE
    wait = blocked.wait_for(url)
    if wait:
        return wait
    try:
        slack.post(url, text)
    except notify.DeliveryError as error:
        if error.retry_after is not None:
            blocked.block(url, error.retry_after)
        return error
    return SENT


def _deliver(
    notifications: list[Notification],
    now: datetime,
    deadline: float,
    *,
    slack: notify.SlackSession,
    pool: ThreadPoolExecutor,
) -> int:
    blocked = _Blocked()
    hooks = [n for n in notifications if n.channel == Channel.SLACK]
    # Texts are built here: they read the card through the ORM, which stays in this thread.
    futures = [
        (note, pool.submit(_post, slack, blocked, note.address, notify.slack_text(note), deadline))
        for note in hooks
    ]
    outcomes: list[tuple[Notification, object]] = []
    mail = None
    try:
        for note in notifications:
            if note.channel != Channel.EMAIL:
                continue
            if time.monotonic() >= deadline:
                # Out of time: hand the rest back for the next run instead of letting the
                # lease run out under us (then another run could send them too).
                outcomes.append((note, LATE))
                continue
            try:
                mail = mail or notify.open_mail_connection()
                notify.send_email(note, mail)
            except notify.DeliveryError as error:
                outcomes.append((note, error))
                if mail is not None:
                    mail.close()  # a broken session is not reused: the next email reopens
                    mail = None
                continue
            outcomes.append((note, SENT))
    finally:
        if mail is not None:
            mail.close()
    outcomes.extend((note, future.result()) for note, future in futures)

    sent = [note.pk for note, outcome in outcomes if outcome == SENT]
    outbox.mark_sent(ids=sent)
    outbox.hand_back(ids=[note.pk for note, outcome in outcomes if outcome == LATE], now=now)
    for note, outcome in outcomes:
        if isinstance(outcome, notify.DeliveryError):
            outbox.mark_failed(
                notification=note, error=str(outcome), now=now, retry_after=outcome.retry_after
            )
        elif isinstance(outcome, float):  # its webhook is rate limiting: not tried, no attempt
            outbox.postpone(notification_id=note.pk, until=now + timedelta(seconds=outcome))
    return len(sent)
