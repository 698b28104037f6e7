"""Load past cards from a spreadsheet (CSV) with their real timestamps, so a team can
calibrate SLAs before it starts using the app (`manage.py import_cards`).

The file is read and every row checked first (reports.card_file: all problems of the file,
by line and column), then the rows are written in one transaction: the whole file or
nothing. Each card is written as `tasks.actions.create_task` and `change_status` would have
written it at its times (first response: in progress; resolution: done), in batches
(`tasks.actions.record_past_cards`, whose listener sla.replay gives the cards their timers
and threshold events); inside `replaying_history()`, so old breaches are recorded for the
reports but notify nobody. Each row's key is kept (ImportedCard): importing the same rows
again writes nothing. The report tables are refreshed afterwards, as the 5-minute job does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from reports.card_file import CardRow
from reports.models import ImportedCard
from sla import bulk
from sla.escalation import replaying_history
from tasks import actions
from tasks.models import RelatedObject

BATCH = 1000  # rows per INSERT of cards (and of their events, timers, keys)


@transaction.atomic
def write(
    rows: Sequence[CardRow],
    *,
    actor: User | None,
    now: datetime | None = None,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Write checked rows (reports.card_file) in one transaction; returns how many cards."""
    now = now or timezone.now()
    clients = _clients({row.client for row in rows if row.client})
    with replaying_history():
        for start in range(0, len(rows), BATCH):
            chunk = rows[start : start + BATCH]
            specs = [replace(row.spec, related_object=clients.get(row.client)) for row in chunk]
            cards = actions.record_past_cards(specs, actor=actor, insert=bulk.insert_objects)
            bulk.insert_objects(
                [
                    ImportedCard(key=row.key, digest=row.digest, task=card.task, imported_at=now)
                    for row, card in zip(chunk, cards, strict=True)
                ]
            )
            if progress is not None:
                progress(start + len(chunk))
    return len(rows)


def _clients(names: set[str]) -> dict[str, RelatedObject]:
    """Top-level clients by exact name: found (the oldest of a name) or created."""
    found: dict[str, RelatedObject] = {}
    kind = RelatedObject.Kind.CLIENT
    existing = RelatedObject.objects.filter(kind=kind, parent=None, name__in=names).order_by("-pk")
    for client in existing:
        found[client.name] = client  # oldest last: it wins
    new = RelatedObject.objects.bulk_create(
        RelatedObject(kind=kind, name=name) for name in sorted(names - found.keys())
    )
    # What RelatedObject.save keeps: a top-level object is its own root.
    RelatedObject.objects.filter(pk__in=[c.pk for c in new]).update(root_id=F("pk"))
    for client in new:
        client.root_id = client.pk
        found[client.name] = client
    return found
