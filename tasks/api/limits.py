"""The API's limits: requests per token (API_THROTTLE_RATE, 429 with Retry-After) and the
page size of lists (cursor pages, at most 100 rows)."""

from __future__ import annotations

from django.conf import settings
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.throttling import SimpleRateThrottle

from tasks.models import ApiToken


class PerTokenThrottle(SimpleRateThrottle):
    """API_THROTTLE_RATE requests per token ("600/min"); a session (the browsable docs)
    counts per user. Kept in the cache (CACHE_URL: shared by every web process)."""

    scope = "token"

    def get_rate(self) -> str | None:
        return settings.API_THROTTLE_RATE

    def get_cache_key(self, request, view) -> str | None:
        if isinstance(request.auth, ApiToken):
            ident = f"token-{request.auth.pk}"
        elif request.user is not None and request.user.is_authenticated:
            ident = f"user-{request.user.pk}"
        else:
            return None  # refused by authentication anyway
        return self.cache_format % {"scope": self.scope, "ident": ident}


class CursorPage(CursorPagination):
    """Lists in pages of `page_size` (default 50, at most 100), newest first by id: a stable
    order, so a client walking the pages while cards are added never sees one twice."""

    ordering = "-pk"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 100
    invalid_cursor_message = "The cursor is not valid: follow the next/previous links as given."

    def get_page_size(self, request) -> int:
        value = request.query_params.get(self.page_size_query_param)
        if value is None:
            return self.page_size
        if not value.isdigit() or not 1 <= int(value) <= 10_000:
            raise ValidationError({self.page_size_query_param: ["Give a whole number from 1."]})
        return min(int(value), self.max_page_size)

    def get_schema_operation_parameters(self, view) -> list[dict]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["description"] = (
                    f"Rows per page: {self.page_size} unless given, at most {self.max_page_size}."
                )
                parameter["schema"] = {"type": "integer", "minimum": 1, "maximum": 10_000}
        return parameters
