"""/health/ for load balancers, and the alarm to admins when the timer scan stops."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import pytest
import time_machine
from django.core import mail
from django.core.management import call_command
from django.db import connection
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone
from django_q.models import Schedule, Task

from sla import health
from sla.models import Channel, Notification
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _alarm_on_the_request_thread(monkeypatch):
    monkeypatch.setattr(health, "ALARM_IN_BACKGROUND", False)


@pytest.fixture
def start() -> datetime:
    return timezone.now().replace(microsecond=0)


def scanned(at: datetime, func: str = health.SCAN_FUNC, success: bool = True) -> Task:
    """A django-q2 result row as the cluster saves it after running `func`."""
    return Task.objects.create(
        id=uuid.uuid4().hex,
        name=f"run {uuid.uuid4().hex[:6]}",
        func=func,
        started=at - timedelta(seconds=1),
        stopped=at,
        success=success,
    )


def scheduled(at: datetime) -> None:
    """The jobs registered, next runs in the minute after `at` (as a running scheduler keeps
    them)."""
    with time_machine.travel(at, tick=False):
        call_command("sync_schedules", stdout=open("/dev/null", "w"))  # noqa: SIM115


def scheduler_ran(at: datetime) -> None:
    """What a running scheduler does: every recurring schedule's next run is ahead of `at`."""
    Schedule.objects.exclude(repeats=0).update(next_run=at + timedelta(seconds=30))


def get_health(client, at: datetime):
    with time_machine.travel(at, tick=False):
        response = client.get(reverse("health"))
    assert response["Content-Type"] == "application/json"
    return response, response.json()


def test_healthy_when_every_check_passes_and_no_login_is_needed(client, start):
    scheduled(start)
    scanned(start + timedelta(seconds=40))

    response, body = get_health(client, start + timedelta(seconds=50))

    assert response.status_code == 200
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "cache", "scan", "notifications", "cluster"}
    assert all(c["status"] == "ok" for c in body["checks"].values())
    assert body["checks"]["scan"]["age_seconds"] == 10
    assert "no-cache" in response["Cache-Control"]


def test_503_once_the_last_scan_is_older_than_three_minutes(client, start):
    scheduled(start)
    last = start + timedelta(seconds=30)
    scanned(last)
    # Other jobs kept running: only the scan stopped.
    scanned(last + timedelta(minutes=4), func="sla.jobs.send_pending_notifications")

    scheduler_ran(last + health.SCAN_MAX_AGE)
    response, body = get_health(client, last + health.SCAN_MAX_AGE)
    assert response.status_code == 200

    response, body = get_health(client, last + health.SCAN_MAX_AGE + timedelta(seconds=1))
    assert response.status_code == 503
    assert body["status"] == "fail"
    assert body["checks"]["scan"] == {
        "status": "fail",
        "detail": "last scan too old",
        "age_seconds": 181,
    }


def test_a_failed_scan_does_not_count_as_a_run(client, start):
    scheduled(start)
    scanned(start, success=True)
    scanned(start + timedelta(minutes=3), success=False)

    response, body = get_health(client, start + timedelta(minutes=3, seconds=30))

    assert response.status_code == 503
    assert body["checks"]["scan"]["age_seconds"] == 210


def test_before_the_first_scan_the_planned_first_run_counts(client, start):
    scheduled(start)  # first run: the next minute
    first = Schedule.objects.get(func=health.SCAN_FUNC).next_run

    response, _ = get_health(client, first + timedelta(minutes=2))
    assert response.status_code == 200
    response, body = get_health(client, first + timedelta(minutes=3, seconds=1))
    assert response.status_code == 503
    assert body["checks"]["scan"]["status"] == "fail"


def test_without_schedules_scan_and_cluster_fail(client, start):
    response, body = get_health(client, start)

    assert response.status_code == 503
    assert body["checks"]["scan"]["detail"].startswith("not scheduled")
    assert body["checks"]["cluster"]["detail"].startswith("no schedules")


def test_schedules_left_overdue_mean_no_cluster(client, start):
    scheduled(start)
    scanned(start + timedelta(minutes=1))
    # Nobody moved the one-minute schedules forward since they were due.
    due = Schedule.objects.get(func=health.SCAN_FUNC).next_run

    response, body = get_health(client, due + timedelta(minutes=2))
    assert body["checks"]["cluster"]["status"] == "ok"
    response, body = get_health(client, due + timedelta(minutes=3, seconds=5))
    assert response.status_code == 503
    assert body["checks"]["cluster"] == {
        "status": "fail",
        "detail": "schedules not running",
        "age_seconds": 185,
    }


def pending(created_at: datetime, state=Notification.State.PENDING) -> Notification:
    # The outbox links carry no database constraint (OUTBOX_LINKS): no event needed here.
    return Notification.objects.create(
        event_id=10**9,
        channel=Channel.EMAIL,
        recipient_key=uuid.uuid4().hex,
        address="someone@example.com",
        state=state,
        created_at=created_at,
    )


def test_a_notification_waiting_more_than_fifteen_minutes_is_unhealthy(client, start):
    scheduled(start)
    now = start + timedelta(minutes=20)
    scanned(now)
    scheduler_ran(now)
    pending(now - timedelta(hours=5), state=Notification.State.SENT)
    pending(now - timedelta(hours=5), state=Notification.State.FAILED)
    pending(now - timedelta(minutes=14))

    response, body = get_health(client, now)
    assert response.status_code == 200
    assert body["checks"]["notifications"] == {"status": "ok", "age_seconds": 14 * 60}

    pending(now - timedelta(minutes=16))
    response, body = get_health(client, now)
    assert response.status_code == 503
    assert body["checks"]["notifications"]["detail"] == "delivery behind"
    assert body["checks"]["notifications"]["age_seconds"] == 16 * 60


def test_a_database_or_cache_failure_is_a_503_that_names_no_secret(client, start, monkeypatch):
    scheduled(start)
    scanned(start)

    def broken(*args, **kwargs):
        raise RuntimeError('connection to "db.internal" as user "turnaround" password=hunter2')

    monkeypatch.setattr(connection, "cursor", broken)
    monkeypatch.setattr(health.cache, "set", broken)
    with time_machine.travel(start, tick=False):
        response = health.health(RequestFactory().get("/health/"))

    assert response.status_code == 503
    text = response.content.decode()
    for secret in ("db.internal", 'turnaround"', "hunter2", "RuntimeError"):
        assert secret not in text


def test_the_body_tells_nothing_about_cards_or_people(client, start, new_card):
    scheduled(start)
    scanned(start)
    new_card(start, title="Secret merger with ACME")

    _, body = get_health(client, start)

    assert "ACME" not in str(body)
    assert set(body) == {"status", "checks"}


def test_only_get(client):
    assert client.post(reverse("health")).status_code == 405


# --- The alarm ----------------------------------------------------------------------------------


@pytest.fixture
def admins(db):
    root = UserFactory(username="root", email="root@example.com", is_staff=True,
                       is_superuser=True)  # fmt: skip
    UserFactory(username="gone", email="gone@example.com", is_superuser=True, is_active=False)
    UserFactory(username="staff", email="staff@example.com", is_staff=True)
    return root


def test_no_alarm_within_five_minutes(client, start, admins):
    scheduled(start)
    scanned(start)
    get_health(client, start + health.ALARM_AFTER)
    assert mail.outbox == []


def test_one_email_per_outage_to_active_superusers(client, start, admins, settings):
    settings.ADMINS = [("Ops", "ops@example.com")]
    scheduled(start)
    scanned(start)

    for minutes in (5.5, 6, 9, 30):
        get_health(client, start + timedelta(minutes=minutes))

    # Only ours: a 503 is not reported to ADMINS as a server error on every probe.
    (alarm,) = mail.outbox
    assert alarm.to == ["root@example.com", "ops@example.com"]
    assert "timer scan has stopped" in alarm.subject
    assert "has not run since" in alarm.body
    assert "/health/" in alarm.body

    # The scan came back, then stopped again: a new outage, a new email.
    scanned(start + timedelta(minutes=31))
    get_health(client, start + timedelta(minutes=33))
    assert len(mail.outbox) == 1
    get_health(client, start + timedelta(minutes=37))
    get_health(client, start + timedelta(minutes=38))
    assert len(mail.outbox) == 2


def test_staff_see_a_banner_and_viewing_pages_raises_the_email(client, start, admins, roles):
    scheduled(start)
    scanned(start)
    client.force_login(admins)

    with time_machine.travel(start + timedelta(minutes=2), tick=False):
        page = client.get(reverse("notifications")).content.decode()
    assert 'id="scan-alarm"' not in page

    later = start + timedelta(minutes=7)
    with time_machine.travel(later, tick=False):
        page = client.get(reverse("notifications")).content.decode()
        client.get(reverse("notifications"))
    assert 'id="scan-alarm"' in page
    assert "The SLA timer scan has not run since" in page
    assert len(mail.outbox) == 1


def test_non_staff_see_no_banner(client, start, performer):
    scheduled(start)
    client.force_login(performer)
    with time_machine.travel(start + timedelta(hours=1), tick=False):
        page = client.get(reverse("notifications")).content.decode()
    assert 'id="scan-alarm"' not in page
