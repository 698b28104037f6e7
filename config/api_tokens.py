"""The tokens page (`/profile/tokens/`): a person's API tokens and calendar-feed links.

She names a token, picks what it may do (read, read and write, or a calendar feed) and an
optional expiry; the secret is shown once, on the answer to that POST, and only its hash is
kept (`tasks.api.tokens`). She revokes her own here; admins revoke anyone's in the admin.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from tasks.api import tokens
from tasks.models import ApiToken


class TokenForm(forms.Form):
    name = forms.CharField(
        max_length=ApiToken._meta.get_field("name").max_length,
        help_text="What uses it, e.g. “CRM sync” or “Phone calendar”.",
    )
    scope = forms.ChoiceField(
        label="May",
        choices=[
            (ApiToken.Scope.READ, "Read cards and timers (API)"),
            (ApiToken.Scope.WRITE, "Read and change cards (API)"),
            (ApiToken.Scope.CALENDAR, "Calendar feed of my deadlines (a secret link)"),
        ],
        initial=ApiToken.Scope.READ,
    )
    expires_in_days = forms.IntegerField(
        label="Expires after (days)",
        min_value=1,
        max_value=tokens.MAX_EXPIRY_DAYS,
        required=False,
        help_text="Empty: until you revoke it.",
    )


def feed_url(request: HttpRequest, secret: str) -> str:
    return request.build_absolute_uri(reverse("calendar_feed", args=[secret]))


@require_http_methods(["GET", "POST"])
def api_tokens(request: HttpRequest) -> HttpResponse:
    form = TokenForm(request.POST or None)
    made = shown = None
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                made, secret = tokens.make_token(
                    user=request.user, name=data["name"], scope=data["scope"],
                    expires_in_days=data["expires_in_days"],
                )  # fmt: skip
            except ValueError as error:
                form.add_error(None, str(error))
            else:
                shown = (
                    feed_url(request, secret) if made.scope == ApiToken.Scope.CALENDAR else secret
                )
                form = TokenForm()
        if made is None:
            status = 400
    context = {
        "form": form,
        "made": made,
        "shown": shown,
        "tokens": list(ApiToken.objects.filter(user=request.user)),
    }
    return render(request, "registration/api_tokens.html", context, status=status)


@require_POST
def revoke_api_token(request: HttpRequest, pk: int) -> HttpResponse:
    """Revoke one of my tokens (another's is a 404: not mine to know of)."""
    token = get_object_or_404(ApiToken, pk=pk, user=request.user)
    if tokens.revoke(token=token):
        messages.success(request, f"Revoked “{token.name}”: it no longer works.")
    else:
        messages.info(request, f"“{token.name}” was already revoked.")
    return redirect("api_tokens")
