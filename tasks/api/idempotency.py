"""`Idempotency-Key`: a POST sent again with the same key gets the first answer instead of
doing its work twice (a second card). Keys belong to the token that sent them (or the
session's user), are kept for a day (`forget_old_keys`, scheduled by tasks.jobs), and
bind the method, path and body they were first sent with."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from tasks.api import tokens
from tasks.api.exceptions import PROBLEM_CONTENT_TYPE, problem_response
from tasks.models import IdempotencyKey

HEADER = "Idempotency-Key"
KEY_MAX_LENGTH = 200
# Printable ASCII, no space at either end (HTTP trims them): what the schema documents.
KEY_PATTERN = r"[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?"
KEEP_FOR = timedelta(hours=24)
# Answers worth giving again: the work was done (2xx) or can never be done with this body
# (400, 404, 422). Refusals that depend on the moment (401, 403, 409, 412, 429, 5xx) are
# not kept: the retry is tried afresh.
KEPT = {400, 404, 422}
REPLAYED_HEADERS = ("ETag", "Location")


def _owner(request: HttpRequest) -> tuple[int, str] | None:
    """Who the key belongs to: (user id, scope of the key: the token's id or the session)."""
    authorization = request.headers.get("Authorization", "").split()
    if len(authorization) == 2 and authorization[0].lower() == "bearer":
        token = tokens.find_active(authorization[1])
        # Found once per request: the authentication takes it from here (no second query).
        request.api_token = (authorization[1], token)  # type: ignore[attr-defined]
        return (token.user_id, f"t{token.pk}") if token else None
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return user.pk, "s"
    return None


def request_hash(request: HttpRequest) -> str:
    return hashlib.sha256(request.body).hexdigest()


def claim(request: HttpRequest, key: str) -> IdempotencyKey | HttpResponse | None:
    """The new key row to finish with `keep` (the request goes on), or the answer to give
    at once (a refusal or the first answer again), or None without valid credentials."""
    if len(key) > KEY_MAX_LENGTH or not re.fullmatch(KEY_PATTERN, key):
        return problem_response(
            400,
            f"{HEADER} must be 1 to {KEY_MAX_LENGTH} printable ASCII characters.",
            code="invalid_idempotency_key",
            errors=[{"attr": HEADER, "code": "invalid", "detail": "Not a valid key."}],
        )
    owner = _owner(request)
    if owner is None:
        return None
    user_id, scope = owner
    row = IdempotencyKey(
        user_id=user_id,
        key=f"{scope}:{key}",
        request_path=f"{request.method} {request.path}"[:300],
        request_hash=request_hash(request),
        created_at=timezone.now(),
    )
    try:
        with transaction.atomic():
            row.save()
        return row
    except IntegrityError:
        pass
    first = IdempotencyKey.objects.filter(user_id=user_id, key=row.key).first()
    if first is None:  # released meanwhile: this request goes on without the key
        return None
    if (first.request_path, first.request_hash) != (row.request_path, row.request_hash):
        return problem_response(
            422,
            f"This {HEADER} was used with another request: send a new key for a new request.",
            code="idempotency_key_reused",
        )
    if first.response_status is None:
        answer = problem_response(
            409,
            f"A request with this {HEADER} is still being processed: retry in a moment.",
            code="conflict",
        )
        answer["Retry-After"] = "1"
        return answer
    answer = HttpResponse(
        json.dumps(first.response_body),
        status=first.response_status,
        content_type=first.response_headers.get("Content-Type", PROBLEM_CONTENT_TYPE),
    )
    for name in REPLAYED_HEADERS:
        if name in first.response_headers:
            answer[name] = first.response_headers[name]
    answer["Idempotent-Replayed"] = "true"
    return answer


def keep(row: IdempotencyKey, response: HttpResponse) -> None:
    """Keep the first answer for the retries, or free the key when it is not worth keeping."""
    status = response.status_code
    if not (200 <= status < 300 or status in KEPT) or getattr(response, "streaming", False):
        release(row)
        return
    try:
        body = json.loads(response.content or b"null")
    except ValueError:
        release(row)
        return
    headers = {
        name: response[name] for name in ("Content-Type", *REPLAYED_HEADERS) if name in response
    }
    IdempotencyKey.objects.filter(pk=row.pk).update(
        response_status=status, response_body=body, response_headers=headers
    )


def release(row: IdempotencyKey) -> None:
    IdempotencyKey.objects.filter(pk=row.pk).delete()


def forget_old_keys(now: datetime | None = None) -> int:
    """Delete the keys older than a day (scheduled hourly by tasks.jobs)."""
    now = now or timezone.now()
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=now - KEEP_FOR).delete()
    return deleted
