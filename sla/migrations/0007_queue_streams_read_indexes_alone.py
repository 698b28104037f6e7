"""The at-risk queue's streams read their indexes alone (sla.queries.risk_page).

- `timer_open_clock` and `timer_open_paused` carry the columns the band is computed from
  (PostgreSQL INCLUDE; SQLite builds them without): a stream of running timers skips the
  rows of other bands inside the index instead of fetching each from the table.
- The constraint states what `sla.actions._store` already does: an open timer has a
  `due_clock` exactly while it runs. The queue then reads paused timers of one band in key
  order through `timer_open_paused` instead of ranking every paused timer. Adding it reads
  the table once.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("sla", "0006_event_follow_up"),
        ("tasks", "0002_task_task_flagged_open_task_task_nextless_open"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="slatimer",
            name="timer_open_clock",
        ),
        migrations.RemoveIndex(
            model_name="slatimer",
            name="timer_open_paused",
        ),
        migrations.AddIndex(
            model_name="slatimer",
            index=models.Index(
                condition=models.Q(
                    ("breached_at__isnull", True),
                    ("running_since__isnull", False),
                    ("stopped_at__isnull", True),
                ),
                fields=["calendar", "target_seconds", "due_clock", "id"],
                include=("state", "due_at", "running_since", "warned_at", "warn_at"),
                name="timer_open_clock",
            ),
        ),
        migrations.AddIndex(
            model_name="slatimer",
            index=models.Index(
                condition=models.Q(
                    ("breached_at__isnull", True),
                    ("running_since__isnull", True),
                    ("stopped_at__isnull", True),
                ),
                fields=["id"],
                include=("state", "due_at", "running_since", "warned_at", "warn_at"),
                name="timer_open_paused",
            ),
        ),
        migrations.AddConstraint(
            model_name="slatimer",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("stopped_at__isnull", False),
                    models.Q(("due_clock__isnull", False), ("running_since__isnull", False)),
                    models.Q(("due_clock__isnull", True), ("running_since__isnull", True)),
                    _connector="OR",
                ),
                name="open_timer_on_the_clock_axis_while_running",
            ),
        ),
    ]
