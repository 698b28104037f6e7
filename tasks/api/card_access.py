"""What every card endpoint of the API asks first: the card, if the caller may see it (404
otherwise, as if it did not exist), and the version an `If-Match` header names."""

from __future__ import annotations

from rest_framework.exceptions import NotFound
from rest_framework.request import Request

from tasks.api.exceptions import PreconditionFailed
from tasks.models import Task


def visible_card(request: Request, pk: int) -> Task:
    """The card `pk` as the card page reads it, if the caller may see it (`visible_to`, the
    pages' rule); 404 for a card she may not see, so its existence is not disclosed."""
    task = Task.objects.visible_to(request.user).for_list().filter(pk=pk).first()
    if task is None:
        raise NotFound(f"No card #{pk}, or it is not yours to see.")
    return task


def etag(task: Task) -> str:
    """The card's entity tag: its version, quoted."""
    return f'"{task.version}"'


def if_match_version(request: Request) -> int | None:
    """The card version named by `If-Match` (`"7"`, `W/"7"` or `7`); None when the header is
    absent or `*`. A value that names no version can match no card: 412."""
    header = request.headers.get("If-Match")
    if header is None or header.strip() == "*":
        return None
    value = header.strip().removeprefix("W/").strip('"')
    if not value.isdigit() or len(value) > 10:
        raise PreconditionFailed(
            'If-Match names no version of this card: send the card\'s ETag, e.g. If-Match: "3".'
        )
    return int(value)
