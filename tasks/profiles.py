"""A person's timezone: stored on her `Profile`, read on every page from her session (no
query per request), used by emails and Slack messages addressed to her.

    stored zone (Profile.timezone)  >  the browser's zone (`tz` cookie)  >  settings.TIME_ZONE

The session keeps a copy (`SESSION_KEY`), written at login and when she saves her profile, so
the middleware reads no table. A session from before the copy existed reads the profile once
and keeps the answer.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.contrib.auth.signals import user_logged_in
from django.db import transaction
from django.dispatch import receiver

from tasks.models import Profile
from tasks.validators import validate_timezone_name

SESSION_KEY = "stored_tz"


def zone_named(name: str) -> ZoneInfo | None:
    """The zone of that name, or None for an empty, unknown or malformed name."""
    if not name or "\x00" in name or len(name) > 64:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def stored_zone_name(user) -> str:
    """The zone the user chose on /profile/ ('' if none). Reads the profile unless it was
    read with the user (select_related("profile"))."""
    if user is None or not user.pk:
        return ""
    try:
        return user.profile.timezone
    except Profile.DoesNotExist:
        return ""


def zone_of(user) -> ZoneInfo:
    """The zone times are shown in to `user` outside a page (emails, Slack): the stored one,
    else the server's TIME_ZONE."""
    return zone_named(stored_zone_name(user)) or ZoneInfo(settings.TIME_ZONE)


@transaction.atomic
def set_timezone(*, user, zone: str) -> Profile:
    """Store the user's timezone ('' to follow the browser); refuses an unknown zone
    (ValidationError)."""
    if zone:
        validate_timezone_name(zone)
    profile, _ = Profile.objects.select_for_update().get_or_create(user=user)
    if profile.timezone != zone:
        profile.timezone = zone
        profile.save(update_fields=["timezone"])
    return profile


def remember_in_session(session, zone: str) -> None:
    session[SESSION_KEY] = zone


@receiver(user_logged_in, dispatch_uid="tasks.profiles.copy_zone_to_session")
def _copy_zone_to_session(sender, request, user, **kwargs) -> None:
    if request is not None and hasattr(request, "session"):
        remember_in_session(request.session, stored_zone_name(user))
