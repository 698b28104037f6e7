"""The card's status and priority, and the one definition of an open card.

A module of its own so that both `tasks.models` and `tasks.queries` (which the models use as
their manager) can read it without importing each other; `tasks.models` re-exports all of it.
"""

from __future__ import annotations

from django.db import models


class Priority(models.TextChoices):
    CRITICAL = "critical", "Critical"
    HIGH = "high", "High"
    NORMAL = "normal", "Normal"
    LOW = "low", "Low"

    @classmethod
    def raised(cls, priority: Priority) -> Priority:
        """One step more urgent (critical stays critical)."""
        order = list(cls)
        return order[max(order.index(priority) - 1, 0)]


class Status(models.TextChoices):
    NEW = "new", "New"
    ASSIGNED = "assigned", "Assigned"
    IN_PROGRESS = "in_progress", "In progress"
    WAITING = "waiting", "Waiting"
    ON_APPROVAL = "on_approval", "On approval"
    DONE = "done", "Done"
    CANCELLED = "cancelled", "Cancelled"


# A card is open unless it is in one of these: every "open card" test (TaskQuerySet.open,
# Task.is_open, the partial indexes, reports) reads this one tuple.
CLOSED_STATUSES = (Status.DONE, Status.CANCELLED)
OPEN_STATUSES = tuple(s for s in Status if s not in CLOSED_STATUSES)
