"""Outgoing webhooks (sla.webhooks, sla.webhook_messages, sla.delivery.WebhookLane) against a
real HTTP receiver on loopback that verifies every signature with the standardwebhooks
package, as a receiver would.

Default policy: 24/7, resolution 60 min; a card created Monday 10:00 breaches at 11:00.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import time_machine
from django.db import transaction
from standardwebhooks.webhooks import Webhook

from sla import delivery, jobs
from sla.models import Channel, DeliveryHold, Notification, WebhookEndpoint
from tasks import actions
from tasks.models import Status
from tests.factories import TeamFactory
from tests.sla.conftest import MON, M, berlin, free_port, scan, set_based_scan

pytestmark = pytest.mark.django_db

T0 = berlin(*MON, 10)
BREACHED = T0 + 61 * M
S = timedelta(seconds=1)
State = Notification.State
Kind = WebhookEndpoint.EventKind
SECRET = "whsec_" + base64.b64encode(b"a test secret of 32 bytes long!!").decode()


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    raw: bytes
    body: dict | None  # verified and parsed (None: the signature did not verify)
    status: int


@dataclass
class Receiver:
    """A loopback webhook receiver: verifies each POST with standardwebhooks and answers
    `status[path]` (200 by default)."""

    port: int
    requests: list[Received] = field(default_factory=list)
    status: dict[str, int] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def delivered(self, path: str = "/hook") -> list[Received]:
        return [r for r in self.requests if r.path == path and r.status < 300]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            headers = {k.lower(): v for k, v in self.headers.items()}
            secret = server.secrets.get(self.path, SECRET)
            try:
                body = Webhook(secret).verify(raw, headers)
            except Exception:
                body = None
            with lock:
                status = server.status.get(self.path, 200 if body is not None else 401)
                server.requests.append(Received(self.path, headers, raw, body, status))
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server = Receiver(port=httpd.server_address[1])
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@pytest.fixture
def policy(round_the_clock, make_policy):
    return make_policy(round_the_clock, response=15 * M)


def endpoint(url: str, kinds=tuple(Kind.values), **fields) -> WebhookEndpoint:
    return WebhookEndpoint.objects.create(
        name=fields.pop("name", url), url=url, secret=fields.pop("secret", SECRET),
        event_kinds=list(kinds), **fields,
    )  # fmt: skip


def deliver(now) -> int:
    with time_machine.travel(now, tick=False):
        return jobs.send_pending_notifications(now=now)


@pytest.fixture
def quietly(receiver):
    """Write as `write` does, then undo what the tests' inline delivery (sync mode) did: the
    webhook rows pending and due at T0 again, no hold, the receiver's log empty."""

    def run(write):
        with transaction.atomic():
            result = write()
            Notification.objects.filter(channel=Channel.WEBHOOK).update(
                state=State.PENDING, attempts=0, last_error="", next_attempt_at=T0
            )
            DeliveryHold.objects.all().delete()
        receiver.requests.clear()
        return result

    return run


def hooks(**filters) -> list[Notification]:
    return list(Notification.objects.filter(channel=Channel.WEBHOOK, **filters).order_by("pk"))


def test_a_breach_reaches_the_endpoint_signed_per_standard_webhooks(
    policy, new_card, receiver, quietly
):
    endpoint(receiver.url(), kinds=[Kind.TIMER_BREACHED])
    card = quietly(lambda: new_card(T0, title="Quote for 40 desks"))
    quietly(lambda: scan(BREACHED))
    # Its response timer (15 min) and its resolution timer (60 min) both breached.
    assert [n.recipient_key.split(":")[2] for n in hooks()] == ["timer.breached"] * 2

    assert deliver(BREACHED + S) == 2

    (got,) = [r for r in receiver.delivered() if r.body["data"]["timer"]["kind"] == "resolution"]
    assert got.body is not None  # the standardwebhooks package verified the signature
    assert got.headers["content-type"] == "application/json"
    assert got.headers["webhook-signature"].startswith("v1,")
    assert got.body["type"] == "timer.breached"
    assert got.body["timestamp"] == "2026-11-23T10:00:00Z"  # 11:00 Berlin: the due time
    card_data = got.body["data"]["card"]
    assert card_data["id"] == card.pk
    assert card_data["title"] == "Quote for 40 desks"
    assert card_data["status"] == Status.ASSIGNED
    assert card_data["owner"]["username"] == card.owner.username
    assert card_data["url"].endswith(f"/cards/{card.pk}/")
    timer = got.body["data"]["timer"]
    assert timer["kind"] == "resolution"
    assert timer["due_at"] == "2026-11-23T10:00:00Z"
    assert timer["target_seconds"] == 3600
    assert {n.state for n in hooks()} == {State.SENT}


def test_a_wrong_secret_fails_verification_at_the_receiver(policy, new_card, receiver, quietly):
    other = "whsec_" + base64.b64encode(b"another secret, 32 bytes long!!!").decode()
    endpoint(receiver.url(), kinds=[Kind.CARD_CREATED], secret=other)
    quietly(lambda: new_card(T0))
    deliver(T0 + S)
    (got,) = receiver.requests
    assert got.body is None and got.status == 401  # signed with `other`, checked with SECRET
    with time_machine.travel(T0 + 2 * S, tick=False):  # when it arrived
        assert Webhook(other).verify(got.raw, got.headers)["type"] == "card.created"


def test_endpoint_down_then_up_delivers_once_with_the_same_event_id(
    policy, new_card, receiver, quietly
):
    endpoint(receiver.url(), kinds=[Kind.CARD_CREATED])
    quietly(lambda: new_card(T0))
    receiver.status["/hook"] = 503

    assert deliver(T0) == 0
    (note,) = hooks()
    assert (note.state, note.attempts) == (State.PENDING, 1)
    # the first backoff, from when the endpoint answered (a moment into the run; seconds on
    # a loaded machine)
    assert T0 + 30 * S <= note.next_attempt_at < T0 + 40 * S
    assert "503" in note.last_error
    (hold,) = DeliveryHold.objects.filter(channel=Channel.WEBHOOK)
    assert hold.destination == receiver.url()
    assert deliver(T0 + 10 * S) == 0  # not due yet: nothing tried
    assert len(receiver.requests) == 1

    del receiver.status["/hook"]  # back up
    assert deliver(T0 + 45 * S) == 1
    assert deliver(T0 + 10 * M) == 0  # nothing left

    first, second = receiver.requests
    assert first.status == 503 and second.status == 200
    assert len(receiver.delivered()) == 1
    assert first.headers["webhook-id"] == second.headers["webhook-id"]  # receivers dedupe
    assert first.raw == second.raw  # the same event, the same body
    assert first.headers["webhook-timestamp"] != second.headers["webhook-timestamp"]
    assert hooks()[0].state == State.SENT


def test_a_refused_endpoint_is_held_and_the_others_are_delivered(
    policy, new_card, receiver, quietly
):
    down = f"http://127.0.0.1:{free_port()}/hook"  # nothing listens there
    endpoint(down, name="down", kinds=[Kind.CARD_CREATED])
    endpoint(receiver.url(), name="up", kinds=[Kind.CARD_CREATED])
    quietly(lambda: [new_card(T0, title=f"Card {n}") for n in range(5)])

    assert deliver(T0) == 5
    assert len(receiver.delivered()) == 5
    to_down = hooks(address=down)
    # The destination is held after the first refusal: not every row burns an attempt.
    assert {n.state for n in to_down} == {State.PENDING}
    assert sum(n.attempts for n in to_down) < 5
    assert all(n.next_attempt_at > T0 for n in to_down)
    assert DeliveryHold.objects.get(channel=Channel.WEBHOOK).destination == down


def test_a_hung_endpoint_does_not_hold_up_the_others(
    policy, new_card, receiver, silent_server, monkeypatch, quietly
):
    from sla import webhook_messages

    monkeypatch.setattr(webhook_messages, "WEBHOOK_TIMEOUT", 1)
    endpoint(silent_server.url(), name="hung", kinds=[Kind.CARD_CREATED])
    endpoint(receiver.url(), name="up", kinds=[Kind.CARD_CREATED])
    count = 2 * delivery.WEBHOOK_WORKERS
    quietly(lambda: [new_card(T0, title=f"Card {n}") for n in range(count)])
    silent_server.connections = 0

    deliver(T0)

    assert len(receiver.delivered()) == count
    hung = hooks(address=silent_server.url())
    assert {n.state for n in hung} == {State.PENDING}
    assert silent_server.connections <= delivery.WEBHOOK_WORKERS  # then held, not retried


def test_teams_preset_posts_an_adaptive_card(policy, new_card, receiver, performer, quietly):
    endpoint(
        receiver.url("/teams"), kinds=[Kind.CARD_STATUS_CHANGED],
        preset=WebhookEndpoint.Preset.TEAMS, secret="",
    )  # fmt: skip
    card = quietly(lambda: new_card(T0, title="Desks"))
    quietly(
        lambda: actions.change_status(task=card, to=Status.IN_PROGRESS, actor=performer, at=T0 + M)
    )
    deliver(T0 + M)

    (got,) = receiver.requests
    message = json.loads(got.raw)
    assert "webhook-signature" not in got.headers  # no secret: Teams does not check one
    assert got.headers["webhook-id"].startswith("turnaround-")
    assert message["type"] == "message"
    (attachment,) = message["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    content = attachment["content"]
    assert content["type"] == "AdaptiveCard" and content["version"] == "1.4"
    title, facts = content["body"]
    assert title["type"] == "TextBlock"
    assert title["text"].startswith(f"#{card.pk} Desks moved to in progress by ")
    assert {"title": "Status", "value": "In progress"} in facts["facts"]
    (action,) = content["actions"]
    assert action["type"] == "Action.OpenUrl"
    assert action["url"].endswith(f"/cards/{card.pk}/")


def test_bodies_carry_what_each_kind_is_about(
    policy, new_card, receiver, performer, manager, quietly
):
    endpoint(receiver.url())
    team = TeamFactory(name="Field Service")

    def work():
        card = new_card(T0, title="Desks")
        actions.reclassify(  # priority and team in one change: one card.updated
            task=card, request_type=card.request_type, priority="high", team=team,
            actor=performer, at=T0 + M,
        )  # fmt: skip
        actions.change_status(task=card, to=Status.IN_PROGRESS, actor=performer, at=T0 + 2 * M)
        actions.change_status(
            task=card, to=Status.ON_APPROVAL, actor=performer, approver=manager, at=T0 + 3 * M
        )
        actions.decide(
            task=card, decision="reject", actor=manager, reason="Too dear", at=T0 + 4 * M
        )
        return card

    card = quietly(work)
    deliver(T0 + 5 * M)
    got = {}
    # Posted from several threads: put them back in the order they happened.
    for r in sorted(receiver.delivered(), key=lambda r: r.body["timestamp"]):
        got.setdefault(r.body["type"], []).append(r.body)

    # The reclassification, and the approver named when it was sent for approval.
    updated, approver_named = got["card.updated"]
    assert [c["kind"] for c in approver_named["data"]["changes"]] == ["approver_changed"]
    changes = {c["kind"]: (c["from"], c["to"]) for c in updated["data"]["changes"]}
    assert changes["priority_changed"] == ("normal", "high")
    assert "team_changed" in changes
    assert updated["data"]["actor"]["username"] == performer.username
    assert updated["timestamp"] == "2026-11-23T09:01:00Z"
    (asked,) = got["approval.requested"]
    assert asked["data"]["approval"]["approver"]["username"] == manager.username
    (decided,) = got["approval.decided"]
    assert decided["data"]["approval"]["decision"] == "rejected"
    assert decided["data"]["approval"]["reason"] == "Too dear"
    moves = [
        (b["data"]["status"]["from"], b["data"]["status"]["to"]) for b in got["card.status_changed"]
    ]
    assert moves == [
        ("assigned", "in_progress"), ("in_progress", "on_approval"), ("on_approval", "in_progress")
    ]  # fmt: skip
    (met,) = got["timer.met"]  # taken into work in 2 minutes: the response timer met
    assert met["data"]["timer"]["kind"] == "response"
    assert met["data"]["timer"]["state"] == "met"
    assert met["timestamp"] == "2026-11-23T09:02:00Z"
    assert all(b["data"]["card"]["id"] == card.pk for bodies in got.values() for b in bodies)


def test_event_kinds_filter_and_inactive_endpoint(
    policy, new_card, receiver, performer, manager, quietly
):
    endpoint(receiver.url("/status"), kinds=[Kind.CARD_STATUS_CHANGED])
    endpoint(receiver.url("/all"))
    endpoint(receiver.url("/off"), active=False)

    def work():
        card = new_card(T0)
        actions.change_status(task=card, to=Status.IN_PROGRESS, actor=performer, at=T0 + M)
        actions.change_status(
            task=card, to=Status.ON_APPROVAL, actor=performer, approver=manager, at=T0 + 2 * M
        )
        return card

    quietly(work)
    deliver(T0 + M)

    def types(path):
        return sorted(r.body["type"] for r in receiver.delivered(path))

    assert types("/status") == ["card.status_changed", "card.status_changed"]
    assert types("/all") == sorted(
        [
            "card.created",
            "card.status_changed",
            "card.status_changed",
            "approval.requested",
            "timer.met",  # taken into work: the response timer met
            "card.updated",  # the approver named
        ]
    )
    assert receiver.delivered("/off") == []
    assert hooks(address=receiver.url("/off")) == []


def test_a_breach_is_recorded_for_an_endpoint_once_however_often_the_scan_runs(
    policy, new_card, receiver, quietly
):
    endpoint(receiver.url(), kinds=[Kind.TIMER_WARNING, Kind.TIMER_BREACHED])
    quietly(lambda: new_card(T0))
    quietly(lambda: scan(BREACHED))
    quietly(lambda: scan(BREACHED + M))  # nothing new
    # A breach per timer (response and resolution; their warnings stamped silently, as for
    # everyone), once.
    assert len(hooks()) == 2


@set_based_scan
def test_both_scan_paths_write_the_same_webhook_rows(policy, new_card, receiver, quietly):
    endpoint(receiver.url("/a"), kinds=[Kind.TIMER_WARNING])
    endpoint(receiver.url("/b"), kinds=[Kind.TIMER_BREACHED, Kind.TIMER_WARNING])
    endpoint(receiver.url("/off"), active=False)
    written = {}
    for set_based in (False, True):
        card = quietly(lambda: new_card(T0))
        quietly(lambda set_based=set_based: scan(T0 + 50 * M, set_based=set_based))  # warned
        quietly(lambda set_based=set_based: scan(BREACHED, set_based=set_based))  # breached
        written[set_based] = sorted(
            (n.event.timer.kind, n.event.kind, n.recipient_key, n.address, n.state)
            for n in hooks(event__timer__task=card)
        )
        card.delete()
    assert written[True] == written[False]
    # The response timer (15 min) is breached by the first scan (its warning stamped
    # silently): to /b; the resolution timer warns (to /a and /b), then breaches (to /b).
    assert [(timer, kind, key.split(":", 2)[2]) for timer, kind, key, *_ in written[True]] == [
        ("resolution", "breach", "timer.breached"),
        ("resolution", "warning", "timer.warning"),
        ("resolution", "warning", "timer.warning"),
        ("response", "breach", "timer.breached"),
    ]


def test_a_deleted_endpoint_fails_its_rows_for_good_and_they_can_be_resent(
    policy, new_card, receiver, quietly
):
    from sla import outbox

    hook = endpoint(receiver.url(), kinds=[Kind.CARD_CREATED])
    quietly(lambda: new_card(T0))
    hook.delete()
    deliver(T0)
    (note,) = hooks()
    assert note.state == State.FAILED and "deleted" in note.last_error
    assert outbox.resend(Notification.objects.filter(pk=note.pk)) == 1


def test_a_delivery_batch_reads_a_fixed_number_of_queries(
    policy, new_card, receiver, performer, manager, django_assert_max_num_queries, quietly
):
    endpoint(receiver.url("/a"))
    endpoint(receiver.url("/b"), preset=WebhookEndpoint.Preset.TEAMS)

    def cards(count: int) -> None:
        for n in range(count):
            card = new_card(T0, title=f"Card {n}")
            actions.change_status(task=card, to=Status.IN_PROGRESS, actor=performer, at=T0 + M)
            actions.change_status(
                task=card, to=Status.ON_APPROVAL, actor=performer, approver=manager, at=T0 + 2 * M
            )
            actions.decide(
                task=card, decision="reject", actor=manager, reason="Too dear", at=T0 + 3 * M
            )
        scan(BREACHED)

    quietly(lambda: cards(2))
    with django_assert_max_num_queries(30) as few:
        sent_few = deliver(T0 + 2 * 60 * M)
    quietly(lambda: cards(8))
    with django_assert_max_num_queries(len(few.captured_queries)):
        sent_more = deliver(T0 + 2 * 60 * M)
    assert sent_more == 5 * sent_few > 0  # all ten cards' rows (made pending again)
    assert {n.state for n in hooks()} == {State.SENT}
