"""The demo SLA configuration: two calendars, blocking reasons and four policies.

`ensure_demo_sla_config()` makes the database hold exactly this configuration and can run any
number of times (rows are found by name; targets by policy and priority). `sla_profiles()`
tells the demo card generator (`tasks.demo`) which calendar and targets each request type gets,
by asking the real policy matching, so the generated history fits whatever is configured.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time, timedelta
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone

from sla.actions import active_policies, match_policy, recompute_calendar_timers
from sla.calendar import WorkCalendar
from sla.holiday_import import import_public_holidays
from sla.models import (
    BusinessCalendar,
    EscalationRule,
    PolicyMode,
    SlaPolicy,
    SlaTarget,
    SlaTimer,
    WorkingInterval,
)
from tasks.demo import SlaProfile
from tasks.models import BlockingReason, Priority, RequestType, Task

TZ = "Europe/Berlin"
BERLIN_OFFICE = "Berlin office"
ALWAYS_OPEN = "24/7"
OFFICE_HOURS = ((time(9), time(13)), (time(14), time(18)))  # Monday to Friday, lunch 13-14
HOLIDAY_COUNTRY, HOLIDAY_SUBDIV = "DE", "BE"
WARN_PCT = 75

# (name, pauses SLA): external waits pause the clocks, an internal decision does not.
BLOCKING_REASONS = (
    ("Waiting for customer", True),
    ("Waiting for documents", True),
    ("No product", True),
    ("Needs manager decision", False),
    ("Awaiting payment", True),
)

_M, _H = timedelta(minutes=1), timedelta(hours=1)
Targets = dict[Priority, tuple[timedelta, timedelta]]  # priority -> (response, resolution)


def _every_priority(response: timedelta, resolution: timedelta) -> Targets:
    return dict.fromkeys(Priority, (response, resolution))


@dataclass(frozen=True)
class PolicySpec:
    name: str
    order: int
    request_type: str | None
    calendar: str
    targets: Targets
    is_default: bool = False
    approvals: dict[Priority, timedelta] | None = None  # time to decision per priority


# Time to decision of each approval step under the default policy (the demo's chained
# request type, "Discount approval", falls to it). A day is 24 working hours (sla.durations).
DECISION_TARGETS = {
    Priority.CRITICAL: 2 * _H,
    Priority.HIGH: 4 * _H,
    Priority.NORMAL: 24 * _H,
    Priority.LOW: 48 * _H,
}

POLICIES = (
    PolicySpec(
        "Emergency calls", 10, "Emergency call", ALWAYS_OPEN, _every_priority(30 * _M, 4 * _H)
    ),
    PolicySpec(
        "Sales leads", 20, "Sales lead", BERLIN_OFFICE,
        {
            Priority.CRITICAL: (30 * _M, 8 * _H),
            Priority.HIGH: (1 * _H, 8 * _H),
            Priority.NORMAL: (1 * _H, 16 * _H),
            Priority.LOW: (4 * _H, 40 * _H),
        },
    ),
    PolicySpec(
        "Contract review", 30, "Contract review", BERLIN_OFFICE, _every_priority(4 * _H, 24 * _H)
    ),
    PolicySpec(
        "Default", 1000, None, BERLIN_OFFICE, _every_priority(8 * _H, 40 * _H), is_default=True,
        approvals=DECISION_TARGETS,
    ),
)  # fmt: skip


@transaction.atomic
def ensure_demo_sla_config(*, today: date | None = None) -> dict[str, SlaPolicy]:
    """Create or update the demo calendars, blocking reasons, policies and targets.

    Public holidays of Berlin are loaded for the year before, the year of and the year after
    `today` (default: today in Berlin). If an existing calendar's hours or holidays change, its
    revision is bumped and its open timers get new deadlines. Returns the policies by name.
    """
    today = today or timezone.now().astimezone(ZoneInfo(TZ)).date()
    office = _ensure_calendar(
        BERLIN_OFFICE, always_open=False, weekly=dict.fromkeys(range(5), OFFICE_HOURS)
    )
    import_public_holidays(
        calendar=office,
        country=HOLIDAY_COUNTRY,
        subdiv=HOLIDAY_SUBDIV,
        years=[today.year - 1, today.year, today.year + 1],
    )
    always = _ensure_calendar(ALWAYS_OPEN, always_open=True, weekly={})
    calendars = {BERLIN_OFFICE: office, ALWAYS_OPEN: always}
    for name, pauses in BLOCKING_REASONS:
        BlockingReason.objects.update_or_create(
            name=name, defaults={"pauses_sla": pauses, "active": True}
        )
    # The seeder's default policy replaces any other default (the constraint allows one).
    SlaPolicy.objects.filter(is_default=True).exclude(name="Default").update(is_default=False)
    policies = {}
    for spec in POLICIES:
        request_type = None
        if spec.request_type:
            request_type, _ = RequestType.objects.get_or_create(name=spec.request_type)
        policy, _ = SlaPolicy.objects.update_or_create(
            name=spec.name,
            defaults={
                "order": spec.order,
                "is_default": spec.is_default,
                "active": True,
                "request_type": request_type,
                "priority": "",
                "team": None,
                "related_object_kind": "",
                "calendar": calendars[spec.calendar],
                "mode": PolicyMode.ENFORCE,
                "pausing_statuses": [],
                "pause_on_flagged_reasons": True,
            },
        )
        policy.pausing_reasons.clear()
        for priority, (response, resolution) in spec.targets.items():
            SlaTarget.objects.update_or_create(
                policy=policy,
                priority=priority,
                defaults={
                    "response_target": response,
                    "resolution_target": resolution,
                    "approval_target": (spec.approvals or {}).get(priority),
                    "warn_pct": WARN_PCT,
                    "warn_lead": None,
                },
            )
        policy.targets.exclude(priority__in=list(spec.targets)).delete()
        policies[spec.name] = policy
    return policies


def _ensure_calendar(
    name: str,
    *,
    always_open: bool,
    weekly: dict[int, tuple[tuple[time, time], ...]],
) -> BusinessCalendar:
    """The calendar with exactly these hours (its holidays are left as they are)."""
    calendar, created = BusinessCalendar.objects.get_or_create(
        name=name, defaults={"timezone": TZ, "always_open": always_open}
    )
    try:
        before = None if created else calendar.build_work_calendar()
    except ValueError:
        before = None  # no hours yet: no timer can be running on it
    changed = False
    if (calendar.timezone, calendar.always_open) != (TZ, always_open):
        calendar.timezone, calendar.always_open = TZ, always_open
        calendar.save(update_fields=["timezone", "always_open"])
        changed = True
    wanted = {(day, start, end) for day, hours in weekly.items() for start, end in hours}
    existing = set(calendar.intervals.values_list("weekday", "start", "end"))
    if wanted != existing:
        calendar.intervals.all().delete()
        WorkingInterval.objects.bulk_create(
            WorkingInterval(calendar=calendar, weekday=day, start=start, end=end)
            for day, start, end in sorted(wanted)
        )
        changed = True
    if changed and not created:
        calendar.touch()
        # Hours changed under running timers: lay their remaining time anew.
        if before is not None and SlaTimer.objects.open().filter(calendar=calendar).exists():
            recompute_calendar_timers(calendar=calendar, before=before, at=timezone.now())
    return calendar


def sla_profiles(request_types: list[RequestType]) -> dict[str, SlaProfile]:
    """For each request type: the calendar and (response, resolution) targets per priority
    its cards get, as decided by the real policy matching. Types without a policy get a 24/7
    calendar and nominal targets so that their history still has a plausible pace."""
    policies = active_policies()
    nominal = WorkCalendar.always(TZ)
    profiles = {}
    for request_type in request_types:
        calendar: WorkCalendar = nominal
        targets = {}
        for priority in Priority:
            probe = Task(
                request_type=request_type, priority=priority, team=request_type.default_team
            )
            policy = match_policy(probe, policies)
            row = policy.target_for(priority) if policy else None
            if policy is not None:
                calendar = policy.calendar.work_calendar()
            targets[priority] = (
                (row.response_target if row else None) or 8 * _H,
                (row.resolution_target if row else None) or 40 * _H,
            )
        profiles[request_type.name] = SlaProfile(calendar=calendar, targets=targets)
    return profiles


def ensure_demo_escalation_rules() -> int:
    """Sensible default escalation for every demo policy (idempotent; returns rules created).

    Created after the demo history is replayed, so seeding does not announce weeks-old
    thresholds; from then on the scan notifies as thresholds pass:
    - warning: the owner, in-app;
    - breach: the owner and the team manager, in-app and email;
    - two business hours after breach: the team manager and dispatchers, in-app and email,
      and the card is flagged for the dispatch queue.
    """
    trigger = EscalationRule.Trigger
    defaults = [
        (trigger.WARNING, 0, {"notify_owner": True, "in_app": True}),
        (
            trigger.BREACH,
            0,
            {"notify_owner": True, "notify_team_manager": True, "in_app": True, "email": True},
        ),
        (
            trigger.AFTER_BREACH,
            120,
            {
                "notify_owner": False,
                "notify_team_manager": True,
                "notify_dispatchers": True,
                "in_app": True,
                "email": True,
                "action": EscalationRule.Action.TO_DISPATCH,
            },
        ),
    ]
    created = 0
    for policy in SlaPolicy.objects.filter(name__in=[p.name for p in POLICIES]):
        for when, minutes, fields in defaults:
            _, new = EscalationRule.objects.get_or_create(
                policy=policy, trigger=when, minutes_after_breach=minutes, defaults=fields
            )
            created += new
    return created
