"""One delivery run of the outbox: each channel on its own lane, so a slow or hung receiver
on one channel never holds up another (`sla.jobs.send_pending_notifications` runs this).

    main thread (all database work)        lane threads (network only)
    claim a batch of emails ─────────────▶ email thread: one SMTP session, sends in order
    claim a batch of Slack rows ─────────▶ SLACK_WORKERS threads: kept-alive posts
    claim a batch of webhook rows ───────▶ WEBHOOK_WORKERS threads: signed, kept-alive posts
    claim a batch of Slack-app rows ─────▶ SLACK_WORKERS threads: Web API chat.postMessage
    record each batch as it finishes ◀──── outcomes (sent, failed, held, late)

Each lane claims its own channel's rows (`outbox.claim_due(channel=…)`), keeps up to
IN_FLIGHT batches queued on its threads and claims the next as soon as one is recorded, so
emails flow while every Slack thread waits on a webhook that does not answer (and the
reverse). Messages are rendered on the main thread; lane threads never touch the database.

A destination that answers 429 (Retry-After) or does not answer within its timeout is put
on hold (`outbox.hold`, a DeliveryHold row): at once for this run's threads, and for every
later run and other workers from the moment the main thread records it. The rows to it that
were not tried are postponed to the end of the hold, with no attempt counted; claims skip
held destinations. At the budget the lanes stop claiming and sending; rows not tried are
handed back (due at once) and posts in flight finish within their timeouts, so a claim's
lease never runs out under its run.
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import partial

from django.core.mail import EmailMultiAlternatives
from slack_sdk.errors import SlackApiError

from sla import notify, outbox, preferences, webhook_messages
from sla.models import Channel, Notification
from sla.slack_app import messages as slack_messages
from sla.slack_app import web as slack_web
from tasks.models import BlockingReason

DELIVERY_BATCH = 200
# Threads posting to Slack webhooks in a run (the database stays on the main thread).
SLACK_WORKERS = 8
# Threads posting to webhook endpoints in a run.
WEBHOOK_WORKERS = 8
# Batches a lane keeps queued on its threads: one sending, one ready.
IN_FLIGHT = 2
# A run stops claiming and sending after this (see LEASE: a run ends well inside it, and
# well within the cluster's timeout, 120 s).
DELIVERY_BUDGET = timedelta(seconds=60)
# How long a destination that did not answer in time is left alone.
UNRESPONSIVE_HOLD = outbox.FIRST_BACKOFF

SENT = "sent"
LATE = "late"  # not tried: the run is out of time; handed back for the next run


@dataclass(frozen=True)
class Held:
    """Not tried: the destination is on hold until then."""

    until: datetime


Outcome = str | Held | notify.DeliveryError


class Clock:
    """The run's `now` moved on by the time the run has taken (a hold starts when the
    receiver answered, not when the run began). Thread-safe."""

    def __init__(self, now: datetime, budget: timedelta) -> None:
        self.now = now
        self.started = time.monotonic()
        self.deadline = self.started + budget.total_seconds()

    def __call__(self) -> datetime:
        return self.now + timedelta(seconds=time.monotonic() - self.started)

    def out_of_time(self) -> bool:
        return time.monotonic() >= self.deadline


class Holds:
    """Destinations put on hold during this run, shared by the lane threads; the main thread
    takes the new ones to record them (`outbox.hold`)."""

    def __init__(self) -> None:
        self._until: dict[str, datetime] = {}
        self._new: list[tuple[str, datetime, str]] = []
        self._lock = threading.Lock()

    def until(self, destination: str, at: datetime) -> datetime | None:
        with self._lock:
            until = self._until.get(destination)
        return until if until is not None and until > at else None

    def hold(self, destination: str, until: datetime, reason: str) -> datetime:
        with self._lock:
            until = max(until, self._until.get(destination, until))
            self._until[destination] = until
            self._new.append((destination, until, reason))
            return until

    def take_new(self) -> list[tuple[str, datetime, str]]:
        with self._lock:
            new, self._new = self._new, []
        return new


@dataclass
class Batch:
    """Claimed rows on their way: outcomes known at once (could not be rendered) and the
    futures of the rest, each giving (notification, outcome) pairs."""

    ready: list[tuple[Notification, Outcome]] = field(default_factory=list)
    futures: list[Future] = field(default_factory=list)

    def done(self) -> bool:
        return all(f.done() for f in self.futures)

    def outcomes(self) -> list[tuple[Notification, Outcome]]:
        pairs = list(self.ready)
        for future in self.futures:
            pairs.extend(future.result())
        return pairs


class Lane(ABC):
    """One channel: claims its rows, hands them to its threads, records finished batches."""

    channel: str

    def __init__(self, clock: Clock, batch: int, holds: Holds) -> None:
        self.clock, self.batch, self.holds = clock, batch, holds
        self.batches: list[Batch] = []
        self.exhausted = False

    def wants_more(self) -> bool:
        return not self.exhausted and len(self.batches) < IN_FLIGHT and not self.clock.out_of_time()

    def claim(self) -> None:
        rows = outbox.claim_due(now=self.clock.now, batch=self.batch, channel=self.channel)
        if len(rows) < self.batch:
            self.exhausted = True
        # The people's preferences: rows turned off are skipped, rows held back postponed.
        send, digests = preferences.sort_out(rows, now=self.clock.now)
        if send or digests:
            self.batches.append(self.submit(send, digests))

    @abstractmethod
    def submit(self, rows: list[Notification], digests: dict[int, list[Notification]]) -> Batch:
        """Start sending these claimed rows on the lane's threads (and, for email, each
        person's digest: her rows in one message)."""

    def futures(self) -> list[Future]:
        """The futures of its batches that are still running."""
        return [f for b in self.batches for f in b.futures if not f.done()]

    def finished(self) -> bool:
        return any(b.done() for b in self.batches)

    def record_finished(self) -> int:
        """Record every finished batch (main thread); returns how many were sent."""
        sent = 0
        for batch in [b for b in self.batches if b.done()]:
            self.batches.remove(batch)
            sent += record(batch.outcomes(), self.clock)
        return sent

    @abstractmethod
    def close(self) -> None:
        """Release the lane's threads and connections."""

    # Whether a destination that is down (refused, 5xx) is held until the failed row's retry
    # (webhook endpoints); elsewhere only a 429 or a hung destination holds it.
    holds_when_down = False

    def attempt(
        self, note: Notification, send: Callable[[], object]
    ) -> list[tuple[Notification, Outcome]]:
        """One row on a lane thread: late or held rows are not tried; a failure that says
        when to come back (Retry-After, no answer, down) holds the whole destination."""
        if self.clock.out_of_time():
            return [(note, LATE)]
        until = self.holds.until(note.address, self.clock())
        if until is not None:
            return [(note, Held(until))]
        try:
            send()
        except notify.DeliveryError as error:
            if error.retry_after is not None:
                wait_for = timedelta(seconds=error.retry_after)
            elif error.unresponsive:
                wait_for = UNRESPONSIVE_HOLD
            elif error.down and self.holds_when_down:
                wait_for = outbox.backoff(note.attempts + 1)
            else:
                return [(note, error)]
            error.hold_until = self.holds.hold(note.address, self.clock() + wait_for, str(error))
            return [(note, error)]
        return [(note, SENT)]


class EmailLane(Lane):
    """Emails in claim order over one SMTP session, on one thread of their own."""

    channel = Channel.EMAIL

    def __init__(self, clock: Clock, batch: int, holds: Holds) -> None:
        super().__init__(clock, batch, holds)
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="email")
        self.connection = None  # used and replaced on the email thread only

    def submit(self, rows: list[Notification], digests: dict[int, list[Notification]]) -> Batch:
        batch = Batch()
        messages = []
        work: list[tuple[list[Notification], Callable[[], EmailMultiAlternatives]]] = [
            ([note], partial(notify.email_message, note)) for note in rows
        ]
        work += [(notes, partial(notify.digest_message, notes)) for notes in digests.values()]
        for notes, render in work:
            try:
                messages.append((notes, render()))
            except Exception as error:  # no address, or it cannot be rendered: an attempt
                failure = error if isinstance(error, notify.DeliveryError) else None
                failure = failure or notify.DeliveryError(f"{type(error).__name__}: {error}")
                batch.ready.extend((note, failure) for note in notes)
        if messages:
            batch.futures.append(self.pool.submit(self._send_all, messages))
        return batch

    def _send_all(self, messages) -> list[tuple[Notification, Outcome]]:
        """Send each message (one notification's, or a digest of several) in order; its
        outcome is each of its notifications' outcome."""
        outcomes: list[tuple[Notification, Outcome]] = []
        for notes, message in messages:
            if self.clock.out_of_time():
                outcomes.extend((note, LATE) for note in notes)
                continue
            try:
                self.connection = self.connection or notify.open_mail_connection()
                notify.send_message(message, self.connection)
            except notify.DeliveryError as error:
                outcomes.extend((note, error) for note in notes)
                if self.connection is not None:
                    self.connection.close()  # a broken session is not reused: reopen
                    self.connection = None
                continue
            outcomes.extend((note, SENT) for note in notes)
        return outcomes

    def close(self) -> None:
        self.pool.shutdown(wait=True)
        if self.connection is not None:
            self.connection.close()
            self.connection = None


class SlackLane(Lane):
    """Slack posts on SLACK_WORKERS threads over kept-alive connections."""

    channel = Channel.SLACK

    def __init__(self, clock: Clock, batch: int, holds: Holds) -> None:
        super().__init__(clock, batch, holds)
        self.pool = ThreadPoolExecutor(SLACK_WORKERS, thread_name_prefix="slack")
        self.session = notify.SlackSession()

    def submit(self, rows: list[Notification], digests: dict[int, list[Notification]]) -> Batch:
        batch = Batch()  # no digest on Slack (sla.notice_rules: the digest is an email)
        for note in rows:
            try:  # payloads read the card through the ORM: built here, on the main thread
                payload, key = notify.slack_payload(note), notify.idempotency_key(note)
            except Exception as error:
                batch.ready.append((note, notify.DeliveryError(f"{type(error).__name__}: {error}")))
                continue
            batch.futures.append(self.pool.submit(self._post, note, payload, key))
        return batch

    def _post(self, note: Notification, payload: dict, key: str):
        return self.attempt(note, lambda: self.session.post(note.address, payload, key=key))

    def close(self) -> None:
        self.pool.shutdown(wait=True)
        self.session.close()


class WebhookLane(Lane):
    """Outgoing webhooks (sla.webhooks) on WEBHOOK_WORKERS threads over kept-alive
    connections: bodies built on the main thread, signed and posted on the lane's threads.

    Per-destination isolation: an endpoint that is down (refused, 5xx) is held until the
    failed row's retry, one that does not answer for UNRESPONSIVE_HOLD, one that answers 429
    until its Retry-After; its other rows are postponed without an attempt, and the other
    endpoints' rows go on."""

    channel = Channel.WEBHOOK
    holds_when_down = True

    def __init__(self, clock: Clock, batch: int, holds: Holds) -> None:
        super().__init__(clock, batch, holds)
        self.pool = ThreadPoolExecutor(WEBHOOK_WORKERS, thread_name_prefix="webhook")
        self.session = notify.HttpSession(timeout=webhook_messages.WEBHOOK_TIMEOUT)

    def submit(self, rows: list[Notification], digests: dict[int, list[Notification]]) -> Batch:
        batch = Batch()  # no digest for machines: webhook rows address no person
        for note, message in webhook_messages.prepare(rows):
            if isinstance(message, notify.DeliveryError):
                batch.ready.append((note, message))
            else:
                batch.futures.append(self.pool.submit(self._post, note, message))
        return batch

    def _post(self, note: Notification, message: webhook_messages.Message):
        return self.attempt(
            note, lambda: webhook_messages.post(self.session, message, self.clock())
        )

    def close(self) -> None:
        self.pool.shutdown(wait=True)
        self.session.close()


class SlackAppLane(Lane):
    """The Slack app's direct messages and thread replies (Web API `chat.postMessage` with
    the bot token) on SLACK_WORKERS threads; rendered here, on the main thread."""

    channel = Channel.SLACK_APP

    def __init__(self, clock: Clock, batch: int, holds: Holds) -> None:
        super().__init__(clock, batch, holds)
        self.pool = ThreadPoolExecutor(SLACK_WORKERS, thread_name_prefix="slack-app")
        self.client = slack_web.client()
        self.reasons: list | None = None

    def submit(self, rows: list[Notification], digests: dict[int, list[Notification]]) -> Batch:
        batch = Batch()  # no digest on Slack (sla.notice_rules: the digest is an email)
        if self.reasons is None:  # the reason picker's options: read once per run
            self.reasons = list(BlockingReason.objects.filter(active=True).order_by("name"))
        for note in rows:
            try:
                post = slack_messages.render(note, self.reasons)
            except Exception as error:
                batch.ready.append((note, notify.DeliveryError(f"{type(error).__name__}: {error}")))
                continue
            batch.futures.append(self.pool.submit(self._post, note, post))
        return batch

    def _post(self, note: Notification, post: slack_messages.Post):
        return self.attempt(note, lambda: self._send(post))

    def _send(self, post: slack_messages.Post, *, reopened: bool = False) -> None:
        try:
            self.client.chat_postMessage(
                channel=post.channel,
                text=post.text,
                blocks=post.blocks or None,
                thread_ts=post.thread_ts or None,
                metadata=post.metadata,
                unfurl_links=False,
            )
        except SlackApiError as error:
            code = str(error.response.get("error", ""))
            if post.direct and not reopened and code == "channel_not_found":
                # No conversation with the person yet: open one and post there.
                opened = self.client.conversations_open(users=post.channel)
                channel = (opened.get("channel") or {}).get("id", post.channel)
                return self._send(replace(post, channel=channel), reopened=True)
            if error.response.status_code == 429:
                headers = {k.lower(): v for k, v in (error.response.headers or {}).items()}
                header = headers.get("retry-after")
                wait = notify.retry_after_seconds(header[0] if isinstance(header, list) else header)
                raise notify.DeliveryError(
                    f"Slack answered 429: rate limited, retry after {wait:g} s", retry_after=wait
                ) from error
            raise notify.DeliveryError(f"Slack answered {code or error}") from error
        except Exception as error:  # refused connection, DNS, timeout, TLS
            raise notify.DeliveryError(
                f"{type(error).__name__}: {error}", unresponsive=notify.timed_out(error)
            ) from error

    def close(self) -> None:
        self.pool.shutdown(wait=True)


def record(outcomes: list[tuple[Notification, Outcome]], clock: Clock) -> int:
    """Write a finished batch's outcomes (main thread): the sent rows in one UPDATE, the
    late ones handed back, the held ones postponed to their hold's end, each failure its
    attempt. Returns how many were sent."""
    sent = [note.pk for note, outcome in outcomes if outcome == SENT]
    outbox.mark_sent(ids=sent)
    outbox.hand_back(ids=[note.pk for note, outcome in outcomes if outcome == LATE], now=clock.now)
    held: dict[datetime, list[int]] = defaultdict(list)
    for note, outcome in outcomes:
        if isinstance(outcome, Held):
            held[outcome.until].append(note.pk)
        elif isinstance(outcome, notify.DeliveryError):
            outbox.mark_failed(
                notification=note,
                error=str(outcome),
                now=clock.now,
                retry_after=outcome.retry_after,
                not_before=outcome.hold_until,
                for_good=outcome.final,
            )
    for until, ids in held.items():
        outbox.postpone(ids=ids, until=until)
    return len(sent)


def record_holds(holds: Holds, channel: str) -> None:
    for destination, until, reason in holds.take_new():
        outbox.hold(channel=channel, destination=destination, until=until, reason=reason)


def run(now: datetime, *, batch: int = DELIVERY_BATCH, budget: timedelta = DELIVERY_BUDGET) -> int:
    """Deliver due email, Slack, Slack-app and webhook notifications, each channel on its lane;
    returns how many were sent."""
    clock = Clock(now, budget)
    outbox.release_expired(now=now)
    slack_holds, app_holds, webhook_holds = Holds(), Holds(), Holds()
    lanes: list[Lane] = [EmailLane(clock, batch, Holds()), SlackLane(clock, batch, slack_holds)]
    lanes.append(SlackAppLane(clock, batch, app_holds))
    lanes.append(WebhookLane(clock, batch, webhook_holds))
    sent = 0
    try:
        while True:
            for lane in lanes:
                while lane.wants_more():
                    lane.claim()
            # Futures still running, taken before looking for finished batches: one that
            # finishes in between is in the list, and `wait` returns at once for it.
            running = [f for lane in lanes for f in lane.futures()]
            if running and not any(lane.finished() for lane in lanes):
                wait(running, return_when=FIRST_COMPLETED)
            for lane in lanes:
                sent += lane.record_finished()
            # After the batches: every hold a recorded failure points to is written (a post
            # may finish meanwhile; its hold is then written now or on the next turn).
            record_holds(slack_holds, Channel.SLACK)
            record_holds(app_holds, Channel.SLACK_APP)
            record_holds(webhook_holds, Channel.WEBHOOK)
            if not any(lane.batches or lane.wants_more() for lane in lanes):
                return sent
    finally:
        for lane in lanes:
            lane.close()
