"""A believable demo company and weeks of card history, for `manage.py seed_demo`.

Two halves:
- `ensure_company()` writes the people, teams, request types and related objects (found by
  name, so it can run again);
- `plan_cards()` is pure: from a `random.Random`, a fixed "now" and each request type's SLA
  profile it plans every card's life as steps at instants, and `apply_plans()` replays those
  steps through `tasks.actions` (so history and timers are the real ones).

Determinism: every random draw happens while the *structure* of a card is decided (type,
title, fate, people, steps), in an order that never depends on clock values; the instants are
laid onto the calendars afterwards. So a seed always gives the same cards, users and statuses,
whatever the current time.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction

from tasks import actions
from tasks.demo_data import (  # noqa: F401 (re-exported: seed_demo reads them here)
    CANCEL_NOTES,
    CANDIDATES,
    CLIENTS,
    DEMO_PASSWORD,
    GENERIC_COMMENTS,
    PEOPLE,
    POSITIONS,
    PRODUCTS,
    REJECT_NOTES,
    REOPEN_NOTES,
    REQUEST_TYPES,
    SITES,
    TEAMS,
    WAIT_NOTES,
    Person,
    RelatedSpec,
    RequestTypeSpec,
    related_specs,
)
from tasks.models import (
    ApprovalStep,
    BlockingReason,
    Priority,
    RelatedObject,
    RequestType,
    Status,
    Team,
)

Kind = RelatedObject.Kind


class Calendar(Protocol):
    def add(self, start: datetime, duration: timedelta) -> datetime: ...
    def between(self, start: datetime, end: datetime) -> timedelta: ...


@dataclass(frozen=True)
class SlaProfile:
    """The calendar of a request type's cards and (response, resolution) per priority."""

    calendar: Calendar
    targets: Mapping[str, tuple[timedelta, timedelta]]


@dataclass
class Step:
    # assign | performers | approver | status | decide | priority | next_step | comment
    action: str
    actor: str
    offset: int  # open minutes of the card's calendar since the card was created
    user: str = ""  # owner or approver
    users: tuple[str, ...] = ()
    status: str = ""
    reason: str = ""
    text: str = ""
    priority: str = ""
    due_after: int = 0  # next step due: open minutes after the step
    decision: str = ""  # approve | reject (the reason in `text`)
    at: datetime | None = None
    due: datetime | None = None


@dataclass
class CardPlan:
    title: str
    request_type: str
    priority: str
    related: RelatedSpec
    creator: str
    owner: str  # at creation ("" = new, for dispatch)
    source_url: str
    steps: list[Step] = field(default_factory=list)
    status: str = Status.NEW  # after every step
    final_priority: str = ""
    final_owner: str = ""
    open_minutes: int | None = None  # open cards: card age at "now", in open minutes
    created_at: datetime | None = None

    def outcome(self) -> tuple[str, str, str, str]:
        return (self.title, self.status, self.final_priority, self.final_owner)


# Fates and their weights; the first cards take each fate once so every status appears.
# The approval fates (weight 0: only those first cards) are cards of the request type with
# an approval chain: waiting for its first step; rejected and sent again; approved by
# every step, then done.
APPROVAL_FATES = ("approval_waiting", "approval_resubmitted", "approval_approved")
FATES = {
    "new": 4, "assigned": 6, "in_progress": 10, "waiting": 7, "on_approval": 4,
    "reopened_open": 1, "done": 45, "done_late": 12, "cancelled": 6, "reopened_done": 2,
    **dict.fromkeys(APPROVAL_FATES, 0),
}  # fmt: skip
CHAINED = next(t for t in REQUEST_TYPES if t.approval_chain)
HISTORY = timedelta(weeks=6)


def _team(team: str) -> tuple[str, str, list[str]]:
    """(manager, dispatcher or manager, performers) of a team, by username."""
    manager = next(p.username for p in PEOPLE if p.manages == team)
    dispatcher = next(
        (p.username for p in PEOPLE if p.role == "dispatcher" and team in p.teams), manager
    )
    performers = [p.username for p in PEOPLE if p.role == "performer" and team in p.teams]
    return manager, dispatcher, performers


def _now_fraction(rng: random.Random) -> float:
    """How much of its governing target an open card has used now: mostly healthy, a good
    share past the warning (75 %), some breached."""
    band = rng.choices(((0.1, 0.6), (0.6, 0.75), (0.76, 0.98), (1.05, 2.5)), (40, 15, 25, 20))[0]
    return rng.uniform(*band)


class _Card:
    """Builds one card's steps in open minutes, tracking its state like the workflow does."""

    def __init__(
        self, rng: random.Random, plan: CardPlan, spec: RequestTypeSpec, profile: SlaProfile
    ):
        self.rng, self.plan, self.spec, self.profile = rng, plan, spec, profile
        self.manager, self.dispatcher, self.performers = _team(spec.team)
        self.offset = 0
        self.cycle_start = 0  # offset where the current resolution cycle began
        self.paused = 0  # open minutes spent paused in this cycle
        self.asked = 0  # approval steps decided since the card was last sent
        plan.final_priority, plan.final_owner = plan.priority, plan.owner
        plan.status = Status.ASSIGNED if plan.owner else Status.NEW

    def minutes(self, which: int) -> int:
        """The current response (0) or resolution (1) target, in minutes."""
        target = self.profile.targets[self.plan.final_priority][which]
        return int(target.total_seconds() // 60)

    def consumed(self) -> int:
        return self.offset - self.cycle_start - self.paused

    def push(self, gap: float, action: str, actor: str, **fields) -> None:
        self.offset += max(1, round(gap))
        self.plan.steps.append(Step(action, actor, self.offset, **fields))

    def status(self, to: Status, gap: float, actor: str = "", **fields) -> None:
        self.push(gap, "status", actor or self.plan.final_owner, status=to, **fields)
        self.plan.status = to

    def assign(self) -> None:
        rng, creator = self.rng, self.plan.creator
        if creator in self.performers and rng.random() < 0.5:
            owner = creator
        else:  # the well-known demo performer gets a fuller queue
            weights = [3 if p == "performer" else 2 for p in self.performers]
            owner = rng.choices(self.performers, weights)[0]
        self.push(rng.uniform(0.05, 0.5) * self.minutes(0), "assign", self.dispatcher, user=owner)
        helpers = [rng.choice(self.performers)] if rng.random() < 0.2 else []
        self.push(rng.randint(1, 10), "performers", self.dispatcher, users=(owner, *helpers))
        self.plan.final_owner, self.plan.status = owner, Status.ASSIGNED

    def start_work(self, late: bool) -> None:
        goal = self.rng.uniform(1.1, 2.5) if late else self.rng.uniform(0.15, 0.9)
        self.status(Status.IN_PROGRESS, goal * self.minutes(0) - self.consumed())

    def chatter(self, which: int = 1) -> None:
        """Comments, a next step, now and then a priority change: the texture of real work,
        paced by the response (0) or resolution (1) target."""
        rng, owner, pace = self.rng, self.plan.final_owner, self.minutes(which)
        if rng.random() < 0.6:
            text = rng.choice(self.spec.comments + GENERIC_COMMENTS)
            self.push(rng.uniform(0.02, 0.15) * pace, "comment", owner, text=text)
        if rng.random() < 0.55:
            text = rng.choice(self.spec.next_steps).format(client=self.plan.related.client)
            due = round(rng.uniform(0.1, 0.6) * pace)
            gap = rng.uniform(0.01, 0.1) * pace
            self.push(gap, "next_step", owner, text=text, due_after=due)
        if rng.random() < 0.08:
            order = list(Priority)
            here = order.index(Priority(self.plan.final_priority))
            up = here > 0 and rng.random() < 0.7
            new = order[here - 1] if up else order[min(here + 1, len(order) - 1)]
            if new != self.plan.final_priority:
                gap = rng.uniform(0.01, 0.1) * pace
                self.push(gap, "priority", self.dispatcher, priority=new)
                self.plan.final_priority = new

    def wait(self, reason: str) -> None:
        note = self.rng.choice(WAIT_NOTES.get(reason, ("Waiting.",)))
        gap = self.rng.uniform(0.02, 0.2) * self.minutes(1)
        self.status(Status.WAITING, gap, reason=reason, text=note)

    def approval(self) -> None:
        gap = self.rng.uniform(0.05, 0.3) * self.minutes(1)
        self.push(gap, "approver", self.plan.final_owner, user=self.manager)
        self.status(Status.ON_APPROVAL, self.rng.randint(1, 15))

    def decide(self, decision: str, approver: str, gap: float, text: str = "") -> None:
        """The approver decides the step asked (tasks.actions.decide): rejecting, or
        approving the last step, sends the card back to work."""
        self.push(gap, "decide", approver, decision=decision, text=text)
        self.asked += 1
        if decision == "reject" or self.asked >= max(len(self.spec.approval_chain), 1):
            self.plan.status, self.asked = Status.IN_PROGRESS, 0

    def finish(self, late: bool) -> None:
        goal = self.rng.uniform(1.05, 2.2) if late else self.rng.uniform(0.3, 0.95)
        gap = goal * self.minutes(1) - self.consumed()
        if self.plan.status == Status.ON_APPROVAL:  # its approver approves it first
            self.decide("approve", self.manager, gap)
            gap = 1
        self.status(Status.DONE, gap)

    def idle_until(self, fraction: float, which: int) -> None:
        """An open card: make it `fraction` of its response (0) / resolution (1) target old."""
        rest = round(fraction * self.minutes(which) - self.consumed())
        self.plan.open_minutes = self.offset + max(1, rest)


def _live(card: _Card, fate: str, reasons: Sequence[tuple[str, bool]], counter: list[int]):
    """Script a card's life up to its fate. Every random draw happens here, decided by the
    structure only (never by a clock value), so a seed gives the same cards at any time."""
    rng, plan = card.rng, card.plan
    now_fraction = _now_fraction(rng)
    late_response = rng.random() < 0.15
    if fate == "new":
        if rng.random() < 0.3:
            text = rng.choice(GENERIC_COMMENTS)
            card.push(rng.uniform(0.05, 0.3) * card.minutes(0), "comment", plan.creator, text=text)
        return card.idle_until(now_fraction, 0)
    if fate == "cancelled" and not plan.owner and rng.random() < 0.4:
        gap, note = rng.uniform(0.1, 1.0) * card.minutes(0), rng.choice(CANCEL_NOTES)
        return card.status(Status.CANCELLED, gap, actor=card.dispatcher, text=note)
    if not plan.owner:
        card.assign()
    if fate == "assigned":
        if rng.random() < 0.4:
            card.chatter(0)
        return card.idle_until(now_fraction, 0)
    card.start_work(late_response)
    card.chatter()
    if fate in APPROVAL_FATES:
        return _decided(card, fate, now_fraction)
    if fate == "waiting":  # every blocking reason in turn, so each one shows up
        reason, pauses = reasons[counter[0] % len(reasons)]
        counter[0] += 1
        card.wait(reason)
        if not pauses:
            return card.idle_until(now_fraction, 1)
        plan.open_minutes = card.offset + rng.randint(20, 3 * 8 * 60)
        return None
    if fate != "in_progress" and rng.random() < 0.3:  # a wait along the way
        reason, pauses = rng.choice(reasons)
        card.wait(reason)
        minutes = max(1, round(rng.uniform(0.1, 0.8) * card.minutes(1)))
        card.status(Status.IN_PROGRESS, minutes, text=f"No longer blocked: {reason.lower()}.")
        card.paused += minutes if pauses else 0
    if fate == "cancelled":
        gap, note = rng.uniform(0.1, 0.5) * card.minutes(1), rng.choice(CANCEL_NOTES)
        return card.status(Status.CANCELLED, gap, actor=card.dispatcher, text=note)
    needs_sign_off = card.spec.kind in ("contract", "invoice")
    if fate == "on_approval" or rng.random() < (0.6 if needs_sign_off else 0.15):
        card.approval()
    if fate in ("in_progress", "on_approval"):
        return card.idle_until(now_fraction, 1)
    card.finish(late=fate == "done_late")
    if fate.startswith("reopened"):
        note = rng.choice(REOPEN_NOTES)
        gap = rng.randint(60, 3 * 8 * 60)
        card.status(Status.IN_PROGRESS, gap, actor=plan.creator, text=note)
        card.cycle_start, card.paused = card.offset, 0  # a new resolution cycle
        card.chatter()
        if fate == "reopened_done":
            return card.finish(late=False)
        return card.idle_until(now_fraction, 1)
    return None


def _decided(card: _Card, fate: str, now_fraction: float) -> None:
    """A card of the chained request type through its approval steps (see APPROVAL_FATES);
    each step asked goes to its default approver."""
    rng, chain = card.rng, card.spec.approval_chain

    def pace() -> float:
        return rng.uniform(0.03, 0.2) * card.minutes(1)

    card.status(Status.ON_APPROVAL, pace())
    if fate == "approval_resubmitted":
        card.decide("reject", chain[0][1], pace(), text=rng.choice(REJECT_NOTES))
        card.status(Status.ON_APPROVAL, pace(), text="Smaller discount, with a volume commitment.")
    elif fate == "approval_approved":
        for _, approver in chain:
            card.decide("approve", approver, pace())
        return card.finish(late=False)
    return card.idle_until(now_fraction, 1)


def plan_cards(
    *,
    rng: random.Random,
    count: int,
    now: datetime,
    profiles: Mapping[str, SlaProfile],
    reasons: Sequence[tuple[str, bool]],
) -> list[CardPlan]:
    """Plan `count` cards (oldest first) with every step at an instant before `now`.

    `profiles` gives each request type's calendar and targets; `reasons` the blocking
    reasons as (name, pauses SLA). Open cards are laid back from `now` so that they have used
    a chosen share of their target now; closed ones start within the last six weeks.
    """
    specs = related_specs()
    pools = {t.name: [s for s in specs if t.kind in (s.kind, s.doc)] for t in REQUEST_TYPES}
    requesters = {
        t.name: [
            p.username for p in PEOPLE if p.role != "observer" and set(p.teams) & set(t.requesters)
        ]
        for t in REQUEST_TYPES
    }
    fates, fate_weights = list(FATES), list(FATES.values())
    counter = [0]
    plans = []
    for i in range(count):
        spec = rng.choices(REQUEST_TYPES, [t.weight for t in REQUEST_TYPES])[0]
        fate = fates[i] if i < len(fates) else rng.choices(fates, fate_weights)[0]
        spec = CHAINED if fate in APPROVAL_FATES else spec
        priority = rng.choices(list(Priority), spec.priorities)[0]
        related = rng.choice(pools[spec.name])
        title = rng.choice(spec.titles).format(
            client=related.client, detail=related.detail, ref=related.ref, n=rng.choice((5, 10, 25))
        )
        creator = rng.choice(requesters[spec.name] or [_team(spec.team)[1]])
        self_assigned = creator in _team(spec.team)[2] and rng.random() < 0.35 and fate != "new"
        thread = rng.randint(10000, 99999)
        source = f"https://chat.example.com/threads/{thread}" if rng.random() < 0.4 else ""
        off_hours, jitter = rng.random() < 0.15, rng.randint(10, 600)
        age, backoff = rng.random(), rng.randint(5, 240)
        plan = CardPlan(title, spec.name, priority, related, creator,
                        creator if self_assigned else "", source)  # fmt: skip
        profile = profiles[spec.name]
        _live(_Card(rng, plan, spec, profile), fate, reasons, counter)
        _place(plan, profile.calendar, now, off_hours, jitter, age, backoff)
        plans.append(plan)
    plans.sort(key=lambda p: p.created_at)
    return plans


def _place(plan, calendar, now, off_hours, jitter, age, backoff) -> None:
    """Lay the planned open minutes onto the calendar (no random draws here).

    Open cards end at `now`, having used their planned open minutes. Closed cards start at
    the share `age` of the open time between six weeks and a day and a half ago (so mostly in
    office hours), or at that share of the wall-clock time when they came in `off_hours`.
    """
    last = plan.steps[-1].offset if plan.steps else 0
    if plan.open_minutes is not None:
        created = _rewind(calendar, now, plan.open_minutes)
        earlier = created - timedelta(minutes=jitter)
        if off_hours and calendar.between(earlier, created) == timedelta(0):
            created = earlier  # arrived outside office hours: its clocks wait for the opening
    else:
        oldest, newest = now - HISTORY, now - timedelta(hours=36)
        if off_hours:
            created = (oldest + age * (newest - oldest)).replace(second=0, microsecond=0)
        else:
            window = calendar.between(oldest, newest) // timedelta(minutes=1)
            created = _rewind(calendar, newest, round(age * window))
        latest = now - timedelta(minutes=backoff)
        if calendar.add(created, timedelta(minutes=last)) > latest:
            created = _rewind(calendar, latest, last)
    plan.created_at = created
    for step in plan.steps:
        step.at = calendar.add(created, timedelta(minutes=step.offset))
        if step.due_after:
            step.due = calendar.add(step.at, timedelta(minutes=step.due_after))


def _rewind(calendar: Calendar, end: datetime, minutes: int) -> datetime:
    """The latest instant (to the minute) from which `minutes` of open time pass by `end`."""
    need = timedelta(minutes=minutes)
    span = max(need, timedelta(days=1))
    while calendar.between(end - span, end) < need:
        span *= 2
    lo, hi = end - span, end  # between(lo, end) >= need > between(hi, end)
    while hi - lo > timedelta(minutes=1):
        mid = lo + timedelta(minutes=(hi - lo) // timedelta(minutes=1) // 2)
        if calendar.between(mid, end) >= need:
            lo = mid
        else:
            hi = mid
    return lo


@dataclass
class Company:
    users: dict
    teams: dict[str, Team]
    request_types: dict[str, RequestType]
    related: dict[tuple[str, str], RelatedObject]


@transaction.atomic
def ensure_company() -> Company:
    """People (in their role groups), teams, request types and related objects, found by
    name. Demo users get the password `demo` when they are created."""
    user_model = get_user_model()
    groups = {g.name: g for g in Group.objects.filter(name__in={p.role for p in PEOPLE})}
    password_hash = ""
    users = {}
    for person in (*PEOPLE, Person("admin", "Ada", "Admin", "")):
        user, created = user_model.objects.get_or_create(
            username=person.username,
            defaults={
                "first_name": person.first_name,
                "last_name": person.last_name,
                "email": f"{person.username}@example.com",
            },
        )
        if created or not user.has_usable_password():
            if not password_hash:  # one hash for all: the default hasher is slow by design
                user.set_password(DEMO_PASSWORD)
                password_hash = user.password
            user.password = password_hash
            user.save(update_fields=["password"])
        if person.role:
            user.groups.add(groups[person.role])
        users[person.username] = user
    admin = users["admin"]
    if not (admin.is_staff and admin.is_superuser):
        admin.is_staff = admin.is_superuser = True
        admin.save(update_fields=["is_staff", "is_superuser"])

    teams = {}
    for name in TEAMS:
        team, _ = Team.objects.get_or_create(name=name)
        manager = users[_team(name)[0]]
        if team.manager_id != manager.pk:
            team.manager = manager
            team.save(update_fields=["manager"])
        team.members.add(*(users[p.username] for p in PEOPLE if name in p.teams))
        teams[name] = team

    request_types = {}
    for spec in REQUEST_TYPES:
        request_type, _ = RequestType.objects.get_or_create(
            name=spec.name, defaults={"default_team": teams[spec.team]}
        )
        if request_type.default_team_id is None:
            request_type.default_team = teams[spec.team]
            request_type.save(update_fields=["default_team"])
        request_types[spec.name] = request_type
        for position, (name, approver) in enumerate(spec.approval_chain, 1):
            ApprovalStep.objects.update_or_create(
                request_type=request_type,
                position=position,
                defaults={"name": name, "approver": users[approver]},
            )

    related = {(o.kind, o.name): o for o in RelatedObject.objects.all()}
    for spec in related_specs():  # clients come before what hangs under them
        if (spec.kind, spec.name) not in related:
            parent = related[(Kind.CLIENT, spec.parent)] if spec.parent else None
            related[(spec.kind, spec.name)] = RelatedObject.objects.create(
                kind=spec.kind, name=spec.name, external_ref=spec.ref, parent=parent
            )
    return Company(users, teams, request_types, related)


def apply_plans(
    plans: Sequence[CardPlan],
    company: Company,
    *,
    progress: Callable[[int], None] | None = None,
    batch: int = 25,
) -> None:
    """Replay the planned cards through `tasks.actions` (a transaction per batch of cards)."""
    reasons = {r.name: r for r in BlockingReason.objects.all()}
    for start in range(0, len(plans), batch):
        with transaction.atomic():
            for done, plan in enumerate(plans[start : start + batch], start + 1):
                _apply(plan, company, reasons)
                if progress:
                    progress(done)


def _apply(plan: CardPlan, company: Company, reasons: dict[str, BlockingReason]) -> None:
    users = company.users
    task = actions.create_task(
        title=plan.title,
        request_type=company.request_types[plan.request_type],
        priority=plan.priority,
        actor=users[plan.creator],
        related_object=company.related[(plan.related.kind, plan.related.name)],
        owner=users[plan.owner] if plan.owner else None,
        source_url=plan.source_url,
        at=plan.created_at,
    )
    for step in plan.steps:
        actor, at = users[step.actor], step.at
        if step.action == "assign":
            actions.assign_owner(task=task, owner=users[step.user], actor=actor, at=at)
        elif step.action == "performers":
            performers = [users[u] for u in step.users]
            actions.set_performers(task=task, users=performers, actor=actor, at=at)
        elif step.action == "approver":
            actions.set_approver(task=task, approver=users[step.user], actor=actor, at=at)
        elif step.action == "status":
            reason = reasons[step.reason] if step.reason else None
            if task.status == Status.ON_APPROVAL and step.status != Status.CANCELLED:
                # The approver's decision moves it on (then, if planned, on to the status).
                actions.decide(task=task, decision=actions.APPROVE, actor=actor, at=at)
                if task.status == step.status:
                    continue
            actions.change_status(
                task=task, to=step.status, blocking_reason=reason, note=step.text,
                actor=actor, at=at,
            )  # fmt: skip
        elif step.action == "decide":
            actions.decide(task=task, decision=step.decision, actor=actor, reason=step.text, at=at)
        elif step.action == "priority":
            actions.change_priority(task=task, priority=step.priority, actor=actor, at=at)
        elif step.action == "next_step":
            actions.set_next_step(task=task, text=step.text, due=step.due, actor=actor, at=at)
        elif step.action == "comment":
            actions.add_comment(task=task, text=step.text, actor=actor, at=at)
        else:
            raise ValueError(f"Unknown demo step {step.action!r}")
