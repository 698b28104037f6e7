"""Bad input to calibration "apply": a 400 with the reason on the calibration page, never a
500, and no row written (targets, policies, timers, events). Whether a value may be a target
is decided once, by sla.policies.set_targets (the admin's rule too)."""

from __future__ import annotations

from datetime import time, timedelta

import pytest
from django.contrib.auth.models import Permission

from sla.models import BusinessCalendar, SlaPolicy, SlaTarget, WorkingInterval
from tasks.models import Priority
from tests.factories import make_task
from tests.reports.conftest import reviewed
from tests.rows import settings_rows

pytestmark = pytest.mark.django_db

H = 3600
URL = "/reports/calibration/apply/"
NOTHING = "Nothing was applied"
TOO_LONG = "A target may be at most 366 days of business time."
NOT_POSITIVE = "A target must be a positive duration."
SHORTER = "The resolution target must not be shorter than the response target."


@pytest.fixture
def leads(manager, request_type):
    """An active policy for the request type (normal: 2h / 8h), an inactive one, a card."""
    calendar = BusinessCalendar.objects.create(name="Office", timezone="Europe/Berlin")
    WorkingInterval.objects.create(calendar=calendar, weekday=0, start=time(9), end=time(17))
    SlaPolicy.objects.create(name="Default", calendar=calendar, is_default=True)
    policy = SlaPolicy.objects.create(name="Leads", calendar=calendar, request_type=request_type)
    SlaTarget.objects.create(
        policy=policy,
        priority=Priority.NORMAL,
        response_target=timedelta(hours=2),
        resolution_target=timedelta(hours=8),
    )
    SlaPolicy.objects.create(name="Retired", calendar=calendar, active=False)
    make_task(actor=manager, request_type=request_type, owner=manager)
    return policy


@pytest.fixture
def as_manager(client, manager, leads):
    manager.user_permissions.add(*Permission.objects.filter(codename__endswith="_slatarget"))
    client.force_login(manager)
    return client


def _apply(to: SlaPolicy, **fields) -> dict:
    return {
        "policy": to.pk,
        "priority": Priority.NORMAL,
        "response_seconds": 3 * H,
        "resolution_seconds": 12 * H,
        "response_cards": 25,
        "resolution_cards": 25,
        "next": "/reports/calibration/?source=history&start=2026-01-01",
        **reviewed(to, Priority.NORMAL),
        **fields,
    }


def _refused(client, data: dict, *messages: str) -> str:
    before = settings_rows()
    response = client.post(URL, data)
    assert response.status_code == 400
    html = response.content.decode()
    assert NOTHING in html
    for message in messages:
        assert message in html
    assert settings_rows() == before, "a refused apply wrote rows"
    return html


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        pytest.param({"response_seconds": 10**15}, TOO_LONG, id="response-10**15"),
        pytest.param({"resolution_seconds": 10**15}, TOO_LONG, id="resolution-10**15"),
        pytest.param({"response_seconds": 10**11}, TOO_LONG, id="response-3170-years"),
        pytest.param({"resolution_seconds": 10**11}, TOO_LONG, id="resolution-3170-years"),
        pytest.param({"resolution_seconds": 367 * 24 * H}, TOO_LONG, id="367-days"),
        pytest.param({"response_seconds": "9" * 1000}, TOO_LONG, id="1000-digits"),
        pytest.param({"response_seconds": -(10**15)}, NOT_POSITIVE, id="minus-10**15"),
        pytest.param({"response_seconds": -5}, NOT_POSITIVE, id="negative"),
        pytest.param({"response_seconds": 0}, NOT_POSITIVE, id="zero"),
        pytest.param({"response_seconds": 59}, "at least 1 minute", id="59-seconds"),
        pytest.param(
            {"response_seconds": 2 * H, "resolution_seconds": H}, SHORTER, id="resolution-first"
        ),
        pytest.param(
            {"response_seconds": "", "resolution_seconds": H}, SHORTER, id="shorter-than-stored"
        ),
        pytest.param(
            {"response_seconds": 9 * H, "resolution_seconds": ""}, SHORTER, id="longer-than-stored"
        ),
        pytest.param(
            {"response_seconds": "", "resolution_seconds": ""}, "nothing to apply", id="both-empty"
        ),
        pytest.param({"response_seconds": "abc"}, "Enter a whole number.", id="words"),
        pytest.param({"response_seconds": "1e5"}, "Enter a whole number.", id="exponent"),
        pytest.param({"response_seconds": "3600.5"}, "Enter a whole number.", id="fraction"),
        pytest.param({"response_seconds": "9" * 5000}, "Enter a whole number.", id="5000-digits"),
        pytest.param({"response_seconds": "36\x0000"}, "Response seconds:", id="nul"),
        pytest.param({"policy": "999999"}, "Policy: Select a valid choice", id="policy-unknown"),
        pytest.param({"policy": "abc"}, "Policy: Select a valid choice", id="policy-words"),
        pytest.param({"policy": "9" * 40}, "Policy: Select a valid choice", id="policy-huge"),
        pytest.param({"policy": ""}, "Policy: This field is required", id="policy-missing"),
        pytest.param({"priority": "urgent"}, "Priority: Select a valid choice", id="priority-bad"),
        pytest.param({"priority": "x" * 10_000}, "Priority: Select", id="priority-long"),
    ],
)
def test_a_bad_proposal_is_refused_with_the_reason(as_manager, leads, fields, message):
    _refused(as_manager, _apply(leads, **fields), message)


def test_an_inactive_policy_gets_no_target(as_manager):
    retired = SlaPolicy.objects.get(name="Retired")
    _refused(as_manager, _apply(retired), "Policy: Select a valid choice")


def test_the_refusal_shows_the_calibration_page_it_came_from(as_manager, leads):
    html = _refused(as_manager, _apply(leads, response_seconds=10**15), TOO_LONG)
    # The filters of the page the proposal came from, so the manager can try again.
    assert 'value="2026-01-01"' in html
    assert 'value="history" selected' in html


@pytest.mark.parametrize(
    "next_url",
    ["https://evil.example/", "/reports/calibration/?start=9999-12-31", "/reports/?export=x"],
)
def test_a_refusal_with_any_next_address_stays_on_the_calibration_page(as_manager, leads, next_url):
    html = _refused(as_manager, _apply(leads, response_seconds=0, next=next_url), NOT_POSITIVE)
    assert "Calibration" in html and "evil.example" not in html


def test_a_good_proposal_still_applies(as_manager, leads):
    response = as_manager.post(URL, _apply(leads))
    assert response.status_code == 302
    target = SlaTarget.objects.get(policy=leads, priority=Priority.NORMAL)
    assert (target.response_target, target.resolution_target) == (
        timedelta(hours=3),
        timedelta(hours=12),
    )


@pytest.mark.parametrize("method", ["put", "delete", "patch"])
def test_apply_takes_only_get_and_post(as_manager, leads, method):
    before = settings_rows()
    assert getattr(as_manager, method)(URL).status_code == 405
    assert settings_rows() == before


def test_a_bad_proposal_from_someone_who_may_not_apply_is_a_403(client, observer, leads):
    observer.user_permissions.add(Permission.objects.get(codename="view_reports"))
    client.force_login(observer)
    before = settings_rows()
    response = client.post(URL, _apply(leads, response_seconds=10**15))
    assert response.status_code == 403
    assert "You may not change SLA targets." in response.content.decode()
    assert settings_rows() == before
