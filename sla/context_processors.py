"""Template context every page gets from the SLA side."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from sla.models import Notification


def navigation(request: HttpRequest) -> dict[str, Any]:
    """The unread count of the nav bell (one query per page)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"unread_count": lambda: Notification.objects.unread_for(user).count()}
