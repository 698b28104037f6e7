"""What every card endpoint of the API asks first: the card, if the caller may see it (404
otherwise, as if it did not exist), and the version an `If-Match` header names."""

from __future__ import annotations

import re

from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request

from tasks.models import Task

# What `If-Match` may hold: `*`, or one version as an entity tag ("7", W/"7") or bare (7).
IF_MATCH_PATTERN = r'^(\*|(W/)?"[0-9]{1,9}"|[0-9]{1,9})$'


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
    absent or `*`. A header that is none of these is a 400 (a stale version is the caller's
    412, raised by the action's check)."""
    header = request.headers.get("If-Match")
    if header is None:
        return None
    if not re.fullmatch(IF_MATCH_PATTERN, header):
        raise ValidationError(
            {"If-Match": ['Send the card\'s ETag, e.g. If-Match: "3" (or * for any version).']}
        )
    value = header.removeprefix("W/").strip('"')
    return None if value == "*" else int(value)
