"""The card list as a CSV file (`/cards/export.csv?<the list's query>`): the cards the list
shows with the same filters, every one of them rather than a page, for the same viewer.

Streamed: the rows are read with a server-side cursor in chunks (`iterator`) and written as
they come, so a file of 100,000 cards takes the memory of one chunk and one query, however
many cards it holds. Times are in the viewer's timezone (ISO 8601, with the offset); every
cell passes the formula guard (tasks.csv_safe)."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import datetime, tzinfo

from django.db.models import OuterRef, Subquery
from django.http import HttpRequest, StreamingHttpResponse
from django.utils import timezone
from django.views.decorators.http import require_GET

from sla.models import SlaTimer, TimerKind
from tasks.csv_safe import safe_cell
from tasks.filters import TaskFilter
from tasks.models import Task

CHUNK_SIZE = 2000
HEADER = [
    "Card", "Title", "Status", "Priority", "Request type", "Team", "Owner", "Related object",
    "Blocked by", "Next step", "Next step due", "Created", "Updated", "Resolution due",
]  # fmt: skip


class _Echo:
    """A file for csv.writer that hands each written line back instead of keeping it."""

    def write(self, value: str) -> str:
        return value


def _time(value: datetime | None, zone: tzinfo) -> str | None:
    return timezone.localtime(value, zone).isoformat() if value else None


def _row(task: Task, zone: tzinfo) -> list:
    owner = task.owner
    return [
        task.pk,
        task.title,
        task.get_status_display(),
        task.get_priority_display(),
        task.request_type.name,
        task.team.name if task.team else None,
        (owner.get_full_name() or owner.get_username()) if owner else None,
        task.related_object.name if task.related_object else None,
        task.blocking_reason.name if task.blocking_reason else None,
        task.next_step,
        _time(task.next_step_due, zone),
        _time(task.created_at, zone),
        _time(task.updated_at, zone),
        _time(task.resolution_due, zone),
    ]


def _lines(cards, zone: tzinfo) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(HEADER)
    for task in cards.iterator(chunk_size=CHUNK_SIZE):
        yield writer.writerow([safe_cell(value) for value in _row(task, zone)])


@require_GET
def card_list_csv(request: HttpRequest) -> StreamingHttpResponse:
    """The list's queryset and filters (tasks.views.task_list): a filter the list flags and
    ignores is ignored here too, and named in the `X-Ignored-Filters` header."""
    cards = Task.objects.visible_to(request.user).for_list().order_by("-created_at", "-pk")
    filterset = TaskFilter(request.GET or None, queryset=cards)
    # The due time of the card's latest resolution cycle: one subquery over the timers'
    # unique (task, kind, cycle) index, in the same query as the cards.
    resolution = SlaTimer.objects.filter(task=OuterRef("pk"), kind=TimerKind.RESOLUTION)
    rows = filterset.qs.annotate(
        resolution_due=Subquery(resolution.order_by("-cycle").values("due_at")[:1])
    )
    # The zone is read now: the rows are written after the view (and the middleware) return.
    zone = timezone.get_current_timezone()
    response = StreamingHttpResponse(_lines(rows, zone), content_type="text/csv; charset=utf-8")
    stamp = timezone.localtime(timezone.now(), zone).strftime("%Y-%m-%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="cards-{stamp}.csv"'
    if filterset.errors:
        response["X-Ignored-Filters"] = ", ".join(sorted(filterset.errors))
    return response
