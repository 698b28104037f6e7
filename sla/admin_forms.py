"""Forms and formsets behind the SLA admin: validation of calendars and policies, the holiday
import form and the deadline preview form."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import time

from django import forms
from django.contrib.admin.widgets import AutocompleteSelect
from django.core.exceptions import ValidationError
from django.forms.models import BaseInlineFormSet

from sla.calendar import WorkCalendar
from sla.duration_field import BusinessDurationField
from sla.holiday_import import UnknownHolidayRegion, public_holidays
from sla.models import SlaPolicy, SlaTarget, Weekday, validate_target
from tasks.models import OPEN_STATUSES, Priority
from tasks.validators import EARLIEST_DATE, LATEST_DATE, validate_sane_date

_DAY_MINUTES = 24 * 60


def _minutes(value: time) -> int:
    return value.hour * 60 + value.minute + (value.second + value.microsecond / 1e6) / 60


@dataclass(frozen=True)
class _Interval:
    weekday: int
    start: time
    end: time

    def __str__(self) -> str:
        text = f"{Weekday(self.weekday).label} {self.start:%H:%M}-{self.end:%H:%M}"
        if self.overnight:
            text += f" (until {self.end:%H:%M} on {Weekday((self.weekday + 1) % 7).label})"
        return text

    @property
    def overnight(self) -> bool:
        return self.end != time(0) and self.start > self.end

    def segments(self) -> list[tuple[int, float, float]]:
        """(weekday, start minute, end minute) pieces; an overnight interval continues on the
        next weekday after midnight, and an end of 00:00 means 24:00."""
        start = _minutes(self.start)
        if not self.overnight:
            end = _minutes(self.end) or _DAY_MINUTES
            return [(self.weekday, start, end)]
        return [
            (self.weekday, start, _DAY_MINUTES),
            ((self.weekday + 1) % 7, 0, _minutes(self.end)),
        ]


class CheckedAutocompleteSelect(AutocompleteSelect):
    """Django's autocomplete widget, which looks the chosen value up to show its label when
    a form comes back with errors: a value that cannot be a key (words, a number beyond the
    column) is left out instead of failing the page with a 500 (its field says what is
    wrong)."""

    def optgroups(self, name, value, attr=None):
        return super().optgroups(name, [v for v in value if self._may_be_key(v)], attr)

    def _may_be_key(self, value) -> bool:
        target = self.field.target_field
        try:
            target.run_validators(target.to_python(value))
        except (ValidationError, TypeError, ValueError):
            return False
        return True


class CheckedAutocompleteMixin:
    """For a ModelAdmin or inline with `autocomplete_fields`: their widgets survive bad
    values (CheckedAutocompleteSelect)."""

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if "widget" not in kwargs and db_field.name in self.get_autocomplete_fields(request):
            kwargs["widget"] = CheckedAutocompleteSelect(
                db_field, self.admin_site, using=kwargs.get("using")
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class WorkingIntervalFormSet(BaseInlineFormSet):
    """Weekly hours of a calendar: no overlaps (overnight shifts included) and, unless the
    calendar is 24/7, at least one interval."""

    def clean(self) -> None:
        super().clean()
        intervals = []
        for form in self.forms:
            data = getattr(form, "cleaned_data", None)
            if not data or data.get("DELETE") or form.errors:
                continue
            if None in (data.get("weekday"), data.get("start"), data.get("end")):
                continue
            intervals.append(_Interval(int(data["weekday"]), data["start"], data["end"]))
        if any(self.errors):
            return  # the rows say what is wrong; judge the week once they are valid
        check_week(intervals, always_open=self.instance.always_open)

    @staticmethod
    def _check_overlaps(intervals: list[_Interval]) -> None:
        by_day: dict[int, list[tuple[float, float, _Interval]]] = {}
        for interval in intervals:
            for day, start, end in interval.segments():
                by_day.setdefault(day, []).append((start, end, interval))
        errors = []
        for day in sorted(by_day):
            reach, reaching = -1.0, None  # the latest end so far on this day, and whose it is
            for start, end, interval in sorted(by_day[day], key=lambda p: (p[0], p[1])):
                if reaching is not None and start < reach:
                    errors.append(ValidationError(f"{reaching} overlaps {interval}."))
                if end > reach:
                    reach, reaching = end, interval
        if errors:
            raise ValidationError(errors)


def check_week(intervals: list[_Interval], *, always_open: bool) -> None:
    """A calendar's weekly hours as a whole: not empty (unless 24/7), no overlaps
    (overnight shifts included), usable by the pure calendar. Raises ValidationError."""
    if not intervals:
        if not always_open:
            raise ValidationError(
                "An empty calendar has no open time: add working intervals, or tick 24/7."
            )
        return
    WorkingIntervalFormSet._check_overlaps(intervals)
    weekly: dict[int, list[tuple[time, time]]] = {}
    for interval in intervals:
        weekly.setdefault(interval.weekday, []).append((interval.start, interval.end))
    try:
        # The pure calendar is the final judge of what it can work with.
        WorkCalendar("UTC", weekly)
    except ValueError as exc:
        raise ValidationError(f"These hours cannot be used: {exc}.") from None


def week_of(rows) -> list[_Interval]:
    """Stored WorkingInterval rows (or anything with weekday, start, end) as intervals."""
    return [_Interval(int(r.weekday), r.start, r.end) for r in rows]


class SlaPolicyForm(forms.ModelForm):
    pausing_statuses = forms.MultipleChoiceField(
        choices=[(s.value, s.label) for s in OPEN_STATUSES],
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="Statuses during which this policy's timers stand still.",
    )

    class Meta:
        model = SlaPolicy
        fields = [
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
            "pausing_statuses",
            "pause_on_flagged_reasons",
            "pausing_reasons",
        ]

    def clean_pausing_statuses(self) -> list[str]:
        chosen = set(self.cleaned_data["pausing_statuses"])
        return [s.value for s in OPEN_STATUSES if s.value in chosen]

    def clean(self) -> dict:
        cleaned = super().clean()
        was_default = bool(self.instance.pk and self.instance.is_default)
        # Only one policy can be the default (a database constraint): ticking it here moves
        # the default from the current one, which the admin does on save.
        self.replaces_default = None
        if was_default and not cleaned.get("is_default"):
            self.add_error(
                "is_default",
                "This is the default policy, which catches every card no other policy "
                "matches. To move the default, tick “default policy” on another policy.",
            )
        elif cleaned.get("is_default") and not was_default:
            self.replaces_default = (
                SlaPolicy.objects.filter(is_default=True).exclude(pk=self.instance.pk).first()
            )
        return cleaned

    def _get_validation_exclusions(self):
        exclude = super()._get_validation_exclusions()
        if getattr(self, "replaces_default", None) is not None:
            exclude.add("is_default")  # moved on save, see clean()
        return exclude


class SlaTargetForm(forms.ModelForm):
    # Typed as "2h", "1h 30m" or "3d" (sla.durations); the help says what a day is.
    response_target = BusinessDurationField(
        label="Response target", required=False, validators=[validate_target]
    )
    resolution_target = BusinessDurationField(
        label="Resolution target", required=False, validators=[validate_target]
    )
    approval_target = BusinessDurationField(
        label="Time to decision",
        required=False,
        validators=[validate_target],
        help_text="Business time an approver has for each approval step, e.g. 4h or 1d.",
    )
    warn_lead = BusinessDurationField(
        label="Warn this long before",
        required=False,
        help_text="Business time before the deadline, e.g. 30m or 2h.",
    )

    class Meta:
        model = SlaTarget
        fields = [
            "priority",
            "response_target",
            "resolution_target",
            "approval_target",
            "warn_pct",
            "warn_lead",
        ]

    def clean(self) -> dict:
        cleaned = super().clean()
        if (
            cleaned.get("priority")
            and cleaned.get("response_target") is None
            and cleaned.get("resolution_target") is None
            and not self.has_error("response_target")
            and not self.has_error("resolution_target")
        ):
            raise ValidationError("Set a response target, a resolution target or both.")
        return cleaned


class SlaTargetFormSet(BaseInlineFormSet):
    def clean(self) -> None:
        seen: set[str] = set()
        for form in self.forms:
            data = getattr(form, "cleaned_data", None)
            if not data or data.get("DELETE") or not data.get("priority"):
                continue
            priority = Priority(data["priority"])
            if priority in seen:
                raise ValidationError(
                    f"Two rows for priority {priority.label}: keep one row per priority."
                )
            seen.add(priority)
        super().clean()


_YEAR_RANGE = (EARLIEST_DATE.year, LATEST_DATE.year)
_MAX_YEARS = 20


class HolidayImportForm(forms.Form):
    country = forms.CharField(max_length=3, help_text="ISO 3166 country code, e.g. DE, AT, US, GB.")
    subdiv = forms.CharField(
        label="Subdivision",
        max_length=10,
        required=False,
        help_text="Optional state or region code, e.g. BE (Berlin) or BY (Bavaria).",
    )
    years = forms.CharField(
        help_text="Years separated by commas; ranges allowed, e.g. 2026, 2027 or 2026-2028."
    )

    def clean_country(self) -> str:
        return self.cleaned_data["country"].strip().upper()

    def clean_subdiv(self) -> str:
        return self.cleaned_data["subdiv"].strip()

    def clean_years(self) -> list[int]:
        years: set[int] = set()
        for part in filter(None, re.split(r"[,\s]+", self.cleaned_data["years"].strip())):
            match = re.fullmatch(r"(\d{4})(?:[-\u2013](\d{4}))?", part)
            if not match:
                raise ValidationError(f"{part!r} is not a year (e.g. 2026) or range (2026-2028).")
            first, last = int(match[1]), int(match[2] or match[1])
            if first > last:
                raise ValidationError(f"The range {part} runs backwards.")
            if first < _YEAR_RANGE[0] or last > _YEAR_RANGE[1]:
                raise ValidationError(
                    f"Years must lie between {_YEAR_RANGE[0]} and {_YEAR_RANGE[1]}."
                )
            years.update(range(first, last + 1))
        if not years:
            raise ValidationError("Give at least one year.")
        if len(years) > _MAX_YEARS:
            raise ValidationError(f"Import at most {_MAX_YEARS} years at a time.")
        return sorted(years)

    def clean(self) -> dict:
        cleaned = super().clean()
        if self.errors:
            return cleaned
        try:
            self.found = public_holidays(
                country=cleaned["country"], subdiv=cleaned["subdiv"], years=cleaned["years"]
            )
        except UnknownHolidayRegion as exc:
            field = "subdiv" if cleaned["subdiv"] and "subdivision" in str(exc) else "country"
            self.add_error(field, str(exc))
        return cleaned


class DeadlinePreviewForm(forms.Form):
    start = forms.DateTimeField(
        validators=[validate_sane_date],
        help_text="In the calendar's timezone, e.g. 2026-03-06 16:00 "
        "(or with an offset: 2026-03-06T15:00+00:00).",
    )
    priority = forms.ChoiceField(choices=Priority.choices, initial=Priority.NORMAL)
