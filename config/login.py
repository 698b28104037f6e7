"""The login page: throttling by django-axes answered with our own page, the client address
axes counts by, and the demo-login hint (shown only where `DEMO_LOGINS` is set)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

# Too Many Requests: what axes answers by default; a client may retry after the cool-off.
LOCKOUT_STATUS = 429


def client_ip(request: HttpRequest) -> str | None:
    """The address a login attempt counts against.

    REMOTE_ADDR unless TRUSTED_PROXY_COUNT proxies stand in front: then the address the
    outermost trusted proxy saw, i.e. the N-th entry of X-Forwarded-For from the right.
    Entries further left are written by the client and may be forged.
    """
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies > 0:
        forwarded = [a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        forwarded = [a for a in forwarded if a]
        if len(forwarded) >= proxies:
            return forwarded[-proxies]
    return request.META.get("REMOTE_ADDR")


def _cooloff_minutes() -> int:
    return int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials=None
) -> HttpResponse:
    """Axes' lockout answer (AXES_LOCKOUT_CALLABLE): the login page with the reason, 429."""
    context = {
        "form": AuthenticationForm(request),
        "locked_out": True,
        "cooloff_minutes": _cooloff_minutes(),
        "demo_logins": settings.DEMO_LOGINS,
    }
    return render(request, "registration/login.html", context, status=LOCKOUT_STATUS)


class LoginView(auth_views.LoginView):
    """Django's login view; the page shows the demo logins only where DEMO_LOGINS is set."""

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["demo_logins"] = settings.DEMO_LOGINS
        return context
