"""Admin of outgoing webhook endpoints (sla.webhooks): URL, secret, preset, event kinds,
active. Their deliveries are rows of the outbox (Notifications, channel Webhook): failed
ones are re-sent from there."""

from __future__ import annotations

import base64
import binascii
import secrets

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.http import HttpRequest

from sla import outbox
from sla.models import Channel, WebhookEndpoint
from sla.webhooks import recipient_key

SECRET_PREFIX = "whsec_"
# The Standard Webhooks spec: secrets of 24 to 64 random bytes.
SECRET_BYTES = (24, 64)


def new_secret() -> str:
    """A fresh signing secret as receivers' libraries take it: "whsec_" + base64 of 32
    random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def check_secret(value: str) -> str:
    """The secret as stored, or ValidationError saying what is wrong with it."""
    value = value.strip()
    if not value.startswith(SECRET_PREFIX):
        raise ValidationError(
            f'A secret starts with "{SECRET_PREFIX}" followed by base64 '
            "(leave the field empty to have one made)."
        )
    try:
        key = base64.b64decode(value[len(SECRET_PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        raise ValidationError(
            f'The part after "{SECRET_PREFIX}" is not valid base64 '
            "(leave the field empty to have one made)."
        ) from None
    low, high = SECRET_BYTES
    if not low <= len(key) <= high:
        raise ValidationError(
            f"The secret is {len(key)} bytes long; it must be {low} to {high} bytes "
            "(leave the field empty to have one made)."
        )
    return value


class WebhookEndpointForm(forms.ModelForm):
    url = forms.URLField(
        max_length=500,
        assume_scheme="https",
        help_text="Where events are POSTed (http or https). For Microsoft Teams: the URL of "
        'a Workflows flow "When a Teams webhook request is received".',
    )
    event_kinds = forms.MultipleChoiceField(
        choices=WebhookEndpoint.EventKind.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text="What this endpoint receives.",
    )
    secret = forms.CharField(
        required=False,
        max_length=100,
        strip=True,
        help_text=(
            'Signing secret ("whsec_" + base64, 24–64 bytes), shared with the receiver. '
            "Leave empty to have one made (a Microsoft Teams endpoint may go without)."
        ),
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["name", "url", "preset", "secret", "event_kinds", "active"]

    def clean_url(self) -> str:
        url = self.cleaned_data["url"].strip()
        if not url.lower().startswith(("http://", "https://")):
            raise ValidationError("Enter an http:// or https:// URL.")
        return url

    def clean_secret(self) -> str:
        value = self.cleaned_data.get("secret", "")
        return check_secret(value) if value else ""

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("secret") and cleaned.get("preset") != WebhookEndpoint.Preset.TEAMS:
            cleaned["secret"] = new_secret()  # a Standard Webhooks endpoint is always signed
        return cleaned


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    form = WebhookEndpointForm
    list_display = ["name", "url", "preset", "kinds", "active"]
    list_filter = ["active", "preset"]
    search_fields = ["name", "url"]

    @admin.display(description="Event kinds")
    def kinds(self, endpoint: WebhookEndpoint) -> str:
        return ", ".join(endpoint.event_kinds)

    def save_model(self, request: HttpRequest, obj: WebhookEndpoint, form, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if change and "url" in form.changed_data:
            # Rows not yet delivered go to the new URL (and holds follow the address).
            moved = outbox.readdress(
                channel=Channel.WEBHOOK,
                recipient_prefix=recipient_key(obj.pk, ""),
                address=obj.url,
            )
            if moved:
                self.message_user(request, f"{moved} undelivered event(s) will go to the new URL.")
