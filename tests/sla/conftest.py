"""Shared parts for the scan and delivery tests: calendars, a policy with targets and
escalation rules, cards made through the action layer, and real loopback servers that stand
in for Slack (HTTP) and the mail relay (SMTP).

Instants are written in Berlin local time. 2026-11-20 is a Friday, 2026-11-23 a Monday.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from zoneinfo import ZoneInfo

import pytest
import time_machine
from aiosmtpd.controller import Controller

from sla import jobs
from sla.models import (
    BusinessCalendar,
    EscalationRule,
    PolicyMode,
    SlaPolicy,
    SlaTarget,
    SlaTimer,
    TimerKind,
    WorkingInterval,
)
from tasks import actions
from tasks.models import Priority, Task
from tests.sla.slack_fake import slack_api  # noqa: F401 (the Slack app's fake Web API)

BERLIN = ZoneInfo("Europe/Berlin")
M = timedelta(minutes=1)
H = timedelta(hours=1)
FRI = (2026, 11, 20)
MON = (2026, 11, 23)

Trigger = EscalationRule.Trigger
Clock = EscalationRule.Clock


def berlin(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN)


# Tests that share the database with other processes or connections (tests/conftest.py
# skips them on SQLite and lists them in the run's summary).
shares_the_database = pytest.mark.postgresql(
    reason="the SQLite test database is in memory and cannot be shared with other processes "
    "or concurrent connections"
)
# Tests of the scan's set-based path (sla/sql/scan_batch.sql).
set_based_scan = pytest.mark.postgresql(reason="the set-based scan path exists on PostgreSQL only")


def free_port() -> int:
    """A loopback port nothing listens on (bound, read and released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --------------------------------------------------------------------------- calendars


@pytest.fixture
def office(db) -> BusinessCalendar:
    """Mon-Fri 09:00-17:00 in Berlin."""
    calendar = BusinessCalendar.objects.create(name="Berlin office", timezone="Europe/Berlin")
    for weekday in range(5):
        WorkingInterval.objects.create(
            calendar=calendar, weekday=weekday, start=time(9), end=time(17)
        )
    return calendar


@pytest.fixture
def round_the_clock(db) -> BusinessCalendar:
    return BusinessCalendar.objects.create(name="24/7", timezone="Europe/Berlin", always_open=True)


@pytest.fixture
def berlin_office(db) -> BusinessCalendar:
    """Mon-Fri 09:00-13:00 and 14:00-18:00, Europe/Berlin."""
    calendar = BusinessCalendar.objects.create(name="Berlin office", timezone="Europe/Berlin")
    for weekday in range(5):
        for start, end in ((time(9), time(13)), (time(14), time(18))):
            WorkingInterval.objects.create(calendar=calendar, weekday=weekday, start=start, end=end)
    return calendar


# --------------------------------------------------------------------------- policy, rules


@pytest.fixture
def make_policy(request_type) -> Callable[..., SlaPolicy]:
    """A policy for the `request_type` cards with the same targets for every priority."""

    def make(
        calendar: BusinessCalendar,
        *,
        response: timedelta | None = None,
        resolution: timedelta | None = H,
        warn_pct: int | None = 75,
        mode: PolicyMode = PolicyMode.ENFORCE,
        name: str = "Sales leads",
    ) -> SlaPolicy:
        policy_ = SlaPolicy.objects.create(
            name=name, calendar=calendar, order=10, request_type=request_type, mode=mode
        )
        for priority in Priority:
            SlaTarget.objects.create(
                policy=policy_,
                priority=priority,
                response_target=response,
                resolution_target=resolution,
                warn_pct=warn_pct,
            )
        return policy_

    return make


@pytest.fixture
def make_rule() -> Callable[..., EscalationRule]:
    """An escalation rule, validated like the admin form would (full_clean)."""

    def make(policy_: SlaPolicy, trigger: Trigger, **fields) -> EscalationRule:
        rule = EscalationRule(policy=policy_, trigger=trigger, **fields)
        rule.full_clean()
        rule.save()
        return rule

    return make


@pytest.fixture
def new_card(request_type, dispatcher, performer) -> Callable[..., Task]:
    """A card created through the action layer at `at`, owned by the performer."""

    def make(
        at: datetime, *, priority=Priority.NORMAL, owner=performer, title="Quote for 40 desks"
    ):
        return actions.create_task(
            title=title,
            request_type=request_type,
            priority=priority,
            actor=dispatcher,
            owner=owner,
            at=at,
        )

    return make


def timer_of(task: Task, kind: TimerKind = TimerKind.RESOLUTION, cycle: int = 1) -> SlaTimer:
    return SlaTimer.objects.get(task=task, kind=kind, cycle=cycle)


def scan(now: datetime, **kwargs) -> int:
    """One run of the scan job at `now`, with the clock stopped there for everything that
    reads it (delivery runs inline in the tests' sync mode and stamps with the clock)."""
    with time_machine.travel(now, tick=False):
        return jobs.scan_due_timers(now=now, **kwargs)


def deliver(now: datetime) -> int:
    with time_machine.travel(now, tick=False):
        return jobs.send_pending_notifications(now=now)


# --------------------------------------------------------------------------- Slack stand-in


@dataclass
class Hook:
    path: str
    body: dict
    client_port: int = 0  # one per TCP connection: tells kept-alive connections apart
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class SlackServer:
    """A local HTTP/1.1 server answering like Slack incoming webhooks (200 "ok", connections
    kept alive), recording every POST. `status[path] = 500` makes one webhook fail;
    `headers[path]` adds response headers (e.g. Retry-After)."""

    base_url: str
    requests: list[Hook] = field(default_factory=list)
    status: dict[str, int] = field(default_factory=dict)
    delay: dict[str, float] = field(default_factory=dict)  # seconds before answering
    headers: dict[str, dict[str, str]] = field(default_factory=dict)

    def url(self, path: str = "/hook") -> str:
        return f"{self.base_url}{path}"

    def posts_to(self, path: str) -> list[Hook]:
        return [r for r in self.requests if r.path == path]


@pytest.fixture
def slack_server() -> Iterator[SlackServer]:
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            body = json.loads(self.rfile.read(length) or b"{}")
            with lock:
                server.requests.append(
                    Hook(self.path, body, self.client_address[1], dict(self.headers.items()))
                )
                status = server.status.get(self.path, 200)
                delay = server.delay.get(self.path, 0)
                extra = server.headers.get(self.path, {})
            threading.Event().wait(delay)
            payload = b"ok" if status == 200 else b"internal_error"
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in extra.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler, bind_and_activate=False)
    # The default listen backlog (5) drops connects beyond it; delivery posts from up to
    # delivery.SLACK_WORKERS threads at once.
    httpd.request_queue_size = 64
    httpd.server_bind()
    httpd.server_activate()
    server = SlackServer(base_url=f"http://127.0.0.1:{httpd.server_address[1]}")
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


# --------------------------------------------------------------------------- SMTP stand-in


@dataclass
class SmtpReceiver:
    port: int
    messages: list[tuple[list[str], EmailMessage]] = field(default_factory=list)
    sessions: int = 0  # EHLOs: one per SMTP connection

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        self.sessions += 1
        return responses

    async def handle_DATA(self, server, session, envelope) -> str:
        message = message_from_bytes(envelope.original_content, policy=policy.default)
        self.messages.append((list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_receiver() -> Iterator[SmtpReceiver]:
    receiver = SmtpReceiver(port=free_port())
    controller = Controller(receiver, hostname="127.0.0.1", port=receiver.port)
    controller.start()
    try:
        yield receiver
    finally:
        controller.stop()


# --------------------------------------------------------------------------- a hung receiver


@dataclass
class SilentServer:
    """A loopback TCP server that accepts every connection, reads what comes and never
    answers: a hung webhook (HTTP) or a hung mail relay (SMTP, no greeting)."""

    port: int
    connections: int = 0

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@pytest.fixture
def silent_server() -> Iterator[SilentServer]:
    listener = socket.create_server(("127.0.0.1", 0), backlog=64)
    listener.settimeout(0.2)
    server = SilentServer(port=listener.getsockname()[1])
    stop = threading.Event()
    held: list[socket.socket] = []

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            server.connections += 1
            held.append(conn)  # kept open, never answered

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()
        for conn in held:
            conn.close()
