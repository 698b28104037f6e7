"""django-q2 entry points: the timer scan and notification delivery.

Both are idempotent and safe to run concurrently (several clusters on PostgreSQL): the scan
claims due timers with SELECT … FOR UPDATE SKIP LOCKED and the outbox rows are unique per
threshold; delivery claims notifications with a compare-and-set lease.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from sla import bulk, escalation, notify
from sla.models import Channel, Notification, SlaTimer
from tasks.models import Task

log = logging.getLogger(__name__)

SCAN_BATCH = 1000
DELIVERY_BATCH = 200
MAX_ATTEMPTS = 5
# A delivery run stops claiming and sending after DELIVERY_BUDGET and hands back what it
# has not sent, so a claim (LEASE) never expires while its run still works on it, and every
# run ends well within the cluster's timeout (120 s).
DELIVERY_BUDGET = timedelta(seconds=60)
LEASE = timedelta(minutes=3)
TIMER_FIELDS = [
    "warned_at",
    "breached_at",
    "state",
    "escalation_level",
    "next_check_at",
    "updated_at",
]


def scan_due_timers(now: datetime | None = None, batch_size: int = SCAN_BATCH) -> int:
    """Fire every threshold that has passed by `now`; returns the number of thresholds fired.

    Reads only timers with `next_check_at <= now` (partial index `timer_next_check`), so its
    cost follows due timers, not open ones. Works from state: after downtime one run stamps
    each breach at its due time and fires each threshold once.
    """
    now = now or timezone.now()
    total = 0
    while True:
        fired, claimed, recorded = _scan_batch(now, batch_size)
        escalation.follow_up(fired, now)
        total += recorded
        if claimed < batch_size:
            break
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
    return fired, len(timers), recorded


def _levels(timer: SlaTimer):
    return escalation.after_breach_rules(timer.policy, timer.kind)


def send_pending_notifications(
    now: datetime | None = None,
    batch: int = DELIVERY_BATCH,
    budget: timedelta = DELIVERY_BUDGET,
) -> int:
    """Deliver due email and Slack notifications; returns how many were sent.

    Each row is claimed by pushing its `next_attempt_at` forward with a compare-and-set
    update, so two workers never send the same row, and no lock is held while talking to
    the network. A failure is retried with exponential backoff up to MAX_ATTEMPTS, then the
    row is left `failed` with its error (re-sendable from admin).
    """
    now = now or timezone.now()
    deadline = time.monotonic() + budget.total_seconds()
    sent = 0
    while time.monotonic() < deadline:
        claimed = _claim(now, batch)
        if not claimed:
            return sent
        sent += _deliver(claimed, now, deadline)
        if len(claimed) < batch:
            return sent
    return sent


def _claim(now: datetime, batch: int) -> list[Notification]:
    with transaction.atomic():
        due = Notification.objects.filter(
            state=Notification.State.PENDING, next_attempt_at__lte=now
        ).order_by("next_attempt_at")
        if connection.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True)
        ids = list(due.values_list("pk", flat=True)[:batch])
        lease_until = now + LEASE
        claimed = Notification.objects.filter(
            pk__in=ids, state=Notification.State.PENDING, next_attempt_at__lte=now
        ).update(next_attempt_at=lease_until)
        if not claimed:
            return []
    return list(
        Notification.objects.filter(pk__in=ids, next_attempt_at=lease_until).select_related(
            "event__timer__task__owner", "event__timer__task__blocking_reason", "recipient"
        )
    )


def _deliver(notifications: list[Notification], now: datetime, deadline: float) -> int:
    sent = 0
    connection_ = None
    for index, note in enumerate(notifications):
        if time.monotonic() >= deadline:
            # Out of time: hand the rest back for the next run instead of letting the lease
            # run out under us (then another run could send them too).
            rest = [n.pk for n in notifications[index:]]
            Notification.objects.filter(pk__in=rest, state=Notification.State.PENDING).update(
                next_attempt_at=now
            )
            break
        try:
            if note.channel == Channel.EMAIL:
                connection_ = connection_ or notify.mail_connection()
                notify.send_email(note, connection_)
            elif note.channel == Channel.SLACK:
                notify.send_slack(note)
        except notify.DeliveryError as error:
            _failed(note, str(error), now)
            continue
        Notification.objects.filter(pk=note.pk).update(
            state=Notification.State.SENT, sent_at=timezone.now(), attempts=F("attempts") + 1,
            last_error="",
        )  # fmt: skip
        sent += 1
    return sent


def _failed(note: Notification, error: str, now: datetime) -> None:
    attempts = note.attempts + 1
    if attempts >= MAX_ATTEMPTS:
        changes = {"state": Notification.State.FAILED, "next_attempt_at": None}
        log.warning("notification %s failed for good: %s", note.pk, error)
    else:
        changes = {"next_attempt_at": now + timedelta(seconds=30 * 2 ** (attempts - 1))}
    Notification.objects.filter(pk=note.pk).update(
        attempts=attempts, last_error=error[:2000], **changes
    )


def resend(notifications) -> int:
    """Put failed notifications back in the queue (admin action)."""
    return notifications.filter(~Q(channel=Channel.IN_APP), state=Notification.State.FAILED).update(
        state=Notification.State.PENDING, attempts=0, next_attempt_at=timezone.now()
    )
