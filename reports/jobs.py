"""django-q2 entry points of the reports app and their schedules (SCHEDULES, registered by
`manage.py sync_schedules`, which finds them here).

Both are idempotent: the refresh recomputes only cards whose version moved on, and each
team's weekly digest is claimed by a unique row before it is sent, so a re-run (at-least-once
delivery) sends nothing twice.

They share one refresh path (rollup.refresh), serialised by a PostgreSQL advisory
transaction lock (rollup.serialise), so the digest's refresh never collides with the 5-minute
one. The digest is retried by catching up rather than by the scheduler: it runs every hour and,
from Monday 07:00 on, sends last week's review to each team not yet in DigestSent. A team whose
send fails keeps no DigestSent row (the claim rolls back with it), so the next hourly run sends
it; after a scheduler outage the first run sends it once.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from reports import digest, rollup
from reports.models import DigestSent
from sla.schedules import ScheduleSpec
from tasks.models import Team

log = logging.getLogger(__name__)

SEND_HOUR = 7  # local time, Mondays


def refresh_report_tables(now: datetime | None = None) -> int:
    """Recompute the derived tables of changed cards; returns how many cards."""
    return rollup.refresh(now=now)


def send_weekly_digest(now: datetime | None = None) -> int:
    """Email last week's review to each team's manager; returns the number sent."""
    now = now or timezone.now()
    local = timezone.localtime(now)
    if local.weekday() == 0 and local.hour < SEND_HOUR:
        return 0  # last week's review is due at 07:00; the week before was handled then
    week = digest.last_week(now)
    teams = (
        Team.objects.filter(manager__isnull=False, manager__is_active=True)
        .exclude(manager__email="")
        .exclude(pk__in=DigestSent.objects.filter(week_start=week).values("team_id"))
        .select_related("manager")
    )
    if not teams.exists():
        return 0
    rollup.refresh(now=now)  # stages of last week's cards must be known
    sent, failed = 0, 0
    for team in teams:
        try:
            with transaction.atomic():
                DigestSent.objects.create(
                    team=team, week_start=week, recipient=team.manager.email, sent_at=now
                )
                _send(digest.build(week, team), team)
        except IntegrityError:
            continue  # already sent for this week
        except Exception:
            failed += 1  # no claim kept: the next hourly run sends it
            log.exception("weekly review for team %s failed; retried next hour", team.pk)
            continue
        sent += 1
    if sent:
        log.info("weekly review sent to %d team manager(s)", sent)
    if failed:
        raise RuntimeError(f"weekly review failed for {failed} team(s); retried next hour")
    return sent


def _send(review: digest.Digest, team: Team) -> None:
    url = f"{settings.SITE_URL}{reverse('reports_weekly')}?week={review.week_start}&team={team.pk}"
    context = {"digest": review, "team": team, "url": url}
    subject = f"Weekly review for {team.name}: week of {review.week_start:%d %b %Y}"
    message = EmailMultiAlternatives(
        subject,
        render_to_string("reports/email/weekly.txt", context),
        to=[team.manager.email],
    )
    message.attach_alternative(render_to_string("reports/email/weekly.html", context), "text/html")
    message.send()


SCHEDULES = [
    ScheduleSpec("reports: refresh derived tables", refresh_report_tables, minutes=5),
    # Hourly: from Monday 07:00, last week's review to teams not yet sent (catch-up = retry).
    ScheduleSpec("reports: weekly review digest", send_weekly_digest, cron="0 * * * *"),
]
