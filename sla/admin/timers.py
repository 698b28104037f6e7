"""Read-only admin of what the SLA side records: timers, pauses, re-targets, events and the
notification outbox (timers are written only by `sla.actions`, notification states only
by `sla.outbox`; failed notifications can be queued again)."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ChangeList
from django.db.models import QuerySet
from django.http import HttpRequest

from sla import outbox
from sla.models import (
    Notification,
    SlaEvent,
    SlaPause,
    SlaRetarget,
    SlaTimer,
)
from tasks.admin import ReadOnlyMixin
from tasks.validators import EARLIEST_DATE, LATEST_DATE


class SaneDatesChangeList(ChangeList):
    """The changelist whose date drill-down (`date_hierarchy`) refuses a year outside the
    sane range like any bad lookup (the admin's "?e=1" page), where Django's own fails with
    a 500 on year 9999 (there is no next year) or one beyond a C long."""

    def get_filters(self, request: HttpRequest):
        if self.date_hierarchy:
            year = request.GET.get(f"{self.date_hierarchy}__year")
            if year is not None and not (
                year.isascii()
                and year.isdigit()
                and EARLIEST_DATE.year <= int(year) <= LATEST_DATE.year
            ):
                raise IncorrectLookupParameters(f"No year {year[:10]!r} to show.")
        try:
            return super().get_filters(request)
        except (ValueError, OverflowError) as error:
            raise IncorrectLookupParameters(error) from error


class SaneDatesMixin:
    def get_changelist(self, request: HttpRequest, **kwargs):
        return SaneDatesChangeList


class SlaPauseInline(ReadOnlyMixin, admin.TabularInline):
    model = SlaPause
    fields = ["started_at", "ended_at", "status", "blocking_reason", "business_lost"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[SlaPause]:
        return super().get_queryset(request).select_related("blocking_reason")


class SlaRetargetInline(ReadOnlyMixin, admin.TabularInline):
    model = SlaRetarget
    fk_name = "timer"
    fields = ["at", "old_target", "new_target", "consumed", "old_policy", "new_policy"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[SlaRetarget]:
        return super().get_queryset(request).select_related("old_policy", "new_policy")


class SlaEventInline(ReadOnlyMixin, admin.TabularInline):
    model = SlaEvent
    fields = ["kind", "key", "rule", "at", "recorded_at", "observe"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def get_queryset(self, request: HttpRequest) -> QuerySet[SlaEvent]:
        return super().get_queryset(request).select_related("rule__policy")


@admin.register(SlaTimer)
class SlaTimerAdmin(SaneDatesMixin, ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["task", "kind", "cycle", "state", "due_at", "next_check_at", "observe"]
    list_filter = ["state", "kind", "observe", "policy", "calendar"]
    list_select_related = ["task"]
    search_fields = ["=task__id", "task__title"]
    date_hierarchy = "started_at"
    inlines = [SlaPauseInline, SlaRetargetInline, SlaEventInline]


@admin.register(SlaPause)
class SlaPauseAdmin(SaneDatesMixin, ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["timer", "started_at", "ended_at", "status", "blocking_reason", "business_lost"]
    list_filter = ["status", "blocking_reason"]
    list_select_related = ["timer", "blocking_reason"]
    search_fields = ["=timer__task__id"]
    date_hierarchy = "started_at"


class NotificationInline(ReadOnlyMixin, admin.TabularInline):
    model = Notification
    fields = ["channel", "recipient", "address", "state", "attempts", "last_error", "sent_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Notification]:
        return super().get_queryset(request).select_related("recipient")


@admin.register(SlaEvent)
class SlaEventAdmin(SaneDatesMixin, ReadOnlyMixin, admin.ModelAdmin):
    """Thresholds that fired: the exactly-once record behind every alert."""

    list_display = ["at", "kind", "timer", "rule", "observe", "recorded_at"]
    list_filter = ["kind", "observe"]
    list_select_related = ["timer", "rule__policy"]
    search_fields = ["=timer__task__id", "key"]
    date_hierarchy = "at"
    inlines = [NotificationInline]


@admin.register(Notification)
class NotificationAdmin(SaneDatesMixin, ReadOnlyMixin, admin.ModelAdmin):
    """The outbox, delivered by sla.jobs with retries: look, don't touch."""

    list_display = [
        "created_at",
        "channel",
        "recipient",
        "state",
        "attempts",
        "next_attempt_at",
        "sent_at",
        "event",
        "card_event",  # a card notice (sla.card_notices) instead of a timer's event
    ]
    list_filter = ["state", "channel"]
    list_select_related = ["recipient", "event__timer", "card_event"]
    search_fields = ["address", "recipient__username", "last_error"]
    date_hierarchy = "created_at"
    actions = ["resend_failed"]

    def has_resend_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("sla.change_notification")

    @admin.action(description="Resend selected failed notifications", permissions=["resend"])
    def resend_failed(self, request: HttpRequest, queryset: QuerySet[Notification]) -> None:
        count = outbox.resend(queryset)
        self.message_user(request, f"Queued {count} failed notification(s) for another try.")
