"""Squashed: the whole schema in one step for a fresh database.

A database migrated with the earlier migrations listed in `replaces` has all of them
recorded, so Django counts this migration as applied and `migrate` does nothing there. A
database stopped part-way through those migrations cannot use this file: bring it up to
date with the code from before the squash first.

Nothing was dropped: the earlier steps only created the tables and the partial indexes of
the queues and filters, which the models declare.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    replaces = [
        ("tasks", "0002_task_task_flagged_open_task_task_nextless_open"),
        ("tasks", "0003_queue_filters_read_indexes_alone"),
    ]

    dependencies = [
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="BlockingReason",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("name", models.CharField(max_length=100, unique=True)),
                (
                    "pauses_sla",
                    models.BooleanField(
                        default=True,
                        help_text="External waits pause SLA clocks; internal decisions usually don't.",
                        verbose_name="pauses SLA",
                    ),
                ),
                ("active", models.BooleanField(default=True)),
            ],
            options={
                "ordering": ["name"],
            },
        ),
        migrations.CreateModel(
            name="RequestType",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("name", models.CharField(max_length=100, unique=True)),
                ("description", models.TextField(blank=True)),
                ("active", models.BooleanField(default=True)),
            ],
            options={
                "ordering": ["name"],
            },
        ),
        migrations.CreateModel(
            name="RelatedObject",
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
                ("name", models.CharField(max_length=200)),
                (
                    "external_ref",
                    models.CharField(blank=True, max_length=100, verbose_name="external reference"),
                ),
                ("url", models.URLField(blank=True)),
                (
                    "parent",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="children",
                        to="tasks.relatedobject",
                    ),
                ),
                (
                    "root",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="descendants",
                        to="tasks.relatedobject",
                    ),
                ),
            ],
            options={
                "ordering": ["name"],
            },
        ),
        migrations.CreateModel(
            name="Task",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("title", models.CharField(max_length=200)),
                ("description", models.TextField(blank=True)),
                (
                    "priority",
                    models.CharField(
                        choices=[
                            ("critical", "Critical"),
                            ("high", "High"),
                            ("normal", "Normal"),
                            ("low", "Low"),
                        ],
                        default="normal",
                        max_length=10,
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
                        default="new",
                        max_length=15,
                    ),
                ),
                ("next_step", models.CharField(blank=True, max_length=300)),
                ("next_step_due", models.DateTimeField(blank=True, null=True)),
                (
                    "source_url",
                    models.URLField(blank=True, max_length=500, verbose_name="source link"),
                ),
                ("created_at", models.DateTimeField()),
                ("first_response_at", models.DateTimeField(blank=True, null=True)),
                ("resolved_at", models.DateTimeField(blank=True, null=True)),
                ("updated_at", models.DateTimeField()),
                ("dispatch_flag", models.CharField(blank=True, max_length=200)),
                ("version", models.PositiveIntegerField(default=1)),
                (
                    "approver",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="approving_tasks",
                        to=settings.AUTH_USER_MODEL,
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
                    "observers",
                    models.ManyToManyField(
                        blank=True, related_name="observed_tasks", to=settings.AUTH_USER_MODEL
                    ),
                ),
                (
                    "owner",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="owned_tasks",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "performers",
                    models.ManyToManyField(
                        blank=True, related_name="performing_tasks", to=settings.AUTH_USER_MODEL
                    ),
                ),
                (
                    "related_object",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="tasks",
                        to="tasks.relatedobject",
                    ),
                ),
                (
                    "request_type",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, to="tasks.requesttype"
                    ),
                ),
            ],
            options={
                "ordering": ["-created_at"],
                "permissions": [
                    ("assign_task", "Can assign owners, performers and approvers"),
                    ("work_task", "Can work on cards (status, next step, comments)"),
                ],
            },
        ),
        migrations.CreateModel(
            name="Comment",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("text", models.TextField()),
                ("created_at", models.DateTimeField()),
                (
                    "author",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, to=settings.AUTH_USER_MODEL
                    ),
                ),
                (
                    "task",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="comments",
                        to="tasks.task",
                    ),
                ),
            ],
            options={
                "ordering": ["created_at"],
            },
        ),
        migrations.CreateModel(
            name="TaskEvent",
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
                        choices=[
                            ("created", "Created"),
                            ("status_changed", "Status changed"),
                            ("blocking_reason_set", "Blocking reason set"),
                            ("blocking_reason_cleared", "Blocking reason cleared"),
                            ("owner_changed", "Owner changed"),
                            ("performers_changed", "Performers changed"),
                            ("approver_changed", "Approver changed"),
                            ("priority_changed", "Priority changed"),
                            ("request_type_changed", "Request type changed"),
                            ("team_changed", "Team changed"),
                            ("next_step_set", "Next step set"),
                            ("details_changed", "Details changed"),
                            ("dispatch_flagged", "Flagged for dispatch"),
                            ("commented", "Commented"),
                        ],
                        max_length=30,
                    ),
                ),
                ("field", models.CharField(blank=True, max_length=30)),
                ("old_value", models.JSONField(blank=True, null=True)),
                ("new_value", models.JSONField(blank=True, null=True)),
                ("note", models.TextField(blank=True)),
                ("at", models.DateTimeField()),
                (
                    "actor",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "comment",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        to="tasks.comment",
                    ),
                ),
                (
                    "task",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="events",
                        to="tasks.task",
                    ),
                ),
            ],
            options={
                "ordering": ["at", "pk"],
            },
        ),
        migrations.CreateModel(
            name="Team",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("name", models.CharField(max_length=100, unique=True)),
                (
                    "slack_webhook_url",
                    models.URLField(
                        blank=True, help_text="Slack incoming webhook for this team's escalations."
                    ),
                ),
                (
                    "manager",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="managed_teams",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "members",
                    models.ManyToManyField(
                        blank=True, related_name="teams", to=settings.AUTH_USER_MODEL
                    ),
                ),
            ],
            options={
                "ordering": ["name"],
            },
        ),
        migrations.AddField(
            model_name="task",
            name="team",
            field=models.ForeignKey(
                blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, to="tasks.team"
            ),
        ),
        migrations.AddField(
            model_name="requesttype",
            name="default_team",
            field=models.ForeignKey(
                blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, to="tasks.team"
            ),
        ),
        migrations.AddIndex(
            model_name="relatedobject",
            index=models.Index(fields=["kind", "name"], name="tasks_relat_kind_e8e456_idx"),
        ),
        migrations.AddIndex(
            model_name="taskevent",
            index=models.Index(fields=["task", "at"], name="event_task_at"),
        ),
        migrations.AddIndex(
            model_name="taskevent",
            index=models.Index(fields=["kind", "at"], name="event_kind_at"),
        ),
        migrations.AddIndex(
            model_name="task",
            index=models.Index(
                condition=models.Q(("status__in", ("done", "cancelled")), _negated=True),
                fields=["owner", "status"],
                name="task_owner_open",
            ),
        ),
        migrations.AddIndex(
            model_name="task",
            index=models.Index(
                condition=models.Q(("status__in", ("done", "cancelled")), _negated=True),
                fields=["owner", "id"],
                include=(
                    "team",
                    "request_type",
                    "priority",
                    "status",
                    "blocking_reason",
                    "related_object",
                ),
                name="task_open_filters",
            ),
        ),
        migrations.AddIndex(
            model_name="task",
            index=models.Index(fields=["team", "status"], name="task_team_status"),
        ),
        migrations.AddIndex(
            model_name="task",
            index=models.Index(
                condition=models.Q(
                    models.Q(("status__in", ("done", "cancelled")), _negated=True),
                    ("owner__isnull", True),
                ),
                fields=["created_at"],
                name="task_unowned_open",
            ),
        ),
        migrations.AddIndex(
            model_name="task",
            index=models.Index(
                condition=models.Q(
                    models.Q(("status__in", ("done", "cancelled")), _negated=True),
                    models.Q(("dispatch_flag", ""), _negated=True),
                ),
                fields=["created_at", "id"],
                name="task_flagged_open",
            ),
        ),
        migrations.AddIndex(
            model_name="task",
            index=models.Index(
                condition=models.Q(
                    models.Q(("status__in", ("done", "cancelled")), _negated=True),
                    ("dispatch_flag", ""),
                    ("next_step", ""),
                    ("owner__isnull", False),
                ),
                fields=["created_at", "id"],
                name="task_nextless_open",
            ),
        ),
        migrations.AddIndex(
            model_name="task",
            index=models.Index(fields=["status", "created_at"], name="task_status_created"),
        ),
        migrations.AddIndex(
            model_name="task",
            index=models.Index(fields=["request_type", "priority"], name="task_type_priority"),
        ),
    ]
