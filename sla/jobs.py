"""django-q2 entry points of the sla app: the timer scan, the re-sync of a policy's cards
after an edit, and notification delivery; and their schedules (SCHEDULES, at the end).

The scan and delivery are idempotent and safe to run concurrently (several clusters on
PostgreSQL): the scan (sla.scan) claims due timers with SELECT … FOR UPDATE SKIP LOCKED and
the outbox rows are unique per threshold; delivery claims notifications with a
compare-and-set lease.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone
from django_q.tasks import async_task

from sla import actions, notify, outbox, scan
from sla.models import Channel, Notification, SlaTimer
from sla.schedules import ScheduleSpec, dotted_name
from tasks.models import Task

log = logging.getLogger(__name__)

DELIVERY_BATCH = 200
# Threads posting to Slack webhooks in a delivery run (the database stays on the main thread).
SLACK_WORKERS = 8
MAX_ATTEMPTS = outbox.MAX_ATTEMPTS
# A delivery run stops claiming and sending after DELIVERY_BUDGET and hands back what it
# has not sent, so a claim (LEASE) never expires while its run still works on it, and every
# run ends well within the cluster's timeout (120 s).
DELIVERY_BUDGET = timedelta(seconds=60)
LEASE = outbox.LEASE


def scan_due_timers(
    now: datetime | None = None,
    batch_size: int | None = None,
    *,
    set_based: bool = True,
    workers: int | None = None,
) -> int:
    """Fire every threshold that has passed by `now`; returns the number fired (`sla.scan.run`).

    Scheduled every minute and enqueued by this dotted name: keep it here."""
    return scan.run(now, batch_size, set_based=set_based, workers=workers)


# A policy recompute hands the rest of its cards to a new job after this long, so every job
# ends well within the cluster's timeout (120 s) and a killed job loses at most its card.
POLICY_RECOMPUTE_BUDGET = 60.0


def recompute_policy_timers(
    *, policy_id: int, rematch: bool = False, after_id: int = 0, budget: float | None = None
) -> int:
    """A policy's targets, pauses or rules changed: bring the open cards it times in line.

    With `rematch` (its criteria, order or activity changed, or it is new) every open card
    is matched again, so cards may move to or from this policy; otherwise only the cards
    with open timers under it are visited. Each card is synced as of the moment it is
    visited, locked like any change of the card, in its own transaction: time already used
    stays used, the new targets apply from then on (re-targets are recorded as for a change
    of priority). Visits cards in id order after `after_id`; past `budget` seconds it
    queues the rest as a new job. Returns the number of cards visited by this job.
    """
    budget = POLICY_RECOMPUTE_BUDGET if budget is None else budget
    if rematch:
        cards = Task.objects.open()
    else:
        cards = Task.objects.filter(
            pk__in=SlaTimer.objects.open().filter(policy_id=policy_id).values("task_id")
        )
    ids = cards.order_by("pk").values_list("pk", flat=True)
    policies = actions.active_policies()
    started, visited = time.monotonic(), 0
    while chunk := list(ids.filter(pk__gt=after_id)[:500]):
        for task_id in chunk:
            if time.monotonic() - started > budget:
                async_task(
                    dotted_name(recompute_policy_timers),
                    policy_id=policy_id,
                    rematch=rematch,
                    after_id=after_id,
                    task_name=f"recompute policy {policy_id} after card {after_id}",
                )
                return visited
            with transaction.atomic():
                task = Task.objects.select_for_update().filter(pk=task_id).first()
                if task is not None and task.is_open:
                    actions.sync_timers(task=task, at=timezone.now(), policies=policies)
            visited, after_id = visited + 1, task_id
    return visited


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


# Registered with django-q2 by `manage.py sync_schedules` (see sla.schedules).
SCHEDULES = [
    ScheduleSpec("sla: scan due timers", scan_due_timers, minutes=1),
    ScheduleSpec("sla: deliver notifications", send_pending_notifications, minutes=1),
]
