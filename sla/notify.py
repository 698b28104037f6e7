"""Delivery channels: email through Django's mail backend, Slack through incoming webhooks.

Each `send_*` either returns normally (delivered) or raises DeliveryError with a reason
that is stored on the notification.

Every outgoing message carries the notification's `idempotency_key`, the same on each
attempt: as the email's Message-ID (and an X-Turnaround-Notification header), and as an
`Idempotency-Key` header and Slack message `metadata` on webhook posts. Delivery is
at-least-once (a worker killed between sending and recording sends again), so receivers can
drop a message whose key they have seen.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import re
import socket
import ssl
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime, tzinfo
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.template.loader import render_to_string
from django.utils import timezone
from slack_sdk.webhook import WebhookClient

from sla import notice_words
from sla.models import Notification
from tasks import profiles
from tasks.mail_parse import card_thread_id

SLACK_TIMEOUT = 10  # seconds, per request


class DeliveryError(Exception):
    def __init__(
        self,
        message: str,
        retry_after: float | None = None,
        *,
        unresponsive: bool = False,
        down: bool = False,
        final: bool = False,
    ) -> None:
        super().__init__(message)
        # Seconds the receiver asked us to wait (HTTP 429 Retry-After), if it said.
        self.retry_after = retry_after
        # The receiver did not answer in time: other messages to it would wait as long.
        self.unresponsive = unresponsive
        # The receiver is down (refused, 5xx): other messages to it wait for this one's retry
        # (webhook endpoints: sla.delivery.WebhookLane).
        self.down = down
        # No retry can succeed (a deleted webhook endpoint): failed at once.
        self.final = final
        # Set by a delivery run that put the destination on hold: not retried before then.
        self.hold_until: datetime | None = None


def idempotency_key(notification: Notification) -> str:
    """The notification's key for receivers: the same on every attempt at this row, and
    different for any other (its id, and a digest of what the row is about and when it was
    written, so ids reused by a fresh database do not repeat an old key)."""
    about = "|".join(
        str(part)
        for part in (
            notification.pk,
            # a card notice (no timer event): its card event, marked as such
            notification.event_id
            if notification.event_id is not None
            else f"card:{notification.card_event_id}",
            notification.channel,
            notification.recipient_key,
            notification.created_at.isoformat(),
        )
    )
    digest = hashlib.sha256(about.encode()).hexdigest()[:16]
    return f"turnaround-{notification.pk}-{digest}"


def mail_host() -> str:
    """The host name in our Message-IDs and card thread ids: the site's."""
    return urlsplit(settings.SITE_URL).hostname or "turnaround.invalid"


def message_id(notification: Notification) -> str:
    """The email's Message-ID: the idempotency key at the site's host name."""
    return f"<{idempotency_key(notification)}@{mail_host()}>"


def thread_headers(task_pk: int) -> dict[str, str]:
    """Headers that tie an email to its card: `References` names the card's thread (mail
    clients group the card's emails, and a reply carries the id back to the mail intake,
    `tasks.mail_intake`), and replies go to the intake address when there is one."""
    headers = {
        "References": card_thread_id(task_pk, mail_host()),
        "X-Turnaround-Card": str(task_pk),
    }
    if settings.MAIL_INTAKE_ADDRESS:
        headers["Reply-To"] = settings.MAIL_INTAKE_ADDRESS
    return headers


def recipient_zone(user) -> ZoneInfo:
    """The zone times are written in for a message to `user`: the one she chose on
    /profile/, else the server's TIME_ZONE. Reads her profile unless it came with her
    (`select_related("…__profile")`, as `outbox.claim_due` does)."""
    return profiles.zone_of(user)


def _zone(notification: Notification) -> tzinfo:
    """Her zone for a message addressed to one person; the current zone (the server's in a
    delivery job) for a post to a team's channel."""
    person = notice_words.addressee(notification)
    return recipient_zone(person) if person is not None else timezone.get_current_timezone()


def _card_context(notification: Notification) -> dict:
    said = notice_words.words(notification)
    task = said.task
    return {
        "notification": notification,
        "notice": said,
        "task": task,
        "url": f"{settings.SITE_URL}{task.get_absolute_url()}",
        "owner": (task.owner.get_full_name() or task.owner.get_username()) if task.owner else "",
        "when": timezone.localtime(said.event.at, _zone(notification)),
    }


def _context(notification: Notification) -> dict:
    if notification.card_event_id is not None:
        return _card_context(notification)
    event = notification.event
    timer = event.timer
    task = timer.task
    return {
        "notification": notification,
        "event": event,
        "timer": timer,
        "task": task,
        "url": f"{settings.SITE_URL}{task.get_absolute_url()}",
        "owner": (task.owner.get_full_name() or task.owner.get_username()) if task.owner else "",
        "due": timezone.localtime(timer.due_at or event.at, _zone(notification)),
    }


# Line breaks (any Unicode line or paragraph separator) and other control characters.
_BREAKS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def one_line(text: str) -> str:
    """Text fit for a header: line breaks and control characters become single spaces (a
    newline in a header is refused as BadHeaderError, so a title stored before titles were
    validated single-line would otherwise silence every email about its card)."""
    return " ".join(_BREAKS.sub(" ", text).split())


def subject(notification: Notification) -> str:
    if notification.card_event_id is not None:
        return one_line(f"[Turnaround] {notice_words.words(notification).headline}")
    event = notification.event
    task = event.timer.task
    what = {"warning": "At risk", "breach": "SLA breached", "escalation": "Escalation"}
    return one_line(f"[Turnaround] {what.get(event.kind, event.kind)}: #{task.pk} {task.title}")


def email_message(notification: Notification) -> EmailMultiAlternatives:
    """The email for a notification, rendered (reads the card: call where the ORM may be
    used), with its stable Message-ID; sent later with `send_message`."""
    if not notification.address:
        raise DeliveryError("No email address.")
    context = _context(notification)
    # Replies come back as comments when the mail intake runs (tasks.mail_intake).
    context["replies_comment"] = bool(settings.MAIL_INTAKE_ADDRESS)
    key = idempotency_key(notification)
    # Templates show aware times in the current zone: hers while rendering her email.
    with timezone.override(_zone(notification)):
        body = render_to_string("sla/email/notification.txt", context)
        html = render_to_string("sla/email/notification.html", context)
    message = EmailMultiAlternatives(
        subject=subject(notification),
        body=body,
        to=[notification.address],
        headers={
            "Message-ID": message_id(notification),
            "X-Turnaround-Notification": key,
            **thread_headers(context["task"].pk),
        },
    )
    message.attach_alternative(html, "text/html")
    return message


def plural(count: int, word: str) -> str:
    return word if count == 1 else f"{word}s"


def digest_message(notifications: list[Notification]) -> EmailMultiAlternatives:
    """One email gathering a person's held-back notices (sla.preferences: her daily digest),
    oldest first, times in her zone; its Message-ID names the notifications it carries."""
    notes = sorted(notifications, key=lambda n: (n.created_at, n.pk))
    first = notes[0]
    if not first.address:
        raise DeliveryError("No email address.")
    items = [{"subject": subject(n).removeprefix("[Turnaround] "), **_context(n)} for n in notes]
    ids = ",".join(str(n.pk) for n in notes)
    key = f"turnaround-digest-{hashlib.sha256(ids.encode()).hexdigest()[:16]}"
    host = urlsplit(settings.SITE_URL).hostname or "turnaround.invalid"
    zone = recipient_zone(first.recipient)
    context = {"items": items, "zone": zone}
    with timezone.override(zone):
        body = render_to_string("sla/email/digest.txt", context)
        html = render_to_string("sla/email/digest.html", context)
    message = EmailMultiAlternatives(
        subject=f"[Turnaround] Your daily digest: {len(notes)} {plural(len(notes), 'notice')}",
        body=body,
        to=[first.address],
        headers={"Message-ID": f"<{key}@{host}>", "X-Turnaround-Notification": key},
    )
    message.attach_alternative(html, "text/html")
    return message


def send_message(message: EmailMultiAlternatives, connection=None) -> None:
    """Send a rendered email (no database access: safe on a delivery thread)."""
    message.connection = connection
    try:
        message.send()
    except Exception as error:  # SMTP errors come in many classes; all are a failed attempt
        raise DeliveryError(
            f"{type(error).__name__}: {error}", unresponsive=timed_out(error)
        ) from error


def send_email(notification: Notification, connection=None) -> None:
    send_message(email_message(notification), connection)


def slack_escape(text: str) -> str:
    """User text as literal Slack mrkdwn: Slack reads `<...>` as links and mentions
    (`<!channel>`, `<@U123>`, `<http://evil|Open card>`) and asks for exactly these three
    characters to be escaped. With `<` and `>` escaped, a `|` in text cannot start a label."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_link(url: str, label: str) -> str:
    """A link the product puts there: the label is escaped, the URL is ours."""
    return f"<{url}|{slack_escape(label)}>"


def slack_text(notification: Notification) -> str:
    # Every piece of user text goes through slack_escape; only our own link is mrkdwn.
    context = _context(notification)
    link = slack_link(context["url"], f"Open card #{context['task'].pk}")
    if "notice" in context:  # a card notice: what happened, when, and the card
        return (
            f"{slack_escape(one_line(context['notice'].headline))}\n"
            f"{context['when']:%a %d %b %H:%M %Z}\n{link}"
        )
    owner = slack_escape(context["owner"] or "unassigned")
    return (
        f"{slack_escape(subject(notification))}\n"
        f"Owner: {owner} · due {context['due']:%a %d %b %H:%M %Z}\n"
        f"{link}"
    )


def slack_payload(notification: Notification) -> dict:
    """The webhook's JSON body: the text, and the idempotency key as message metadata."""
    return {
        "text": slack_text(notification),
        "metadata": {
            "event_type": "turnaround_notification",
            "event_payload": {"idempotency_key": idempotency_key(notification)},
        },
    }


def send_slack(notification: Notification, session: SlackSession | None = None) -> None:
    payload, key = slack_payload(notification), idempotency_key(notification)
    if session is not None:
        session.post(notification.address, payload, key=key)
        return
    with SlackSession() as session:
        session.post(notification.address, payload, key=key)


@dataclass(frozen=True)
class Answer:
    """What an HTTP receiver answered: status, headers (lower-case names), body."""

    status: int
    headers: dict[str, str]
    body: bytes


class HttpSession:
    """Posts to HTTP receivers (Slack webhooks, outgoing webhooks) over kept-alive
    connections, one per thread and host (a TLS handshake per message would cost more than
    the message). Thread-safe: each thread uses its own connections; `close()` closes them
    all. With a proxy configured for the host (environment), it posts through urllib."""

    def __init__(self, timeout: float | None = None) -> None:
        self._local = threading.local()
        self._lock = threading.Lock()
        self._all: list[http.client.HTTPConnection] = []
        self._ssl = ssl.create_default_context()
        self.timeout = timeout

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            connections, self._all = self._all, []
        for conn in connections:
            conn.close()

    def _timeout(self) -> float:
        return self.timeout if self.timeout is not None else SLACK_TIMEOUT

    def _connection(self, scheme: str, host: str, port: int | None):
        pool = self._local.__dict__.setdefault("connections", {})
        key = (scheme, host, port)
        if key in pool:
            return pool[key], True
        if scheme == "https":
            conn = http.client.HTTPSConnection(
                host, port, timeout=self._timeout(), context=self._ssl
            )
        else:
            conn = http.client.HTTPConnection(host, port, timeout=self._timeout())
        pool[key] = conn
        with self._lock:
            self._all.append(conn)
        return conn, False

    def _drop(self, scheme: str, host: str, port: int | None) -> None:
        conn = self._local.__dict__.get("connections", {}).pop((scheme, host, port), None)
        if conn is not None:
            conn.close()

    @staticmethod
    def parse(url: str):
        """The URL's parts, or DeliveryError for anything but an http(s) URL with a host."""
        try:
            parts = urlsplit(url)
            host = parts.hostname
            parts.port  # noqa: B018 (raises ValueError for a bad port)
        except ValueError as error:
            raise DeliveryError(f"{type(error).__name__}: {error}") from error
        if parts.scheme not in ("http", "https") or not host:
            raise DeliveryError(f"ValueError: not an http(s) webhook URL: {url}")
        return parts

    @staticmethod
    def proxied(host: str) -> bool:
        return bool(urllib.request.getproxies()) and not urllib.request.proxy_bypass(host)

    def send(self, url: str, body: bytes, headers: dict[str, str]) -> Answer:
        """POST `body` with `headers`; the answer, whatever its status. DeliveryError when
        nothing came back (refused, DNS, timeout, TLS; `unresponsive` for a timeout)."""
        parts = self.parse(url)
        host, port = parts.hostname or "", parts.port
        if self.proxied(host):
            return _send_through_urllib(url, body, headers, self._timeout())
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        for attempt in (1, 2):
            conn, reused = self._connection(parts.scheme, host, port)
            try:
                conn.request("POST", path, body=body, headers=headers)
                response = conn.getresponse()
                payload = response.read()
            except Exception as error:  # refused connection, DNS, timeout, TLS
                self._drop(parts.scheme, host, port)
                stale = isinstance(
                    error, (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)
                )
                if reused and stale and attempt == 1:
                    continue  # the server closed our idle kept-alive connection: reconnect
                raise DeliveryError(
                    f"{type(error).__name__}: {error}", unresponsive=timed_out(error)
                ) from error
            break
        answer_headers = {name.lower(): value for name, value in response.getheaders()}
        return Answer(response.status, answer_headers, payload)


def _send_through_urllib(url: str, body: bytes, headers: dict[str, str], timeout: float) -> Answer:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return Answer(
                response.status,
                {k.lower(): v for k, v in response.headers.items()},
                response.read(),
            )
    except urllib.error.HTTPError as error:
        return Answer(error.code, {k.lower(): v for k, v in error.headers.items()}, error.read())
    except Exception as error:  # refused connection, DNS, timeout, TLS, proxy
        raise DeliveryError(
            f"{type(error).__name__}: {error}", unresponsive=timed_out(error)
        ) from error


class SlackSession(HttpSession):
    """Posts to Slack incoming webhooks (HttpSession); with a proxy configured for the host,
    through slack_sdk's urllib client instead, as before."""

    def post(self, url: str, payload: dict, *, key: str = "") -> None:
        """POST `payload` (JSON) to the webhook, with `key` as its Idempotency-Key header."""
        host = self.parse(url).hostname or ""
        if self.proxied(host):
            return _post_through_sdk(url, payload, key)
        headers = {"Content-Type": "application/json;charset=utf-8"}
        if key:
            headers["Idempotency-Key"] = key
        response = self.send(url, json.dumps(payload).encode(), headers)
        if response.status == 429:
            wait = retry_after_seconds(response.headers.get("retry-after"))
            raise DeliveryError(
                f"Slack answered 429: rate limited, retry after {wait:g} s", retry_after=wait
            )
        if response.status != 200:
            text = response.body[:200].decode("utf-8", errors="replace")
            raise DeliveryError(f"Slack answered {response.status}: {text}")


def retry_after_seconds(value: str | None, default: float = 30.0) -> float:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return default
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, (parsedate_to_datetime(value) - timezone.now()).total_seconds())
    except (TypeError, ValueError):
        return default


def timed_out(error: BaseException) -> bool:
    return isinstance(error, (TimeoutError, socket.timeout)) or "timed out" in str(error)


def _post_through_sdk(url: str, payload: dict, key: str) -> None:
    try:
        response = WebhookClient(url, timeout=SLACK_TIMEOUT).send(
            text=payload["text"],
            metadata=payload.get("metadata"),
            headers={"Idempotency-Key": key} if key else None,
        )
    except Exception as error:  # refused connection, DNS, timeout, bad URL
        raise DeliveryError(
            f"{type(error).__name__}: {error}", unresponsive=timed_out(error)
        ) from error
    if response.status_code == 429:
        header = {k.lower(): v for k, v in (response.headers or {}).items()}.get("retry-after")
        wait = retry_after_seconds(header[0] if isinstance(header, list) else header)
        raise DeliveryError(
            f"Slack answered 429: rate limited, retry after {wait:g} s", retry_after=wait
        )
    if response.status_code != 200:
        raise DeliveryError(f"Slack answered {response.status_code}: {response.body[:200]}")


def mail_connection():
    return get_connection()


def open_mail_connection():
    """A mail backend connection opened once for many messages (one SMTP session)."""
    connection = get_connection()
    try:
        connection.open()
    except Exception as error:  # refused, TLS, authentication
        raise DeliveryError(
            f"{type(error).__name__}: {error}", unresponsive=timed_out(error)
        ) from error
    return connection
