"""The form field for durations of business time (targets, lead times, what-if values):
reads what sla.durations reads, shows a saved value back as "2h" or "1d 4h", and states
what a day of business time means next to the field."""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.core.exceptions import ValidationError

from sla.durations import BUSINESS_TIME_HELP, EXAMPLES, format_duration, parse_duration


class BusinessDurationField(forms.Field):
    default_error_messages = {"invalid": "Enter a duration, " + EXAMPLES + "."}

    def __init__(self, *, help_text: str = BUSINESS_TIME_HELP, **kwargs) -> None:
        kwargs.setdefault("widget", forms.TextInput(attrs={"placeholder": "e.g. 2h, 1h 30m, 3d"}))
        super().__init__(help_text=help_text, **kwargs)

    def prepare_value(self, value):
        if isinstance(value, timedelta):
            return format_duration(value)
        return value

    def to_python(self, value) -> timedelta | None:
        if value in self.empty_values:
            return None
        if isinstance(value, timedelta):
            return value
        try:
            return parse_duration(str(value))
        except ValueError as error:
            raise ValidationError(str(error), code="invalid") from None
