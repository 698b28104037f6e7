"""Is this request from Slack, for us, and new? (The endpoint asks before anything else.)

Slack signs each request with the app's signing secret: `X-Slack-Signature` is
`v0=` + HMAC-SHA256 of `v0:<X-Slack-Request-Timestamp>:<body>`. A request is taken when the
signature matches, the timestamp is within five minutes of our clock, and the signature was
not seen before (SlackRequest: a replay of a captured request is refused even inside the five
minutes). Slack's own retries (`X-Slack-Retry-Num`) are signed afresh, so they pass here and
are made harmless by the handlers' references.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from slack_sdk.signature import SignatureVerifier

from sla.models import SlackRequest

TOLERANCE = timedelta(minutes=5)


class Refused(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


def verify(body: bytes, headers: Mapping[str, str]) -> None:
    """Raise Refused (401) unless the body is signed with our secret, recently."""
    secret = settings.SLACK_SIGNING_SECRET
    if not secret:
        raise Refused(401, "The Slack app is not configured (SLACK_SIGNING_SECRET).")
    timestamp = headers.get("X-Slack-Request-Timestamp", "")
    signature = headers.get("X-Slack-Signature", "")
    if not timestamp or not signature:
        raise Refused(401, "Unsigned request.")
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > TOLERANCE.total_seconds():
        raise Refused(401, "Stale or malformed request timestamp.")
    if not SignatureVerifier(secret).is_valid(body, timestamp, signature):
        raise Refused(401, "Bad signature.")


def check_team(team_id: str) -> None:
    """Raise Refused (403) for a workspace not in SLACK_TEAM_IDS."""
    if not team_id or team_id not in settings.SLACK_TEAM_IDS:
        raise Refused(403, "This Slack workspace is not allowed here.")


def remember(signature: str) -> None:
    """Record an accepted request's signature; Refused (401) if it was seen (a replay).
    Signatures older than the tolerance are forgotten: their timestamp fails anyway."""
    now = timezone.now()
    try:
        with transaction.atomic():
            SlackRequest.objects.create(signature=signature[:100], received_at=now)
    except IntegrityError:
        raise Refused(401, "Replayed request.") from None


def forget_old(now=None) -> int:
    now = now or timezone.now()
    deleted, _ = SlackRequest.objects.filter(received_at__lt=now - TOLERANCE * 2).delete()
    return deleted
