"""Fewer indexes for the scan to write: drop the foreign-key indexes no query needs.

Each index costs an entry per timer version the scan writes (its UPDATE cannot be HOT:
`next_check_at` and `state` are indexed) and per event and notification it inserts.
Dropped: the single-column indexes Django adds to foreign keys where a composite index
already leads with the column (timer's card: `one_timer_per_cycle`; event's timer:
`one_event_per_threshold`; notification's event: `one_notification_per_target`;
notification's recipient: `notification_inbox`), the timer's policy and calendar (read only
when a policy or calendar is deleted, which PROTECT refuses while timers use it, and by
policy recomputes; open timers of a calendar go through `timer_open_counts`), and the
event's rule, replaced by a partial index on the few events that have one (escalations).

Only the indexes are dropped, by name, with plain SQL: Django's AlterField would also drop
and re-validate every foreign-key constraint on these big tables. The constraints stay.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

# (table, index Django created for the foreign key, column)
DROPPED = [
    ("sla_slatimer", "sla_slatimer_task_id_0e7f6896", "task_id"),
    ("sla_slatimer", "sla_slatimer_policy_id_3bdc2561", "policy_id"),
    ("sla_slatimer", "sla_slatimer_calendar_id_b99156b6", "calendar_id"),
    ("sla_slaevent", "sla_slaevent_timer_id_c17240eb", "timer_id"),
    ("sla_slaevent", "sla_slaevent_rule_id_129e8f3b", "rule_id"),
    ("sla_notification", "sla_notification_event_id_6f0d1cd3", "event_id"),
    ("sla_notification", "sla_notification_recipient_id_1c81e0ef", "recipient_id"),
]


class Migration(migrations.Migration):
    dependencies = [
        ("sla", "0003_slatimer_timer_open_breached_and_more"),
        ("tasks", "0002_task_task_flagged_open_task_task_nextless_open"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    sql=f'DROP INDEX IF EXISTS "{index}"',
                    reverse_sql=f'CREATE INDEX "{index}" ON "{table}" ("{column}")',
                )
                for table, index, column in DROPPED
            ],
            state_operations=[
                migrations.AlterField(
                    model_name="notification",
                    name="event",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="notifications",
                        to="sla.slaevent",
                    ),
                ),
                migrations.AlterField(
                    model_name="notification",
                    name="recipient",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="notifications",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                migrations.AlterField(
                    model_name="slaevent",
                    name="rule",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        to="sla.escalationrule",
                    ),
                ),
                migrations.AlterField(
                    model_name="slaevent",
                    name="timer",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="events",
                        to="sla.slatimer",
                    ),
                ),
                migrations.AlterField(
                    model_name="slatimer",
                    name="calendar",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        to="sla.businesscalendar",
                    ),
                ),
                migrations.AlterField(
                    model_name="slatimer",
                    name="policy",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="timers",
                        to="sla.slapolicy",
                    ),
                ),
                migrations.AlterField(
                    model_name="slatimer",
                    name="task",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="timers",
                        to="tasks.task",
                    ),
                ),
            ],
        ),
        migrations.AddIndex(
            model_name="slaevent",
            index=models.Index(
                condition=models.Q(("rule__isnull", False)), fields=["rule"], name="event_rule"
            ),
        ),
    ]
