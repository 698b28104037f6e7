"""Timers of past cards, replayed set-based (the listener of `tasks.actions.record_past_cards`).

For each card of the batch, each step of its history goes through what `sync_timers` does
after a change, in the same order and with the same functions (`escalation.advance`,
`actions._start_timer`, `actions._follow`, `actions._store`), but the rows are kept in
memory (`sla.actions.KeptWrites`) and inserted once per batch: timers, their pauses and
re-targets, and the SlaEvents of the thresholds crossed on the way, stamped as
`escalation.record` stamps them (`recorded_at` = the step's time). Past thresholds announce
nothing: the events are written as under `escalation.replaying_history()` (no notifications,
no follow-up).

Time to decision: a step records the card's status only, not its approval round, so the
round is derived from the history — each entry into "on approval" asks one decision (a new
cycle), as `change_status` does. A chain's later steps are asked without a status change
(`tasks.actions.decide`), which a past card's moves cannot express; a past card's wait on
approval is therefore one cycle per sending. (Importers today bring in-progress and done
moves only, and `record_past_cards` refuses "on approval" without an approver.)
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from datetime import datetime

from sla import bulk, escalation
from sla.actions import (
    KeptWrites,
    _follow,
    _levels,
    _start_timer,
    active_policies,
    match_policy,
    timers_to_start,
)
from sla.models import SlaEvent, SlaTimer
from tasks.actions import PastCard
from tasks.models import Status


def replay_past_cards(*, cards: Sequence[PastCard]) -> None:
    """Give the cards the timers, pauses and threshold events their history would have
    left through `sync_timers`, in a few INSERTs."""
    policies = active_policies()
    kept = KeptWrites()
    fired_rows: list[tuple[SlaTimer, escalation.Fired, datetime]] = []
    for card in cards:
        policy = match_policy(card.task, policies)
        timers: list[SlaTimer] = []
        rounds, before = 0, None
        for step in card.steps:
            if step.status == Status.ON_APPROVAL and before != Status.ON_APPROVAL:
                rounds += 1  # sent for approval: a decision is asked (see the docstring)
            before = step.status
            # The card as `sync_timers` saw it after this change.
            task = copy.copy(card.task)
            task.status, task.first_response_at = step.status, step.first_response_at
            task.approval_round = rounds
            at = step.at
            for timer in timers:
                if timer.stopped_at is None:
                    for fired in escalation.advance(timer, _levels(timer), at):
                        fired_rows.append((timer, fired, at))
            started: list[SlaTimer | None] = []
            if policy is not None and task.is_open:
                started = [
                    _start_timer(task, kind, policy, cycle=cycle, at=at, writes=kept)
                    for kind, cycle in timers_to_start(task, timers)
                ]
            for timer in timers:
                if timer.stopped_at is None:
                    _follow(timer, task, Status(task.status), policy, at, kept)
            timers += [t for t in started if t is not None]
            timers.sort(key=lambda t: (t.kind, t.cycle))  # as sync_timers loads them
    kept.insert()
    bulk.insert_rows(
        SlaEvent,
        escalation.EVENT_FIELDS,
        [escalation.event_row(t, f, at, replaying=True) for t, f, at in fired_rows],
    )
