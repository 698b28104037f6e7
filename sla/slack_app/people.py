"""Who a Slack user is here: the active Turnaround user with the same email address.

Slack's `users.info` gives the address (the app's `users:read.email` scope); the answer is
kept in SlackUser for a day, so a busy person costs one Web API call a day, not one per
click. No match, or more than one active user with that address, is nobody: the app then
answers politely and never acts under someone else's name.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import User
from django.utils import timezone
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from sla.models import SlackUser
from sla.notify import slack_escape
from sla.slack_app import web

log = logging.getLogger(__name__)

FRESH_FOR = timedelta(days=1)

UNKNOWN = (
    "Sorry, I could not find a Turnaround account for your Slack email address{email}, so "
    "I did nothing. Ask a Turnaround admin to add you with the same address, then try again."
)


def unknown_text(email: str) -> str:
    return UNKNOWN.format(email=f" ({slack_escape(email)})" if email else "")


def person(team_id: str, slack_id: str, *, now: datetime | None = None) -> tuple[User | None, str]:
    """The Turnaround user behind a Slack user (None: nobody), and the email Slack gave."""
    now = now or timezone.now()
    known = SlackUser.objects.filter(team_id=team_id, slack_id=slack_id).select_related("user")
    row = known.first()
    if row is not None and row.checked_at > now - FRESH_FOR:
        return _active(row.user), row.email
    try:
        answer = web.client().users_info(user=slack_id)
    except SlackApiError as error:
        log.warning("users.info for %s failed: %s", slack_id, error.response.get("error"))
        return (_active(row.user), row.email) if row is not None else (None, "")
    profile = (answer.get("user") or {}).get("profile") or {}
    email = (profile.get("email") or "").strip()
    user = by_email(email)
    SlackUser.objects.update_or_create(
        team_id=team_id,
        slack_id=slack_id,
        defaults={"user": user, "email": email, "checked_at": now},
    )
    return user, email


def map_by_email(*, now: datetime | None = None) -> tuple[int, int]:
    """Find every active user with an email address and no Slack account yet on Slack
    (`users.lookupByEmail`), so their alerts can come as direct messages before they ever
    use the app. Returns (found, not found). Waits out Slack's rate limit (429) itself."""
    now = now or timezone.now()
    client = web.client()
    client.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=5))
    mapped = SlackUser.objects.filter(user__isnull=False).values("user_id")
    people = User.objects.filter(is_active=True).exclude(email="").exclude(pk__in=mapped)
    found = missing = 0
    for user in people.order_by("pk"):
        try:
            answer = client.users_lookupByEmail(email=user.email)
        except SlackApiError as error:
            if error.response.get("error") != "users_not_found":
                raise
            missing += 1
            continue
        account = answer.get("user") or {}
        if by_email(user.email) != user:  # the address is not this person's alone
            missing += 1
            continue
        SlackUser.objects.update_or_create(
            team_id=account.get("team_id") or (settings.SLACK_TEAM_IDS or [""])[0],
            slack_id=account.get("id", ""),
            defaults={"user": user, "email": user.email, "checked_at": now},
        )
        found += 1
    return found, missing


def known(team_id: str, slack_id: str) -> User | None:
    """The person behind a Slack user if already known (no Web API call: for answers that
    must be quick, like pre-filling a modal's owner)."""
    row = (
        SlackUser.objects.filter(team_id=team_id, slack_id=slack_id).select_related("user").first()
    )
    return _active(row.user) if row is not None else None


def by_email(email: str) -> User | None:
    if not email:
        return None
    matches = list(User.objects.filter(email__iexact=email, is_active=True)[:2])
    return matches[0] if len(matches) == 1 else None


def _active(user: User | None) -> User | None:
    return user if user is not None and user.is_active else None


def slack_ids(user_ids: list[int]) -> dict[int, str]:
    """The Slack user id of each of these people known to the app (one query)."""
    rows = SlackUser.objects.filter(user_id__in=user_ids).order_by("-checked_at")
    found: dict[int, str] = {}
    for user_id, slack_id in rows.values_list("user_id", "slack_id"):
        found.setdefault(user_id, slack_id)
    return found
