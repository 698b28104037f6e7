"""Cursor pagination of the lists this part of the API serves (history, comments, reference
data): `?cursor=` from the previous page's `next`, `?page_size=` up to MAX_PAGE_SIZE, each
list in a stable order that ends with its key. (The cards list has its own; the project-wide
default class may replace these once merged: each only names its ordering.)"""

from __future__ import annotations

from rest_framework.pagination import CursorPagination

PAGE_SIZE = 50
MAX_PAGE_SIZE = 200


class _Cursor(CursorPagination):
    page_size = PAGE_SIZE
    max_page_size = MAX_PAGE_SIZE
    page_size_query_param = "page_size"


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
