"""Every change of a notification's state, in one place.

A notification (an outbox row) is written by `escalation.record` (or the scan's set-based
path) as pending, sent (in-app) or failed (nowhere to send it). From there only these
functions move it:

    pending --claim_due--> pending, leased --mark_sent--> sent --mark_read--> read (in-app)
                                     |--hand_back / postpone--> pending (not tried)
                                     `--mark_failed--> pending, later (backoff) | failed
    failed --resend--> pending

Each claim and each state change is a single UPDATE guarded by the state it expects, so two
delivery workers never send or record the same row twice.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from sla.models import Channel, Notification

log = logging.getLogger(__name__)

State = Notification.State
MAX_ATTEMPTS = 5
# How long a claimed row stays away from other delivery runs (sla.jobs.DELIVERY_BUDGET
# keeps a run well inside it).
LEASE = timedelta(minutes=3)
FIRST_BACKOFF = timedelta(seconds=30)  # doubled after each failed attempt


# ----------------------------------------------------------------------------- in-app reads


def mark_read(*, user: AbstractBaseUser, notification_id: int, at: datetime | None = None) -> int:
    """Mark one of the user's unread in-app notifications read (0: not theirs, or read)."""
    unread = Notification.objects.unread_for(user).filter(pk=notification_id)
    return unread.update(read_at=at or timezone.now())


def mark_all_read(*, user: AbstractBaseUser, at: datetime | None = None) -> int:
    """Mark every unread in-app notification of the user read."""
    return Notification.objects.unread_for(user).update(read_at=at or timezone.now())


# ----------------------------------------------------------------------------- delivery


def claim_due(*, now: datetime, batch: int, lease: timedelta = LEASE) -> list[Notification]:
    """Claim up to `batch` pending rows due by `now` for one delivery run: their
    `next_attempt_at` moves to `now + lease` with a compare-and-set update (rows another run
    claimed meanwhile are not taken). Returns them with what sending reads."""
    with transaction.atomic():
        due = Notification.objects.filter(state=State.PENDING, next_attempt_at__lte=now).order_by(
            "next_attempt_at"
        )
        if connection.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True)
        ids = list(due.values_list("pk", flat=True)[:batch])
        lease_until = now + lease
        claimed = Notification.objects.filter(
            pk__in=ids, state=State.PENDING, next_attempt_at__lte=now
        ).update(next_attempt_at=lease_until)
        if not claimed:
            return []
    return list(
        Notification.objects.filter(pk__in=ids, next_attempt_at=lease_until).select_related(
            "event__timer__task__owner", "event__timer__task__blocking_reason", "recipient"
        )
    )


def mark_sent(*, ids: Iterable[int], at: datetime | None = None) -> int:
    """Record claimed rows as sent (one attempt more), in one UPDATE."""
    return Notification.objects.filter(pk__in=list(ids)).update(
        state=State.SENT, sent_at=at or timezone.now(), attempts=F("attempts") + 1, last_error=""
    )


def hand_back(*, ids: Iterable[int], now: datetime) -> int:
    """Claimed rows a run did not try (out of time): due again at once, no attempt counted."""
    return Notification.objects.filter(pk__in=list(ids), state=State.PENDING).update(
        next_attempt_at=now
    )


def postpone(*, notification_id: int, until: datetime) -> int:
    """A claimed row not tried because its receiver asked us to wait (rate limit): due
    again at `until`, no attempt counted."""
    return Notification.objects.filter(pk=notification_id, state=State.PENDING).update(
        next_attempt_at=until
    )


def mark_failed(
    *, notification: Notification, error: str, now: datetime, retry_after: float | None = None
) -> None:
    """Record a failed attempt: tried again after a backoff doubling from FIRST_BACKOFF (at
    least `retry_after` seconds, as the receiver asked), or failed for good after
    MAX_ATTEMPTS (re-sendable with `resend`)."""
    attempts = notification.attempts + 1
    changes: dict[str, object]
    if attempts >= MAX_ATTEMPTS:
        changes = {"state": State.FAILED, "next_attempt_at": None}
        log.warning("notification %s failed for good: %s", notification.pk, error)
    else:
        backoff = FIRST_BACKOFF * 2 ** (attempts - 1)
        if retry_after is not None:
            backoff = max(backoff, timedelta(seconds=retry_after))
        changes = {"next_attempt_at": now + backoff}
    Notification.objects.filter(pk=notification.pk).update(
        attempts=attempts, last_error=error[:2000], **changes
    )


def resend(notifications: QuerySet[Notification], *, at: datetime | None = None) -> int:
    """Put failed email and Slack notifications back in the queue, attempts reset (the admin
    action). In-app rows never fail. Returns how many."""
    failed = notifications.filter(~Q(channel=Channel.IN_APP), state=State.FAILED)
    return failed.update(state=State.PENDING, attempts=0, next_attempt_at=at or timezone.now())
