"""Personal API tokens: made with a random secret shown once, stored as its sha256, found by
it, revoked by their owner or an admin. A token acts as its user within its scope."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from django.contrib.auth.models import User
from django.utils import timezone

from tasks.models import ApiToken

# Tokens read as what they are in logs and secret scanners: "tra_" + 40 url-safe characters.
PREFIX = "tra_"
# How often last_used_at is written for a token that keeps being used (one UPDATE per token
# per minute at most, not one per request).
LAST_USED_EVERY = timedelta(minutes=1)
MAX_EXPIRY_DAYS = 3650


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def make_token(
    *, user: User, name: str, scope: str = ApiToken.Scope.READ, expires_in_days: int | None = None
) -> tuple[ApiToken, str]:
    """A new token of `user` and its secret (shown once; only its hash is kept)."""
    name = name.strip()
    if not name or len(name) > ApiToken._meta.get_field("name").max_length:
        raise ValueError("Give the token a name of at most 80 characters.")
    if scope not in ApiToken.Scope.values:
        raise ValueError(f"Scope must be one of {', '.join(ApiToken.Scope.values)}.")
    if expires_in_days is not None and not 1 <= expires_in_days <= MAX_EXPIRY_DAYS:
        raise ValueError(f"Expiry must be between 1 and {MAX_EXPIRY_DAYS} days.")
    secret = PREFIX + secrets.token_urlsafe(30)
    now = timezone.now()
    token = ApiToken.objects.create(
        user=user,
        name=name,
        scope=scope,
        key_hash=digest(secret),
        prefix=secret[: len(PREFIX) + 4],
        created_at=now,
        expires_at=now + timedelta(days=expires_in_days) if expires_in_days else None,
    )
    return token, secret


def find_active(secret: str, *, now: datetime | None = None) -> ApiToken | None:
    """The active token with this secret (not revoked, not expired, of an active user), and
    its use noted; None otherwise."""
    now = now or timezone.now()
    token = (
        ApiToken.objects.select_related("user")
        .filter(key_hash=digest(secret), revoked_at=None, user__is_active=True)
        .first()
    )
    if token is None or (token.expires_at is not None and token.expires_at <= now):
        return None
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_EVERY:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


def revoke(*, token: ApiToken, now: datetime | None = None) -> bool:
    """Revoke the token (False when it already was)."""
    now = now or timezone.now()
    return bool(ApiToken.objects.filter(pk=token.pk, revoked_at=None).update(revoked_at=now))
