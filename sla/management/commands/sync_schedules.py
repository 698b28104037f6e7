"""Register every app's recurring jobs with django-q2. Idempotent: update_or_create by name.

The schedules are declared beside the jobs, as `SCHEDULES` in each app's `jobs.py`, and found
by `sla.schedules.collect()`: this command knows no app's jobs.
"""

from datetime import timedelta

from django.core.management.base import BaseCommand
from django.utils import timezone
from django_q.models import Schedule

from sla import schedules


class Command(BaseCommand):
    help = "Register the scheduled jobs every app declares in its jobs.py; safe to re-run."

    def handle(self, *args, **options) -> None:
        # First run on the next minute, not "now": a new schedule would otherwise fire at
        # once on every deploy. Existing schedules keep their next_run.
        first_run = timezone.now().replace(second=0, microsecond=0) + timedelta(minutes=1)
        declared = schedules.collect()
        for spec in (spec for specs in declared.values() for spec in specs):
            schedule, created = Schedule.objects.update_or_create(
                name=spec.name, defaults=spec.fields()
            )
            # A cron schedule got its next slot from django-q on create; the next minute
            # would send e.g. a weekly digest straight after the first deploy.
            if created and schedule.schedule_type != Schedule.CRON:
                Schedule.objects.filter(pk=schedule.pk).update(next_run=first_run)
            self.stdout.write(f"{'Created' if created else 'Up to date'}: {spec.name}")
        # Schedules an app no longer declares (named after the app, as its schedules are);
        # schedules added by hand under other names are left alone.
        known = [spec.name for specs in declared.values() for spec in specs]
        removed = 0
        for label in declared:
            stale = Schedule.objects.filter(name__startswith=f"{label}: ").exclude(name__in=known)
            removed += stale.delete()[0]
        if removed:
            self.stdout.write(f"Removed {removed} old schedule(s).")
