"""A person's own account: the profile page, changing the password, and resetting a
forgotten one by email (Django's views, our templates).

Resetting by email is for non-staff accounts only: an admin's password is not handed to
whoever controls their mailbox (admins reset each other's in the admin). The page answers
the same whatever address is typed, so it does not tell who has an account.
"""

from __future__ import annotations

from collections.abc import Iterator

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import PasswordResetForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path, reverse_lazy
from django.views.decorators.http import require_GET

from config.api_tokens import api_tokens, revoke_api_token
from tasks.auth_backend import role_names


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


@require_GET
def profile(request: HttpRequest) -> HttpResponse:
    user = request.user
    context = {
        "roles": sorted(role_names(user)),
        "teams": list(user.teams.order_by("name")),
        "managed": list(user.managed_teams.order_by("name")),
    }
    return render(request, "registration/profile.html", context)


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
