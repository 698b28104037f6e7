"""Is Turnaround working? `/health/` for load balancers and monitors, and the alarm to admins
when the timer scan stops (the worst silent failure an SLA tool can have: no warning, no
breach, and nobody notices).

Everything is read from state the system already records: django-q2's task results (the last
successful scan), its schedules (a scheduler that runs moves `next_run` forward) and the
notification outbox. Nothing here writes to the database.

The endpoint needs no login and tells nothing about cards or people: each check's status and,
where it helps an operator, an age in seconds. Errors are logged, never put in the body (a
database error can name hosts and users).
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_not_required
from django.core.cache import cache
from django.core.mail import send_mail
from django.db import connection
from django.db.models import Min, Q
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from django_q.models import Schedule, Success

from sla import outbox
from sla.models import Notification

log = logging.getLogger(__name__)

# The scan's django-q2 entry point (scheduled every minute by sync_schedules).
SCAN_FUNC = "sla.jobs.scan_due_timers"
# Unhealthy when the last successful scan finished longer ago than this (three missed runs).
SCAN_MAX_AGE = timedelta(minutes=3)
# Admins are alarmed (page banner, one email per outage) when the scan is this late.
ALARM_AFTER = timedelta(minutes=5)
# Unhealthy when a notification has waited this long to be delivered.
PENDING_MAX_AGE = timedelta(minutes=15)
# A running scheduler moves every schedule's next_run forward; one this far overdue means no
# cluster is running the schedules.
SCHEDULE_MAX_LAG = timedelta(minutes=3)
# How long staff pages reuse the scan state before reading it again.
BANNER_CACHE_SECONDS = 30
_STATE_KEY = "health:scan-state"
_ALARM_KEY = "health:alarm-sent:{}"
_PROBE_KEY = "health:probe"


@dataclass(frozen=True)
class Check:
    ok: bool
    detail: str = ""
    age_seconds: int | None = None

    def as_json(self) -> dict:
        body: dict = {"status": "ok" if self.ok else "fail"}
        if self.detail:
            body["detail"] = self.detail
        if self.age_seconds is not None:
            body["age_seconds"] = self.age_seconds
        return body


def _seconds(delta: timedelta) -> int:
    return max(0, int(delta.total_seconds()))


def check_database() -> Check:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception:
        log.exception("health: database check failed")
        return Check(False, "unreachable")
    return Check(True)


def check_cache() -> Check:
    """Writes and reads back a random value (with a shared cache such as Redis this is also
    what every web process sees)."""
    probe = uuid.uuid4().hex
    try:
        cache.set(_PROBE_KEY, probe, 30)
        ok = cache.get(_PROBE_KEY) == probe
    except Exception:
        log.exception("health: cache check failed")
        return Check(False, "unreachable")
    return Check(ok, "" if ok else "value not read back")


def scan_overdue_since() -> datetime | None:
    """Since when the scan has been expected and not run: the end of the last successful
    scan, or (never ran) the first run sync_schedules planned. None when neither exists."""
    last = (
        Success.objects.filter(func=SCAN_FUNC)
        .order_by("-stopped")
        .values_list("stopped", flat=True)
    ).first()
    if last is not None:
        return last
    return (
        Schedule.objects.filter(func=SCAN_FUNC)
        .order_by("next_run")
        .values_list("next_run", flat=True)
        .first()
    )


def check_scan(now: datetime) -> Check:
    since = scan_overdue_since()
    if since is None:
        return Check(False, "not scheduled (run manage.py sync_schedules)")
    age = now - since
    if age > SCAN_MAX_AGE:
        return Check(False, "last scan too old", _seconds(age))
    return Check(True, "", _seconds(age))


def check_notifications(now: datetime) -> Check:
    """The oldest notification still waiting for delivery (email, Slack). A row a person's
    quiet hours or digest hold back (outbox.HELD_BACK) waits by her choice: it counts only
    once due again, from then."""
    held = Q(last_error__startswith=outbox.HELD_BACK)
    waiting = Notification.objects.filter(state=Notification.State.PENDING).aggregate(
        oldest=Min("created_at", filter=~held),
        held_due=Min("next_attempt_at", filter=held & Q(next_attempt_at__lte=now)),
    )
    since = [t for t in (waiting["oldest"], waiting["held_due"]) if t is not None]
    if not since:
        return Check(True, "", 0)
    age = now - min(since)
    if age > PENDING_MAX_AGE:
        return Check(False, "delivery behind", _seconds(age))
    return Check(True, "", _seconds(age))


def check_cluster(now: datetime) -> Check:
    """A django-q2 cluster runs the schedules: the most overdue recurring schedule tells how
    long none has. (Its own stats live in the broker's cache, which a web process with a
    per-process cache cannot see; schedules are in the database for everyone.)"""
    recurring = Schedule.objects.exclude(repeats=0)
    if not recurring.exists():
        return Check(False, "no schedules (run manage.py sync_schedules)")
    overdue = recurring.filter(next_run__lt=now).aggregate(oldest=Min("next_run"))["oldest"]
    lag = now - overdue if overdue else timedelta(0)
    if lag > SCHEDULE_MAX_LAG:
        return Check(False, "schedules not running", _seconds(lag))
    return Check(True, "", _seconds(lag))


def _guarded(check: Callable[[], Check], name: str) -> Check:
    # One check failing to run (the database is down) must not make /health/ itself a 500.
    try:
        return check()
    except Exception:
        log.exception("health: %s check failed", name)
        return Check(False, "check failed")


def run_checks(now: datetime | None = None) -> dict[str, Check]:
    now = now or timezone.now()
    checks = {
        "database": _guarded(check_database, "database"),
        "cache": _guarded(check_cache, "cache"),
        "scan": _guarded(lambda: check_scan(now), "scan"),
        "notifications": _guarded(lambda: check_notifications(now), "notifications"),
        "cluster": _guarded(lambda: check_cluster(now), "cluster"),
    }
    if not checks["scan"].ok:
        raise_scan_alarm(now)
    return checks


@login_not_required  # for load balancers: no card data, no names
@never_cache
@require_GET
def health(request: HttpRequest) -> JsonResponse:
    """200 when every check passes, 503 otherwise; the body lists each check."""
    checks = run_checks()
    healthy = all(c.ok for c in checks.values())
    body = {
        "status": "ok" if healthy else "fail",
        "checks": {name: c.as_json() for name, c in checks.items()},
    }
    response = JsonResponse(body, status=200 if healthy else 503)
    # Django logs every 5xx as an error, and mails ADMINS about it: once per probe of every
    # load balancer. The failures are logged above and alarmed once per outage instead.
    response._has_been_logged = True
    return response


# --- The alarm to admins ---------------------------------------------------------------------


@dataclass(frozen=True)
class ScanAlarm:
    """The scan has not run since `since` (None: it was never scheduled)."""

    since: datetime | None

    @property
    def key(self) -> str:
        return self.since.isoformat() if self.since else "unscheduled"


def scan_alarm(now: datetime | None = None) -> ScanAlarm | None:
    """The current outage, if the scan is more than ALARM_AFTER late."""
    now = now or timezone.now()
    since = scan_overdue_since()
    if since is not None and now - since <= ALARM_AFTER:
        return None
    return ScanAlarm(since)


def raise_scan_alarm(now: datetime, *, in_background: bool = True) -> ScanAlarm | None:
    """Email the admins once per outage: the outage is keyed by when the scan last ran, so
    every request during it finds the key already taken. With a shared cache (CACHE_URL)
    that is once in all; with the default per-process cache, once per web process."""
    try:
        alarm = scan_alarm(now)
        if alarm is None or not cache.add(_ALARM_KEY.format(alarm.key), True, 7 * 24 * 3600):
            return alarm
    except Exception:
        log.exception("health: could not decide on the scan alarm")
        return None
    log.error("The timer scan has not run since %s; alarming the admins.", alarm.key)
    recipients = _admin_emails()
    if not recipients:
        log.error("No admin with an email address to alarm about the stopped scan.")
    elif in_background and ALARM_IN_BACKGROUND:
        # A health probe or a page must not wait for a mail server.
        threading.Thread(target=_email, args=(alarm, recipients), daemon=True).start()
    else:
        _email(alarm, recipients)
    return alarm


# Tests send the alarm on the request's thread to see it in the outbox at once.
ALARM_IN_BACKGROUND = True


def _admin_emails() -> list[str]:
    """Active superusers with an address, then ADMINS."""
    recipients = list(
        get_user_model()
        .objects.filter(is_active=True, is_superuser=True)
        .exclude(email="")
        .order_by("pk")
        .values_list("email", flat=True)
    )
    return recipients + [email for _, email in settings.ADMINS if email not in recipients]


def _email(alarm: ScanAlarm, recipients: list[str]) -> None:
    since = (
        timezone.localtime(alarm.since).strftime("%Y-%m-%d %H:%M %Z")
        if alarm.since
        else "never (it is not scheduled)"
    )
    body = (
        f"The SLA timer scan has not run since {since}.\n\n"
        "Until it runs again no warning or breach is recorded and no one is notified.\n"
        "Check that a django-q2 cluster (manage.py qcluster) is running and that the "
        "schedules exist (manage.py sync_schedules), and look at its log.\n\n"
        f"Health: {settings.SITE_URL}/health/\n"
    )
    try:
        send_mail(
            "[Turnaround] The SLA timer scan has stopped",
            body,
            settings.DEFAULT_FROM_EMAIL,
            recipients,
        )
    except Exception:
        log.exception("health: the scan alarm email could not be sent")


def staff_alarm(request: HttpRequest) -> dict:
    """Context processor: `scan_alarm` for staff pages (a banner), read lazily and cached
    for BANNER_CACHE_SECONDS; viewing a page during an outage also raises the email."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not user.is_staff:
        return {}

    def current() -> ScanAlarm | None:
        try:
            state = cache.get(_STATE_KEY)
            if state is None:
                alarm = raise_scan_alarm(timezone.now())
                state = {"alarm": alarm}
                cache.set(_STATE_KEY, state, BANNER_CACHE_SECONDS)
            return state["alarm"]
        except Exception:
            log.exception("health: could not read the scan state")
            return None

    return {"scan_alarm": current}
