"""Benchmark sla.jobs.send_pending_notifications: Slack, email and webhook delivery rate on
loopback.

How to run (same dedicated database as bench/scan_bench.py; it is reset):

    export DATABASE_URL=postgres://postgres@127.0.0.1:5432/turnaround_bench
    export DEBUG=false SECRET_KEY=bench ALLOWED_HOSTS='*'
    .venv/bin/python bench/delivery_bench.py --count 5000

What it does, all on 127.0.0.1 and bounded by --count:
  1. starts a Slack stand-in (ThreadingHTTPServer answering every POST with 200 "ok", in a
     process of its own) and an SMTP receiver (aiosmtpd, accepts and drops every message),
     and points EMAIL_URL at it;
  2. `bench/generate_timers.py --reset --open N --due N --slack-webhook http://127.0.0.1:…/`,
     one outgoing webhook endpoint (Standard Webhooks, signed) subscribed to timer.breached on
     the same stand-in, and one `scan_due_timers` run: N breaches, each with a pending email to
     the card's owner, a pending Slack message and a pending webhook (plus an in-app row, sent
     at once, not delivered);
  3. times `send_pending_notifications` three times: the Slack rows alone (the email and
     webhook rows are parked ahead), then the email rows, then the webhooks (bodies built,
     signed, posted); prints notifications/s per channel, SQL queries, and what the receivers
     got (HTTP requests, SMTP sessions and messages).

    --profile FILE          cProfile both delivery runs (top functions by cumulative and own time)
    --slack-latency-ms MS   the stand-in answers after MS (Slack is ~100 ms away, not 0)
    --keep-alive            the stand-in keeps HTTP/1.1 connections open, as Slack does
    --slack-workers N       set sla.delivery.SLACK_WORKERS in this process (default: as shipped)
    --slack-hangs           isolation: the Slack stand-in accepts connections and never answers;
                            delivery runs as the scheduler starts it (every 60 s, or at once if
                            a run took longer) until every email has arrived or 2 minutes have
                            passed; prints when the last email arrived, each run, and what
                            became of the Slack rows (tried and timed out, held, untried)
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import multiprocessing
import os
import pstats
import socket
import sys
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from aiosmtpd.controller import Controller

S = timedelta(seconds=1)

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


# Shared with the Slack stand-in's process (forked before Django starts).
HTTP_REQUESTS = multiprocessing.get_context("fork").Value("q", 0)


class SlackStandIn(BaseHTTPRequestHandler):
    """Answers like a Slack incoming webhook: 200 and the body "ok" (after `latency` s)."""

    latency = 0.0
    # Headers and body in one segment, sent at once (Slack's servers do not leave the body
    # to Nagle's algorithm, which with a kept-alive connection waits for the delayed ACK).
    wbufsize = -1
    disable_nagle_algorithm = True

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with HTTP_REQUESTS.get_lock():
            HTTP_REQUESTS.value += 1
        if self.latency:
            time.sleep(self.latency)
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args) -> None:
        pass


class SmtpSink:
    """aiosmtpd handler: counts SMTP sessions (EHLO) and messages, keeps nothing but the
    time the last message arrived (time.perf_counter)."""

    def __init__(self) -> None:
        self.sessions = 0
        self.messages = 0
        self.last_at = 0.0

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        self.sessions += 1
        return responses

    async def handle_DATA(self, server, session, envelope) -> str:
        self.messages += 1
        self.last_at = time.perf_counter()
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_slack(port, latency: float, keep_alive: bool) -> None:
    SlackStandIn.latency = latency
    SlackStandIn.protocol_version = "HTTP/1.1" if keep_alive else "HTTP/1.0"
    http = ThreadingHTTPServer(("127.0.0.1", 0), SlackStandIn, bind_and_activate=False)
    http.daemon_threads = True
    http.request_queue_size = 128  # the default backlog (5) drops the 6th concurrent connect
    http.server_bind()
    http.server_activate()
    port.value = http.server_address[1]
    http.serve_forever()


def serve_silence(port) -> None:
    """A hung webhook: accepts every connection, never reads or answers (counts connections)."""
    listener = socket.create_server(("127.0.0.1", 0), backlog=128)
    port.value = listener.getsockname()[1]
    held = []
    while True:
        conn, _ = listener.accept()
        held.append(conn)
        with HTTP_REQUESTS.get_lock():
            HTTP_REQUESTS.value += 1


def start_receivers(latency: float, keep_alive: bool, hangs: bool = False):
    """The Slack stand-in in a process of its own (as Slack is: sharing this process's GIL
    would slow the delivery threads down), the SMTP sink on a thread here."""
    context = multiprocessing.get_context("fork")
    port = context.Value("i", 0)
    if hangs:
        slack = context.Process(target=serve_silence, args=(port,), daemon=True)
    else:
        slack = context.Process(target=serve_slack, args=(port, latency, keep_alive), daemon=True)
    slack.start()
    while not port.value:
        time.sleep(0.01)
    sink = SmtpSink()
    smtp = Controller(sink, hostname="127.0.0.1", port=free_port())
    smtp.start()
    return slack, port.value, smtp, sink


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=5000, help="breaches (one email + one Slack)")
    parser.add_argument("--profile", metavar="FILE")
    parser.add_argument(
        "--slack-latency-ms", type=float, default=0,
        help="the Slack stand-in waits this long before answering (network + Slack)",
    )  # fmt: skip
    parser.add_argument(
        "--keep-alive", action="store_true",
        help="the Slack stand-in speaks HTTP/1.1 and keeps connections open (as Slack does)",
    )  # fmt: skip
    parser.add_argument("--slack-workers", type=int, help="override sla.delivery.SLACK_WORKERS")
    parser.add_argument(
        "--slack-hangs", action="store_true",
        help="the Slack stand-in never answers: are the emails delivered meanwhile?",
    )  # fmt: skip
    args = parser.parse_args()

    slack, slack_port, smtp, sink = start_receivers(
        args.slack_latency_ms / 1000, args.keep_alive, hangs=args.slack_hangs
    )
    webhook = f"http://127.0.0.1:{slack_port}/services/bench"
    os.environ["EMAIL_URL"] = f"smtp://127.0.0.1:{smtp.port}"
    os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"  # loopback only
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ["Q_SYNC"] = "false"

    import django

    django.setup()

    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from bench.generate import timers
    from sla import delivery
    from sla.admin.webhooks import new_secret
    from sla.jobs import scan_due_timers, send_pending_notifications
    from sla.models import Channel, Notification, WebhookEndpoint

    if connection.vendor != "postgresql":
        sys.exit("Set DATABASE_URL to a PostgreSQL database (e.g. …/turnaround_bench).")
    n = args.count
    timers.generate(open_timers=n, due=n, reset=True, slack_webhook=webhook)
    WebhookEndpoint.objects.all().delete()
    WebhookEndpoint.objects.create(
        name="bench", url=f"http://127.0.0.1:{slack_port}/webhooks/bench", secret=new_secret(),
        event_kinds=[WebhookEndpoint.EventKind.TIMER_BREACHED],
    )  # fmt: skip
    fired = scan_due_timers(now=timezone.now())
    pending = Notification.objects.filter(state=Notification.State.PENDING)
    print(
        f"scan fired {fired:,} breaches; pending: "
        f"{pending.filter(channel=Channel.SLACK).count():,} Slack, "
        f"{pending.filter(channel=Channel.EMAIL).count():,} email, "
        f"{pending.filter(channel=Channel.WEBHOOK).count():,} webhook"
    )
    if args.slack_hangs:
        hung_slack(n, sink, pending, send_pending_notifications, slack, smtp)
        return
    # Park the email and webhook rows so the first run delivers Slack alone, the second email.
    pending.filter(channel=Channel.EMAIL).update(next_attempt_at=timezone.now() + timedelta(days=1))
    pending.filter(channel=Channel.WEBHOOK).update(
        next_attempt_at=timezone.now() + timedelta(days=3)
    )
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE sla_notification")

    if args.slack_workers:
        delivery.SLACK_WORKERS = args.slack_workers
    workers = delivery.SLACK_WORKERS
    print(
        f"Slack workers: {workers}; stand-in latency {args.slack_latency_ms:g} ms, "
        f"keep-alive {'on' if args.keep_alive else 'off'}"
    )
    print("load average before the runs: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    profiler = cProfile.Profile() if args.profile else None
    rows = []
    for channel, now in (
        (Channel.SLACK, timezone.now()),
        (Channel.EMAIL, timezone.now() + timedelta(days=2)),
        (Channel.WEBHOOK, timezone.now() + timedelta(days=4)),
    ):
        received_before = (HTTP_REQUESTS.value, sink.sessions, sink.messages)
        connection.queries_log.clear()  # the log keeps 9,000 queries; count from empty
        with CaptureQueriesContext(connection) as ctx:
            if profiler:
                profiler.enable()
            started = time.perf_counter()
            sent = send_pending_notifications(now=now)
            wall = time.perf_counter() - started
            if profiler:
                profiler.disable()
        failed = Notification.objects.filter(channel=channel, state=Notification.State.FAILED)
        errors = list(failed.values_list("last_error", flat=True)[:3])
        received = (
            HTTP_REQUESTS.value - received_before[0]
            if channel != Channel.EMAIL
            else sink.messages - received_before[2]
        )
        sessions = "-" if channel != Channel.EMAIL else f"{sink.sessions - received_before[1]:,}"
        rows.append(
            f"| {channel.label} | {sent:,} | {received:,} | {sessions} | {wall:,.2f} "
            f"| {sent / wall:,.0f} | {len(ctx.captured_queries):,} | {failed.count():,} |"
        )
        if errors:
            print(f"{channel.label} errors, e.g.: {errors}")

    print(
        "\n| Channel | Sent | Received | SMTP sessions | Wall s | Notifications/s "
        "| Queries | Failed |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    print("\n".join(rows))
    if profiler:
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats("cumulative").print_stats(35)
        stats.sort_stats("tottime").print_stats(25)
        Path(args.profile).write_text(out.getvalue())
        print(f"profile written to {args.profile}")

    stop_receivers(slack, smtp)


def stop_receivers(slack, smtp) -> None:
    slack.terminate()
    slack.join()
    smtp.stop()
    asyncio.set_event_loop(None)


def hung_slack(n: int, sink: SmtpSink, pending, deliver, slack, smtp) -> None:
    """Runs as the scheduler would start them (every 60 s) while the Slack stand-in hangs,
    until all n emails have arrived or 2 minutes have passed. The Slack rows are first in
    line (due a minute before the emails), as rows handed back by earlier runs are."""
    from django.db.models import Count, F

    from sla.models import Channel, DeliveryHold, Notification

    limit, period = 120.0, 60.0
    pending.filter(channel=Channel.SLACK).update(next_attempt_at=F("next_attempt_at") - 60 * S)
    print(f"Slack stand-in hangs (never answers), its rows first in line; {n:,} emails pending")
    print("load average before the runs: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    started = time.perf_counter()
    runs = []
    while sink.messages < n and time.perf_counter() - started < limit:
        run_started = time.perf_counter()
        sent = deliver()
        runs.append((run_started - started, time.perf_counter() - run_started, sent))
        if sink.messages >= n:
            break
        time.sleep(max(0.0, run_started + period - time.perf_counter()))
    print("\n| Run | Started at | Wall s | Sent (email + Slack) |")
    print("|---:|---:|---:|---:|")
    for number, (at, wall, sent) in enumerate(runs, 1):
        print(f"| {number} | {at:,.2f} s | {wall:,.2f} | {sent:,} |")
    arrived = sink.last_at - started if sink.messages else float("nan")
    print(f"\nemails received: {sink.messages:,} of {n:,}; the last {arrived:,.2f} s in")
    rows = Notification.objects.filter(channel=Channel.SLACK).values("state", "attempts")
    states = rows.annotate(n=Count("id")).order_by("state", "attempts")
    print(
        "Slack rows: "
        + ", ".join(f"{r['n']:,} {r['state']} after {r['attempts']} attempt(s)" for r in states)
    )
    now = timezone_now()
    holds = [f"until +{(h.until - now).total_seconds():,.0f} s" for h in DeliveryHold.objects.all()]
    print(f"connections the hung webhook accepted: {HTTP_REQUESTS.value:,}; holds: {holds}")
    stop_receivers(slack, smtp)


def timezone_now():
    from django.utils import timezone

    return timezone.now()


if __name__ == "__main__":
    main()
