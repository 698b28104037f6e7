"""Squashed: the whole schema in one step for a fresh database.

A database migrated with the earlier migrations listed in `replaces` has all of them
recorded, so Django counts this migration as applied and `migrate` does nothing there. A
database stopped part-way through those migrations cannot use this file: bring it up to
date with the code from before the squash first.

The earlier data steps (dropping the card facts computed before the clock outcomes existed,
filling the `previous_*` starts of existing stretches) concerned rows a fresh database does
not have; the report tables are derived and `reports.rollup` rebuilds them.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    replaces = [
        ("reports", "0002_card_outcomes_daily_volume"),
        ("reports", "0003_stage_lookup_covering"),
        ("reports", "0004_flow_first_visits_and_percentile_indexes"),
        ("reports", "0005_covering_type_priority"),
        ("reports", "0006_first_response_percentile_indexes"),
    ]

    dependencies = [
        ("sla", "0001_initial"),
        ("tasks", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="StaleDay",
            fields=[
                ("day", models.DateField(primary_key=True, serialize=False)),
            ],
        ),
        migrations.CreateModel(
            name="CardFacts",
            fields=[
                (
                    "task",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="report_facts",
                        serialize=False,
                        to="tasks.task",
                    ),
                ),
                ("version", models.PositiveIntegerField()),
                ("has_sla", models.BooleanField(default=False)),
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
                ("created_at", models.DateTimeField()),
                (
                    "response_business",
                    models.DurationField(help_text="Created → first response.", null=True),
                ),
                (
                    "resolution_business",
                    models.DurationField(help_text="Created → done.", null=True),
                ),
                ("handoffs", models.PositiveSmallIntegerField(default=0)),
                ("computed_at", models.DateTimeField()),
                (
                    "calendar",
                    models.ForeignKey(
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        to="sla.businesscalendar",
                    ),
                ),
                (
                    "client",
                    models.ForeignKey(
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="tasks.relatedobject",
                    ),
                ),
                (
                    "request_type",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="tasks.requesttype",
                    ),
                ),
                (
                    "team",
                    models.ForeignKey(
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="tasks.team",
                    ),
                ),
                (
                    "owner",
                    models.ForeignKey(
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                ("resolution_cancelled", models.PositiveSmallIntegerField(default=0)),
                ("resolution_clocks", models.PositiveSmallIntegerField(default=0)),
                ("resolution_met", models.PositiveSmallIntegerField(default=0)),
                ("resolution_missed", models.PositiveSmallIntegerField(default=0)),
                ("resolution_running", models.PositiveSmallIntegerField(default=0)),
                ("resolved_at", models.DateTimeField(null=True)),
                ("response_cancelled", models.PositiveSmallIntegerField(default=0)),
                ("response_clocks", models.PositiveSmallIntegerField(default=0)),
                ("response_consumed", models.DurationField(null=True)),
                ("response_met", models.PositiveSmallIntegerField(default=0)),
                ("response_missed", models.PositiveSmallIntegerField(default=0)),
                ("response_running", models.PositiveSmallIntegerField(default=0)),
                ("timers_seen", models.DateTimeField(null=True)),
            ],
            options={
                "verbose_name": "card facts",
                "verbose_name_plural": "card facts",
                "permissions": [
                    ("view_reports", "Can view reports, calibration and the weekly review")
                ],
                "indexes": [
                    models.Index(fields=["created_at"], name="facts_created"),
                    models.Index(
                        fields=["request_type", "priority"],
                        include=(
                            "created_at",
                            "response_business",
                            "resolution_business",
                            "team",
                            "client",
                        ),
                        name="facts_type_priority",
                    ),
                    models.Index(
                        fields=["response_consumed"],
                        include=("created_at", "priority", "request_type", "team", "client"),
                        name="facts_response_consumed",
                    ),
                    models.Index(
                        fields=["priority", "response_consumed"],
                        include=("created_at", "request_type", "team", "client"),
                        name="facts_priority_response",
                    ),
                    models.Index(fields=["computed_at"], name="facts_computed"),
                    models.Index(fields=["resolved_at"], name="facts_resolved"),
                    models.Index(
                        fields=["created_at"],
                        include=(
                            "priority",
                            "request_type",
                            "response_consumed",
                            "response_business",
                            "resolution_business",
                        ),
                        name="facts_created_response",
                    ),
                ],
            },
        ),
        migrations.CreateModel(
            name="DailyVolume",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("day", models.DateField()),
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
                ("created", models.PositiveIntegerField(default=0)),
                ("closed", models.PositiveIntegerField(default=0)),
                ("breached", models.PositiveIntegerField(default=0)),
                ("response_cards", models.PositiveIntegerField(default=0)),
                ("response_met", models.PositiveIntegerField(default=0)),
                ("response_missed", models.PositiveIntegerField(default=0)),
                ("response_running", models.PositiveIntegerField(default=0)),
                ("response_cancelled", models.PositiveIntegerField(default=0)),
                ("resolution_cards", models.PositiveIntegerField(default=0)),
                ("resolution_met", models.PositiveIntegerField(default=0)),
                ("resolution_missed", models.PositiveIntegerField(default=0)),
                ("resolution_running", models.PositiveIntegerField(default=0)),
                ("resolution_cancelled", models.PositiveIntegerField(default=0)),
                (
                    "request_type",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="tasks.requesttype",
                    ),
                ),
                (
                    "team",
                    models.ForeignKey(
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="tasks.team",
                    ),
                ),
            ],
            options={
                "indexes": [models.Index(fields=["day"], name="daily_volume_day")],
            },
        ),
        migrations.CreateModel(
            name="DigestSent",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("week_start", models.DateField()),
                ("recipient", models.EmailField(max_length=254)),
                ("sent_at", models.DateTimeField()),
                (
                    "team",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="tasks.team",
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("team", "week_start"), name="one_digest_per_week"
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="StageInterval",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
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
                ("started_at", models.DateTimeField()),
                ("ended_at", models.DateTimeField(null=True)),
                ("business", models.DurationField(null=True)),
                (
                    "approver",
                    models.ForeignKey(
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "client",
                    models.ForeignKey(
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="tasks.relatedobject",
                    ),
                ),
                (
                    "handoff_from",
                    models.ForeignKey(
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="tasks.team",
                    ),
                ),
                (
                    "request_type",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="tasks.requesttype",
                    ),
                ),
                (
                    "task",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="stage_intervals",
                        to="tasks.task",
                    ),
                ),
                (
                    "team",
                    models.ForeignKey(
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="tasks.team",
                    ),
                ),
                ("previous_after_handoff", models.DateTimeField(null=True)),
                ("previous_in_status", models.DateTimeField(null=True)),
                ("previous_waiting_in_team", models.DateTimeField(null=True)),
                ("previous_with_approver", models.DateTimeField(null=True)),
            ],
            options={
                "ordering": ["task", "started_at", "pk"],
                "indexes": [
                    models.Index(
                        fields=["status", "business"],
                        include=("started_at", "request_type", "priority", "client"),
                        name="stage_status_business",
                    ),
                    models.Index(
                        condition=models.Q(("status__in", ["waiting", "on_approval"])),
                        fields=["team", "business"],
                        include=("started_at", "request_type", "priority", "client"),
                        name="stage_waiting_business",
                    ),
                    models.Index(
                        condition=models.Q(("status", "on_approval")),
                        fields=["approver", "business"],
                        include=("started_at", "request_type", "priority", "client"),
                        name="stage_approval_business",
                    ),
                    models.Index(
                        condition=models.Q(("handoff_from__isnull", False)),
                        fields=["handoff_from", "team", "business"],
                        include=("started_at", "request_type", "priority", "client"),
                        name="stage_handoff_business",
                    ),
                    models.Index(fields=["started_at", "status"], name="stage_started_status"),
                    models.Index(
                        fields=["task", "started_at"],
                        include=("status", "team"),
                        name="stage_task_started",
                    ),
                ],
            },
        ),
    ]
