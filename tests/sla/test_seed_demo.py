"""`manage.py seed_demo`: the demo company, the exact demo SLA configuration and card history."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db.models import Count
from django.utils import timezone

from sla.demo import BLOCKING_REASONS, sla_profiles
from sla.escalation import SEEDED_HISTORY
from sla.models import (
    BusinessCalendar,
    Channel,
    Holiday,
    SlaPolicy,
    SlaTarget,
    SlaTimer,
    TimerKind,
    TimerState,
)
from tasks.demo import plan_cards
from tasks.models import ApprovalStep, BlockingReason, RequestType, Status, Task, TaskEvent, Team

pytestmark = pytest.mark.django_db
H, M = timedelta(hours=1), timedelta(minutes=1)


def seed(*args: str) -> str:
    out = StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def outcomes() -> Counter:
    rows = Task.objects.values_list("title", "status", "priority", "owner__username")
    return Counter(
        (title, status, priority, owner or "") for title, status, priority, owner in rows
    )


def test_seeding_without_cards_creates_the_exact_demo_sla_configuration():
    seed("--cards", "0")

    assert not Task.objects.exists()
    office = BusinessCalendar.objects.get(name="Berlin office")
    assert (office.timezone, office.always_open) == ("Europe/Berlin", False)
    assert list(office.intervals.values_list("weekday", "start", "end")) == [
        (day, start, end)
        for day in range(5)
        for start, end in ((time(9), time(13)), (time(14), time(18)))
    ]
    year = timezone.now().astimezone(ZoneInfo("Europe/Berlin")).year
    holidays = set(office.holidays.values_list("date", flat=True))
    for y in (year - 1, year, year + 1):
        assert date(y, 12, 25) in holidays
        assert date(y, 3, 8) in holidays  # International Women's Day: Berlin only
    assert date(year, 1, 6) not in holidays  # Epiphany is a holiday elsewhere, not in Berlin
    always = BusinessCalendar.objects.get(name="24/7")
    assert (always.timezone, always.always_open) == ("Europe/Berlin", True)
    assert not always.intervals.exists()

    assert dict(BlockingReason.objects.values_list("name", "pauses_sla")) == {
        "Waiting for customer": True,
        "Waiting for documents": True,
        "No product": True,
        "Needs manager decision": False,
        "Awaiting payment": True,
    }
    policies = {
        p.name: (p.order, p.is_default, p.request_type and p.request_type.name, p.calendar.name)
        for p in SlaPolicy.objects.select_related("request_type", "calendar")
    }
    assert policies == {
        "Emergency calls": (10, False, "Emergency call", "24/7"),
        "Sales leads": (20, False, "Sales lead", "Berlin office"),
        "Contract review": (30, False, "Contract review", "Berlin office"),
        "Default": (1000, True, None, "Berlin office"),
    }
    assert SlaPolicy.objects.get(is_default=True).name == "Default"
    assert set(SlaPolicy.objects.values_list("mode", flat=True)) == {"enforce"}
    assert all(SlaPolicy.objects.values_list("pause_on_flagged_reasons", flat=True))
    targets = {
        (t.policy.name, t.priority): (t.response_target, t.resolution_target)
        for t in SlaTarget.objects.select_related("policy")
    }
    every = ("critical", "high", "normal", "low")
    assert targets == {
        **{("Emergency calls", p): (30 * M, 4 * H) for p in every},
        ("Sales leads", "critical"): (30 * M, 8 * H),
        ("Sales leads", "high"): (1 * H, 8 * H),
        ("Sales leads", "normal"): (1 * H, 16 * H),
        ("Sales leads", "low"): (4 * H, 40 * H),
        **{("Contract review", p): (4 * H, 24 * H) for p in every},
        **{("Default", p): (8 * H, 40 * H) for p in every},
    }
    assert set(SlaTarget.objects.values_list("warn_pct", "warn_lead")) == {(75, None)}
    decisions = {
        (t.policy.name, t.priority): t.approval_target
        for t in SlaTarget.objects.select_related("policy").filter(approval_target__isnull=False)
    }
    assert decisions == {
        ("Default", "critical"): 2 * H,
        ("Default", "high"): 4 * H,
        ("Default", "normal"): 24 * H,  # "1d": a day is 24 working hours
        ("Default", "low"): 48 * H,
    }
    chain = ApprovalStep.objects.filter(request_type__name="Discount approval")
    assert list(chain.values_list("position", "name", "approver__username")) == [
        (1, "Budget", "manager"),
        (2, "Legal", "henrik.larsen"),
    ]


def test_seeding_creates_the_well_known_people_in_their_roles_and_teams():
    seed("--cards", "0")
    users = get_user_model().objects

    def groups(username):
        return set(users.get(username=username).groups.values_list("name", flat=True))

    sales, field = Team.objects.get(name="Sales"), Team.objects.get(name="Field Service")
    assert sales.manager.username == "manager"
    assert users.get(username="manager").first_name == "Maria"
    assert groups("dispatcher") == {"dispatcher"}
    assert {"dispatcher", "performer"} <= set(sales.members.values_list("username", flat=True))
    assert field.members.filter(username="dispatcher").exists()
    assert groups("observer") == {"observer"}
    admin = users.get(username="admin")
    assert admin.is_staff and admin.is_superuser
    assert set(Team.objects.values_list("name", flat=True)) == {
        "Sales", "Customer Success", "Legal", "Field Service", "Finance", "HR"
    }  # fmt: skip
    for team in Team.objects.all():
        assert "manager" in {g.name for g in team.manager.groups.all()}
        performers = team.members.filter(groups__name="performer").count()
        assert 2 <= performers <= 4, team
    assert users.get(username="performer").email == "performer@example.com"
    assert RequestType.objects.get(name="Emergency call").default_team == field


def test_the_output_lists_the_demo_logins_and_they_work(client):
    out = seed("--cards", "0")

    for username in ("admin", "manager", "dispatcher", "performer", "observer"):
        assert f"  {username} " in out
        # Through the login page: the throttling backend (django-axes) needs the request.
        response = client.post("/login/", {"username": username, "password": "demo"})
        assert response.status_code == 302, username
        user = get_user_model().objects.get(username=username)
        assert client.session["_auth_user_id"] == str(user.pk)
    assert "demo" in out


def test_configuration_is_idempotent_and_existing_people_are_kept():
    seed("--cards", "0")
    revision = BusinessCalendar.objects.get(name="Berlin office").revision
    counts = [
        m.objects.count()
        for m in (get_user_model(), Team, SlaPolicy, SlaTarget, Holiday, BlockingReason)
    ]

    seed("--cards", "0")

    again = [
        m.objects.count()
        for m in (get_user_model(), Team, SlaPolicy, SlaTarget, Holiday, BlockingReason)
    ]
    assert again == counts
    assert BusinessCalendar.objects.get(name="Berlin office").revision == revision


def test_seeded_cards_cover_every_status_with_history_and_live_timers():
    seed("--cards", "60", "--seed", "7")
    now = timezone.now()

    assert Task.objects.count() == 60
    assert set(Task.objects.values_list("status", flat=True)) == set(Status)
    assert not Task.objects.annotate(n=Count("events")).filter(n=0).exists()
    assert not Task.objects.filter(status=Status.NEW, owner__isnull=False).exists()
    assert not (
        Task.objects.exclude(status__in=[Status.NEW, Status.CANCELLED])
        .filter(owner__isnull=True)
        .exists()
    )
    assert not Task.objects.filter(status=Status.WAITING, blocking_reason__isnull=True).exists()
    assert not Task.objects.filter(status=Status.ON_APPROVAL, approver__isnull=True).exists()
    assert Task.objects.filter(timers__cycle=2).exists()  # a reopened card
    assert Task.objects.filter(events__kind="priority_changed").exists()
    assert Task.objects.filter(comments__isnull=False).exists()
    assert Task.objects.earliest("created_at").created_at >= now - timedelta(weeks=6, days=1)
    assert Task.objects.latest("updated_at").updated_at <= now

    states = set(SlaTimer.objects.values_list("state", flat=True))
    assert {TimerState.RUNNING, TimerState.PAUSED, TimerState.MET, TimerState.BREACHED} <= states
    running = SlaTimer.objects.open().filter(running_since__isnull=False)
    assert running.filter(due_at__lt=now).exists()  # breached by now
    assert running.filter(warn_at__lt=now, due_at__gt=now).exists()  # past the warning
    assert running.filter(warn_at__gt=now).exists()  # healthy
    assert Task.objects.open().filter(created_at__gte=now - timedelta(days=4)).count() >= 5


def test_demo_approvals_are_decided_step_by_step_and_timed():
    """The chained request type's cards: one waiting for its first step, one rejected and
    sent again, one approved by both steps and done; each step asked has its own time to
    decision, through tasks.actions like any card."""
    seed("--cards", "20", "--seed", "7")
    cards = Task.objects.filter(request_type__name="Discount approval")
    assert sorted(cards.values_list("status", "approver__username")) == [
        (Status.DONE, "henrik.larsen"),
        (Status.ON_APPROVAL, "manager"),
        (Status.ON_APPROVAL, "manager"),
    ]
    decisions = TaskEvent.objects.filter(task__in=cards, kind__in=["approved", "rejected"])
    assert sorted(decisions.values_list("kind", "actor__username", "new_value__step")) == [
        ("approved", "henrik.larsen", 2),
        ("approved", "manager", 1),
        ("rejected", "manager", 1),
    ]
    clocks = SlaTimer.objects.filter(task__in=cards, kind=TimerKind.APPROVAL)
    assert clocks.count() == 5  # waiting 1, resubmitted 2, approved 2 — and none else
    assert clocks.filter(stopped_at__isnull=True).count() == 2  # the two waiting now
    # Every card on approval waits for a decision it is timed for, when its policy says so.
    waiting = Task.objects.filter(status=Status.ON_APPROVAL, request_type__name="Discount approval")
    for card in waiting:
        assert clocks.get(task=card, stopped_at__isnull=True).cycle == card.approval_round


def test_the_same_seed_gives_the_same_cards_and_another_seed_other_cards():
    seed("--cards", "60", "--seed", "7")
    first = outcomes()
    Task.objects.all().delete()

    seed("--cards", "60", "--seed", "7")
    assert outcomes() == first
    Task.objects.all().delete()

    seed("--cards", "60", "--seed", "8")
    assert outcomes() != first


def test_the_cards_are_the_plan_whatever_the_time_of_seeding():
    seed("--cards", "0")
    profiles = sla_profiles(list(RequestType.objects.all()))
    tuesday_early = datetime(2026, 11, 24, 5, 12, tzinfo=UTC)
    saturday = datetime(2027, 5, 1, 15, 0, tzinfo=UTC)  # a holiday weekend in Berlin

    plans = {
        now: plan_cards(
            rng=random.Random(7), count=60, now=now, profiles=profiles, reasons=BLOCKING_REASONS
        )
        for now in (tuesday_early, saturday)
    }

    assert Counter(p.outcome() for p in plans[tuesday_early]) == Counter(
        p.outcome() for p in plans[saturday]
    )
    for now, cards in plans.items():
        for card in cards:
            instants = [card.created_at, *(step.at for step in card.steps)]
            assert instants == sorted(instants) and len(set(instants)) == len(instants)
            assert instants[-1] < now
    seed("--cards", "60", "--seed", "7")
    assert outcomes() == Counter(p.outcome() for p in plans[saturday])


def test_if_empty_leaves_existing_cards_alone():
    seed("--cards", "3")

    out = seed("--if-empty", "--cards", "20")

    assert Task.objects.count() == 3
    assert "left the data alone" in out


def test_if_empty_seeds_an_empty_database_and_a_second_run_adds_cards():
    seed("--if-empty", "--cards", "4")
    users = get_user_model().objects.count()

    seed("--cards", "4")

    assert Task.objects.count() == 8
    assert get_user_model().objects.count() == users


def test_demo_escalation_rules_exist_once_per_policy_and_history_announces_nothing():
    from sla.models import EscalationRule, Notification

    seed("--cards", "40", "--seed", "3")
    seed("--cards", "0")
    for policy in SlaPolicy.objects.all():
        rules = policy.rules.order_by("trigger")
        assert [(r.trigger, r.minutes_after_breach) for r in rules] == [
            (EscalationRule.Trigger.AFTER_BREACH, 120),
            (EscalationRule.Trigger.BREACH, 0),
            (EscalationRule.Trigger.WARNING, 0),
        ]
    # The rules came after the replayed history: no weeks-old alerts in anyone's inbox.
    assert (
        not Notification.objects.exclude(channel=Channel.IN_APP)
        .exclude(state=Notification.State.SKIPPED)
        .exists()
    )


def test_a_fresh_demo_does_not_flood_outboxes_with_its_history(mailoutbox):
    from sla.jobs import scan_due_timers
    from sla.models import Notification, SlaEvent

    seed("--cards", "60", "--seed", "42")
    # The cluster's first scan (the tests' sync mode delivers what it writes at once).
    scan_due_timers(now=timezone.now())

    notes = Notification.objects.exclude(channel=Channel.IN_APP)
    pending = notes.filter(state=Notification.State.PENDING)
    assert len(mailoutbox) + pending.count() <= 3  # only thresholds crossed just now
    # The history's thresholds were recorded, as the first scan would: events, the bell,
    # and their email rows, skipped with the reason, never sent.
    assert SlaEvent.objects.filter(kind=SlaEvent.Kind.BREACH).count() >= 3
    skipped = notes.filter(state=Notification.State.SKIPPED)
    assert skipped.filter(channel=Channel.EMAIL).count() >= 3
    assert set(skipped.values_list("last_error", flat=True)) == {SEEDED_HISTORY}
    assert not skipped.exclude(next_attempt_at=None).exists()
    assert Notification.objects.filter(
        channel=Channel.IN_APP, state=Notification.State.SENT
    ).exists()
