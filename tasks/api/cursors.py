"""Cursor pagination of the lists this part of the API serves (history, comments, reference
data): `?cursor=` from the previous page's `next`, `?page_size=` up to MAX_PAGE_SIZE, each
list in a stable order that ends with its key. (The cards list has its own; the project-wide
default class may replace these once merged: each only names its ordering.)"""

from __future__ import annotations

from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import CursorPagination

PAGE_SIZE = 50
MAX_PAGE_SIZE = 200


class _Cursor(CursorPagination):
    """A page size out of range and a cursor that is not one are 400s (DRF would fall back to
    the default size, and answer 404 for the cursor)."""

    page_size = PAGE_SIZE
    max_page_size = MAX_PAGE_SIZE
    page_size_query_param = "page_size"

    def get_page_size(self, request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not raw.isdigit() or not 1 <= int(raw) <= self.max_page_size:
            raise ValidationError(
                {self.page_size_query_param: [f"A whole number from 1 to {self.max_page_size}."]}
            )
        return int(raw)

    def decode_cursor(self, request):
        try:
            return super().decode_cursor(request)
        except NotFound:
            # A string the server did not issue: well-formed, not processable (422).
            raise ValidationError(
                {self.cursor_query_param: ["Not a cursor: follow the `next` link of a page."]},
                code="invalid_cursor",
            ) from None

    def get_schema_operation_parameters(self, view) -> list[dict]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"].update(minimum=1, maximum=self.max_page_size)
        return parameters


class OldestFirst(_Cursor):
    """History and comments, as the card page shows them: oldest first."""

    ordering = ("created_at", "pk")


class EventsOldestFirst(_Cursor):
    ordering = ("at", "pk")


class ByName(_Cursor):
    """Reference data in the order the pages list it."""

    ordering = ("name", "pk")


class ByUsername(_Cursor):
    ordering = ("username", "pk")
