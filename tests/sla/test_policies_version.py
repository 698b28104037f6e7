"""The policies version (sla.models.policies_version): every process keeps the active
policies it read and reads them again only when the version changed; every writer of what
they depend on changes it in its own transaction."""

from __future__ import annotations

import uuid
from datetime import date, time, timedelta

import pytest
from django.db import connection
from django.urls import reverse

from reports.calibration import apply_proposal
from sla.actions import active_policies, active_settings
from sla.calendar_hours import copy_day_hours
from sla.holiday_import import import_public_holidays
from sla.models import (
    BusinessCalendar,
    EscalationRule,
    Holiday,
    PoliciesVersion,
    SlaPolicy,
    SlaTarget,
    TimerKind,
    WebhookEndpoint,
    WorkingInterval,
)
from sla.policies import delete_target, set_targets
from tasks.models import Priority
from tests.factories import BlockingReasonFactory, make_task
from tests.sla.test_admin import calendar_data, change_calendar

H = timedelta(hours=1)


@pytest.fixture
def policy(round_the_clock, make_policy) -> SlaPolicy:
    return make_policy(round_the_clock, resolution=8 * H)


def resolution_target(task) -> timedelta:
    return task.timers.get(kind=TimerKind.RESOLUTION).target


def test_a_change_committed_by_another_process_is_seen_by_the_next_card(
    policy, performer, request_type
):
    first = make_task(actor=performer, owner=performer, request_type=request_type)
    assert resolution_target(first) == 8 * H
    # Another process changes the target: its row and its bump of the version, written here
    # without our signals, as this process sees them once that transaction commits.
    SlaTarget.objects.filter(policy=policy).update(resolution_target=2 * H)
    still = make_task(actor=performer, owner=performer, request_type=request_type)
    assert resolution_target(still) == 8 * H  # the version did not move: the kept policies
    with connection.cursor() as cursor:
        cursor.execute("UPDATE sla_policiesversion SET version = %s", [uuid.uuid4().hex])
    after = make_task(actor=performer, owner=performer, request_type=request_type)
    assert resolution_target(after) == 2 * H


def test_kept_policies_cost_one_query_and_a_change_reads_them_again(
    policy, django_assert_num_queries
):
    active_policies()
    with django_assert_num_queries(1):
        assert [p.name for p in active_policies()] == ["Sales leads"]
    policy.order = 5
    policy.save()
    # The version, the policies with their calendar, then targets, reasons, rules; the
    # webhook endpoints (kept with them: sla.actions.active_settings).
    with django_assert_num_queries(6):
        assert [p.order for p in active_policies()] == [5]


def test_the_webhook_endpoints_are_kept_with_the_policies_and_a_change_is_seen(
    policy, django_assert_num_queries
):
    active_settings()
    with django_assert_num_queries(1):
        assert active_settings()[1] == []
    endpoint = WebhookEndpoint.objects.create(
        name="CRM", url="https://crm.example/hooks", secret="whsec_" + "a" * 32,
        event_kinds=[WebhookEndpoint.EventKind.CARD_CREATED],
    )  # fmt: skip
    assert [e.url for e in active_settings()[1]] == ["https://crm.example/hooks"]
    endpoint.active = False
    endpoint.save()
    assert active_settings()[1] == []
    endpoint.delete()
    with django_assert_num_queries(6):  # the delete bumped the version too
        assert active_settings()[1] == []


def test_a_rolled_back_bump_never_names_a_later_change(policy):
    """The version is a random token, not a counter: a counter bumped in a transaction that
    rolled back would come back as the value of the next, different change, and this
    process would keep what it read inside the rolled-back transaction."""
    from django.db import transaction

    with pytest.raises(RuntimeError), transaction.atomic():
        policy.active = False
        policy.save()
        assert active_policies() == []  # read, and kept, inside the doomed transaction
        raise RuntimeError
    policy.refresh_from_db()
    policy.order = 7
    policy.save()
    assert [(p.name, p.order) for p in active_policies()] == [("Sales leads", 7)]


def test_without_the_row_nothing_is_kept_and_the_next_bump_brings_it_back(policy):
    PoliciesVersion.objects.all().delete()  # e.g. a flushed database
    assert [p.name for p in active_policies()] == ["Sales leads"]
    policy.save()
    assert PoliciesVersion.current() is not None


def _admin_adds_a_holiday(admin_client, policy):
    data = calendar_data(policy.calendar, name=policy.calendar.name, always_open=True,
                         holidays=[("2026-12-24", "Christmas Eve")])  # fmt: skip
    response = admin_client.post(change_calendar(policy.calendar), data)
    assert response.status_code == 302, response.context and response.context.get("errors")


def _admin_deletes_a_policy(admin_client, policy):
    other = SlaPolicy.objects.create(name="Spare", calendar=policy.calendar)
    url = reverse("admin:sla_slapolicy_delete", args=[other.pk])
    assert admin_client.post(url, {"post": "yes"}).status_code == 302


def _office_with_hours(policy):
    calendar = BusinessCalendar.objects.create(name="Office", timezone="Europe/Berlin")
    WorkingInterval.objects.create(calendar=calendar, weekday=0, start=time(9), end=time(17))
    return calendar


WRITERS = {
    "policy saved": lambda admin, policy: policy.save(),
    "policy deleted": lambda admin, policy: SlaPolicy.objects.create(
        name="Gone", calendar=policy.calendar
    ).delete(),
    "pausing reason added": lambda admin, policy: policy.pausing_reasons.add(
        BlockingReasonFactory()
    ),
    "pausing reasons cleared": lambda admin, policy: policy.pausing_reasons.clear(),
    "blocking reason changed": lambda admin, policy: BlockingReasonFactory().save(),
    "target set (sla.policies)": lambda admin, policy: set_targets(
        policy=policy, priority=Priority.NORMAL, resolution=3 * H, actor=admin
    ),
    "target deleted (sla.policies)": lambda admin, policy: delete_target(
        policy=policy, priority=Priority.LOW, actor=admin
    ),
    "calibration applied (reports)": lambda admin, policy: apply_proposal(
        policy=policy,
        priority=Priority.HIGH,
        response=None,
        resolution=5 * H,
        actor=admin,
        thin_confirmed=True,
    ),
    "escalation rule saved": lambda admin, policy: EscalationRule.objects.create(
        policy=policy, trigger=EscalationRule.Trigger.BREACH, notify_owner=True, in_app=True
    ),
    "escalation rule deleted": lambda admin, policy: EscalationRule.objects.filter(
        policy=policy
    ).delete(),
    "calendar saved": lambda admin, policy: policy.calendar.save(),
    "calendar touched (revision)": lambda admin, policy: policy.calendar.touch(),
    "working interval added": lambda admin, policy: WorkingInterval.objects.create(
        calendar=policy.calendar, weekday=5, start=time(9), end=time(12)
    ),
    "hours copied": lambda admin, policy: copy_day_hours(
        calendar=_office_with_hours(policy), actor=admin
    ),
    "holiday added": lambda admin, policy: Holiday.objects.create(
        calendar=policy.calendar, date=date(2026, 12, 25)
    ),
    "holidays deleted": lambda admin, policy: policy.calendar.holidays.all().delete(),
    "public holidays imported": lambda admin, policy: import_public_holidays(
        calendar=policy.calendar, country="DE", subdiv="BE", years=[2026]
    ),
}


@pytest.mark.parametrize("writer", list(WRITERS), ids=list(WRITERS))
def test_every_writer_moves_the_version(writer, policy, admin_user):
    EscalationRule.objects.create(
        policy=policy, trigger=EscalationRule.Trigger.WARNING, notify_owner=True, in_app=True
    )
    Holiday.objects.create(calendar=policy.calendar, date=date(2026, 12, 31))
    before = PoliciesVersion.current()
    WRITERS[writer](admin_user, policy)
    assert PoliciesVersion.current() != before


@pytest.mark.parametrize(
    "writer", [_admin_adds_a_holiday, _admin_deletes_a_policy], ids=["calendar", "policy"]
)
def test_every_admin_write_moves_the_version(writer, policy, admin_client):
    before = PoliciesVersion.current()
    writer(admin_client, policy)
    assert PoliciesVersion.current() != before


def test_reading_the_policies_does_not_move_it(policy, performer):
    before = PoliciesVersion.current()
    active_policies()
    make_task(actor=performer, owner=performer)
    assert PoliciesVersion.current() == before
