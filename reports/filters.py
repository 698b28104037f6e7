"""The report filter (django-filter) and the Scope it produces for every report query.

The filter validates the URL's parameters; unknown values and dates outside the sane range
(tasks.validators) become form errors shown on the page and are ignored, never a 500. The
period is in the site's timezone, whole days, the end day included.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import django_filters
from django import forms
from django.db.models import Q
from django.forms.utils import flatatt
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from tasks.models import Priority, RelatedObject, RequestType, Task, Team
from tasks.validators import validate_sane_date

DEFAULT_DAYS = 90
MAX_DAYS = 3 * 366


@dataclass(frozen=True)
class Scope:
    """What a report covers: [start, end) and optional card dimensions."""

    start: datetime
    end: datetime
    team: Team | None = None
    request_type: RequestType | None = None
    priority: str | None = None
    client: RelatedObject | None = None

    def cards(self, prefix: str = "") -> Q:
        """Card dimensions as a Q on a model reaching the card through `prefix`."""
        q = Q()
        if self.team is not None:
            q &= Q(**{f"{prefix}team": self.team})
        if self.request_type is not None:
            q &= Q(**{f"{prefix}request_type": self.request_type})
        if self.priority:
            q &= Q(**{f"{prefix}priority": self.priority})
        if self.client is not None:
            q &= Q(**{f"{prefix}related_object__root": self.client})
        return q

    def derived(self) -> Q:
        """The same dimensions on the reports' own tables (they carry `client` directly)."""
        q = Q()
        if self.team is not None:
            q &= Q(team=self.team)
        if self.request_type is not None:
            q &= Q(request_type=self.request_type)
        if self.priority:
            q &= Q(priority=self.priority)
        if self.client is not None:
            q &= Q(client=self.client)
        return q

    def during(self, field: str) -> Q:
        return Q(**{f"{field}__gte": self.start, f"{field}__lt": self.end})

    @property
    def first_day(self) -> date:
        return timezone.localtime(self.start).date()

    @property
    def last_day(self) -> date:
        return timezone.localtime(self.end).date() - timedelta(days=1)


def day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


class PlainSelect(forms.Select):
    """A <select> rendered in Python: the same HTML as Django's template widget, without a
    template render per <option> (the client list has thousands of options)."""

    def render(self, name, value, attrs=None, renderer=None):
        widget = self.get_context(name, value, attrs)["widget"]
        options = format_html_join(
            "",
            '<option value="{}"{}>{}</option>',
            (
                (option["value"], flatatt(option["attrs"]), option["label"])
                for _, group, _ in widget["optgroups"]
                for option in group
            ),
        )
        return format_html(
            '<select name="{}"{}>{}</select>', widget["name"], flatatt(widget["attrs"]), options
        )


class ReportFilter(django_filters.FilterSet):
    start = django_filters.DateFilter(
        method="ignore",
        label="From",
        widget=forms.DateInput(attrs={"type": "date"}),
        validators=[validate_sane_date],
    )
    end = django_filters.DateFilter(
        method="ignore",
        label="To",
        widget=forms.DateInput(attrs={"type": "date"}),
        validators=[validate_sane_date],
    )
    team = django_filters.ModelChoiceFilter(queryset=Team.objects.all(), widget=PlainSelect)
    request_type = django_filters.ModelChoiceFilter(
        queryset=RequestType.objects.all(), widget=PlainSelect
    )
    priority = django_filters.ChoiceFilter(choices=Priority.choices, widget=PlainSelect)
    client = django_filters.ModelChoiceFilter(
        queryset=RelatedObject.objects.filter(parent__isnull=True),
        widget=PlainSelect,
        field_name="related_object__root",
        label="Client / related object",
    )

    class Meta:
        model = Task
        fields: list[str] = []

    def ignore(self, queryset, name, value):
        return queryset

    def scope(self, today: date | None = None) -> tuple[Scope, list[str]]:
        """The Scope to report on and messages about input that was not understood (each
        bad value is reported and ignored; the default period is the last 90 days)."""
        today = today or timezone.localdate()
        form = self.form
        problems: list[str] = []
        if form.is_bound and not form.is_valid():
            for name, errors in form.errors.items():
                label = form.fields[name].label if name in form.fields else name
                problems.append(f"{label}: {' '.join(errors)} (ignored)")
        cleaned = getattr(form, "cleaned_data", {}) if form.is_bound else {}
        data = {k: v for k, v in cleaned.items() if k not in form.errors}
        end_day = data.get("end") or today
        start_day = data.get("start") or end_day - timedelta(days=DEFAULT_DAYS - 1)
        if start_day > end_day:
            problems.append("The period starts after it ends; showing the 90 days to its end.")
            start_day = end_day - timedelta(days=DEFAULT_DAYS - 1)
        if (end_day - start_day).days > MAX_DAYS:
            problems.append("Periods are limited to three years; the start was moved.")
            start_day = end_day - timedelta(days=MAX_DAYS)
        scope = Scope(
            start=day_start(start_day),
            end=day_start(end_day + timedelta(days=1)),
            team=data.get("team"),
            request_type=data.get("request_type"),
            priority=data.get("priority") or None,
            client=data.get("client"),
        )
        return scope, problems
