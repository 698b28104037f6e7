"""Business calendars: opening hours and holidays, and the pure calendar each row builds."""

from __future__ import annotations

import threading
from datetime import time
from zoneinfo import available_timezones

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F

from sla.calendar import WorkCalendar
from sla.history import SettingsHistory
from sla.models.policies_version import PoliciesVersion
from tasks.validators import validate_sane_date


def validate_timezone(value: str) -> None:
    if value not in _timezones():
        raise ValidationError(f"{value!r} is not a known timezone (e.g. Europe/Berlin).")


_tz_cache: set[str] = set()


def _timezones() -> set[str]:
    if not _tz_cache:
        _tz_cache.update(available_timezones())
    return _tz_cache


class Weekday(models.IntegerChoices):
    MONDAY = 0, "Monday"
    TUESDAY = 1, "Tuesday"
    WEDNESDAY = 2, "Wednesday"
    THURSDAY = 3, "Thursday"
    FRIDAY = 4, "Friday"
    SATURDAY = 5, "Saturday"
    SUNDAY = 6, "Sunday"


# Built WorkCalendars per (calendar id, revision): building one reads two tables, using one
# is pure arithmetic. The revision changes whenever hours or holidays change.
_calendar_cache: dict[tuple[int, int], WorkCalendar] = {}
_calendar_lock = threading.Lock()


def clear_calendar_cache() -> None:
    """Forget built calendars (a deleted calendar's id may be reused, e.g. on SQLite after a
    rolled-back transaction, with revision 1 again)."""
    with _calendar_lock:
        _calendar_cache.clear()


class BusinessCalendar(models.Model):
    name = models.CharField(max_length=100, unique=True)
    timezone = models.CharField(
        max_length=64, default="Europe/Berlin", validators=[validate_timezone]
    )
    always_open = models.BooleanField("24/7", default=False)
    revision = models.PositiveIntegerField(default=1, editable=False)

    # Who changed what when (sla/history.py); the revision is a cache key, not a setting.
    history = SettingsHistory(excluded_fields=["revision"])

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def work_calendar(self) -> WorkCalendar:
        """The pure calendar this row describes (cached per revision)."""
        key = (self.pk, self.revision)
        cached = _calendar_cache.get(key)
        if cached is not None:
            return cached
        built = self.build_work_calendar()
        with _calendar_lock:
            _calendar_cache[key] = built
        return built

    def build_work_calendar(self) -> WorkCalendar:
        if self.always_open:
            return WorkCalendar.always(self.timezone)
        weekly: dict[int, list[tuple[time, time]]] = {}
        for interval in self.intervals.all():
            weekly.setdefault(interval.weekday, []).append((interval.start, interval.end))
        holidays = self.holidays.values_list("date", flat=True)
        return WorkCalendar(self.timezone, weekly, holidays)

    def delete(self, *args, **kwargs):
        result = super().delete(*args, **kwargs)
        clear_calendar_cache()
        return result

    def touch(self) -> None:
        """Hours or holidays changed: new revision, so every process rebuilds its cache."""
        BusinessCalendar.objects.filter(pk=self.pk).update(revision=F("revision") + 1)
        PoliciesVersion.bump()  # an update sends no signal; active policies hold calendars
        self.refresh_from_db(fields=["revision"])


class WorkingInterval(models.Model):
    calendar = models.ForeignKey(
        BusinessCalendar, on_delete=models.CASCADE, related_name="intervals"
    )
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    start = models.TimeField()
    end = models.TimeField(help_text="00:00 means midnight at the end of the day.")

    history = SettingsHistory()

    class Meta:
        ordering = ["weekday", "start"]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.start:%H:%M}–{self.end:%H:%M}"

    def clean(self) -> None:
        if self.start is not None and self.start == self.end:
            raise ValidationError("An interval must not start and end at the same time.")


class Holiday(models.Model):
    calendar = models.ForeignKey(
        BusinessCalendar, on_delete=models.CASCADE, related_name="holidays"
    )
    date = models.DateField()
    name = models.CharField(max_length=100, blank=True)

    history = SettingsHistory()

    class Meta:
        ordering = ["date"]
        constraints = [
            models.UniqueConstraint(fields=["calendar", "date"], name="holiday_once_per_day")
        ]

    def __str__(self) -> str:
        return f"{self.date:%Y-%m-%d} {self.name}".strip()

    def clean(self) -> None:
        try:
            validate_sane_date(self.date)
        except ValidationError as error:
            raise ValidationError({"date": error}) from None
