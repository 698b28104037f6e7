"""What the API answers before and after its views: the body size cap (413), Django's own
errors under /api/ as problem details (tasks.api.exceptions), and `Idempotency-Key` on every
POST under /api/v1/ (tasks.api.idempotency)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from tasks.api import idempotency
from tasks.api.exceptions import PROBLEM_CONTENT_TYPE, phrase, problem_response

log = logging.getLogger(__name__)

API_PREFIX = "/api/"
# Django's own answers under /api/ (no view, or one outside DRF) get a code by status.
_CODES = {400: "bad_request", 403: "permission_denied", 404: "not_found",
          405: "method_not_allowed", 413: "request_too_large", 500: "server_error"}  # fmt: skip


def _is_json(response: HttpResponse) -> bool:
    content_type = response.get("Content-Type", "")
    return content_type.startswith(("application/json", PROBLEM_CONTENT_TYPE))


class ApiProblems:
    """Under /api/: refuse a body larger than API_MAX_BODY_BYTES (413) before anything reads
    it, and answer every error that is not JSON yet (Django's 404 of an unknown path, a 405
    of a plain view, a 400 of a bad host or a too-large form) as a problem; an unexpected
    exception is logged and answered as a problem too."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith(API_PREFIX):
            return self.get_response(request)
        limit = settings.API_MAX_BODY_BYTES
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = -1
        if length < 0:
            return problem_response(400, "Content-Length is not a number.", code="bad_request")
        if length > limit:
            return problem_response(
                413, f"The request body is larger than {limit} bytes.", code="request_too_large"
            )
        response = self.get_response(request)
        if response.status_code >= 400 and not _is_json(response):
            status = response.status_code
            answer = problem_response(
                status, phrase(status) + ".", code=_CODES.get(status, "error")
            )
            for header in ("Allow", "Retry-After", "WWW-Authenticate"):
                if header in response:
                    answer[header] = response[header]
            return answer
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not request.path.startswith(API_PREFIX):
            return None
        log.exception("API error on %s %s", request.method, request.path)
        return problem_response(500, "Something went wrong on our side.", code="server_error")


class IdempotentPosts:
    """`Idempotency-Key` on a POST under /api/v1/: the first answer is kept (a day) and
    given again to the same key and body from the same token; another body with the key is
    refused (422); a retry while the first is still running is told to wait (409)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        key = request.headers.get(idempotency.HEADER)
        if request.method != "POST" or key is None or not request.path.startswith("/api/v1/"):
            return self.get_response(request)
        claim = idempotency.claim(request, key)
        if isinstance(claim, HttpResponse):
            return claim  # refused, or the first answer again
        if claim is None:
            return self.get_response(request)  # no valid credentials: the view answers 401
        try:
            response = self.get_response(request)
        except BaseException:
            idempotency.release(claim)
            raise
        idempotency.keep(claim, response)
        return response


def json_body(response: HttpResponse) -> object:
    try:
        return json.loads(response.content or b"null")
    except ValueError:
        return None
