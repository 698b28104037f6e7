"""Structured logs: a request id on every log record of a request, and one JSON object per
line when LOG_FORMAT=json (for log shippers); optional error reporting to Sentry.

The id comes from the proxy's X-Request-ID when it is a plain token (so the proxy's access log
and ours join up), otherwise it is made here; it is sent back in the X-Request-ID header.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from django.core.signals import request_finished

if TYPE_CHECKING:
    from django.http import HttpRequest, HttpResponse

HEADER = "X-Request-ID"
# A client-chosen id ends up in every log line: only short plain tokens are taken, so it can
# neither forge log lines (newlines, quotes) nor flood them.
_ACCEPTED = re.compile(r"[A-Za-z0-9._:-]{1,128}")
NO_REQUEST = "-"

request_id: ContextVar[str] = ContextVar("request_id", default=NO_REQUEST)


def _forget(**kwargs) -> None:
    # After the response is closed: Django logs a 4xx/5xx after the middleware has returned,
    # so the id is kept until then, and not carried into whatever this thread does next.
    request_id.set(NO_REQUEST)


request_finished.connect(_forget, dispatch_uid="config.logs.forget_request_id")


class RequestIdMiddleware:
    """Outermost middleware: the request's id for logs, `request.id` and the response."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get(HEADER, "")
        rid = incoming if _ACCEPTED.fullmatch(incoming) else uuid.uuid4().hex
        request_id.set(rid)
        request.id = rid
        _tag_sentry(rid)
        response = self.get_response(request)
        response[HEADER] = rid
        return response


class RequestIdFilter(logging.Filter):
    """Puts the current request id on every record (NO_REQUEST outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, request_id,
    and the traceback as `exception` when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", request_id.get()),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def init_sentry(dsn: str, *, environment: str, traces_sample_rate: float) -> None:
    """Report errors to Sentry (the `sentry` extra); called by settings only when SENTRY_DSN
    is set. No personal data: users are sent by id only, and request bodies not at all."""
    import sentry_sdk

    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        traces_sample_rate=traces_sample_rate,
        send_default_pii=False,
        max_request_body_size="never",
    )


def _tag_sentry(rid: str) -> None:
    try:
        import sentry_sdk
    except ImportError:
        return
    if sentry_sdk.is_initialized():
        sentry_sdk.get_isolation_scope().set_tag("request_id", rid)
