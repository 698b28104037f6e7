"""Talking to Slack's Web API, and the one place times are put in a reader's zone.

The client is slack_sdk's WebClient with `SLACK_API_URL` as its base (the tests point it at
a local fake), so no other module builds a client or spells a method's URL.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from slack_sdk import WebClient

from tasks import profiles

# Seconds per Web API call: a delivery thread or a job never hangs on Slack.
TIMEOUT = 10


def configured() -> bool:
    """Whether the Slack app is installed (a bot token): otherwise nothing is written for it."""
    return bool(settings.SLACK_BOT_TOKEN)


def client() -> WebClient:
    base = settings.SLACK_API_URL
    return WebClient(
        token=settings.SLACK_BOT_TOKEN,
        base_url=base if base.endswith("/") else f"{base}/",
        timeout=TIMEOUT,
    )


def slack_zone(user: AbstractBaseUser | None) -> ZoneInfo:
    """The zone a person reads times in on Slack: the one she chose on /profile/
    (tasks.profiles), else the server's TIME_ZONE. Every Slack-app message goes through it."""
    if user is None:
        return ZoneInfo(settings.TIME_ZONE)
    return profiles.zone_of(user)


def slack_time(at: datetime, user: AbstractBaseUser | None) -> str:
    """A time for a Slack message, in the reader's zone: 'Mon 23 Nov 14:00 CET'."""
    return f"{at.astimezone(slack_zone(user)):%a %d %b %H:%M %Z}"


def card_url(task) -> str:
    return f"{settings.SITE_URL}{task.get_absolute_url()}"


def my_work_url() -> str:
    return f"{settings.SITE_URL}/my-work/"
