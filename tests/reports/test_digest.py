"""The weekly review: causes of last week's breaches and near misses, emailed to managers."""

from __future__ import annotations

from datetime import date
from io import StringIO

import pytest
from django.core import mail
from django.core.management import call_command
from django_q.models import Schedule

from reports import digest, jobs
from reports.models import DigestSent
from sla.models import SlaPause, SlaTimer, TimerKind
from tasks.models import Status
from tests.factories import BlockingReasonFactory, UserFactory
from tests.reports.conftest import berlin

# Every test here runs on the shared history (conftest.report_world), built once per module.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("report_world")]

WEEK = date(2026, 11, 16)
NEXT_MONDAY_7 = berlin(2026, 11, 23, 7)


def section(review, title):
    return {row.label: (row.breaches, row.near_misses) for row in dict(review.sections)[title]}


def test_last_week_is_the_full_week_before_now():
    assert digest.last_week(NEXT_MONDAY_7) == WEEK
    assert digest.last_week(berlin(2026, 11, 22, 23, 59)) == date(2026, 11, 9)


def test_breaches_and_near_misses_are_grouped_by_cause(history):
    review = digest.build(WEEK)

    assert (review.total.breaches, review.total.near_misses) == (4, 1)
    assert review.total.breach_change == 4  # nothing the week before
    assert section(review, "Stage when it happened") == {
        "Assigned": (2, 1),  # B and E responses; H warned while assigned
        "In progress": (1, 0),  # E resolution
        "On approval": (1, 0),  # G
    }
    assert section(review, "Waiting on approval by")["Maria Manager"] == (1, 0)
    assert section(review, "Request type") == {"Support": (2, 1), "Sales lead": (2, 0)}


def test_a_team_review_counts_what_happened_while_the_team_held_the_card(history):
    support = digest.build(WEEK, history.support)
    # G was handed to Sales after its breach: the breach stays with Support.
    assert (support.total.breaches, support.total.near_misses) == (2, 1)
    assert section(support, "Team") == {"Support": (2, 1)}
    assert digest.build(WEEK, history.sales).total.breaches == 2  # E twice


def test_the_week_after_shows_the_change(history):
    review = digest.build(date(2026, 11, 23))
    assert (review.total.breaches, review.total.breach_change) == (0, -4)
    assert review.quiet


def test_the_single_query_agrees_with_one_query_per_cause(history):
    # G's missed resolution clock also paused for a supplier and once without a reason: its
    # breach then counts under each of its timer's blocking reasons, once per reason.
    timer = SlaTimer.objects.get(task=history.cards["G"], kind=TimerKind.RESOLUTION)
    supplier = BlockingReasonFactory(name="Supplier")
    for reason in (supplier, supplier, None):
        SlaPause.objects.create(
            timer=timer, started_at=berlin(2026, 11, 18, 12), status=Status.WAITING,
            blocking_reason=reason,
        )  # fmt: skip
    review = digest.build(WEEK)
    assert section(review, "Blocking reason") == {
        "Supplier": (1, 0),  # G, once for two pauses
        # B's response (B paused for the customer on its met resolution clock), E twice,
        # G for its pause without a reason; H's near miss.
        "No blocking reason": (4, 1),
    }
    for week in (date(2026, 11, 9), WEEK, date(2026, 11, 23)):
        for team in (None, history.support, history.sales):
            assert digest.build(week, team) == digest.build_live(week, team), (week, team)


def test_the_job_emails_each_team_manager_once_about_causes_not_people(history, manager):
    history.support.manager = UserFactory(username="sven", email="sven@example.com")
    history.support.save()

    assert jobs.send_weekly_digest(now=NEXT_MONDAY_7) == 2

    by_recipient = {m.to[0]: m for m in mail.outbox}
    assert set(by_recipient) == {manager.email, "sven@example.com"}
    support_mail = by_recipient["sven@example.com"]
    assert support_mail.subject == "Weekly review for Support: week of 16 Nov 2026"
    assert "Breaches: 2 (+2 on the week before)" in support_mail.body
    assert "Near misses (warned, then met): 1 (+1)" in support_mail.body
    assert "Stage when it happened" in support_mail.body
    assert "week=2026-11-16&team=" in support_mail.body
    assert "Paula" not in support_mail.body  # owners and performers are never ranked
    html = support_mail.alternatives[0][0]
    assert "<table>" in html

    assert jobs.send_weekly_digest(now=NEXT_MONDAY_7) == 0  # a re-run sends nothing twice
    assert len(mail.outbox) == 2
    assert DigestSent.objects.count() == 2


def test_the_weekly_page_shows_a_chosen_team_and_explains_a_bad_week(client, manager, history):
    client.force_login(manager)
    html = client.get(
        "/reports/weekly/", {"week": "2026-11-18", "team": history.support.pk}
    ).content.decode()
    assert "Weekly review: 16 Nov – 22 Nov 2026 · Support" in html
    bad = client.get("/reports/weekly/", {"week": "last tuesday"})
    assert bad.status_code == 200
    assert "Enter a valid date" in bad.content.decode()


def test_sync_schedules_registers_the_weekly_digest_on_monday_mornings():
    call_command("sync_schedules", stdout=StringIO())

    digest_job = Schedule.objects.get(func="reports.jobs.send_weekly_digest")
    assert (digest_job.schedule_type, digest_job.cron) == (Schedule.CRON, "0 * * * *")
    refresh = Schedule.objects.get(func="reports.jobs.refresh_report_tables")
    assert (refresh.schedule_type, refresh.minutes) == (Schedule.MINUTES, 5)


def test_a_failed_digest_is_sent_once_by_a_later_run(history, manager, monkeypatch):
    def broken(*args, **kwargs):
        raise OSError("SMTP down")

    monkeypatch.setattr(jobs, "_send", broken)
    with pytest.raises(RuntimeError):
        jobs.send_weekly_digest(now=NEXT_MONDAY_7)
    assert DigestSent.objects.count() == 0
    monkeypatch.undo()

    assert jobs.send_weekly_digest(now=berlin(2026, 11, 23, 8)) == 1
    assert jobs.send_weekly_digest(now=berlin(2026, 11, 23, 9)) == 0
    assert len(mail.outbox) == 1


def test_after_a_scheduler_outage_the_digest_still_goes_out_once(history, manager):
    assert jobs.send_weekly_digest(now=berlin(2026, 11, 23, 6)) == 0  # not due before 07:00
    # The 07:00 run was missed (3 hours without a scheduler); the 10:00 run catches up.
    assert jobs.send_weekly_digest(now=berlin(2026, 11, 23, 10)) == 1
    assert jobs.send_weekly_digest(now=berlin(2026, 11, 23, 11)) == 0
    assert len(mail.outbox) == 1
