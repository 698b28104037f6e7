"""What a refused input must leave as it was: the SLA settings, what the SLA side recorded,
and the cards. `settings_rows()` before and after a request; equal means nothing was written."""

from __future__ import annotations

from typing import Any

from sla.models import (
    BusinessCalendar,
    EscalationRule,
    Holiday,
    SlaEvent,
    SlaPolicy,
    SlaTarget,
    SlaTimer,
    WorkingInterval,
)
from tasks.models import Task

MODELS = (
    SlaPolicy,
    SlaTarget,
    EscalationRule,
    BusinessCalendar,
    WorkingInterval,
    Holiday,
    SlaTimer,
    SlaEvent,
    Task,
)


def settings_rows() -> dict[str, list[dict[str, Any]]]:
    """Every row of the tables a bad input could reach, field by field, in a stable order."""
    return {m._meta.label: list(m.objects.order_by("pk").values()) for m in MODELS}
