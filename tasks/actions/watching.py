"""Following a card: who hears about its status changes, breaches and approval decisions.

Following is not a change of the card (no event, no new version, no listeners): a `Watch`
row per person. Who may follow is the views' rule (`tasks.permissions.can_watch`).
"""

from __future__ import annotations

from datetime import datetime

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from tasks.models import Task, Watch


@transaction.atomic
def follow(
    *,
    task: Task,
    user: User,
    status_changes: bool = True,
    breaches: bool = True,
    decisions: bool = True,
    at: datetime | None = None,
) -> Watch:
    """Follow the card (or change which of its events reach `user`). A row with none of the
    three keeps an observer of the card quiet (observers without a row hear everything)."""
    watch, _ = Watch.objects.update_or_create(
        task=task,
        user=user,
        defaults={
            "status_changes": status_changes,
            "breaches": breaches,
            "decisions": decisions,
        },
        create_defaults={
            "status_changes": status_changes,
            "breaches": breaches,
            "decisions": decisions,
            "created_at": at or timezone.now(),
        },
    )
    return watch


def unfollow(*, task: Task, user: User) -> None:
    """Stop following the card (an observer of the card still hears everything: to quiet
    one, `follow` with none of the three)."""
    Watch.objects.filter(task=task, user=user).delete()
