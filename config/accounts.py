"""A person's own account: the profile page, changing the password, and resetting a
forgotten one by email (Django's views, our templates).

Resetting by email is for non-staff accounts only: an admin's password is not handed to
whoever controls their mailbox (admins reset each other's in the admin). The page answers
the same whatever address is typed, so it does not tell who has an account.
"""

from __future__ import annotations

from collections.abc import Iterator

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import PasswordResetForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse_lazy
from django.views.decorators.http import require_http_methods

from config.api_tokens import api_tokens, revoke_api_token
from config.profile_forms import CHANNEL_LABELS, ProfileForm, zone_names
from sla.notice_rules import CHOOSABLE
from sla.preferences import preferences_of
from tasks.auth_backend import role_names
from tasks.profiles import SESSION_KEY, remember_in_session, stored_zone_name


class RefusedIs400:
    """A form view that answers a refused form with 400 (its errors on the page), as every
    form of the app does, instead of Django's 200."""

    def form_invalid(self, form):
        response = super().form_invalid(form)  # type: ignore[misc]
        response.status_code = 400
        return response


class PasswordChangeView(RefusedIs400, auth_views.PasswordChangeView):
    success_url = reverse_lazy("password_change_done")


class PasswordResetView(RefusedIs400, auth_views.PasswordResetView):
    pass


class PasswordResetConfirmView(RefusedIs400, auth_views.PasswordResetConfirmView):
    pass


class NonStaffPasswordResetForm(PasswordResetForm):
    def get_users(self, email: str) -> Iterator:
        return (u for u in super().get_users(email) if not (u.is_staff or u.is_superuser))


@require_http_methods(["GET", "POST"])
def profile(request: HttpRequest) -> HttpResponse:
    """Who she is, and her settings: timezone and notification preferences. A refused form
    is a 400 showing what she typed, with the errors; nothing is saved."""
    user = request.user
    if request.method == "POST":
        form = ProfileForm(request.POST)
        if form.is_valid():
            form.save(user)
            remember_in_session(request.session, form.cleaned_data["timezone"])
            messages.success(request, "Your settings are saved.")
            return redirect("profile")
    else:
        zone = stored_zone_name(user)
        if request.session.get(SESSION_KEY) != zone:  # changed in another session
            remember_in_session(request.session, zone)
        form = ProfileForm.for_user(user, preferences_of(user), zone)
    context = {
        "roles": sorted(role_names(user)),
        "teams": list(user.teams.order_by("name")),
        "managed": list(user.managed_teams.order_by("name")),
        "form": form,
        "channels": [CHANNEL_LABELS[c] for c in CHOOSABLE],
        "zones": zone_names(),
    }
    status = 400 if form.is_bound else 200
    return render(request, "registration/profile.html", context, status=status)


urlpatterns = [
    path("profile/", profile, name="profile"),
    path("profile/tokens/", api_tokens, name="api_tokens"),
    path("profile/tokens/<int:pk>/revoke/", revoke_api_token, name="revoke_api_token"),
    path(
        "profile/password/",
        PasswordChangeView.as_view(),
        name="password_change",
    ),
    path(
        "profile/password/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    path(
        "password-reset/",
        PasswordResetView.as_view(form_class=NonStaffPasswordResetForm),
        name="password_reset",
    ),
    path(
        "password-reset/sent/",
        auth_views.PasswordResetDoneView.as_view(
            extra_context={"timeout_days": settings.PASSWORD_RESET_TIMEOUT // 86400}
        ),
        name="password_reset_done",
    ),
    path(
        "password-reset/<uidb64>/<token>/",
        PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "password-reset/done/",
        auth_views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
]
