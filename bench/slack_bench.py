"""Benchmark the Slack app's endpoint (POST /integrations/slack/events/): how long Slack waits
for our answer. Slack gives 3 seconds; the target is p95 ≤ 300 ms.

    .venv/bin/python bench/slack_bench.py                       # 200 requests of each kind
    .venv/bin/python bench/slack_bench.py --runs 500 --db postgres://postgres@127.0.0.1:5432/slack_bench

It creates (if missing) and migrates its own database (--db, a name containing "bench"),
adds a performer with a Slack mapping and a request type, starts a local fake of Slack's Web
API (answers views.open and users.info, as the real endpoint may call them before answering)
and `gunicorn config.wsgi -w 2` with production settings (DEBUG=false, the ORM job queue, no
cluster: jobs are enqueued and left; the bench deletes them at the end), then posts requests
signed with the bench's secret, one at a time over a kept-alive connection, --runs of each
kind after --warmup, and prints median and p95 of the time to the answer as a Markdown table
(paste into docs/performance.md). Loopback only; every loop is bounded by --runs.

Kinds: `/turnaround help` (answered inline), `/turnaround new <title>` (verified, recorded,
job enqueued), a button click (likewise), a modal submission (its fields checked, then a job)
and the make_card shortcut (the modal opened with views.open before answering).
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import http.client
import json
import os
import socket
import statistics
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
PYTHON = str(ROOT / ".venv" / "bin" / "python")
GUNICORN = str(ROOT / ".venv" / "bin" / "gunicorn")
SECRET = "bench-secret"
TEAM = "T0BENCH"
PATH = "/integrations/slack/events/"

SETUP = """
from django.contrib.auth.models import User
from django.utils import timezone
from sla.models import SlackUser
from tasks.models import RequestType
from tasks.roles import ensure_role_groups
user, _ = User.objects.get_or_create(
    username="bench-paula", defaults={"email": "paula@bench.example"}
)
user.groups.add(ensure_role_groups()["performer"])
RequestType.objects.get_or_create(name="Bench request")
SlackUser.objects.update_or_create(
    team_id="T0BENCH", slack_id="U1",
    defaults={"user": user, "email": user.email, "checked_at": timezone.now()},
)
print(RequestType.objects.get(name="Bench request").pk)
"""


def ensure_database(url: str) -> None:
    import psycopg

    base, _, name = url.rpartition("/")
    if "bench" not in name:
        raise SystemExit("--db must name a database containing 'bench'")
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def fake_slack() -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0) or 0))
            body = json.dumps({"ok": True}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _answer

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not listen on 127.0.0.1:{port} within {timeout} s")


def signed(body: bytes) -> dict:
    timestamp = str(int(time.time()))
    digest = hmac.new(SECRET.encode(), f"v0:{timestamp}:".encode() + body, hashlib.sha256)
    return {
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": f"v0={digest.hexdigest()}",
        "Content-Type": "application/x-www-form-urlencoded",
    }


def bodies(kind: str, n: int, request_type: int) -> bytes:
    """The n-th request of a kind (each different: a replay would be refused)."""
    if kind.startswith("/turnaround"):
        text = "help" if kind.endswith("help") else f"new Bench card {n}"
        return urlencode({
            "command": "/turnaround", "text": text, "team_id": TEAM, "user_id": "U1",
            "channel_id": "C1", "trigger_id": f"bench-{n}", "response_url": "",
        }).encode()  # fmt: skip
    if kind == "button click":
        payload = {
            "type": "block_actions", "team": {"id": TEAM}, "user": {"id": "U1"},
            "actions": [{"action_id": "card_take", "value": str(n)}], "response_url": "",
        }  # fmt: skip
    elif kind == "modal submission":
        values = {
            "title": {"title": {"value": f"Bench card {n}"}},
            "request_type": {"request_type": {"selected_option": {"value": str(request_type)}}},
            "priority": {"priority": {"selected_option": {"value": "normal"}}},
            "owner": {"owner": {"selected_option": {"value": "none"}}},
        }
        payload = {
            "type": "view_submission", "team": {"id": TEAM}, "user": {"id": "U1"},
            "view": {"id": f"V{n}", "callback_id": "make_card", "private_metadata": "{}",
                     "state": {"values": values}},
        }  # fmt: skip
    else:  # the shortcut
        payload = {
            "type": "message_action", "callback_id": "make_card", "trigger_id": f"t{n}",
            "team": {"id": TEAM}, "user": {"id": "U1"}, "channel": {"id": "C1"},
            "message": {"ts": f"1700000000.{n:06d}", "text": f"Please send the quote {n}"},
        }  # fmt: skip
    return urlencode({"payload": json.dumps(payload)}).encode()


KINDS = [
    "/turnaround help",
    "/turnaround new <title>",
    "button click",
    "modal submission",
    "make_card shortcut (views.open)",
]


def measure(port: int, kind: str, runs: int, warmup: int, request_type: int) -> list[float]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    times = []
    for n in range(runs + warmup):
        body = bodies(kind, n + hash(kind) % 100000 * 1000, request_type)
        started = time.perf_counter()
        conn.request("POST", PATH, body=body, headers=signed(body))
        response = conn.getresponse()
        response.read()
        took = time.perf_counter() - started
        if response.status != 200:
            raise RuntimeError(f"{kind}: HTTP {response.status}")
        if n >= warmup:
            times.append(took * 1000)
    conn.close()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="postgres://postgres@127.0.0.1:5432/slack_bench")
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    args = parser.parse_args()
    ensure_database(args.db)
    fake = fake_slack()
    port = free_port()
    env = {
        **os.environ, "DATABASE_URL": args.db, "DEBUG": "false", "SECRET_KEY": "slack-bench",
        "ALLOWED_HOSTS": "*", "SECURE_SSL_REDIRECT": "false", "LOG_LEVEL": "WARNING",
        "Q_SYNC": "false", "SLACK_BOT_TOKEN": "xoxb-bench", "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": f"http://127.0.0.1:{fake.server_address[1]}/api/",
        "SLACK_TEAM_IDS": TEAM,
    }  # fmt: skip
    subprocess.run(
        [PYTHON, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env={**env, "DEBUG": "true"},
        check=True,
    )  # fmt: skip
    out = subprocess.run(
        [PYTHON, "manage.py", "shell", "-c", SETUP], cwd=ROOT, env={**env, "DEBUG": "true"},
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    request_type = int(out.strip().splitlines()[-1])
    print(f"load average before: {os.getloadavg()[0]:.1f}")
    server = subprocess.Popen(
        [GUNICORN, "config.wsgi", "-w", "2", "-b", f"127.0.0.1:{port}", "--log-level", "warning"],
        cwd=ROOT,
        env=env,
    )
    results = {}
    try:
        wait_for_port(port)
        for kind in KINDS:
            results[kind] = measure(port, kind, args.runs, args.warmup, request_type)
    finally:
        server.terminate()
        server.wait(timeout=30)
        fake.shutdown()
        subprocess.run(
            [PYTHON, "manage.py", "shell", "-c",
             "from django_q.models import OrmQ; from sla.models import SlackRequest; "
             "OrmQ.objects.all().delete(); SlackRequest.objects.all().delete()"],
            cwd=ROOT, env={**env, "DEBUG": "true"}, check=True,
        )  # fmt: skip
    print(f"load average after: {os.getloadavg()[0]:.1f}\n")
    print(f"| Request ({args.runs} each) | Median | p95 | Max |")
    print("|---|---:|---:|---:|")
    for kind, times in results.items():
        p95 = statistics.quantiles(times, n=20)[-1]
        median = statistics.median(times)
        print(f"| {kind} | {median:.1f} ms | **{p95:.1f} ms** | {max(times):.1f} ms |")


if __name__ == "__main__":
    main()
