"""Which SLA policy a card gets (first match by order wins, default last) and what pauses it."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from sla.actions import active_policies, match_policy
from sla.models import BusinessCalendar, SlaPolicy, SlaTarget, SlaTimer
from tasks import actions
from tasks.models import Priority, RelatedObject, Status
from tests.factories import (
    BlockingReasonFactory,
    RelatedObjectFactory,
    RequestTypeFactory,
    TeamFactory,
)

pytestmark = pytest.mark.django_db

AT = datetime(2026, 11, 23, 9, tzinfo=ZoneInfo("Europe/Berlin"))
H = timedelta(hours=1)


@pytest.fixture
def calendar():
    return BusinessCalendar.objects.create(name="24/7", always_open=True)


@pytest.fixture
def policy(calendar):
    def make(name: str, *, order: int = 100, resolution=8 * H, **criteria) -> SlaPolicy:
        made = SlaPolicy.objects.create(name=name, calendar=calendar, order=order, **criteria)
        SlaTarget.objects.create(
            policy=made, priority=Priority.NORMAL, response_target=H, resolution_target=resolution
        )
        return made

    return make


@pytest.fixture
def card(request_type, dispatcher):
    def make(**fields):
        fields.setdefault("request_type", request_type)
        fields.setdefault("priority", Priority.NORMAL)
        return actions.create_task(title="Renewal offer", actor=dispatcher, at=AT, **fields)

    return make


def test_first_matching_policy_by_order_wins(policy, card, request_type):
    early = policy("Leads (early)", order=10, request_type=request_type)
    late = policy("Leads (late)", order=20, request_type=request_type)
    assert match_policy(card()) == early

    early.order = 30
    early.save()
    assert match_policy(card()) == late


def test_the_timers_of_a_new_card_follow_the_first_matching_policy(policy, card, request_type):
    policy("Leads (late)", order=20, request_type=request_type, resolution=2 * H)
    early = policy("Leads (early)", order=10, request_type=request_type, resolution=3 * H)
    new = card()
    assert {t.policy for t in SlaTimer.objects.filter(task=new)} == {early}
    assert SlaTimer.objects.get(task=new, kind="resolution").target == 3 * H


@pytest.mark.parametrize("criterion", ["request_type", "priority", "team", "related_object_kind"])
def test_each_criterion_of_a_policy_must_match_the_card(policy, card, team, criterion):
    other_team = TeamFactory(name="Legal")
    other_type = RequestTypeFactory(name="Contract review", default_team=team)
    client = RelatedObjectFactory(kind=RelatedObject.Kind.CLIENT)
    document = RelatedObjectFactory(kind=RelatedObject.Kind.DOCUMENT, name="NDA")
    matching, other = {
        "request_type": ({}, {"request_type": other_type}),
        "priority": ({}, {"priority": Priority.HIGH}),
        "team": ({}, {"team": other_team}),
        "related_object_kind": ({"related_object": client}, {"related_object": document}),
    }[criterion]
    value = {
        "request_type": lambda: card().request_type,
        "priority": lambda: Priority.NORMAL,
        "team": lambda: team,
        "related_object_kind": lambda: RelatedObject.Kind.CLIENT,
    }[criterion]()
    specific = policy("Specific", order=10, **{criterion: value})

    assert match_policy(card(**matching)) == specific
    assert match_policy(card(**other)) is None


def test_a_card_without_related_object_does_not_match_a_kind_criterion(policy, card):
    policy("Clients", related_object_kind=RelatedObject.Kind.CLIENT)
    assert match_policy(card()) is None


def test_every_set_criterion_must_match_not_just_one(policy, card, request_type, team):
    both = policy("Urgent leads", order=10, request_type=request_type, priority=Priority.HIGH)
    assert match_policy(card(priority=Priority.HIGH)) == both
    assert match_policy(card(priority=Priority.NORMAL)) is None
    other_type = RequestTypeFactory(name="Contract review", default_team=team)
    assert match_policy(card(priority=Priority.HIGH, request_type=other_type)) is None


def test_inactive_policies_are_skipped(policy, card, request_type):
    policy("Retired", order=10, request_type=request_type, active=False)
    current = policy("Current", order=20, request_type=request_type)
    assert match_policy(card()) == current
    assert [p.name for p in active_policies()] == ["Current"]


def test_default_policy_catches_the_rest_and_is_tried_last(policy, card, request_type, team):
    default = policy("Everything else", order=1, is_default=True)
    leads = policy("Leads", order=50, request_type=request_type)
    assert match_policy(card()) == leads
    other_type = RequestTypeFactory(name="Contract review", default_team=team)
    assert match_policy(card(request_type=other_type)) == default
    assert [p.name for p in active_policies()] == ["Leads", "Everything else"]


def test_no_matching_policy_and_no_default_means_no_sla(policy, card, request_type, team):
    policy("Leads", request_type=request_type)
    other_type = RequestTypeFactory(name="Contract review", default_team=team)
    assert match_policy(card(request_type=other_type)) is None


# --------------------------------------------------------------------------- pauses()


@pytest.fixture
def external():
    return BlockingReasonFactory(name="Waiting for customer", pauses_sla=True)


@pytest.fixture
def internal():
    return BlockingReasonFactory(name="Needs manager decision", pauses_sla=False)


def test_a_reason_flagged_as_pausing_pauses_by_default(policy, external, internal):
    plain = policy("Plain")
    assert plain.pauses(Status.WAITING, external)
    assert not plain.pauses(Status.WAITING, internal)


def test_a_policy_can_ignore_flagged_reasons(policy, external):
    strict = policy("Strict", pause_on_flagged_reasons=False)
    assert not strict.pauses(Status.WAITING, external)


def test_a_reason_listed_on_the_policy_pauses_even_if_not_flagged(policy, internal, external):
    listed = policy("Listed", pause_on_flagged_reasons=False)
    listed.pausing_reasons.add(internal)
    assert listed.pauses(Status.WAITING, internal)
    assert not listed.pauses(Status.WAITING, external)


def test_a_status_listed_on_the_policy_pauses_without_a_reason(policy):
    approvals = policy("Approvals", pausing_statuses=[Status.ON_APPROVAL])
    approvals.refresh_from_db()
    assert approvals.pauses(Status.ON_APPROVAL, None)
    assert not approvals.pauses(Status.IN_PROGRESS, None)
    assert not approvals.pauses(Status.WAITING, None)
