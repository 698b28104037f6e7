"""The first-use help page (/help/): what each role does first, with links; the viewer's
own roles first. The words are in templates/help/ (one short template per role)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path
from django.views.decorators.http import require_GET

from tasks.auth_backend import role_names
from tasks.roles import ROLE_PERMISSIONS

# Every role the page explains, in the order they are shown to someone who has none of them.
ROLES = ("manager", "dispatcher", "performer", "observer", "admin")


@require_GET
def help_page(request: HttpRequest) -> HttpResponse:
    user = request.user
    mine = {r for r in role_names(user) if r in ROLE_PERMISSIONS}
    if user.is_staff or user.is_superuser:
        mine.add("admin")
    sections = [r for r in ROLES if r in mine] + [r for r in ROLES if r not in mine]
    return render(
        request,
        "help/help.html",
        {"sections": [(r, f"help/_{r}.html", r in mine) for r in sections], "mine": mine},
    )


urlpatterns = [path("help/", help_page, name="help")]
