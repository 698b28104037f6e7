"""The profile page's form: her timezone and her notification preferences (what reaches
her by email and Slack, quiet hours, a daily digest). Saving calls the two writers,
`tasks.profiles.set_timezone` and `sla.preferences.save_preferences`, in one transaction."""

from __future__ import annotations

from zoneinfo import available_timezones

from django import forms
from django.db import transaction

from sla.models import NoticeKind, NotificationPreference
from sla.notice_rules import CHOOSABLE, URGENT
from sla.preferences import save_preferences
from tasks.profiles import set_timezone
from tasks.validators import validate_single_line, validate_timezone_name

CHANNEL_LABELS = {"email": "Email", "slack": "Slack"}
HOURS = [("", "no digest: each notice on its own")] + [(str(h), f"{h:02d}:00") for h in range(24)]


def zone_names() -> list[str]:
    return sorted(z for z in available_timezones() if "/" in z and not z.startswith("Etc/"))


def _field(kind: str, channel: str) -> str:
    return f"{channel}_{kind}"


class ProfileForm(forms.Form):
    timezone = forms.CharField(
        required=False,
        max_length=64,
        validators=[validate_single_line, validate_timezone_name],
        help_text="An IANA name such as Europe/Berlin or America/New_York; empty: your "
        "browser's zone on pages, the server's in emails and Slack.",
        widget=forms.TextInput(attrs={"list": "zones", "autocomplete": "off"}),
    )
    quiet_start = forms.TimeField(
        required=False,
        label="Quiet hours from",
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
    )
    quiet_end = forms.TimeField(
        required=False,
        label="Quiet hours until",
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
    )
    digest_hour = forms.TypedChoiceField(
        required=False,
        choices=HOURS,
        coerce=int,
        empty_value=None,
        label="Daily digest at",
        help_text="Non-urgent emails gathered into one email at this hour (your zone).",
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for kind in NoticeKind:
            for channel in CHOOSABLE:
                self.fields[_field(kind, channel)] = forms.BooleanField(
                    required=False, label=f"{kind.label} by {CHANNEL_LABELS[channel]}"
                )

    @classmethod
    def for_user(cls, user, prefs: NotificationPreference, zone: str) -> ProfileForm:
        muted = set(prefs.muted)
        initial: dict[str, object] = {
            "timezone": zone,
            "quiet_start": prefs.quiet_start,
            "quiet_end": prefs.quiet_end,
            "digest_hour": "" if prefs.digest_hour is None else str(prefs.digest_hour),
        }
        for kind in NoticeKind:
            for channel in CHOOSABLE:
                initial[_field(kind, channel)] = f"{kind}:{channel}" not in muted
        return cls(initial=initial)

    def clean(self):
        data = super().clean()
        start, end = data.get("quiet_start"), data.get("quiet_end")
        if "quiet_start" in data and "quiet_end" in data:
            if (start is None) != (end is None):
                raise forms.ValidationError("Quiet hours need both a start and an end.")
            if start is not None and start == end:
                self.add_error("quiet_end", "Quiet hours must end at another time than they start.")
        return data

    def rows(self) -> list[dict]:
        """The table of kinds: each kind's label, its bound fields per channel, urgent or not."""
        return [
            {
                "label": kind.label,
                "urgent": kind.value in URGENT,
                "fields": [self[_field(kind, channel)] for channel in CHOOSABLE],
            }
            for kind in NoticeKind
        ]

    @transaction.atomic
    def save(self, user) -> None:
        data = self.cleaned_data
        set_timezone(user=user, zone=data["timezone"])
        save_preferences(
            user=user,
            muted=[
                (kind.value, channel)
                for kind in NoticeKind
                for channel in CHOOSABLE
                if not data[_field(kind, channel)]
            ],
            quiet_start=data["quiet_start"],
            quiet_end=data["quiet_end"],
            digest_hour=data["digest_hour"],
        )
