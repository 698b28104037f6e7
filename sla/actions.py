"""The writes of the SLA side: timers following their card, and calendar changes.

`sync_timers` is called by `tasks.actions` after every change of a card (and only from
there): it creates, pauses, resumes, re-targets and stops the card's timers so that they
always match the card's status, blocking reason, priority and request type as of `at`. A card
just created has no timers yet: `start_first_timers` starts its first ones in one INSERT.
Cards written in bulk with their past history (imports) get theirs from `sla.replay`, which
runs the same functions over each step with the writes kept in memory (`KeptWrites`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from uuid import UUID

from django.db import transaction

from sla import bulk, engine, escalation, webhooks
from sla.calendar import WorkCalendar
from sla.models import (
    CARD_TIMER_KINDS,
    BusinessCalendar,
    PoliciesVersion,
    SlaPause,
    SlaPolicy,
    SlaRetarget,
    SlaTimer,
    TimerKind,
    TimerState,
    WebhookEndpoint,
)
from tasks.models import Status, Task, TaskEvent

# When each kind of timer stops: response once the card is taken into work (or closed
# directly), resolution once it is done, time to decision once the card leaves "on
# approval" (a decision; or, see `approval_cycle`, once the next step of a chain is asked).
# Cancelling a card cancels every open timer.
STOPS_AT = {
    TimerKind.RESPONSE: frozenset({Status.IN_PROGRESS, Status.DONE}),
    TimerKind.RESOLUTION: frozenset({Status.DONE}),
    TimerKind.APPROVAL: frozenset(s for s in Status if s != Status.ON_APPROVAL),
}
# The timers a card gets when it first has an SLA are `CARD_TIMER_KINDS`; the time to
# decision starts each time a decision is asked instead (`approval_cycle`).
# The one exception to a policy's pausing statuses: the time to decision measures exactly
# the wait "on approval", so a policy pausing its clocks on approval does not pause that
# one. Otherwise it pauses like the others (closed hours and holidays of the calendar, a
# pausing blocking reason).
NOT_PAUSED_BY = {TimerKind.APPROVAL: frozenset({Status.ON_APPROVAL})}


def pauses(policy: SlaPolicy, kind: str, status: str, task: Task) -> bool:
    """Whether the card as it is stops this kind of timer under `policy` (NOT_PAUSED_BY)."""
    if status in NOT_PAUSED_BY.get(TimerKind(kind), ()):
        return policy.pauses("", task.blocking_reason)
    return policy.pauses(status, task.blocking_reason)


def approval_cycle(task: Task) -> int | None:
    """The cycle of the time-to-decision timer the card should have open: the decision it
    waits for (`Task.approval_round`, bumped each time a step is asked), None when it waits
    for none. An open approval timer of another cycle was asked before: it stops."""
    if task.status != Status.ON_APPROVAL:
        return None
    return max(task.approval_round, 1)


class TimerWrites:
    """Where the timer logic below writes: the database, as `sync_timers` does. `sla.replay`
    passes one that keeps the rows in memory and inserts them in bulk afterwards, so both
    follow a card's history with the same code."""

    def save(self, timer: SlaTimer) -> None:
        timer.save()

    def open_pause(self, timer: SlaTimer, task: Task, status: Status, at: datetime) -> None:
        SlaPause.objects.create(
            timer=timer, started_at=at, blocking_reason=task.blocking_reason, status=status
        )

    def open_pause_of(self, timer: SlaTimer) -> SlaPause | None:
        return timer.pauses.filter(ended_at__isnull=True).first()

    def end_open_pause(self, timer: SlaTimer, calendar: WorkCalendar, at: datetime) -> None:
        for pause in timer.pauses.filter(ended_at__isnull=True):
            pause.ended_at = at
            pause.business_lost = calendar.between(pause.started_at, at)
            pause.save(update_fields=["ended_at", "business_lost"])

    def retargeted(self, row: SlaRetarget) -> None:
        row.save()


DATABASE = TimerWrites()


class KeptWrites(TimerWrites):
    """The timer logic's writes kept in memory, then inserted set-based (`insert`): a new
    card's first timers (`start_first_timers`), a batch of past cards (`sla.replay`)."""

    def __init__(self) -> None:
        self.timers: dict[int, SlaTimer] = {}  # by id(): unsaved timers have no pk yet
        self.pauses: list[SlaPause] = []
        self.retargets: list[SlaRetarget] = []
        self._open: dict[int, SlaPause] = {}

    def save(self, timer: SlaTimer) -> None:
        self.timers.setdefault(id(timer), timer)

    def open_pause(self, timer: SlaTimer, task: Task, status: Status, at: datetime) -> None:
        pause = SlaPause(
            timer=timer, started_at=at, blocking_reason=task.blocking_reason, status=status
        )
        self.pauses.append(pause)
        self._open[id(timer)] = pause

    def open_pause_of(self, timer: SlaTimer) -> SlaPause | None:
        return self._open.get(id(timer))

    def end_open_pause(self, timer: SlaTimer, calendar: WorkCalendar, at: datetime) -> None:
        pause = self._open.pop(id(timer), None)
        if pause is not None:
            pause.ended_at = at
            pause.business_lost = calendar.between(pause.started_at, at)

    def retargeted(self, row: SlaRetarget) -> None:
        self.retargets.append(row)

    def insert(self) -> None:
        """Insert what was kept: one statement per kind of row there is (none for none)."""
        bulk.insert_objects(list(self.timers.values()))
        bulk.insert_objects(self.pauses)
        bulk.insert_objects(self.retargets)


# The active policies and webhook endpoints as this process last read them, with the
# policies version they were read at (sla.models.policies_version, which both bump). Shared
# by every card of the process: read-only.
_policies_cache: tuple[UUID, list[SlaPolicy], list[WebhookEndpoint]] | None = None


def active_settings() -> tuple[list[SlaPolicy], list[WebhookEndpoint]]:
    """What a change of a card reads from the settings: the active policies in the order
    they are tried (the default one last) and the active webhook endpoints.

    One query (the policies version) while nothing they depend on changed; read again, the
    policies with their calendar, targets, pausing reasons and rules, when it did. The
    version is read first: a change committed in between is then read with the policies and
    only costs one more reading later, never a stale cache."""
    global _policies_cache
    version = PoliciesVersion.current()
    cached = _policies_cache
    if version is not None and cached is not None and cached[0] == version:
        return list(cached[1]), list(cached[2])
    policies = list(
        SlaPolicy.objects.filter(active=True)
        .select_related("calendar")
        .prefetch_related("targets", "pausing_reasons", "rules")
        .order_by("is_default", "order", "name")
    )
    endpoints = webhooks.subscribers()
    if version is not None:
        _policies_cache = (version, policies, endpoints)
    return list(policies), list(endpoints)


def active_policies() -> list[SlaPolicy]:
    """The active policies in the order they are tried (`active_settings`)."""
    return active_settings()[0]


def match_policy(task: Task, policies: Iterable[SlaPolicy] | None = None) -> SlaPolicy | None:
    """The first active policy whose criteria all match the card (None: the card has no SLA)."""
    for policy in active_policies() if policies is None else policies:
        if policy.matches(task):
            return policy
    return None


@transaction.atomic(savepoint=False)  # inside the change's transaction: no savepoint
def sync_timers(
    *,
    task: Task,
    at: datetime,
    policies: Iterable[SlaPolicy] | None = None,
    events: Sequence[TaskEvent] = (),
) -> list[SlaTimer]:
    """Bring the card's timers in line with the card as of `at`. Returns its open timers.

    Thresholds that passed before `at` fire first (events and notifications, exactly as the
    scan would record them), from the deadlines that held until now. `policies`: the active
    policies in order, when the caller already has them. `events` (the change's, from the
    card-change hook): a card just created (its `created` event) has no timers to read or
    follow, only first ones to start (`start_first_timers`); otherwise timers follow the
    card's state, whatever the events.
    """
    if any(event.kind == TaskEvent.Kind.CREATED for event in events):
        return start_first_timers(task=task, at=at, policies=policies)
    policy = match_policy(task, policies)
    # Lock the card's timers: a concurrent scan skips them, and we see its last write.
    timers = list(
        task.timers.select_for_update(of=("self",))
        .select_related("calendar", "policy")
        .prefetch_related("policy__rules")
        .order_by("kind", "cycle")
    )
    status = Status(task.status)

    fired = []
    for timer in timers:
        if timer.stopped_at is None:
            timer.task = task
            fired.append((timer, escalation.advance(timer, _levels(timer), at)))
    escalation.record(fired, at)

    if policy is not None and task.is_open:
        for kind, cycle in timers_to_start(task, timers):
            _start_timer(task, kind, policy, cycle=cycle, at=at)

    for timer in timers:
        if timer.stopped_at is None:
            _follow(timer, task, status, policy, at)
    escalation.follow_up(fired, at)
    return [t for t in task.timers.all() if t.stopped_at is None]


def start_first_timers(
    *, task: Task, at: datetime, policies: Iterable[SlaPolicy] | None = None
) -> list[SlaTimer]:
    """Start the first timers of a card just created (it has none: nothing to lock, fire or
    follow), as `sync_timers` would start them, in one INSERT (and one for their pauses when
    the policy pauses them from the start). Returns them."""
    policy = match_policy(task, policies)
    if policy is None or not task.is_open:
        return []
    kept = KeptWrites()
    for kind, cycle in timers_to_start(task, []):
        _start_timer(task, kind, policy, cycle=cycle, at=at, writes=kept)
    kept.insert()
    return list(kept.timers.values())


def timers_to_start(task: Task, timers: Sequence[SlaTimer]) -> list[tuple[TimerKind, int]]:
    """The (kind, cycle) of the timers an open card with a policy starts now, given the ones
    it has (ordered by kind and cycle): its first ones; a new resolution cycle when it was
    reopened; a new time to decision when a decision is asked (`approval_cycle`)."""
    latest = {t.kind: t for t in timers}  # ordered by cycle: the last one wins
    wanted: list[tuple[TimerKind, int]] = []
    if not any(t.kind in CARD_TIMER_KINDS for t in timers):
        wanted += [(kind, 1) for kind in CARD_TIMER_KINDS]
    elif (
        (res := latest.get(TimerKind.RESOLUTION))
        and res.stopped_at is not None
        and res.state != TimerState.CANCELLED
    ):
        # A reopened card: a new resolution cycle; the finished one stays in history.
        wanted.append((TimerKind.RESOLUTION, res.cycle + 1))
    cycle = approval_cycle(task)
    last = latest.get(TimerKind.APPROVAL)
    if cycle is not None and (last is None or last.cycle < cycle):
        wanted.append((TimerKind.APPROVAL, cycle))
    return wanted


def _levels(timer: SlaTimer) -> list:
    return escalation.after_breach_rules(timer.policy, timer.kind)


def _start_timer(
    task: Task,
    kind: TimerKind,
    policy: SlaPolicy,
    *,
    cycle: int,
    at: datetime,
    writes: TimerWrites = DATABASE,
) -> SlaTimer | None:
    target_row = policy.target_for(task.priority)
    target = target_row.get(kind) if target_row is not None else None
    if target_row is None or target is None:
        return None  # this policy sets no such target for this priority
    if kind == TimerKind.RESPONSE and task.first_response_at is not None:
        return None  # taken into work before it had an SLA: nothing left to respond to
    calendar = policy.calendar.work_calendar()
    clock = engine.start(target, at, target_row.warn_after(target))
    # A card may get its first policy while it waits (e.g. its request type changed): then
    # the clock starts paused, exactly as `_follow` would have paused it.
    paused = pauses(policy, kind, task.status, task)
    if paused:
        clock = engine.pause(calendar, clock, at)
    timer = SlaTimer(
        task=task,
        kind=kind,
        cycle=cycle,
        policy=policy,
        calendar=policy.calendar,
        observe=policy.observe_only,
        target=target,
        started_at=at,
    )
    _store(timer, clock, calendar, at)
    writes.save(timer)
    if paused:
        writes.open_pause(timer, task, Status(task.status), at)
    return timer


def _follow(
    timer: SlaTimer,
    task: Task,
    status: Status,
    policy: SlaPolicy | None,
    at: datetime,
    writes: TimerWrites = DATABASE,
) -> None:
    calendar = timer.calendar.work_calendar()
    clock = engine.rebase(calendar, timer.clock, at)

    if _stops(timer, task, status):
        clock = engine.pause(calendar, clock, at)
        writes.end_open_pause(timer, calendar, at)
        timer.consumed, timer.running_since = clock.consumed, None
        timer.stopped_at = at
        timer.next_check_at = None
        if status == Status.CANCELLED:
            timer.state = TimerState.CANCELLED
        elif timer.breached_at is not None or clock.consumed > clock.target:
            timer.state = TimerState.BREACHED
            timer.breached_at = timer.breached_at or _crossing(timer.due_at, at)
        else:
            timer.state = TimerState.MET
        writes.save(timer)
        return

    if policy is not None:
        clock, calendar = _retarget(timer, task, policy, clock, calendar, at, writes)

    governing = policy or timer.policy
    pausing = pauses(governing, timer.kind, status, task)
    if pausing and clock.running:
        clock = engine.pause(calendar, clock, at)
        writes.open_pause(timer, task, status, at)
    elif pausing:
        # Still paused, maybe for another cause (waiting → on approval): time lost is
        # attributed to each cause separately.
        current = writes.open_pause_of(timer)
        if current and (current.blocking_reason_id, current.status) != (
            task.blocking_reason_id,
            status,
        ):
            writes.end_open_pause(timer, calendar, at)
            writes.open_pause(timer, task, status, at)
    elif not clock.running:
        clock = engine.resume(clock, at)
        writes.end_open_pause(timer, calendar, at)
    _store(timer, clock, calendar, at)
    writes.save(timer)


def _stops(timer: SlaTimer, task: Task, status: Status) -> bool:
    """Whether the open timer stops now (STOPS_AT; cancelled; a time to decision whose
    decision is no longer the one asked)."""
    if status == Status.CANCELLED or status in STOPS_AT[TimerKind(timer.kind)]:
        return True
    return timer.kind == TimerKind.APPROVAL and timer.cycle != approval_cycle(task)


def _retarget(timer, task, policy, clock, calendar, at, writes=DATABASE):
    """Follow a change of priority, request type or policy, keeping the time consumed."""
    target_row = policy.target_for(task.priority)
    target = target_row.get(timer.kind) if target_row else None
    if target is None or (target == timer.target and policy.pk == timer.policy_id):
        return clock, calendar
    if target != timer.target:
        writes.retargeted(
            SlaRetarget(
                timer=timer,
                at=at,
                old_target=timer.target,
                new_target=target,
                consumed=clock.consumed,
                old_policy_id=timer.policy_id,
                new_policy=policy,
            )
        )
    # `clock` was rebased at `at` in the old calendar; from here on the new one measures.
    timer.policy, timer.calendar, timer.observe = policy, policy.calendar, policy.observe_only
    timer.target = target
    return engine.retarget(clock, target, target_row.warn_after(target)), (
        policy.calendar.work_calendar()
    )


def _crossing(known: datetime | None, at: datetime) -> datetime:
    """When a threshold was crossed: the stored instant if it lies before `at`; otherwise
    `at` itself (a new, smaller target is missed from the moment it is set)."""
    return known if known is not None and known <= at else at


def _store(timer: SlaTimer, clock: engine.Clock, calendar: WorkCalendar, at: datetime) -> None:
    """Write the clock and everything derived from it: deadlines, state, next check."""
    timer.consumed, timer.running_since = clock.consumed, clock.running_since
    timer.target, timer.warn_after = clock.target, clock.warn_after
    if clock.running:
        due = engine.due_at(calendar, clock)
        # None: re-targeted below the time already used, so due from the moment it is set;
        # left for `escalation.advance` (scan or next change) to stamp and announce.
        timer.due_at = due if due is not None else _crossing(timer.breached_at, at)
        if timer.warned_at is None and clock.warn_after is not None:
            warn = engine.warn_at(calendar, clock)
            timer.warn_at = warn if warn is not None else at
        elif clock.warn_after is None:
            timer.warn_at = None
    else:
        # Paused: no deadline, unless re-targeted below the time already used — then it is
        # due from that moment, and `escalation.advance` stamps and announces the breach.
        over = timer.breached_at is None and clock.consumed > clock.target
        timer.due_at = _crossing(timer.due_at, at) if over else None
        if timer.warned_at is None:
            timer.warn_at = None
    if timer.breached_at is not None:
        timer.state = TimerState.BREACHED
    else:
        timer.state = TimerState.RUNNING if clock.running else TimerState.PAUSED
    timer.target_seconds = int(clock.target.total_seconds())
    running_due = timer.due_at if clock.running else None  # a running clock always has one
    timer.due_clock = engine.position(calendar, running_due) if running_due else None
    timer.next_check_at = escalation.next_check(timer, _levels(timer))


def recompute_calendar_timers(
    *, calendar: BusinessCalendar, before: WorkCalendar, at: datetime, batch: int = 2000
) -> int:
    """Hours or holidays of `calendar` changed: re-derive the deadlines of its open timers.

    Time used before `at` stays measured by the old calendar (`before`); the remaining
    target is laid onto the new one. Returns the number of timers updated.
    """
    after = calendar.work_calendar()
    fields = [
        "consumed",
        "running_since",
        "due_at",
        "warn_at",
        "warned_at",
        "breached_at",
        "state",
        "next_check_at",
        "escalation_level",
        "due_clock",
        "target_seconds",
    ]
    updated = 0
    timers = (
        SlaTimer.objects.open()
        .filter(calendar=calendar)
        .select_related("calendar", "policy", "task__owner", "task__team__manager")
        .prefetch_related("policy__rules")
        .order_by("pk")
    )
    last_pk = 0
    while True:
        with transaction.atomic():
            # Locked like the scan locks them, so a scan and a recompute never interleave.
            chunk = list(timers.filter(pk__gt=last_pk).select_for_update(of=("self",))[:batch])
            if not chunk:
                return updated
            fired = [(t, escalation.advance(t, _levels(t), at)) for t in chunk]
            escalation.record(fired, at)
            for timer in chunk:
                clock = engine.rebase(before, timer.clock, at)
                _store(timer, clock, after, at)
            bulk.update_rows(chunk, fields)
        updated += len(chunk)
        last_pk = chunk[-1].pk
