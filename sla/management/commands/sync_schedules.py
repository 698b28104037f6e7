"""Register the recurring jobs with django-q2. Idempotent: update_or_create by name."""

from datetime import timedelta

from django.core.management.base import BaseCommand
from django.utils import timezone
from django_q.models import Schedule

SCHEDULES = [
    {
        "name": "sla: scan due timers",
        "func": "sla.jobs.scan_due_timers",
        "schedule_type": Schedule.MINUTES,
        "minutes": 1,
    },
    {
        "name": "sla: deliver notifications",
        "func": "sla.jobs.send_pending_notifications",
        "schedule_type": Schedule.MINUTES,
        "minutes": 1,
    },
    {
        "name": "reports: refresh derived tables",
        "func": "reports.jobs.refresh_report_tables",
        "schedule_type": Schedule.MINUTES,
        "minutes": 5,
    },
    {
        "name": "reports: weekly review digest",
        "func": "reports.jobs.send_weekly_digest",
        "schedule_type": Schedule.CRON,
        "cron": "0 7 * * 1",
    },
]


class Command(BaseCommand):
    help = "Register the scheduled jobs (timer scan, notification delivery); safe to re-run."

    def handle(self, *args, **options) -> None:
        # First run on the next minute, not "now": a new schedule would otherwise fire at
        # once on every deploy. Existing schedules keep their next_run.
        first_run = timezone.now().replace(second=0, microsecond=0) + timedelta(minutes=1)
        for spec in SCHEDULES:
            name = spec["name"]
            defaults = {k: v for k, v in spec.items() if k != "name"}
            schedule, created = Schedule.objects.update_or_create(name=name, defaults=defaults)
            # A cron schedule got its next slot from django-q on create; the next minute
            # would send e.g. a weekly digest straight after the first deploy.
            if created and schedule.schedule_type != Schedule.CRON:
                Schedule.objects.filter(pk=schedule.pk).update(next_run=first_run)
            self.stdout.write(f"{'Created' if created else 'Up to date'}: {name}")
        known = [s["name"] for s in SCHEDULES]
        stale = Schedule.objects.filter(name__startswith="sla: ").exclude(name__in=known)
        if stale.exists():
            self.stdout.write(f"Removed {stale.delete()[0]} old schedule(s).")
