"""Every error of the API in one shape: RFC 9457 problem details (`application/problem+json`).

    {"type": "about:blank", "title": "Bad Request", "status": 400,
     "detail": "The request is not valid.", "code": "invalid",
     "errors": [{"attr": "title", "code": "blank", "detail": "This field may not be blank."}]}

`title` is the HTTP status phrase, `detail` says what went wrong in words, `code` is a stable
machine-readable name and `errors` lists each field's errors (`attr` is the field's dotted
path, null for the request as a whole). DRF's errors come through `problem_handler` (the
EXCEPTION_HANDLER); Django's own (404 of an unknown path, 413, a 500) through
`tasks.api.middleware.ApiProblems`.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from django.http import HttpResponse
from django.utils.encoding import force_str
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

PROBLEM_CONTENT_TYPE = "application/problem+json"


class Conflict(exceptions.APIException):
    """The request contradicts the card's state (a move the workflow forbids, a key in use)."""

    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state of the card."
    default_code = "conflict"


class PreconditionFailed(exceptions.APIException):
    """`If-Match` names a version of the card that is no longer current."""

    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_detail = "The card was changed meanwhile: read it again and retry with its ETag."
    default_code = "precondition_failed"


class UnprocessableContent(exceptions.APIException):
    """The request is well-formed but cannot be processed as sent (an idempotency key
    reused with another body)."""

    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = "The request cannot be processed."
    default_code = "unprocessable"


def phrase(status_code: int) -> str:
    try:
        return HTTPStatus(status_code).phrase
    except ValueError:
        return "Error"


def problem(
    status_code: int, detail: str, *, code: str, errors: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """The body of a problem response."""
    return {
        "type": "about:blank",
        "title": phrase(status_code),
        "status": status_code,
        "detail": detail,
        "code": code,
        "errors": errors or [],
    }


def problem_response(
    status_code: int, detail: str, *, code: str, errors: list[dict[str, Any]] | None = None
) -> HttpResponse:
    """A problem answered outside DRF (Django's 404, 413, 500 under /api/)."""
    import json

    body = problem(status_code, detail, code=code, errors=errors)
    return HttpResponse(json.dumps(body), status=status_code, content_type=PROBLEM_CONTENT_TYPE)


def _field_errors(data: Any, attr: str | None = None) -> list[dict[str, Any]]:
    """DRF's nested error details as a flat list of {attr, code, detail}."""
    if isinstance(data, dict):
        found = []
        for key, value in data.items():
            name = None if key in ("non_field_errors", "detail") and attr is None else key
            path = ".".join(p for p in (attr, name) if p) or None
            found += _field_errors(value, path)
        return found
    if isinstance(data, list):
        if all(not isinstance(item, (dict, list)) for item in data):
            return [
                {"attr": attr, "code": getattr(item, "code", "invalid"), "detail": force_str(item)}
                for item in data
            ]
        found = []
        for i, item in enumerate(data):
            found += _field_errors(item, f"{attr}.{i}" if attr else str(i))
        return found
    return [{"attr": attr, "code": getattr(data, "code", "invalid"), "detail": force_str(data)}]


# Field errors the OpenAPI document describes (a type, a length, a choice, a format, a field
# required): 400. The others — a row that does not exist, a date outside the sane range, a
# text that is empty once trimmed, a rule of the workflow — are in a well-formed request that
# cannot be processed: 422 (RFC 9110, Unprocessable Content).
SCHEMA_CODES = frozenset({
    "required", "null", "invalid", "incorrect_type", "max_length", "min_length",
    "invalid_choice", "not_a_list", "empty", "max_value", "min_value", "max_string_length",
    "parse_error", "date", "datetime", "make_aware", "overflow", "not_a_dict",
})  # fmt: skip


def problem_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's EXCEPTION_HANDLER: DRF's own handling (status, Retry-After, WWW-Authenticate),
    its body rewritten as a problem."""
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        errors = _field_errors(exc.detail)
        detail = "The request is not valid: " + "; ".join(
            f"{e['attr']}: {e['detail']}" if e["attr"] else e["detail"] for e in errors[:5]
        )
        code = "invalid"
        if not any(e["code"] in SCHEMA_CODES for e in errors):
            response.status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
            code = "unprocessable"
    else:
        errors = []
        detail_value = getattr(exc, "detail", None) or phrase(response.status_code)
        if isinstance(detail_value, (dict, list)):
            errors = _field_errors(detail_value)
            detail = errors[0]["detail"] if errors else phrase(response.status_code)
        else:
            detail = force_str(detail_value)
        codes = exc.get_codes() if isinstance(exc, exceptions.APIException) else "error"
        code = codes if isinstance(codes, str) else "error"
        if not isinstance(exc, exceptions.APIException):  # Http404, PermissionDenied
            code = {404: "not_found", 403: "permission_denied"}.get(response.status_code, code)
    response.data = problem(response.status_code, detail, code=code, errors=errors)
    response.content_type = PROBLEM_CONTENT_TYPE
    return response
