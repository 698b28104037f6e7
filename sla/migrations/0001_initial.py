"""Squashed: the whole schema in one step for a fresh database.

A database migrated with the earlier migrations listed in `replaces` has all of them
recorded, so Django counts this migration as applied and `migrate` does nothing there. A
database stopped part-way through those migrations cannot use this file: bring it up to
date with the code from before the squash first.

The earlier steps that the models do not express, and why a fresh database does not need
them:

- the foreign keys of timers, events and notifications carry `db_index=False` (the scan
  writes fewer index entries; see the models), so they are created without the indexes the
  earlier migration had to drop by name with plain SQL, and `Notification.event`,
  `Notification.recipient` and `SlaEvent.timer` without a database constraint;
- `due_clock` and `target_seconds` were added to a table that could hold running timers;
  here they exist from the start, together with the check constraint
  `open_timer_on_the_clock_axis_while_running` that `sla.actions` writes to.
"""

import datetime
import django.db.models.deletion
import sla.models
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    replaces = [
        ("sla", "0002_slatimer_due_clock_slatimer_target_seconds"),
        ("sla", "0003_slatimer_timer_open_breached_and_more"),
        ("sla", "0004_scan_write_fewer_indexes"),
        ("sla", "0005_outbox_links_without_database_fk"),
        ("sla", "0006_event_follow_up"),
        ("sla", "0007_queue_streams_read_indexes_alone"),
    ]

    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("tasks", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="BusinessCalendar",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("name", models.CharField(max_length=100, unique=True)),
                (
                    "timezone",
                    models.CharField(
                        default="Europe/Berlin",
                        max_length=64,
                        validators=[sla.models.validate_timezone],
                    ),
                ),
                ("always_open", models.BooleanField(default=False, verbose_name="24/7")),
                ("revision", models.PositiveIntegerField(default=1, editable=False)),
            ],
            options={
                "ordering": ["name"],
            },
        ),
        migrations.CreateModel(
            name="SlaPolicy",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("name", models.CharField(max_length=100, unique=True)),
                ("order", models.PositiveIntegerField(default=100)),
                ("is_default", models.BooleanField(default=False, verbose_name="default policy")),
                ("active", models.BooleanField(default=True)),
                (
                    "priority",
                    models.CharField(
                        blank=True,
                        choices=[
                            ("critical", "Critical"),
                            ("high", "High"),
                            ("normal", "Normal"),
                            ("low", "Low"),
                        ],
                        max_length=10,
                    ),
                ),
                (
                    "related_object_kind",
                    models.CharField(
                        blank=True,
                        choices=[
                            ("client", "Client"),
                            ("deal", "Deal"),
                            ("order", "Order"),
                            ("document", "Document"),
                            ("application", "Application"),
                            ("site", "Site / object"),
                            ("candidate", "Candidate"),
                            ("other", "Other"),
                        ],
                        max_length=20,
                    ),
                ),
                (
                    "mode",
                    models.CharField(
                        choices=[
                            ("observe", "Observe (measure only)"),
                            ("enforce", "Enforce (warn and escalate)"),
                        ],
                        default="enforce",
                        max_length=10,
                    ),
                ),
                (
                    "pausing_statuses",
                    models.JSONField(
                        blank=True,
                        default=list,
                        help_text="Statuses during which this policy's timers pause.",
                    ),
                ),
                (
                    "pause_on_flagged_reasons",
                    models.BooleanField(
                        default=True,
                        help_text="Also pause on every blocking reason marked 'pauses SLA'.",
                    ),
                ),
                (
                    "calendar",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, to="sla.businesscalendar"
                    ),
                ),
                (
                    "pausing_reasons",
                    models.ManyToManyField(
                        blank=True,
                        help_text="Blocking reasons that pause timers under this policy.",
                        to="tasks.blockingreason",
                    ),
                ),
                (
                    "request_type",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        to="tasks.requesttype",
                    ),
                ),
                (
                    "team",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        to="tasks.team",
                    ),
                ),
            ],
            options={
                "verbose_name": "SLA policy",
                "verbose_name_plural": "SLA policies",
                "ordering": ["order", "name"],
            },
        ),
        migrations.CreateModel(
            name="EscalationRule",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("active", models.BooleanField(default=True)),
                (
                    "timer_kind",
                    models.CharField(
                        blank=True,
                        choices=[("response", "First response"), ("resolution", "Resolution")],
                        help_text="Blank: both timers.",
                        max_length=12,
                    ),
                ),
                (
                    "trigger",
                    models.CharField(
                        choices=[
                            ("warning", "At warning"),
                            ("breach", "At breach"),
                            ("after_breach", "Minutes after breach"),
                        ],
                        max_length=15,
                    ),
                ),
                ("minutes_after_breach", models.PositiveIntegerField(default=0)),
                (
                    "clock",
                    models.CharField(
                        choices=[
                            ("business", "Business time (policy calendar)"),
                            ("calendar", "Calendar time"),
                        ],
                        default="business",
                        max_length=10,
                    ),
                ),
                ("notify_owner", models.BooleanField(default=True)),
                ("notify_performers", models.BooleanField(default=False)),
                ("notify_approver", models.BooleanField(default=False)),
                ("notify_team_manager", models.BooleanField(default=False)),
                (
                    "notify_dispatchers",
                    models.BooleanField(
                        default=False, verbose_name="notify the team's dispatchers"
                    ),
                ),
                ("in_app", models.BooleanField(default=True, verbose_name="in-app")),
                ("email", models.BooleanField(default=False)),
                ("slack", models.BooleanField(default=False)),
                (
                    "slack_webhook_url",
                    models.URLField(
                        blank=True,
                        help_text="Slack incoming webhook; blank uses the card team's webhook.",
                    ),
                ),
                (
                    "action",
                    models.CharField(
                        blank=True,
                        choices=[
                            ("", "No action"),
                            ("raise_priority", "Raise priority one step"),
                            ("to_dispatch", "Flag for the dispatch queue"),
                        ],
                        max_length=20,
                    ),
                ),
                (
                    "notify_group",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="auth.group",
                    ),
                ),
                (
                    "notify_user",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "policy",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="rules",
                        to="sla.slapolicy",
                    ),
                ),
            ],
            options={
                "verbose_name": "escalation rule",
                "ordering": ["policy", "trigger", "minutes_after_breach", "pk"],
            },
        ),
        migrations.CreateModel(
            name="SlaTarget",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "priority",
                    models.CharField(
                        choices=[
                            ("critical", "Critical"),
                            ("high", "High"),
                            ("normal", "Normal"),
                            ("low", "Low"),
                        ],
                        max_length=10,
                    ),
                ),
                (
                    "response_target",
                    models.DurationField(
                        blank=True,
                        help_text="Business time until the card is taken into work.",
                        null=True,
                    ),
                ),
                (
                    "resolution_target",
                    models.DurationField(
                        blank=True, help_text="Business time until the card is done.", null=True
                    ),
                ),
                (
                    "warn_pct",
                    models.PositiveSmallIntegerField(
                        blank=True, default=75, null=True, verbose_name="warn at % consumed"
                    ),
                ),
                (
                    "warn_lead",
                    models.DurationField(
                        blank=True,
                        help_text="Business time before due.",
                        null=True,
                        verbose_name="warn this long before",
                    ),
                ),
                (
                    "policy",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="targets",
                        to="sla.slapolicy",
                    ),
                ),
            ],
            options={
                "verbose_name": "SLA target",
                "ordering": ["policy", "priority"],
            },
        ),
        migrations.CreateModel(
            name="SlaTimer",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "kind",
                    models.CharField(
                        choices=[("response", "First response"), ("resolution", "Resolution")],
                        max_length=12,
                    ),
                ),
                ("cycle", models.PositiveSmallIntegerField(default=1)),
                (
                    "observe",
                    models.BooleanField(default=False, help_text="Measured only: never alerts."),
                ),
                (
                    "state",
                    models.CharField(
                        choices=[
                            ("running", "Running"),
                            ("paused", "Paused"),
                            ("met", "Met"),
                            ("breached", "Breached"),
                            ("cancelled", "Cancelled"),
                        ],
                        default="running",
                        max_length=10,
                    ),
                ),
                ("target", models.DurationField()),
                ("warn_after", models.DurationField(blank=True, null=True)),
                ("consumed", models.DurationField(default=datetime.timedelta(0))),
                ("running_since", models.DateTimeField(blank=True, null=True)),
                ("started_at", models.DateTimeField()),
                ("warn_at", models.DateTimeField(blank=True, null=True)),
                ("due_at", models.DateTimeField(blank=True, null=True)),
                ("warned_at", models.DateTimeField(blank=True, null=True)),
                ("breached_at", models.DateTimeField(blank=True, null=True)),
                ("stopped_at", models.DateTimeField(blank=True, null=True)),
                ("next_check_at", models.DateTimeField(blank=True, null=True)),
                ("escalation_level", models.PositiveSmallIntegerField(default=0)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                (
                    "calendar",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        to="sla.businesscalendar",
                    ),
                ),
                (
                    "policy",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="timers",
                        to="sla.slapolicy",
                    ),
                ),
                (
                    "task",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="timers",
                        to="tasks.task",
                    ),
                ),
                ("due_clock", models.BigIntegerField(blank=True, null=True)),
                ("target_seconds", models.PositiveIntegerField(default=0)),
            ],
            options={
                "verbose_name": "SLA timer",
                "ordering": ["task", "kind", "cycle"],
            },
        ),
        migrations.CreateModel(
            name="SlaRetarget",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("at", models.DateTimeField()),
                ("old_target", models.DurationField()),
                ("new_target", models.DurationField()),
                ("consumed", models.DurationField(help_text="Business time already used, kept.")),
                (
                    "new_policy",
                    models.ForeignKey(
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="sla.slapolicy",
                    ),
                ),
                (
                    "old_policy",
                    models.ForeignKey(
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="sla.slapolicy",
                    ),
                ),
                (
                    "timer",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="retargets",
                        to="sla.slatimer",
                    ),
                ),
            ],
            options={
                "ordering": ["timer", "at"],
            },
        ),
        migrations.CreateModel(
            name="SlaPause",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("started_at", models.DateTimeField()),
                ("ended_at", models.DateTimeField(blank=True, null=True)),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("new", "New"),
                            ("assigned", "Assigned"),
                            ("in_progress", "In progress"),
                            ("waiting", "Waiting"),
                            ("on_approval", "On approval"),
                            ("done", "Done"),
                            ("cancelled", "Cancelled"),
                        ],
                        max_length=15,
                    ),
                ),
                (
                    "business_lost",
                    models.DurationField(
                        blank=True, help_text="Open business time inside the pause.", null=True
                    ),
                ),
                (
                    "blocking_reason",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        to="tasks.blockingreason",
                    ),
                ),
                (
                    "timer",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="pauses",
                        to="sla.slatimer",
                    ),
                ),
            ],
            options={
                "ordering": ["timer", "started_at"],
            },
        ),
        migrations.CreateModel(
            name="SlaEvent",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "key",
                    models.CharField(
                        help_text="warning, breach or escalation:<rule id>", max_length=40
                    ),
                ),
                (
                    "kind",
                    models.CharField(
                        choices=[
                            ("warning", "Warning"),
                            ("breach", "Breach"),
                            ("escalation", "Escalation"),
                        ],
                        max_length=12,
                    ),
                ),
                (
                    "at",
                    models.DateTimeField(
                        help_text="When the threshold was crossed (not when noticed)."
                    ),
                ),
                ("recorded_at", models.DateTimeField()),
                (
                    "observe",
                    models.BooleanField(
                        default=False, help_text="Observe mode: recorded, not sent."
                    ),
                ),
                (
                    "rule",
                    models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        to="sla.escalationrule",
                    ),
                ),
                (
                    "timer",
                    models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="events",
                        to="sla.slatimer",
                    ),
                ),
                (
                    "follow_up",
                    models.BooleanField(
                        db_default=False,
                        default=False,
                        help_text="Card-side reactions (dispatch flag, rule action) not yet run.",
                    ),
                ),
            ],
            options={
                "verbose_name": "SLA event",
                "ordering": ["at", "pk"],
            },
        ),
        migrations.CreateModel(
            name="WorkingInterval",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "weekday",
                    models.PositiveSmallIntegerField(
                        choices=[
                            (0, "Monday"),
                            (1, "Tuesday"),
                            (2, "Wednesday"),
                            (3, "Thursday"),
                            (4, "Friday"),
                            (5, "Saturday"),
                            (6, "Sunday"),
                        ]
                    ),
                ),
                ("start", models.TimeField()),
                ("end", models.TimeField(help_text="00:00 means midnight at the end of the day.")),
                (
                    "calendar",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="intervals",
                        to="sla.businesscalendar",
                    ),
                ),
            ],
            options={
                "ordering": ["weekday", "start"],
            },
        ),
        migrations.CreateModel(
            name="Holiday",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("date", models.DateField()),
                ("name", models.CharField(blank=True, max_length=100)),
                (
                    "calendar",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="holidays",
                        to="sla.businesscalendar",
                    ),
                ),
            ],
            options={
                "ordering": ["date"],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("calendar", "date"), name="holiday_once_per_day"
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="Notification",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "channel",
                    models.CharField(
                        choices=[("in_app", "In-app"), ("email", "Email"), ("slack", "Slack")],
                        max_length=10,
                    ),
                ),
                ("recipient_key", models.CharField(max_length=300)),
                (
                    "address",
                    models.CharField(blank=True, help_text="Email or webhook URL.", max_length=500),
                ),
                (
                    "state",
                    models.CharField(
                        choices=[("pending", "Pending"), ("sent", "Sent"), ("failed", "Failed")],
                        default="pending",
                        max_length=10,
                    ),
                ),
                ("attempts", models.PositiveSmallIntegerField(default=0)),
                ("last_error", models.TextField(blank=True)),
                ("next_attempt_at", models.DateTimeField(blank=True, null=True)),
                ("created_at", models.DateTimeField()),
                ("sent_at", models.DateTimeField(blank=True, null=True)),
                ("read_at", models.DateTimeField(blank=True, null=True)),
                (
                    "recipient",
                    models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="notifications",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "event",
                    models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="notifications",
                        to="sla.slaevent",
                    ),
                ),
            ],
            options={
                "ordering": ["-created_at", "-pk"],
                "indexes": [
                    models.Index(
                        condition=models.Q(("state", "pending")),
                        fields=["next_attempt_at"],
                        name="notification_pending",
                    ),
                    models.Index(
                        fields=["recipient", "channel", "read_at"], name="notification_inbox"
                    ),
                ],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("event", "channel", "recipient_key"),
                        name="one_notification_per_target",
                    )
                ],
            },
        ),
        migrations.AddConstraint(
            model_name="slapolicy",
            constraint=models.UniqueConstraint(
                condition=models.Q(("is_default", True)),
                fields=("is_default",),
                name="one_default_policy",
            ),
        ),
        migrations.AddConstraint(
            model_name="slatarget",
            constraint=models.UniqueConstraint(
                fields=("policy", "priority"), name="one_target_per_priority"
            ),
        ),
        migrations.AddIndex(
            model_name="slatimer",
            index=models.Index(
                condition=models.Q(("next_check_at__isnull", False), ("stopped_at__isnull", True)),
                fields=["next_check_at"],
                name="timer_next_check",
            ),
        ),
        migrations.AddIndex(
            model_name="slatimer",
            index=models.Index(
                condition=models.Q(("stopped_at__isnull", True)),
                fields=["due_at"],
                name="timer_open_due",
            ),
        ),
        migrations.AddIndex(
            model_name="slatimer",
            index=models.Index(fields=["state", "kind"], name="timer_state_kind"),
        ),
        migrations.AddIndex(
            model_name="slatimer",
            index=models.Index(
                condition=models.Q(("breached_at__isnull", False), ("stopped_at__isnull", True)),
                fields=["breached_at", "id"],
                name="timer_open_breached",
            ),
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
        migrations.AddIndex(
            model_name="slatimer",
            index=models.Index(
                condition=models.Q(("stopped_at__isnull", True)),
                fields=[
                    "calendar",
                    "target_seconds",
                    "state",
                    "due_at",
                    "running_since",
                    "warned_at",
                    "warn_at",
                    "breached_at",
                    "task",
                ],
                name="timer_open_counts",
            ),
        ),
        migrations.AddConstraint(
            model_name="slatimer",
            constraint=models.UniqueConstraint(
                fields=("task", "kind", "cycle"), name="one_timer_per_cycle"
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
        migrations.AddIndex(
            model_name="slapause",
            index=models.Index(fields=["blocking_reason", "started_at"], name="pause_reason"),
        ),
        migrations.AddIndex(
            model_name="slaevent",
            index=models.Index(fields=["kind", "at"], name="slaevent_kind_at"),
        ),
        migrations.AddIndex(
            model_name="slaevent",
            index=models.Index(
                condition=models.Q(("rule__isnull", False)), fields=["rule"], name="event_rule"
            ),
        ),
        migrations.AddIndex(
            model_name="slaevent",
            index=models.Index(
                condition=models.Q(("follow_up", True)), fields=["id"], name="event_follow_up"
            ),
        ),
        migrations.AddConstraint(
            model_name="slaevent",
            constraint=models.UniqueConstraint(
                fields=("timer", "key"), name="one_event_per_threshold"
            ),
        ),
    ]
