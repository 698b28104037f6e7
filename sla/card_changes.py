"""The SLA side's listener of the card-change hook (registered in `SlaConfig.ready()`).

After every change of a card (`tasks.actions`, inside the change's transaction) the card's
timers follow it (`sla.actions.sync_timers`), then people and webhook endpoints are told
(`sla.card_notices.notify_card_change`). Both work from one reading of the settings, the
active policies and webhook endpoints (`sla.actions.active_settings`: one one-row query
while nothing changed).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sla.actions import active_settings, sync_timers
from sla.card_notices import notify_card_change
from tasks.models import Task, TaskEvent


def follow_card_change(*, task: Task, at: datetime, events: Sequence[TaskEvent] = ()) -> None:
    """The card-change listener: the card's timers, then the notices of the change."""
    policies, endpoints = active_settings()
    sync_timers(task=task, at=at, policies=policies, events=events)
    notify_card_change(task=task, at=at, events=events, policies=policies, endpoints=endpoints)
