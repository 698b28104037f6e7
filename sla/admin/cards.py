"""The card admin, with the card's SLA timers: the timers inline and the "next due" column.

The card domain's admin (`tasks.admin.TaskAdmin`) knows nothing of SLA; this module, imported
by `sla.admin`, registers the card admin again with what the SLA side adds to it.
"""

from __future__ import annotations

from datetime import datetime

from django.contrib import admin
from django.db.models import Min, Q, QuerySet
from django.http import HttpRequest

from sla.models import SlaTimer
from tasks.admin import ReadOnlyMixin, TaskAdmin
from tasks.models import Task


class SlaTimerInline(ReadOnlyMixin, admin.TabularInline):
    model = SlaTimer
    fields = [
        "kind",
        "cycle",
        "state",
        "policy",
        "observe",
        "target",
        "consumed",
        "started_at",
        "warn_at",
        "due_at",
        "breached_at",
        "stopped_at",
        "next_check_at",
    ]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True
    verbose_name_plural = "SLA timers"

    def get_queryset(self, request: HttpRequest) -> QuerySet[SlaTimer]:
        return super().get_queryset(request).select_related("policy")


class TaskWithTimersAdmin(TaskAdmin):
    list_display = [*TaskAdmin.list_display[:-1], "next_due", TaskAdmin.list_display[-1]]
    inlines = [SlaTimerInline, *TaskAdmin.inlines]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Task]:
        return (
            super()
            .get_queryset(request)
            .annotate(next_due=Min("timers__due_at", filter=Q(timers__stopped_at__isnull=True)))
        )

    @admin.display(description="next due", ordering="next_due")
    def next_due(self, task: Task) -> datetime | None:
        return task.next_due


if admin.site.is_registered(Task):
    admin.site.unregister(Task)
admin.site.register(Task, TaskWithTimersAdmin)
