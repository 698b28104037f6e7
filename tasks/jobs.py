"""django-q2 entry points of the tasks app and their schedules (SCHEDULES, registered by
`sync_schedules`, see sla.schedules)."""

from __future__ import annotations

from sla.schedules import ScheduleSpec
from tasks.api.idempotency import forget_old_keys


def forget_idempotency_keys() -> int:
    """The API's idempotency keys older than a day, deleted."""
    return forget_old_keys()


SCHEDULES = [
    ScheduleSpec("tasks: forget old idempotency keys", forget_idempotency_keys, minutes=60),
]
