"""History of the SLA settings (sla/history.py, sla/admin/history.py): every change of a
calendar, working interval, holiday, policy, target or escalation rule records who, when,
for what reason and the row before and after; the admin's History page shows it; the scan
writes none."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from reports.calibration import APPLY_REASON, apply_proposal
from sla.admin.history import ADMIN_REASON
from sla.history import settings_change, without_history
from sla.models import (
    BusinessCalendar,
    EscalationRule,
    Holiday,
    PolicyMode,
    SlaPolicy,
    SlaTarget,
    WorkingInterval,
)
from sla.policies import delete_target, set_targets
from tasks.models import Priority
from tests.factories import BlockingReasonFactory
from tests.reports.conftest import reviewed
from tests.sla.conftest import MON, berlin, scan
from tests.sla.test_admin import _formset, calendar_data

H = timedelta(hours=1)
Trigger = EscalationRule.Trigger


@pytest.fixture
def office(office: BusinessCalendar) -> BusinessCalendar:
    """The Berlin office (tests/sla/conftest.py), one holiday."""
    Holiday.objects.create(calendar=office, date=date(2026, 12, 24), name="Christmas Eve")
    return office


@pytest.fixture
def policy(office) -> SlaPolicy:
    policy = SlaPolicy.objects.create(name="Standard", is_default=True, calendar=office)
    SlaTarget.objects.create(
        policy=policy, priority=Priority.NORMAL, response_target=H, resolution_target=4 * H
    )
    EscalationRule.objects.create(policy=policy, trigger=Trigger.BREACH, notify_owner=True)
    return policy


def latest(model, **filters):
    return model.history.filter(**filters).order_by("-history_id").first()


def changes(record) -> dict[str, tuple]:
    """{field: (before, after)} of a changed row against the one before it."""
    delta = record.diff_against(record.prev_record)
    return {c.field: (c.old, c.new) for c in delta.changes}


def policy_page(policy: SlaPolicy, *, rules: list[dict] | None = None, **fields) -> dict:
    """POST data for the policy's change form that keeps its targets and rules as stored,
    with `fields` changed (None leaves a checkbox unticked)."""
    data = {
        "name": policy.name,
        "order": policy.order,
        "mode": policy.mode,
        "calendar": policy.calendar_id,
        "is_default": "on" if policy.is_default else None,
        "active": "on" if policy.active else None,
        "pause_on_flagged_reasons": "on" if policy.pause_on_flagged_reasons else None,
        "pausing_reasons": [r.pk for r in policy.pausing_reasons.all()],
        **fields,
    }
    data = {k: v for k, v in data.items() if v is not None}
    targets = [
        {
            "id": t.pk,
            "policy": policy.pk,
            "priority": t.priority,
            "response_target": str(t.response_target or ""),
            "resolution_target": str(t.resolution_target or ""),
            "warn_pct": t.warn_pct if t.warn_pct is not None else "",
        }
        for t in policy.targets.all()
    ]
    data.update(_formset("targets", targets, initial=len(targets)))
    stored = [
        {
            "id": r.pk,
            "policy": policy.pk,
            "trigger": r.trigger,
            "minutes_after_breach": r.minutes_after_breach,
            "clock": r.clock,
            "notify_owner": "on",
            "in_app": "on",
            "active": "on",
        }
        for r in policy.rules.all()
    ]
    rows = rules if rules is not None else stored
    data.update(_formset("rules", rows, initial=len(stored)))
    return data


def change_policy_url(policy: SlaPolicy) -> str:
    return reverse("admin:sla_slapolicy_change", args=[policy.pk])


# --------------------------------------------------------------------------- policies


def test_changing_a_policy_in_admin_records_one_row_with_who_and_before_after(
    admin_client, admin_user, policy
):
    before = SlaPolicy.history.count()

    response = admin_client.post(change_policy_url(policy), policy_page(policy, mode="observe"))

    assert response.status_code == 302
    assert SlaPolicy.history.count() == before + 1
    record = latest(SlaPolicy, id=policy.pk)
    assert (record.history_type, record.history_user, record.history_change_reason) == (
        "~",
        admin_user,
        ADMIN_REASON,
    )
    assert abs(record.history_date - timezone.now()) < timedelta(minutes=1)
    assert changes(record) == {"mode": (PolicyMode.ENFORCE, PolicyMode.OBSERVE)}


def test_a_change_of_pausing_reasons_is_one_row_with_the_reasons_before_and_after(
    admin_client, policy
):
    reason = BlockingReasonFactory(name="Waiting for customer")
    before = SlaPolicy.history.count()

    admin_client.post(change_policy_url(policy), policy_page(policy, pausing_reasons=[reason.pk]))

    assert SlaPolicy.history.count() == before + 1
    record = latest(SlaPolicy, id=policy.pk)
    assert [row.blockingreason for row in record.pausing_reasons.all()] == [reason]
    assert list(record.prev_record.pausing_reasons.all()) == []
    assert list(changes(record)) == ["pausing_reasons"]


def test_saving_an_unchanged_policy_records_nothing(admin_client, policy):
    before = SlaPolicy.history.count(), SlaTarget.history.count()
    response = admin_client.post(change_policy_url(policy), policy_page(policy))
    assert response.status_code == 302
    assert (SlaPolicy.history.count(), SlaTarget.history.count()) == before


def test_moving_the_default_records_the_policy_that_lost_it(admin_client, admin_user, policy):
    other = SlaPolicy.objects.create(name="Leads", calendar=policy.calendar, order=5)

    admin_client.post(change_policy_url(other), policy_page(other, is_default="on"))

    record = latest(SlaPolicy, id=policy.pk)
    assert record.history_user == admin_user
    assert changes(record) == {"is_default": (True, False)}
    assert "Leads became the default policy" in record.history_change_reason
    assert changes(latest(SlaPolicy, id=other.pk)) == {"is_default": (False, True)}


# --------------------------------------------------------------------------- targets, rules


def test_changing_a_target_in_admin_records_who_and_the_old_and_new_target(
    admin_client, admin_user, policy
):
    data = policy_page(policy)
    data["targets-0-response_target"] = "2:00:00"

    admin_client.post(change_policy_url(policy), data)

    record = latest(SlaTarget, policy_id=policy.pk)
    assert (record.history_type, record.history_user, record.history_change_reason) == (
        "~",
        admin_user,
        ADMIN_REASON,
    )
    assert changes(record) == {"response_target": (H, 2 * H)}


def test_deleting_a_target_in_admin_records_a_deletion_row(admin_client, admin_user, policy):
    target = policy.targets.get()
    data = policy_page(policy)
    data["targets-0-DELETE"] = "on"

    admin_client.post(change_policy_url(policy), data)

    assert not SlaTarget.objects.filter(pk=target.pk).exists()
    record = latest(SlaTarget, id=target.pk)
    assert (record.history_type, record.history_user) == ("-", admin_user)
    assert record.response_target == H  # what it held when deleted


def test_changing_an_escalation_rule_in_admin_is_recorded(admin_client, admin_user, policy):
    rule = policy.rules.get()
    data = policy_page(policy)
    data["rules-0-email"] = "on"

    admin_client.post(change_policy_url(policy), data)

    record = latest(EscalationRule, id=rule.pk)
    assert (record.history_type, record.history_user) == ("~", admin_user)
    assert changes(record) == {"email": (False, True)}


def test_targets_written_outside_a_request_name_their_actor(policy, manager, admin_user):
    set_targets(policy=policy, priority=Priority.NORMAL, resolution=6 * H, actor=manager)
    record = latest(SlaTarget, policy_id=policy.pk)
    assert (record.history_type, record.history_user) == ("~", manager)
    assert changes(record) == {"resolution_target": (4 * H, 6 * H)}

    with settings_change(reason="cleanup script"):
        delete_target(policy=policy, priority=Priority.NORMAL, actor=admin_user)
    record = latest(SlaTarget, policy_id=policy.pk)
    assert (record.history_type, record.history_user) == ("-", admin_user)
    assert record.history_change_reason == "cleanup script"


# --------------------------------------------------------------------------- calibration


def test_calibration_apply_records_the_actor_and_the_reason(client, manager, policy):
    client.force_login(manager)
    response = client.post(
        reverse("reports_calibration_apply"),
        {
            "policy": policy.pk,
            "priority": Priority.NORMAL,
            "response_seconds": 3 * 3600,
            "resolution_seconds": 12 * 3600,
            "response_cards": 25,
            "resolution_cards": 25,
            **reviewed(policy, Priority.NORMAL),
        },
    )

    assert response.status_code == 302
    record = latest(SlaTarget, policy_id=policy.pk)
    assert (record.history_type, record.history_user, record.history_change_reason) == (
        "~",
        manager,
        APPLY_REASON,
    )
    assert changes(record) == {
        "response_target": (H, 3 * H),
        "resolution_target": (4 * H, 12 * H),
    }


def test_calibration_apply_outside_a_request_records_its_actor(manager, policy):
    apply_proposal(
        policy=policy, priority=Priority.HIGH, response=2 * H, resolution=None, actor=manager
    )
    record = latest(SlaTarget, policy_id=policy.pk, priority=Priority.HIGH)
    assert (record.history_type, record.history_user, record.history_change_reason) == (
        "+",
        manager,
        APPLY_REASON,
    )


def test_a_refused_apply_records_nothing(observer, policy):
    before = SlaTarget.history.count()
    with pytest.raises(PermissionError):
        apply_proposal(
            policy=policy, priority=Priority.NORMAL, response=2 * H, resolution=None, actor=observer
        )
    assert SlaTarget.history.count() == before


# --------------------------------------------------------------------------- calendars


def test_calendar_hours_and_holidays_changed_in_admin_are_recorded(
    admin_client, admin_user, office
):
    christmas = office.holidays.get()
    data = calendar_data(
        office,
        tz="Europe/Vienna",
        intervals=[(day, "08:00", "16:00") for day in range(5)],
        holidays=[("2026-12-31", "New Year's Eve")],
    )
    data["holidays-0-DELETE"] = "on"

    response = admin_client.post(
        reverse("admin:sla_businesscalendar_change", args=[office.pk]), data
    )

    assert response.status_code == 302
    calendar = latest(BusinessCalendar, id=office.pk)
    assert (calendar.history_user, calendar.history_change_reason) == (admin_user, ADMIN_REASON)
    assert changes(calendar) == {"timezone": ("Europe/Berlin", "Europe/Vienna")}
    added = latest(Holiday, calendar_id=office.pk, history_type="+")
    assert (added.date, added.name, added.history_user) == (
        date(2026, 12, 31),
        "New Year's Eve",
        admin_user,
    )
    deleted = latest(Holiday, id=christmas.pk)
    assert (deleted.history_type, deleted.history_user, deleted.date) == (
        "-",
        admin_user,
        date(2026, 12, 24),
    )
    kinds = list(
        WorkingInterval.history.filter(calendar_id=office.pk, history_user=admin_user)
        .values_list("history_type", flat=True)
        .order_by("history_type")
    )
    assert kinds == ["+"] * 5 + ["-"] * 5  # the old hours deleted, the new ones added


def test_imported_public_holidays_are_recorded_with_their_reason(admin_client, admin_user, office):
    admin_client.post(
        reverse("admin:sla_businesscalendar_import_holidays", args=[office.pk]),
        {"country": "DE", "subdiv": "BE", "years": "2027"},
    )
    records = Holiday.history.filter(calendar_id=office.pk, history_type="+", date__year=2027)
    assert records.count() >= 9  # Berlin's public holidays of 2027
    assert {(r.history_user, r.history_change_reason) for r in records} == {
        (admin_user, "public holiday import")
    }


def test_deleting_a_calendar_in_admin_records_it_and_its_rows(admin_client, admin_user, office):
    response = admin_client.post(
        reverse("admin:sla_businesscalendar_delete", args=[office.pk]), {"post": "yes"}
    )

    assert response.status_code == 302
    assert latest(BusinessCalendar, id=office.pk).history_type == "-"
    assert latest(Holiday, calendar_id=office.pk).history_type == "-"
    deleted = WorkingInterval.history.filter(calendar_id=office.pk, history_type="-")
    assert deleted.count() == 5
    assert {r.history_user for r in deleted} == {admin_user}


# --------------------------------------------------------------------------- the admin page


def test_the_policy_history_page_shows_who_changed_what_before_and_after(
    admin_client, admin_user, policy
):
    data = policy_page(policy, mode="observe")
    data["targets-0-response_target"] = "2:00:00"
    admin_client.post(change_policy_url(policy), data)

    page = admin_client.get(reverse("admin:sla_slapolicy_history", args=[policy.pk]))

    assert page.status_code == 200
    html = page.content.decode()
    assert admin_user.get_username() in html
    assert "<strong>Mode:</strong> Enforce (warn and escalate) → Observe (measure only)" in html
    assert "<strong>Response target:</strong> 1:00 h → 2:00 h" in html
    assert "Normal" in html  # the target's row
    assert ADMIN_REASON in html
    assert "Escalation rules" in html


def test_the_calendar_history_page_shows_holidays_and_a_deleted_row(admin_client, office):
    christmas = office.holidays.get()
    data = calendar_data(office, intervals=[(day, "09:00", "17:00") for day in range(5)])
    data["holidays-0-DELETE"] = "on"
    admin_client.post(reverse("admin:sla_businesscalendar_change", args=[office.pk]), data)

    page = admin_client.get(reverse("admin:sla_businesscalendar_history", args=[office.pk]))

    assert page.status_code == 200
    html = page.content.decode()
    assert "Holidays" in html
    assert "Deleted" in html
    assert f"<strong>Name:</strong> {christmas.name} → —" in html


def test_history_cannot_be_reverted_from_admin(admin_client, policy):
    record = latest(SlaPolicy, id=policy.pk)
    url = reverse("admin:sla_slapolicy_simple_history", args=[policy.pk, record.history_id])
    data = policy_page(policy, name="Reverted")

    response = admin_client.post(url, data)

    assert response.status_code == 405
    policy.refresh_from_db()
    assert policy.name == "Standard"


# --------------------------------------------------------------------------- hot paths


def test_the_scan_touches_no_history_table(round_the_clock, make_policy, make_rule, new_card):
    policy = make_policy(round_the_clock)
    make_rule(policy, Trigger.WARNING, notify_owner=True)
    make_rule(policy, Trigger.BREACH, notify_owner=True)
    start = berlin(*MON, 10)
    new_card(start)

    with CaptureQueriesContext(connection) as queries:
        assert scan(start + 2 * H) == 1

    assert not [q["sql"] for q in queries if "historical" in q["sql"].lower()]


def test_generated_settings_write_no_history(db):
    with without_history():
        calendar = BusinessCalendar.objects.create(name="Bench office")
        SlaPolicy.objects.create(name="Bench", calendar=calendar)
    assert BusinessCalendar.history.count() == SlaPolicy.history.count() == 0


def test_a_past_version_can_be_viewed(admin_client, policy):
    admin_client.post(change_policy_url(policy), policy_page(policy, name="Renamed"))
    first = SlaPolicy.history.filter(id=policy.pk).order_by("history_id").first()

    page = admin_client.get(
        reverse("admin:sla_slapolicy_simple_history", args=[policy.pk, first.history_id])
    )

    assert page.status_code == 200
    assert 'value="Standard"' in page.content.decode()


@pytest.mark.parametrize(
    "path",
    ["abc/history/", "999/history/", "99999999999999999999/history/", "{pk}/history/abc/",
     "{pk}/history/99999/"],
)  # fmt: skip
def test_history_urls_with_no_such_key_are_not_found(admin_client, policy, path):
    url = reverse("admin:sla_slapolicy_changelist") + path.format(pk=policy.pk)
    assert admin_client.get(url).status_code == 404


def test_a_deleted_policy_keeps_its_history_page(admin_client, admin_user, policy):
    target = policy.targets.get()
    response = admin_client.post(
        reverse("admin:sla_slapolicy_delete", args=[policy.pk]), {"post": "yes"}
    )
    assert response.status_code == 302
    assert not SlaPolicy.objects.filter(pk=policy.pk).exists()
    assert (
        latest(SlaTarget, id=target.pk).history_type,
        latest(SlaTarget, id=target.pk).history_user,
    ) == ("-", admin_user)

    page = admin_client.get(reverse("admin:sla_slapolicy_history", args=[policy.pk]))

    assert page.status_code == 200
    html = page.content.decode()
    assert html.count("<td>Deleted</td>") == 3  # the policy, its target and its rule
    assert "<strong>Name:</strong> Standard → —" in html


def test_deleting_calendars_by_the_list_action_records_each(admin_client, admin_user, office):
    spare = BusinessCalendar.objects.create(name="Spare", always_open=True)
    response = admin_client.post(
        reverse("admin:sla_businesscalendar_changelist"),
        {"action": "delete_selected", "_selected_action": [office.pk, spare.pk], "post": "yes"},
    )

    assert response.status_code == 302
    assert not BusinessCalendar.objects.exists()
    for calendar in (office, spare):
        record = latest(BusinessCalendar, id=calendar.pk)
        assert (record.history_type, record.history_user, record.history_change_reason) == (
            "-",
            admin_user,
            ADMIN_REASON,
        )
