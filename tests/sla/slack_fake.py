"""A local stand-in for Slack's Web API (a real HTTP server on a loopback port, in a thread)
that records every call, and requests signed like Slack signs them, with the test secret.

`slack_api` answers the Web API methods the app calls (POST or GET /api/<method>, form,
query or JSON arguments) and takes `response_url` posts at /respond/<n>. `users` maps a
Slack user id to the email `users.info` gives; `errors[method]` (or `errors["method@channel"]`
for one channel) makes a method answer `{"ok": false, "error": …}`; `limited[method] = s`
makes it answer HTTP 429 with `Retry-After: s`.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from django.test import Client, override_settings

SECRET = "test-signing-secret"
TEAM = "T0TEST"
URL = "/integrations/slack/events/"


@dataclass
class Call:
    method: str  # Web API method ("chat.postMessage") or "respond"
    args: dict
    path: str


@dataclass
class FakeSlack:
    base_url: str
    calls: list[Call] = field(default_factory=list)
    users: dict[str, str] = field(default_factory=dict)  # Slack id -> email
    errors: dict[str, str] = field(default_factory=dict)
    limited: dict[str, int] = field(default_factory=dict)
    _ts: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def of(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def response_url(self, n: int = 1) -> str:
        return f"{self.base_url}/respond/{n}"

    def answer(self, method: str, args: dict) -> dict:
        for key in (f"{method}@{args.get('channel', '')}", method):
            if key in self.errors:
                return {"ok": False, "error": self.errors[key]}
        if method == "users.info":
            user = args.get("user", "")
            if user not in self.users:
                return {"ok": False, "error": "user_not_found"}
            return {"ok": True, "user": {"id": user, "profile": {"email": self.users[user]}}}
        if method == "users.lookupByEmail":
            found = [uid for uid, email in self.users.items() if email == args.get("email")]
            if not found:
                return {"ok": False, "error": "users_not_found"}
            return {"ok": True, "user": {"id": found[0], "team_id": TEAM}}
        if method == "chat.getPermalink":
            channel, ts = args.get("channel", ""), args.get("message_ts", "")
            return {"ok": True, "permalink": f"https://acme.slack.com/archives/{channel}/p{ts}"}
        if method in ("chat.postMessage", "chat.update"):
            return {
                "ok": True,
                "channel": args.get("channel"),
                "ts": f"1700000{next(self._ts)}.0001",
            }
        if method == "conversations.open":
            return {"ok": True, "channel": {"id": "D" + str(args.get("users", ""))}}
        return {"ok": True}


@pytest.fixture
def slack_api() -> Iterator[FakeSlack]:
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _handle(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length", 0) or 0)
            raw = self.rfile.read(length) if length else b""
            args: dict = dict(parse_qsl(parts.query))
            if raw:
                if "json" in (self.headers.get("Content-Type") or ""):
                    args.update(json.loads(raw))
                else:
                    args.update(parse_qsl(raw.decode()))
            for key in ("blocks", "metadata", "view"):
                if isinstance(args.get(key), str):
                    args[key] = json.loads(args[key])
            if parts.path.startswith("/respond/"):
                method, body = "respond", b"ok"
                content_type = "text/plain"
            else:
                method = parts.path.rsplit("/", 1)[-1]
                with lock:
                    answer = fake.answer(method, args)
                body, content_type = json.dumps(answer).encode(), "application/json"
            with lock:
                fake.calls.append(Call(method, args, parts.path))
                wait = fake.limited.get(method)
            if wait is not None:
                body = json.dumps({"ok": False, "error": "ratelimited"}).encode()
            self.send_response(200 if wait is None else 429)
            if wait is not None:
                self.send_header("Retry-After", str(wait))
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _handle

        def log_message(self, *args) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake = FakeSlack(base_url=f"http://127.0.0.1:{httpd.server_address[1]}")
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    with override_settings(
        SLACK_BOT_TOKEN="xoxb-test",
        SLACK_SIGNING_SECRET=SECRET,
        SLACK_API_URL=f"{fake.base_url}/api/",
        SLACK_TEAM_IDS=[TEAM],
        SLACK_DEFAULT_REQUEST_TYPE="",
    ):
        try:
            yield fake
        finally:
            httpd.shutdown()
            httpd.server_close()
            thread.join(timeout=5)


def signed_headers(body: bytes, *, secret: str = SECRET, at: float | None = None) -> dict:
    timestamp = str(int(at if at is not None else time.time()))
    digest = hmac.new(secret.encode(), f"v0:{timestamp}:".encode() + body, hashlib.sha256)
    return {
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": f"v0={digest.hexdigest()}",
    }


FORM = "application/x-www-form-urlencoded"


def post(client: Client, body: bytes, headers: dict | None = None, *, content_type: str = FORM):
    """POST a body to the endpoint as Slack would (signed with the test secret by default)."""
    return client.post(
        URL,
        data=body,
        content_type=content_type,
        headers=signed_headers(body) if headers is None else headers,
    )


def command_body(text: str, *, user: str = "U1", trigger: str = "trig-1", response_url: str = "",
                 team: str = TEAM) -> bytes:  # fmt: skip
    return urlencode({
        "command": "/turnaround", "text": text, "team_id": team, "user_id": user,
        "channel_id": "C1", "trigger_id": trigger, "response_url": response_url,
    }).encode()  # fmt: skip


def interaction_body(payload: dict) -> bytes:
    return urlencode({"payload": json.dumps(payload)}).encode()
