"""Admin of business calendars: hours, holidays and the public holiday import.

A change of a calendar's hours, holidays or timezone re-derives the deadlines of the timers
running on it (`sla.actions.recompute_calendar_timers`).
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone

from sla.actions import recompute_calendar_timers
from sla.admin.history import SettingsHistoryAdmin, as_row
from sla.admin_forms import (
    HolidayImportForm,
    WorkingIntervalFormSet,
    check_week,
    week_of,
)
from sla.calendar import WorkCalendar
from sla.calendar_hours import WORKWEEK_AFTER_MONDAY, NothingToCopy, copy_day_hours
from sla.history import settings_change
from sla.holiday_import import UnknownHolidayRegion, import_public_holidays
from sla.models import (
    BusinessCalendar,
    Holiday,
    SlaTimer,
    Weekday,
    WorkingInterval,
)


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
class BusinessCalendarAdmin(SettingsHistoryAdmin):
    list_display = ["name", "timezone", "always_open", "interval_count", "holiday_count"]
    list_filter = ["always_open", "timezone"]
    search_fields = ["name"]
    ordering = ["name"]  # the policy form's autocomplete pages through them
    readonly_fields = ["revision"]
    inlines = [WorkingIntervalInline, HolidayInline]
    history_parts = (
        ("working intervals", WorkingInterval, "calendar", as_row),
        ("holidays", Holiday, "calendar", as_row),
    )

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
                "<path:object_id>/copy-monday/",
                self.admin_site.admin_view(self.copy_monday_view),
                name="sla_businesscalendar_copy_monday",
            ),
            path(
                "<path:object_id>/import-holidays/",
                self.admin_site.admin_view(self.import_holidays_view),
                name="sla_businesscalendar_import_holidays",
            ),
            *super().get_urls(),
        ]

    def copy_monday_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """POST: Tuesday to Friday get Monday's working intervals (theirs are replaced)."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        calendar = self.get_object(request, unquote(object_id))
        if calendar is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if not self.has_change_permission(request, calendar):
            raise PermissionDenied
        back = HttpResponseRedirect(
            reverse("admin:sla_businesscalendar_change", args=[calendar.pk])
        )
        stored = list(calendar.intervals.all())
        monday = [row for row in stored if row.weekday == Weekday.MONDAY]
        kept = [row for row in stored if row.weekday not in WORKWEEK_AFTER_MONDAY]
        copies = [
            WorkingInterval(weekday=day, start=row.start, end=row.end)
            for day in WORKWEEK_AFTER_MONDAY
            for row in monday
        ]
        try:
            if not monday:
                raise NothingToCopy("Monday has no working hours to copy.")
            check_week(week_of(kept + copies), always_open=calendar.always_open)
            copy_day_hours(calendar=calendar, actor=request.user)
        except (NothingToCopy, ValidationError) as error:
            reason = " ".join(getattr(error, "messages", [str(error)]))
            self.message_user(request, f"Nothing was copied: {reason}", messages.ERROR)
            return back
        hours = ", ".join(f"{row.start:%H:%M}–{row.end:%H:%M}" for row in monday)
        self.message_user(
            request,
            f"Tuesday to Friday of {calendar} now have Monday's hours ({hours}); their "
            "previous hours were replaced, and the deadlines of its open timers recomputed.",
            messages.SUCCESS,
        )
        return back

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
                with settings_change(reason="public holiday import"):
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
