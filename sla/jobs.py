"""django-q2 entry points of the sla app: the timer scan, the re-sync of a policy's cards
after an edit, and notification delivery; and their schedules (SCHEDULES, at the end).

The scan and delivery are idempotent and safe to run concurrently (several clusters on
PostgreSQL): the scan (sla.scan) claims due timers with SELECT … FOR UPDATE SKIP LOCKED and
the outbox rows are unique per threshold; delivery claims notifications with a
compare-and-set lease.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone
from django_q.tasks import async_task

from sla import actions, delivery, outbox, scan
from sla.models import SlaTimer
from sla.schedules import ScheduleSpec, dotted_name
from tasks.models import Task

log = logging.getLogger(__name__)

MAX_ATTEMPTS = outbox.MAX_ATTEMPTS


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
    batch: int = delivery.DELIVERY_BATCH,
    budget: timedelta = delivery.DELIVERY_BUDGET,
) -> int:
    """Deliver due email, Slack and webhook notifications; returns how many were sent
    (sla.delivery).

    Each channel is delivered on its own lane (emails over one SMTP session on a thread of
    their own, Slack posts on SLACK_WORKERS threads, signed webhooks on WEBHOOK_WORKERS
    threads), claiming its own rows with a
    compare-and-set lease, so a hung webhook never holds up email and the reverse; no lock
    is held while talking to the network and the database is written from this thread only.
    A failure is retried with exponential backoff up to MAX_ATTEMPTS, then the row is left
    `failed` with its error (re-sendable from admin). A receiver that answers 429 or does not
    answer is put on hold for every run and worker until its Retry-After (or a short wait).

    Trade-off: the sent rows of a batch are recorded in one UPDATE, so if the process dies in
    between they go out again once their lease runs out (at most DELIVERY_BATCH duplicates,
    instead of one), with the same idempotency key, so receivers can drop them.
    """
    return delivery.run(now or timezone.now(), batch=batch, budget=budget)


# Registered with django-q2 by `manage.py sync_schedules` (see sla.schedules).
SCHEDULES = [
    ScheduleSpec("sla: scan due timers", scan_due_timers, minutes=1),
    ScheduleSpec("sla: deliver notifications", send_pending_notifications, minutes=1),
]
