"""Bad input to the admin of the SLA settings (policies, targets, escalation rules, calendars,
working hours, holidays, the holiday import, the deadline preview) and to its read-only pages:
a form error on the page, never a 500, and no row written."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse

from sla.models import (
    BusinessCalendar,
    EscalationRule,
    Holiday,
    SlaPolicy,
    SlaTarget,
)
from tasks.models import Priority
from tests.factories import make_task
from tests.rows import settings_rows
from tests.sla.test_admin import calendar_data, office_hours, policy_data

pytestmark = pytest.mark.django_db

H = timedelta(hours=1)
OUT_OF_RANGE = "Enter a date between 2000-01-01 and 2099-12-31."
TOO_LONG = "A target may be at most 366 days of business time."
NOT_POSITIVE = "A target must be a positive duration."
NEGATIVE = "A duration cannot be negative."
SHORTER = "The resolution target must not be shorter than the response target."
NOT_A_CHOICE = "Select a valid choice."
LONG = "x" * 5000


@pytest.fixture
def office(office: BusinessCalendar) -> BusinessCalendar:
    """The Berlin office (tests/sla/conftest.py), one holiday."""
    Holiday.objects.create(calendar=office, date="2026-12-25", name="Christmas")
    return office


@pytest.fixture
def policy(office, manager, request_type) -> SlaPolicy:
    """The default policy (normal: 1h / 4h) with a rule, and a card it times."""
    policy = SlaPolicy.objects.create(name="Standard", is_default=True, calendar=office)
    SlaTarget.objects.create(
        policy=policy, priority=Priority.NORMAL, response_target=H, resolution_target=4 * H
    )
    EscalationRule.objects.create(policy=policy, trigger="breach", notify_owner=True)
    make_task(actor=manager, request_type=request_type, owner=manager)
    return policy


def _refused(admin_client, url: str, data: dict, *messages: str, any_of: bool = False) -> str:
    before = settings_rows()
    response = admin_client.post(url, data)
    assert response.status_code == 200, "the admin answers a form error with the form again"
    html = response.content.decode()
    assert "Please correct the error" in html or "errorlist" in html
    found = [m in html for m in messages]
    assert any(found) if any_of else all(found), messages
    assert settings_rows() == before, "a refused form wrote rows"
    return html


# --------------------------------------------------------------------------- targets


def _change_policy(policy: SlaPolicy) -> str:
    return reverse("admin:sla_slapolicy_change", args=[policy.pk])


def _with_target(policy, office, **row) -> dict:
    target = {"priority": "normal", "response_target": "1:00:00", "resolution_target": "4:00:00"}
    return policy_data(policy, calendar=office.pk, is_default="on", targets=[{**target, **row}])


@pytest.mark.parametrize(
    ("row", "message"),
    [
        pytest.param({"response_target": "1157407 00:00:00"}, TOO_LONG, id="3170-years"),
        pytest.param({"resolution_target": "367 00:00:00"}, TOO_LONG, id="367-days"),
        pytest.param({"resolution_target": "999999999 23:59:59"}, TOO_LONG, id="timedelta-max"),
        pytest.param(
            {"response_target": "1000000000 00:00:00"}, "is longer than any target can be",
            id="beyond-timedelta",
        ),
        pytest.param(
            {"response_target": "1" * 10_000}, "too long to be a duration", id="digits"
        ),
        pytest.param({"response_target": "-1:00:00"}, NEGATIVE, id="negative"),
        pytest.param({"response_target": "-2h"}, NEGATIVE, id="negative-short"),
        pytest.param({"response_target": "0m"}, NOT_POSITIVE, id="zero-short"),
        pytest.param({"response_target": "400d"}, TOO_LONG, id="400d"),
        pytest.param({"response_target": "90"}, "Say which unit 90 is in", id="no-unit"),
        pytest.param({"resolution_target": "2 weeks"}, "is not a unit", id="weeks"),
        pytest.param({"response_target": "0:00:00"}, NOT_POSITIVE, id="zero"),
        pytest.param({"response_target": "0:00:30"}, "at least 1 minute", id="30-seconds"),
        pytest.param(
            {"response_target": "4:00:00", "resolution_target": "1:00:00"}, SHORTER,
            id="resolution-shorter-than-response",
        ),
        pytest.param({"response_target": "soon"}, "&#x27;soon&#x27; is not a duration", id="words"),
        pytest.param({"warn_pct": "100"}, "Warn at a percentage between 1 and 99.", id="pct-100"),
        pytest.param({"warn_pct": "-5"}, "greater than or equal to 0", id="pct-negative"),
        pytest.param({"warn_pct": "9" * 20}, "less than or equal to", id="pct-huge"),
        pytest.param({"warn_lead": "-1:00:00"}, NEGATIVE, id="lead-neg"),
        pytest.param({"warn_lead": "0m"}, "The lead time must be positive", id="lead-zero"),
        pytest.param(
            {"warn_lead": "400 00:00:00"}, "The warning would come at or after the deadline",
            id="lead-past-deadline",
        ),
        pytest.param({"priority": "urgent"}, NOT_A_CHOICE, id="priority-bogus"),
        pytest.param(
            {"response_target": "", "resolution_target": ""}, "Set a response target",
            id="no-target",
        ),
    ],
)  # fmt: skip
def test_a_bad_target_is_an_error_on_its_field(admin_client, policy, office, row, message):
    _refused(admin_client, _change_policy(policy), _with_target(policy, office, **row), message)


def test_two_rows_for_one_priority_are_refused(admin_client, policy, office):
    row = {"priority": "normal", "response_target": "1:00:00"}
    data = policy_data(policy, calendar=office.pk, is_default="on", targets=[row, row])
    _refused(admin_client, _change_policy(policy), data, "Two rows for priority Normal")


# ------------------------------------------------------------------- policy fields


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        pytest.param({"name": "x" * 101}, "at most 100 characters", id="name-long"),
        pytest.param({"name": ""}, "This field is required.", id="name-empty"),
        pytest.param({"order": "-1"}, "greater than or equal to 0", id="order-negative"),
        pytest.param({"order": "9" * 30}, "less than or equal to", id="order-huge"),
        pytest.param({"order": "first"}, "Enter a whole number.", id="order-words"),
        pytest.param({"calendar": "999999"}, NOT_A_CHOICE, id="calendar-unknown"),
        pytest.param({"calendar": "abc"}, NOT_A_CHOICE, id="calendar-words"),
        pytest.param({"request_type": "9" * 40}, NOT_A_CHOICE, id="request-type-huge"),
        pytest.param({"mode": "bogus"}, NOT_A_CHOICE, id="mode-bogus"),
        pytest.param({"priority": "x" * 1000}, NOT_A_CHOICE, id="priority-long"),
        pytest.param({"pausing_statuses": ["done"]}, NOT_A_CHOICE, id="pausing-done"),
        pytest.param({"pausing_reasons": ["abc"]}, "is not a valid value", id="reasons-words"),
    ],
)
def test_a_bad_policy_field_is_an_error_on_it(admin_client, policy, office, fields, message):
    _refused(admin_client, _change_policy(policy), _with_target(policy, office) | fields, message)


def test_a_tampered_target_formset_is_refused(admin_client, policy, office):
    data = _with_target(policy, office) | {"targets-TOTAL_FORMS": "abc"}
    _refused(admin_client, _change_policy(policy), data, "ManagementForm data is missing")


# ------------------------------------------------------------------ escalation rules

RULE = {"active": "on", "trigger": "after_breach", "minutes_after_breach": "30",
        "clock": "business", "notify_owner": "on", "in_app": "on"}  # fmt: skip


@pytest.mark.parametrize(
    ("fields", "messages"),
    [
        pytest.param({"minutes_after_breach": "1000000"}, ["At most 527040 minutes"], id="2-years"),
        pytest.param(
            {"minutes_after_breach": str(10**12)},
            # SQLite's integer range is wider: the rule's bound speaks there first.
            ["less than or equal to 2147483647", "At most 527040 minutes"],
            id="10**12",
        ),
        pytest.param({"minutes_after_breach": "-5"}, ["greater than or equal to 0"], id="neg"),
        pytest.param({"minutes_after_breach": "soon"}, ["Enter a whole number."], id="words"),
        pytest.param({"trigger": "bogus"}, [NOT_A_CHOICE], id="trigger-bogus"),
        pytest.param({"clock": "x" * 1000}, [NOT_A_CHOICE], id="clock-long"),
        pytest.param({"timer_kind": "both"}, [NOT_A_CHOICE], id="kind-bogus"),
        pytest.param({"notify_user": "abc"}, [NOT_A_CHOICE], id="user-words"),
        pytest.param({"notify_group": "9" * 40}, [NOT_A_CHOICE], id="group-huge"),
        pytest.param(
            {"slack": "on", "slack_webhook_url": "javascript:alert(1)"}, ["Enter a valid URL."],
            id="webhook-javascript",
        ),
        pytest.param({"action": "delete_card"}, [NOT_A_CHOICE], id="action-bogus"),
        pytest.param({"in_app": ""}, ["Choose at least one channel."], id="no-channel"),
    ],
)  # fmt: skip
def test_a_bad_escalation_rule_is_an_error_on_its_field(
    admin_client, policy, office, fields, messages
):
    data = policy_data(
        policy,
        calendar=office.pk,
        is_default="on",
        targets=[{"priority": "normal", "response_target": "1:00:00"}],
        rules=[{**RULE, **fields}],
    )
    _refused(admin_client, _change_policy(policy), data, *messages, any_of=True)


# ------------------------------------------------------------- calendars, hours, holidays


def _change_calendar(calendar: BusinessCalendar) -> str:
    return reverse("admin:sla_businesscalendar_change", args=[calendar.pk])


@pytest.mark.parametrize(
    ("holiday", "message"),
    [
        pytest.param(("0001-01-01", "Year one"), OUT_OF_RANGE, id="year-1"),
        pytest.param(("9999-12-31", "Far away"), OUT_OF_RANGE, id="year-9999"),
        pytest.param(("1999-12-31", "A day early"), OUT_OF_RANGE, id="a-day-too-early"),
        pytest.param(("2100-01-01", "A day late"), OUT_OF_RANGE, id="a-day-too-late"),
        pytest.param(("2026-02-30", "No such day"), "Enter a valid date.", id="no-such-day"),
        pytest.param(("2026-12-25", "Again"), "correct the duplicate data for date", id="twice"),
        pytest.param(("2026-12-24", "x" * 101), "at most 100 characters", id="name-long"),
    ],
)
def test_a_bad_holiday_is_an_error_on_its_field(admin_client, policy, office, holiday, message):
    data = calendar_data(office, intervals=office_hours(), holidays=[holiday])
    _refused(admin_client, _change_calendar(office), data, message)


@pytest.mark.parametrize(
    ("intervals", "message"),
    [
        pytest.param([(0, "09:00", "17:00"), (0, "12:00", "18:00")], "overlaps", id="overlap"),
        pytest.param([(0, "22:00", "06:00"), (1, "05:00", "12:00")], "overlaps", id="overnight"),
        pytest.param([(0, "09:00", "09:00")], "must not start and end at the same", id="empty"),
        pytest.param([(0, "25:00", "26:00")], "Enter a valid time.", id="hour-25"),
        pytest.param([(7, "09:00", "17:00")], NOT_A_CHOICE, id="weekday-7"),
        pytest.param([(-1, "09:00", "17:00")], NOT_A_CHOICE, id="weekday-negative"),
        pytest.param([], "An empty calendar has no open time", id="no-hours"),
    ],
)
def test_bad_working_hours_are_refused(admin_client, policy, office, intervals, message):
    data = calendar_data(office, intervals=intervals)
    _refused(admin_client, _change_calendar(office), data, message)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        pytest.param({"tz": "Mars/Olympus_Mons"}, "is not a known timezone", id="tz-unknown"),
        pytest.param({"tz": "x" * 65}, "at most 64 characters", id="tz-long"),
        pytest.param({"name": "x" * 101}, "at most 100 characters", id="name-long"),
    ],
)
def test_a_bad_calendar_field_is_an_error_on_it(admin_client, policy, office, fields, message):
    data = calendar_data(office, intervals=office_hours(), **fields)
    _refused(admin_client, _change_calendar(office), data, message)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        pytest.param({"country": "DE", "years": "1999"}, "between 2000 and 2099", id="1999"),
        pytest.param({"country": "DE", "years": "2100"}, "between 2000 and 2099", id="2100"),
        pytest.param({"country": "DE", "years": "9999-9999"}, "between 2000 and 2099", id="9999"),
        pytest.param({"country": "DE", "years": "2000-2099"}, "at most 20 years", id="a-century"),
        pytest.param({"country": "DE", "years": "9" * 1000}, "is not a year", id="digits"),
        pytest.param({"country": "x" * 100, "years": "2026"}, "at most 3 characters", id="long"),
    ],
)
def test_a_bad_holiday_import_is_an_error_on_its_field(admin_client, office, data, message):
    url = reverse("admin:sla_businesscalendar_import_holidays", args=[office.pk])
    _refused(admin_client, url, data, message)


# ------------------------------------------------------------------ deadline preview


@pytest.mark.parametrize(
    ("start", "message"),
    [
        pytest.param("0001-01-01 00:00", OUT_OF_RANGE, id="year-1"),
        pytest.param("9999-12-31 23:59", OUT_OF_RANGE, id="year-9999"),
        pytest.param("2100-01-01 00:00", OUT_OF_RANGE, id="a-day-too-late"),
        pytest.param("x" * 10_000, "Enter a valid date/time.", id="long"),
    ],
)
def test_a_bad_preview_start_is_an_error_on_its_field(admin_client, policy, start, message):
    url = reverse("admin:sla_slapolicy_preview", args=[policy.pk])
    before = settings_rows()
    response = admin_client.get(url, {"start": start, "priority": "normal"})
    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors["start"])
    assert response.context["preview"] is None
    assert settings_rows() == before


# --------------------------------------------------------- the read-only pages' filters


@pytest.mark.parametrize(
    "url",
    [
        "/admin/sla/slatimer/?started_at__year=9999",
        "/admin/sla/slatimer/?started_at__year=9999&started_at__month=12",
        "/admin/sla/slatimer/?started_at__year=1",
        "/admin/sla/slapause/?started_at__year=9999&started_at__month=12&started_at__day=31",
        f"/admin/sla/slaevent/?at__year={'9' * 20}",
        "/admin/sla/slaevent/?at__year=%C2%B2",
        "/admin/sla/notification/?created_at__year=9999&created_at__month=12&created_at__day=31",
    ],
)
def test_a_date_drill_down_beyond_the_range_is_a_bad_lookup(admin_client, policy, url):
    before = settings_rows()
    response = admin_client.get(url)
    assert response.status_code == 302
    assert response["Location"].endswith("?e=1")
    assert settings_rows() == before


def test_a_date_drill_down_within_the_range_still_works(admin_client, policy):
    response = admin_client.get("/admin/sla/slatimer/?started_at__year=2099&started_at__month=12")
    assert response.status_code == 200


BIG = "9" * 30
AUTOCOMPLETE = "/admin/autocomplete/?app_label=sla"


@pytest.mark.parametrize(
    ("url", "status"),
    [
        (f"/admin/sla/slapolicy/{BIG}/change/", 302),
        (f"/admin/sla/slapolicy/{BIG}/preview/?start=2026-01-05+10:00&priority=normal", 302),
        ("/admin/sla/slapolicy/abc/preview/", 302),
        (f"/admin/sla/businesscalendar/{BIG}/import-holidays/", 302),
        ("/admin/sla/businesscalendar/%00/change/", 302),
        (f"/admin/sla/slatimer/?calendar__id__exact={BIG}", 200),
        ("/admin/sla/slatimer/?state__exact=bogus", 200),
        (f"/admin/sla/slatimer/?q={BIG}", 200),
        ("/admin/sla/notification/?q=%00", 200),
        ("/admin/sla/slapolicy/?o=1.2.x", 200),
        (f"/admin/sla/slapolicy/?p={BIG}", 200),
        pytest.param(
            f"{AUTOCOMPLETE}&model_name=slapolicy&field_name=calendar&term={LONG}", 200,
            id="autocomplete-long-term",
        ),
    ],
)  # fmt: skip
def test_garbage_in_an_sla_admin_address_is_never_a_500(admin_client, policy, url, status):
    before = settings_rows()
    assert admin_client.get(url).status_code == status
    assert settings_rows() == before
