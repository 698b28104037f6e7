"""Every change of a notification's state, in one place.

A notification (an outbox row) is written by `escalation.record` (or the scan's set-based
path) as pending, sent (in-app) or failed (nowhere to send it). From there only these
functions move it:

    pending --claim_due--> pending, leased --mark_sent--> sent --mark_read--> read (in-app)
                                     |--hand_back / postpone--> pending (not tried)
                                     `--mark_failed--> pending, later (backoff) | failed
    failed --resend--> pending

A row is written `skipped` instead of pending while a seeded demo's history is brought up to
now (sla.escalation.seeding_history): it is never sent and nothing here moves it. A claimed
row its person turned off in her preferences (sla.preferences) becomes `skipped` too
(`drop_muted`); one her quiet hours or daily digest hold back is postponed (`hold_back`).

Each claim and each state change is a single UPDATE guarded by the state it expects, so two
delivery workers never send or record the same row twice.

Claims are per channel, so each channel is delivered on its own (sla.delivery), and skip
destinations on hold: a receiver that answered 429 with Retry-After, or did not answer in
time, is held (`hold`, one DeliveryHold row per destination, seen by every run and worker)
and none of its notifications is claimed before the hold ends.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q, QuerySet
from django.db.models.functions import Greatest
from django.utils import timezone

from sla import notice_words
from sla.models import Channel, DeliveryHold, Notification

log = logging.getLogger(__name__)

State = Notification.State
MAX_ATTEMPTS = 5
# How long a claimed row stays away from other delivery runs (sla.delivery.DELIVERY_BUDGET
# keeps a run well inside it).
LEASE = timedelta(minutes=3)
FIRST_BACKOFF = timedelta(seconds=30)  # doubled after each failed attempt


# ----------------------------------------------------------------------------- in-app reads


def mark_read(*, user: AbstractBaseUser, notification_id: int, at: datetime | None = None) -> int:
    """Mark one of the user's unread in-app notifications read (0: not theirs, or read)."""
    unread = Notification.objects.unread_for(user).filter(pk=notification_id)
    return unread.update(read_at=at or timezone.now())


def mark_card_read(*, user: AbstractBaseUser, task_id: int, at: datetime | None = None) -> int:
    """Mark the user's unread in-app notices of one card read (timer thresholds and card
    notices alike): an inbox group's "Mark read". Never anyone else's rows."""
    of_card = Q(event__timer__task_id=task_id) | Q(card_event__task_id=task_id)
    return (
        Notification.objects.unread_for(user).filter(of_card).update(read_at=at or timezone.now())
    )


def mark_all_read(*, user: AbstractBaseUser, at: datetime | None = None) -> int:
    """Mark every unread in-app notification of the user read."""
    return Notification.objects.unread_for(user).update(read_at=at or timezone.now())


# ----------------------------------------------------------------------------- delivery


def claim_due(
    *, now: datetime, batch: int, lease: timedelta = LEASE, channel: str | None = None
) -> list[Notification]:
    """Claim up to `batch` pending rows due by `now` (of one `channel`, or any) for one
    delivery run, longest due first, none to a destination on hold: their `next_attempt_at`
    moves to `now + lease` with a compare-and-set update (rows another run claimed meanwhile
    are not taken). Returns them with what sending reads."""
    with transaction.atomic():
        due = Notification.objects.filter(state=State.PENDING, next_attempt_at__lte=now)
        if channel is not None:
            due = due.filter(channel=channel)
        held = held_destinations(now=now, channel=channel)
        if held:
            due = due.exclude(address__in=held)
        due = due.order_by("next_attempt_at")
        if connection.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True)
        ids = list(due.values_list("pk", flat=True)[:batch])
        lease_until = now + lease
        claimed = Notification.objects.filter(
            pk__in=ids, state=State.PENDING, next_attempt_at__lte=now
        ).update(next_attempt_at=lease_until)
        if not claimed:
            return []
    rows = list(
        Notification.objects.filter(pk__in=ids, next_attempt_at=lease_until).select_related(
            "event__timer__task__owner",
            "event__timer__task__blocking_reason",
            "recipient__profile",  # her timezone (sla.notify.recipient_zone)
            "card_event__task__approver__profile",  # a decision asked on Slack addresses her
            *notice_words.RELATED,  # card notices (sla.card_notices)
        )
    )
    notice_words.attach(rows)  # their words for the whole batch: two queries, not two each
    return rows


def mark_sent(*, ids: Iterable[int], at: datetime | None = None) -> int:
    """Record claimed rows as sent (one attempt more), in one UPDATE."""
    return Notification.objects.filter(pk__in=list(ids)).update(
        state=State.SENT, sent_at=at or timezone.now(), attempts=F("attempts") + 1, last_error=""
    )


def hand_back(*, ids: Iterable[int], now: datetime) -> int:
    """Claimed rows a run did not try (out of time): due again at once, no attempt counted."""
    ids = list(ids)
    if not ids:
        return 0
    return Notification.objects.filter(pk__in=ids, state=State.PENDING).update(next_attempt_at=now)


def postpone(*, ids: Iterable[int], until: datetime) -> int:
    """Claimed rows not tried because their destination is on hold (it asked us to wait, or
    did not answer): due again at `until`, no attempt counted."""
    ids = list(ids)
    if not ids:
        return 0
    return Notification.objects.filter(pk__in=ids, state=State.PENDING).update(
        next_attempt_at=until
    )


def backoff(attempts: int) -> timedelta:
    """How long a row waits after its `attempts`-th failed attempt: doubling from
    FIRST_BACKOFF (30 s, 1 min, 2 min, 4 min)."""
    return FIRST_BACKOFF * 2 ** (max(attempts, 1) - 1)


# Why a claimed row was not sent: its person turned it off (sla.preferences).
MUTED = "Not sent: turned off in the recipient's notification preferences."


def drop_muted(*, ids: Iterable[int]) -> int:
    """Claimed rows their person turned off (that kind on that channel): skipped, never
    sent, with the reason."""
    ids = list(ids)
    if not ids:
        return 0
    return Notification.objects.filter(pk__in=ids, state=State.PENDING).update(
        state=State.SKIPPED, next_attempt_at=None, last_error=MUTED
    )


# Marks a row a person's quiet hours or daily digest hold back (not a delivery problem:
# sla.health does not count its wait until it is due again).
HELD_BACK = "Held back by the recipient's preferences: "


def hold_back(*, ids: Iterable[int], until: datetime, why: str) -> int:
    """Claimed rows their person's quiet hours or digest hold back: due again at `until`,
    no attempt counted, the reason shown (`HELD_BACK` + why) until they are sent."""
    ids = list(ids)
    if not ids:
        return 0
    return Notification.objects.filter(pk__in=ids, state=State.PENDING).update(
        next_attempt_at=until, last_error=f"{HELD_BACK}{why}"[:2000]
    )


def mark_failed(
    *,
    notification: Notification,
    error: str,
    now: datetime,
    retry_after: float | None = None,
    not_before: datetime | None = None,
    for_good: bool = False,
) -> None:
    """Record a failed attempt: tried again after a backoff doubling from FIRST_BACKOFF (at
    least `retry_after` seconds, as the receiver asked, and not before `not_before`, its
    destination's hold), or failed for good after MAX_ATTEMPTS or when no retry can succeed
    (`for_good`; both re-sendable with `resend`)."""
    attempts = notification.attempts + 1
    changes: dict[str, object]
    if attempts >= MAX_ATTEMPTS or for_good:
        changes = {"state": State.FAILED, "next_attempt_at": None}
        log.warning("notification %s failed for good: %s", notification.pk, error)
    else:
        backoff_for = backoff(attempts)
        if retry_after is not None:
            backoff_for = max(backoff_for, timedelta(seconds=retry_after))
        changes = {"next_attempt_at": max(now + backoff_for, not_before or now)}
    Notification.objects.filter(pk=notification.pk).update(
        attempts=attempts, last_error=error[:2000], **changes
    )


def resend(notifications: QuerySet[Notification], *, at: datetime | None = None) -> int:
    """Put failed email, Slack and webhook notifications back in the queue, attempts reset
    (the admin action). In-app rows never fail. Returns how many."""
    failed = notifications.filter(~Q(channel=Channel.IN_APP), state=State.FAILED)
    return failed.update(state=State.PENDING, attempts=0, next_attempt_at=at or timezone.now())


def readdress(*, channel: str, recipient_prefix: str, address: str) -> int:
    """Point the rows not yet sent to a destination whose address changed (a webhook
    endpoint's new URL) at its new address: pending and failed rows whose recipient_key
    starts with `recipient_prefix`. Returns how many."""
    rows = Notification.objects.filter(
        channel=channel,
        recipient_key__startswith=recipient_prefix,
        state__in=[State.PENDING, State.FAILED],
    ).exclude(address=address)
    return rows.update(address=address)


# ----------------------------------------------------------------------------- holds


def hold(*, channel: str, destination: str, until: datetime, reason: str) -> None:
    """Hold a destination until `until` (a later hold already there is kept): no run claims
    its notifications before then."""
    held = DeliveryHold.objects.filter(channel=channel, destination=destination)
    if held.update(until=Greatest(F("until"), until), reason=reason[:300]):
        return
    try:
        with transaction.atomic():
            DeliveryHold.objects.create(
                channel=channel, destination=destination, until=until, reason=reason[:300]
            )
    except IntegrityError:  # another worker held it meanwhile: keep the later of the two
        held.update(until=Greatest(F("until"), until), reason=reason[:300])
    log.info("%s destination %s on hold until %s: %s", channel, destination, until, reason)


def held_destinations(*, now: datetime, channel: str | None = None) -> list[str]:
    """Destinations on hold at `now` (few: one row per held webhook)."""
    holds = DeliveryHold.objects.filter(until__gt=now)
    if channel is not None:
        holds = holds.filter(channel=channel)
    return list(holds.values_list("destination", flat=True))


def release_expired(*, now: datetime) -> int:
    """Delete holds that have ended (each delivery run starts with this)."""
    deleted, _ = DeliveryHold.objects.filter(until__lte=now).delete()
    return deleted
