"""Load past cards from a spreadsheet (CSV) by replaying their history through tasks.actions
with the real timestamps, so a team can calibrate SLAs before it starts using the app.

Columns: title, request_type, created_at (required); priority, owner (username), team,
client, first_response_at, resolved_at (optional). Times are ISO 8601 ("2026-03-02 09:15");
without an offset they are read in the given timezone. Each row is imported in its own
transaction: a bad row is reported with its line number and leaves nothing behind; good
rows are kept.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from sla.escalation import replaying_history
from tasks import actions
from tasks.models import Priority, RelatedObject, RequestType, Status, Team

REQUIRED = ("title", "request_type", "created_at")
OPTIONAL = ("priority", "owner", "team", "client", "first_response_at", "resolved_at")


class RowError(Exception):
    pass


@dataclass
class ImportResult:
    imported: list[int] = field(default_factory=list)  # card ids
    errors: list[tuple[int, str]] = field(default_factory=list)  # (line, message)


def read(lines: Iterable[str], *, tz: ZoneInfo, actor=None, now=None) -> ImportResult:
    """Import every row of a CSV (an iterable of text lines, header first)."""
    now = now or timezone.now()
    reader = csv.DictReader(lines)
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise RowError(f"The header lacks the column(s) {', '.join(missing)}.")
    reader.fieldnames = header
    result = ImportResult()
    for row in reader:
        line = reader.line_num
        clean = {k: (v or "").strip() for k, v in row.items() if k is not None}
        if not any(clean.values()):
            continue
        try:
            with transaction.atomic(), replaying_history():
                task = _import_row(clean, tz=tz, actor=actor, now=now)
        except (RowError, actions.WorkflowError) as error:
            result.errors.append((line, str(error)))
        else:
            result.imported.append(task.pk)
    return result


def _time(row: dict, name: str, tz: ZoneInfo, now: datetime) -> datetime | None:
    text = row.get(name, "")
    if not text:
        return None
    try:
        value = parse_datetime(text)
    except ValueError:
        value = None
    if value is None:
        raise RowError(f"{name} {text!r} is not a date and time like 2026-03-02 09:15.")
    if timezone.is_naive(value):
        value = timezone.make_aware(value, tz)
    if value > now:
        raise RowError(f"{name} {text!r} lies in the future.")
    return value


def _priority(text: str) -> Priority:
    if not text:
        return Priority.NORMAL
    for priority in Priority:
        if text.lower() in (priority.value, priority.label.lower()):
            return priority
    raise RowError(f"Unknown priority {text!r} (use {', '.join(p.value for p in Priority)}).")


def _import_row(row: dict, *, tz: ZoneInfo, actor, now: datetime):
    title = row.get("title", "")
    if not title:
        raise RowError("The title is empty.")
    request_type = RequestType.objects.filter(name__iexact=row["request_type"]).first()
    if request_type is None:
        raise RowError(f"Unknown request type {row['request_type']!r}.")
    owner = None
    if row.get("owner"):
        owner = get_user_model().objects.filter(username=row["owner"]).first()
        if owner is None:
            raise RowError(f"Unknown user {row['owner']!r}.")
    team = None
    if row.get("team"):
        team = Team.objects.filter(name__iexact=row["team"]).first()
        if team is None:
            raise RowError(f"Unknown team {row['team']!r}.")
    created = _time(row, "created_at", tz, now)
    if created is None:
        raise RowError("created_at is empty.")
    responded = _time(row, "first_response_at", tz, now)
    resolved = _time(row, "resolved_at", tz, now)
    for name, value in (("first_response_at", responded), ("resolved_at", resolved)):
        if value is not None and value < created:
            raise RowError(f"{name} is before created_at.")
    if responded and resolved and resolved < responded:
        raise RowError("resolved_at is before first_response_at.")
    if (responded or resolved) and owner is None:
        raise RowError("A card that was worked on needs an owner.")
    client = None
    if row.get("client"):
        client, _ = RelatedObject.objects.get_or_create(
            kind=RelatedObject.Kind.CLIENT, name=row["client"], parent=None
        )
    task = actions.create_task(
        title=title,
        request_type=request_type,
        priority=_priority(row.get("priority", "")),
        actor=actor,
        owner=owner,
        team=team,
        related_object=client,
        at=created,
    )
    if responded:
        actions.change_status(task=task, to=Status.IN_PROGRESS, actor=owner, at=responded)
    if resolved:
        actions.change_status(task=task, to=Status.DONE, actor=owner, at=resolved)
    return task
