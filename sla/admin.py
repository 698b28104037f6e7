"""Django admin for SLA configuration (calendars, policies) and a read-only view of timers.

A change of a calendar's hours, holidays or timezone re-derives the deadlines of the timers
running on it (`sla.actions.recompute_calendar_timers`); timers themselves are written only
by `sla.actions`, so their admin is read-only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone

from sla import jobs
from sla.actions import recompute_calendar_timers
from sla.admin_forms import (
    DeadlinePreviewForm,
    HolidayImportForm,
    SlaPolicyForm,
    SlaTargetForm,
    SlaTargetFormSet,
    WorkingIntervalFormSet,
)
from sla.calendar import WorkCalendar
from sla.holiday_import import UnknownHolidayRegion, import_public_holidays
from sla.models import (
    BusinessCalendar,
    EscalationRule,
    Holiday,
    Notification,
    SlaEvent,
    SlaPause,
    SlaPolicy,
    SlaRetarget,
    SlaTarget,
    SlaTimer,
    TimerKind,
    WorkingInterval,
)
from tasks.admin import URL_FIELDS, ReadOnlyMixin
from tasks.models import Priority

# ---------------------------------------------------------------- calendars


class WorkingIntervalInline(admin.TabularInline):
    model = WorkingInterval
    formset = WorkingIntervalFormSet
    extra = 1
    verbose_name_plural = (
        "working intervals (local time; start after end = overnight, end 00:00 = midnight)"
    )


class HolidayInline(admin.TabularInline):
    model = Holiday
    extra = 1


def _work_calendar(calendar: BusinessCalendar) -> WorkCalendar | None:
    """The calendar as stored right now, or None when it cannot be used (no hours yet)."""
    try:
        return calendar.build_work_calendar()
    except ValueError:
        return None


@admin.register(BusinessCalendar)
class BusinessCalendarAdmin(admin.ModelAdmin):
    list_display = ["name", "timezone", "always_open", "interval_count", "holiday_count"]
    list_filter = ["always_open", "timezone"]
    search_fields = ["name"]
    readonly_fields = ["revision"]
    inlines = [WorkingIntervalInline, HolidayInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[BusinessCalendar]:
        return (
            super()
            .get_queryset(request)
            .annotate(
                interval_count=Count("intervals", distinct=True),
                holiday_count=Count("holidays", distinct=True),
            )
        )

    @admin.display(description="intervals", ordering="interval_count")
    def interval_count(self, calendar: BusinessCalendar) -> int:
        return calendar.interval_count

    @admin.display(description="holidays", ordering="holiday_count")
    def holiday_count(self, calendar: BusinessCalendar) -> int:
        return calendar.holiday_count

    def get_object(self, request: HttpRequest, object_id: str, from_field=None):
        calendar = super().get_object(request, object_id, from_field)
        if calendar is not None and request.method == "POST":
            # The hours as they are before this request changes them: time already used on
            # running timers stays measured by these (see save_related).
            calendar.work_calendar_before = _work_calendar(calendar)
        return calendar

    def save_related(self, request: HttpRequest, form, formsets, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        calendar = form.instance
        if not change:
            return
        before = getattr(calendar, "work_calendar_before", None)
        after = _work_calendar(calendar)
        if before == after:
            return  # e.g. only the name changed
        calendar.touch()
        if before is None or after is None:
            return  # no timer can have run on an unusable calendar
        count = recompute_calendar_timers(calendar=calendar, before=before, at=timezone.now())
        self.message_user(
            request,
            f"The hours of {calendar} changed: recomputed the deadlines of {count} open timer(s).",
            messages.INFO,
        )

    def get_urls(self):
        return [
            path(
                "<path:object_id>/import-holidays/",
                self.admin_site.admin_view(self.import_holidays_view),
                name="sla_businesscalendar_import_holidays",
            ),
            *super().get_urls(),
        ]

    def import_holidays_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        calendar = self.get_object(request, unquote(object_id))
        if calendar is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if not self.has_change_permission(request, calendar):
            raise PermissionDenied
        form = HolidayImportForm(request.POST or None, initial={"years": _next_years()})
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            open_timers = SlaTimer.objects.open().filter(calendar=calendar).count()
            try:
                added = import_public_holidays(
                    calendar=calendar,
                    country=data["country"],
                    subdiv=data["subdiv"],
                    years=data["years"],
                )
            except UnknownHolidayRegion as exc:
                form.add_error(None, str(exc))
            else:
                region = "-".join(filter(None, [data["country"], data["subdiv"].upper()]))
                years = ", ".join(map(str, data["years"]))
                note = f"; recomputed the deadlines of {open_timers} open timer(s)" if added else ""
                self.message_user(
                    request,
                    f"Added {added} public holiday(s) of {region} for {years} to {calendar}{note}.",
                    messages.SUCCESS if added else messages.INFO,
                )
                return HttpResponseRedirect(
                    reverse("admin:sla_businesscalendar_change", args=[calendar.pk])
                )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": calendar,
            "title": f"Import public holidays into {calendar}",
            "form": form,
        }
        return TemplateResponse(request, "admin/sla/businesscalendar/import_holidays.html", context)


def _next_years() -> str:
    year = timezone.localdate().year
    return f"{year}, {year + 1}"


# ---------------------------------------------------------------- policies


class SlaTargetInline(admin.TabularInline):
    model = SlaTarget
    form = SlaTargetForm
    formset = SlaTargetFormSet
    extra = 0
    max_num = len(Priority)
    verbose_name_plural = "targets (business time, e.g. 4:00:00 or 2 00:00:00 for two days)"

    def get_extra(self, request: HttpRequest, obj=None, **kwargs) -> int:
        return len(Priority) if obj is None else 1


class EscalationRuleInline(admin.StackedInline):
    model = EscalationRule
    extra = 0
    autocomplete_fields = ["notify_user", "notify_group"]
    formfield_overrides = URL_FIELDS
    fieldsets = [
        (
            None,
            {"fields": [("active", "timer_kind"), ("trigger", "minutes_after_breach", "clock")]},
        ),
        (
            "Who",
            {
                "fields": [
                    ("notify_owner", "notify_performers", "notify_approver"),
                    ("notify_team_manager", "notify_dispatchers"),
                    ("notify_user", "notify_group"),
                ]
            },
        ),
        ("How", {"fields": [("in_app", "email", "slack"), "slack_webhook_url", "action"]}),
    ]


# Fields of a policy that decide which cards it times.
POLICY_CRITERIA = frozenset(
    {"active", "is_default", "order", "request_type", "priority", "team", "related_object_kind"}
)


@admin.register(SlaPolicy)
class SlaPolicyAdmin(admin.ModelAdmin):
    form = SlaPolicyForm
    list_display = [
        "name",
        "order",
        "is_default",
        "active",
        "mode",
        "calendar",
        "request_type",
        "priority",
        "team",
        "related_object_kind",
    ]
    list_display_links = ["name"]
    list_filter = ["active", "mode", "is_default", "calendar"]
    list_select_related = ["calendar", "request_type", "team"]
    search_fields = ["name"]
    autocomplete_fields = ["request_type", "team", "calendar"]
    filter_horizontal = ["pausing_reasons"]
    inlines = [SlaTargetInline, EscalationRuleInline]
    fieldsets = [
        (None, {"fields": ["name", ("order", "is_default", "active"), "mode", "calendar"]}),
        (
            "Applies to cards matching every criterion set (empty = any)",
            {"fields": ["request_type", "priority", "team", "related_object_kind"]},
        ),
        (
            "Pauses",
            {"fields": ["pausing_statuses", "pause_on_flagged_reasons", "pausing_reasons"]},
        ),
    ]

    def get_formset_kwargs(self, request: HttpRequest, obj, inline, prefix):
        kwargs = super().get_formset_kwargs(request, obj, inline, prefix)
        if isinstance(inline, SlaTargetInline) and obj.pk is None:
            # One row per priority to fill in; rows left untouched are not saved.
            kwargs["initial"] = [{"priority": p.value} for p in Priority]
        return kwargs

    def save_model(self, request: HttpRequest, obj: SlaPolicy, form, change: bool) -> None:
        previous = getattr(form, "replaces_default", None)
        if previous is not None:
            SlaPolicy.objects.filter(pk=previous.pk).update(is_default=False)
            self.message_user(
                request, f"{obj} is now the default policy instead of {previous}.", messages.INFO
            )
        super().save_model(request, obj, form, change)

    def save_related(self, request: HttpRequest, form, formsets, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        if not change or form.has_changed() or any(f.has_changed() for f in formsets):
            self._recompute_open_cards(
                request,
                form.instance,
                rematch=not change or bool(POLICY_CRITERIA.intersection(form.changed_data)),
            )
        if not SlaPolicy.objects.filter(is_default=True, active=True).exists():
            self.message_user(
                request,
                "There is no active default policy: cards that match no other policy get no "
                "SLA timers.",
                messages.WARNING,
            )

    def _recompute_open_cards(self, request, policy: SlaPolicy, *, rematch: bool) -> None:
        """Running timers follow the edited policy: a background job re-syncs the cards."""
        jobs.enqueue_policy_recompute(policy_id=policy.pk, rematch=rematch)
        scope = (
            "every open card is matched again"
            if rematch
            else ("the open cards it times are brought in line with it")
        )
        self.message_user(
            request,
            f"{policy}: {scope} in the background; time already used stays used, the new "
            "targets and pauses apply from now on.",
            messages.INFO,
        )

    def get_urls(self):
        return [
            path(
                "<path:object_id>/preview/",
                self.admin_site.admin_view(self.preview_view),
                name="sla_slapolicy_preview",
            ),
            *super().get_urls(),
        ]

    def preview_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        policy = self.get_object(request, unquote(object_id))
        if policy is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if not self.has_view_permission(request, policy):
            raise PermissionDenied
        zone = ZoneInfo(policy.calendar.timezone)
        form = DeadlinePreviewForm(request.GET if "start" in request.GET else None)
        preview = None
        if form.is_bound:
            # A start without an offset is read as the calendar's local time.
            with timezone.override(zone):
                valid = form.is_valid()
            if valid:
                try:
                    preview = deadline_preview(
                        policy, form.cleaned_data["start"], Priority(form.cleaned_data["priority"])
                    )
                except ValueError as exc:
                    form.add_error(None, f"No deadline can be computed: {exc}")
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": policy,
            "title": f"Preview deadlines of {policy}",
            "form": form,
            "preview": preview,
            "calendar": policy.calendar,
        }
        return TemplateResponse(request, "admin/sla/slapolicy/preview.html", context)


@dataclass(frozen=True)
class Deadline:
    label: str
    target: timedelta
    due_local: datetime
    due_utc: datetime


@dataclass(frozen=True)
class Preview:
    start_local: datetime
    start_utc: datetime
    priority: Priority
    deadlines: list[Deadline]
    holidays: list[Holiday]


def deadline_preview(policy: SlaPolicy, start: datetime, priority: Priority) -> Preview:
    """When the policy's targets for `priority` fall due for a card opened at `start` (aware)
    and never paused; no deadlines when the policy sets no target for that priority.
    Raises ValueError when the calendar cannot produce one (e.g. no open time)."""
    target_row = policy.target_for(priority)
    calendar = policy.calendar
    work = calendar.work_calendar()
    zone = ZoneInfo(calendar.timezone)
    if target_row is None:
        return Preview(start.astimezone(zone), start.astimezone(ZoneInfo("UTC")), priority, [], [])
    deadlines = []
    for kind in TimerKind:
        target = target_row.get(kind)
        if target is None:
            continue
        warn_after = target_row.warn_after(target)
        if warn_after is not None:
            warn = work.add(start, warn_after)
            deadlines.append(
                Deadline(f"{kind.label}: warning", warn_after, warn.astimezone(zone), warn)
            )
        due = work.add(start, target)
        deadlines.append(Deadline(f"{kind.label}: due", target, due.astimezone(zone), due))
    start_local = start.astimezone(zone)
    last = max((d.due_local.date() for d in deadlines), default=start_local.date())
    return Preview(
        start_local=start_local,
        start_utc=start.astimezone(ZoneInfo("UTC")),
        priority=priority,
        deadlines=deadlines,
        holidays=_skipped_holidays(calendar, work, start_local.date(), last),
    )


def _skipped_holidays(
    calendar: BusinessCalendar, work: WorkCalendar, first: date, last: date
) -> list[Holiday]:
    """Holidays between the two local dates that fall on a day with working hours."""
    if calendar.always_open:
        return []
    working_days = set(work.weekly)
    return [
        h
        for h in calendar.holidays.filter(date__range=(first, last))
        if h.date.weekday() in working_days
    ]


# ---------------------------------------------------------------- timers (read-only)


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
class SlaTimerAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["task", "kind", "cycle", "state", "due_at", "next_check_at", "observe"]
    list_filter = ["state", "kind", "observe", "policy", "calendar"]
    list_select_related = ["task"]
    search_fields = ["=task__id", "task__title"]
    date_hierarchy = "started_at"
    inlines = [SlaPauseInline, SlaRetargetInline, SlaEventInline]


@admin.register(SlaPause)
class SlaPauseAdmin(ReadOnlyMixin, admin.ModelAdmin):
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
class SlaEventAdmin(ReadOnlyMixin, admin.ModelAdmin):
    """Thresholds that fired: the exactly-once record behind every alert."""

    list_display = ["at", "kind", "timer", "rule", "observe", "recorded_at"]
    list_filter = ["kind", "observe"]
    list_select_related = ["timer", "rule__policy"]
    search_fields = ["=timer__task__id", "key"]
    date_hierarchy = "at"
    inlines = [NotificationInline]


@admin.register(Notification)
class NotificationAdmin(ReadOnlyMixin, admin.ModelAdmin):
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
    ]
    list_filter = ["state", "channel"]
    list_select_related = ["recipient", "event__timer"]
    search_fields = ["address", "recipient__username", "last_error"]
    date_hierarchy = "created_at"
    actions = ["resend_failed"]

    def has_resend_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("sla.change_notification")

    @admin.action(description="Resend selected failed notifications", permissions=["resend"])
    def resend_failed(self, request: HttpRequest, queryset: QuerySet[Notification]) -> None:
        count = jobs.resend(queryset)
        self.message_user(request, f"Queued {count} failed notification(s) for another try.")
