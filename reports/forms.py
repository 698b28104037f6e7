"""Forms of the calibration and weekly pages. Bad values become messages, never a 500."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django import forms

from reports import calibration, digest
from sla.duration_field import BusinessDurationField
from sla.models import SlaPolicy, validate_target
from tasks.models import Priority, RequestType, Team
from tasks.validators import validate_sane_date


class CalibrationForm(forms.Form):
    source = forms.ChoiceField(choices=list(calibration.SOURCES.items()), required=False)
    percentile = forms.ChoiceField(
        label="Propose at",
        choices=[(k, f"p{k}") for k in calibration.PERCENTILES],
        required=False,
    )
    # The parser of the admin's targets (sla.durations): "2h", "1h 30m", "3d", "1 day".
    response = BusinessDurationField(
        label="What if response target were", required=False, validators=[validate_target]
    )
    resolution = BusinessDurationField(
        label="What if resolution target were", required=False, validators=[validate_target]
    )

    def options(self) -> dict[str, Any]:
        """Options for calibration.distribution; a bad value falls back to its default."""
        data = self.cleaned_data if self.is_bound and self.is_valid() else {}
        if self.is_bound and not self.is_valid():
            data = {k: v for k, v in self.cleaned_data.items() if k not in self.errors}
        return {
            "source": data.get("source") or "observe",
            "percentile": calibration.PERCENTILES[data.get("percentile") or "80"],
            "candidates": {
                "response": data.get("response"),
                "resolution": data.get("resolution"),
            },
        }

    def problems(self) -> list[str]:
        if not self.is_bound or self.is_valid():
            return []
        return [
            f"{self.fields[name].label or name.title()}: {' '.join(errors)} (ignored)"
            for name, errors in self.errors.items()
        ]


class ApplyForm(forms.Form):
    """A proposal to review (the confirm page, GET) or apply. Only the shape is checked
    here: whether the values may be a target is decided by sla.policies.set_targets, for the
    admin and this page alike."""

    policy = forms.ModelChoiceField(queryset=SlaPolicy.objects.filter(active=True))
    priority = forms.ChoiceField(choices=Priority.choices)
    request_type = forms.ModelChoiceField(queryset=RequestType.objects.all(), required=False)
    response_seconds = forms.IntegerField(required=False)
    resolution_seconds = forms.IntegerField(required=False)
    # The finished cards each proposed value was read from (calibration.THIN_SAMPLE).
    response_cards = forms.IntegerField(required=False, min_value=0, max_value=2**31 - 1)
    resolution_cards = forms.IntegerField(required=False, min_value=0, max_value=2**31 - 1)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        for kind in ("response", "resolution"):
            data[kind] = _seconds(data.get(f"{kind}_seconds"))
            cards = f"{kind}_cards"
            if data[kind] is not None and data.get(cards) is None and cards not in self.errors:
                self.add_error(cards, "Say how many cards the proposed value was read from.")
        return data


class ConfirmedApplyForm(ApplyForm):
    """The confirm page's form: the target as the person saw it (so a change made meanwhile
    is not overwritten) and, for a thin proposal, their explicit confirmation."""

    reviewed = forms.BooleanField(
        error_messages={
            "required": "Review the change before it is applied: use “Set on …” in the "
            "calibration table, which shows the values before and after."
        }
    )
    seen_response_seconds = forms.IntegerField(required=False)
    seen_resolution_seconds = forms.IntegerField(required=False)
    thin_confirmed = forms.BooleanField(required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        data["seen"] = (
            _seconds(data.get("seen_response_seconds")),
            _seconds(data.get("seen_resolution_seconds")),
        )
        return data


def _seconds(value: int | None) -> timedelta | None:
    if value is None:
        return None
    try:
        return timedelta(seconds=value)
    except OverflowError:
        # Beyond what a duration can hold, hence beyond every bound: set_targets says so.
        return timedelta.max if value > 0 else timedelta.min


class WeeklyForm(forms.Form):
    week = forms.DateField(
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        label="Week of",
        validators=[validate_sane_date],
    )
    team = forms.ModelChoiceField(queryset=Team.objects.all(), required=False, label="Team")

    def choice(self, default_week: date) -> tuple[date, Team | None, list[str]]:
        problems = []
        if self.is_bound and not self.is_valid():
            for name, errors in self.errors.items():
                problems.append(f"{self.fields[name].label or name}: {' '.join(errors)} (ignored)")
        data = {k: v for k, v in getattr(self, "cleaned_data", {}).items() if k not in self.errors}
        week = digest.week_of(data["week"]) if data.get("week") else default_week
        return week, data.get("team"), problems
