"""Calibration "Set on …": a confirm page with the values before → after, a record of who
applied it and when, undo, the thin flag, and refusals (unknown target, stale proposal, a
person who may not set targets) that write nothing."""

from __future__ import annotations

from datetime import time, timedelta

import pytest
from django.contrib.auth.models import Permission

from reports.calibration import THIN_SAMPLE
from reports.models import CalibrationApply
from sla.models import BusinessCalendar, SlaPolicy, SlaTarget, WorkingInterval
from tasks.models import Priority
from tests.reports.conftest import reviewed
from tests.rows import settings_rows

pytestmark = pytest.mark.django_db

H = 3600
URL = "/reports/calibration/apply/"
BACK = "/reports/calibration/?source=history"


@pytest.fixture
def leads(request_type):
    """A policy for the request type, normal: response 2h, resolution 16h."""
    calendar = BusinessCalendar.objects.create(name="Office", timezone="Europe/Berlin")
    WorkingInterval.objects.create(calendar=calendar, weekday=0, start=time(9), end=time(17))
    SlaPolicy.objects.create(name="Default", calendar=calendar, is_default=True)
    policy = SlaPolicy.objects.create(name="Leads", calendar=calendar, request_type=request_type)
    SlaTarget.objects.create(
        policy=policy,
        priority=Priority.NORMAL,
        response_target=timedelta(hours=2),
        resolution_target=timedelta(hours=16),
    )
    return policy


@pytest.fixture
def as_manager(client, manager, leads):
    manager.user_permissions.add(*Permission.objects.filter(codename__endswith="_slatarget"))
    client.force_login(manager)
    return client


def proposal(policy, priority=Priority.NORMAL, cards=25, **fields) -> dict:
    return {
        "policy": policy.pk,
        "priority": priority,
        "request_type": policy.request_type_id,
        "response_seconds": "",
        "resolution_seconds": 32 * H,
        "resolution_cards": cards,
        "next": BACK,
        **fields,
    }


def targets(policy) -> dict[str, tuple]:
    return {
        t.priority: (t.response_target, t.resolution_target)
        for t in SlaTarget.objects.filter(policy=policy)
    }


def test_set_on_asks_first_showing_the_values_before_and_after(
    as_manager, leads, django_assert_max_num_queries
):
    before = settings_rows()
    with django_assert_max_num_queries(8):
        response = as_manager.get(URL, proposal(leads))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Set the proposal on Leads?" in html
    # Resolution 16h → 32h; the response target is not touched, so not listed.
    assert "<td>16h</td><td><strong>32h</strong></td>" in html
    assert "First response" not in html
    assert 'name="reviewed"' in html and 'name="seen_resolution_seconds" value="57600"' in html
    assert settings_rows() == before and not CalibrationApply.objects.exists()


def test_applying_records_who_and_when_and_undo_restores_the_old_value(
    as_manager, manager, leads, django_assert_max_num_queries
):
    data = {**proposal(leads), **reviewed(leads, Priority.NORMAL)}
    response = as_manager.post(URL, data, follow=True)
    assert response.redirect_chain == [(BACK, 302)]
    html = response.content.decode()
    assert "Applied Leads · Normal: resolution 16h → 32h." in html
    assert targets(leads)[Priority.NORMAL] == (timedelta(hours=2), timedelta(hours=32))
    record = CalibrationApply.objects.get()
    assert (record.applied_by, record.resolution_before, record.resolution_after) == (
        manager,
        timedelta(hours=16),
        timedelta(hours=32),
    )
    assert record.response_before == record.response_after == timedelta(hours=2)
    assert record.applied_at is not None and record.undone_at is None
    # The calibration page lists it with an undo button; its queries stay bounded.
    with django_assert_max_num_queries(15):
        page = as_manager.get(BACK).content.decode()
    assert "Set from this page" in page and "resolution 16h → 32h" in page
    undo = f"/reports/calibration/applied/{record.pk}/undo/"
    assert f'action="{undo}"' in page

    response = as_manager.post(undo, {"next": BACK}, follow=True)
    assert "Undone: Leads · Normal: resolution 16h → 32h is back" in response.content.decode()
    assert targets(leads)[Priority.NORMAL] == (timedelta(hours=2), timedelta(hours=16))
    record.refresh_from_db()
    assert record.undone_by == manager and record.undone_at is not None
    assert "undone by Maria Manager" in as_manager.get(BACK).content.decode()

    # Undone once: a second undo is refused, nothing changes.
    before = settings_rows()
    response = as_manager.post(undo, {"next": BACK})
    assert response.status_code == 409
    assert "Nothing was undone: This change was undone already." in response.content.decode()
    assert settings_rows() == before


def test_undo_of_an_apply_that_created_the_target_removes_it(as_manager, leads):
    data = {**proposal(leads, Priority.HIGH), **reviewed(leads, Priority.HIGH)}
    assert as_manager.post(URL, data).status_code == 302
    assert Priority.HIGH in targets(leads)
    record = CalibrationApply.objects.get()
    assert record.created_target
    as_manager.post(f"/reports/calibration/applied/{record.pk}/undo/", {"next": BACK})
    assert Priority.HIGH not in targets(leads)


def test_undo_after_a_later_change_is_refused_and_changes_nothing(as_manager, leads):
    as_manager.post(URL, {**proposal(leads), **reviewed(leads, Priority.NORMAL)})
    record = CalibrationApply.objects.get()
    SlaTarget.objects.filter(policy=leads).update(resolution_target=timedelta(hours=40))
    before = settings_rows()
    response = as_manager.post(f"/reports/calibration/applied/{record.pk}/undo/", {"next": BACK})
    assert response.status_code == 409
    assert "The target changed since this apply" in response.content.decode()
    assert settings_rows() == before
    record.refresh_from_db()
    assert record.undone_at is None


def test_a_stale_proposal_is_refused_with_the_current_value(as_manager, leads):
    data = {**proposal(leads), **reviewed(leads, Priority.NORMAL)}
    # Someone else sets the target between the confirm page and the click.
    SlaTarget.objects.filter(policy=leads).update(resolution_target=timedelta(hours=20))
    before = settings_rows()
    response = as_manager.post(URL, data)
    assert response.status_code == 409
    html = response.content.decode()
    assert "Nothing was applied: The target of Leads for normal cards changed since you" in html
    assert "it is now response 2h, resolution 20h" in html
    assert settings_rows() == before and not CalibrationApply.objects.exists()


def test_applying_without_the_confirm_step_is_refused(as_manager, leads):
    before = settings_rows()
    response = as_manager.post(URL, proposal(leads))
    assert response.status_code == 400
    assert "Review the change before it is applied" in response.content.decode()
    assert settings_rows() == before and not CalibrationApply.objects.exists()


def test_a_thin_proposal_is_flagged_and_needs_an_explicit_confirmation(as_manager, leads):
    thin = proposal(leads, cards=THIN_SAMPLE - 1)
    html = as_manager.get(URL, thin).content.decode()
    assert "Thin: this proposal comes from only 19 cards" in html
    assert 'name="thin_confirmed"' in html

    before = settings_rows()
    response = as_manager.post(URL, {**thin, **reviewed(leads, Priority.NORMAL)})
    assert response.status_code == 400
    assert "only 19 card(s) (fewer than 20): confirm" in response.content.decode()
    assert settings_rows() == before and not CalibrationApply.objects.exists()

    data = {**thin, **reviewed(leads, Priority.NORMAL), "thin_confirmed": "1"}
    assert as_manager.post(URL, data).status_code == 302
    assert CalibrationApply.objects.get().resolution_cards == THIN_SAMPLE - 1


def test_twenty_cards_are_not_thin(as_manager, leads):
    html = as_manager.get(URL, proposal(leads, cards=THIN_SAMPLE)).content.decode()
    assert "thin_confirmed" not in html
    data = {**proposal(leads, cards=THIN_SAMPLE), **reviewed(leads, Priority.NORMAL)}
    assert as_manager.post(URL, data).status_code == 302


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        pytest.param({"policy": "999999"}, "Policy: Select a valid choice", id="unknown-policy"),
        pytest.param({"priority": "urgent"}, "Priority: Select a valid choice", id="priority"),
        pytest.param({"request_type": "abc"}, "Request type: Select a valid", id="type"),
        pytest.param({"resolution_cards": ""}, "Say how many cards", id="no-count"),
        pytest.param({"resolution_cards": "-1"}, "greater than or equal to 0", id="count"),
        pytest.param({"resolution_seconds": "soon"}, "Enter a whole number", id="words"),
    ],
)
@pytest.mark.parametrize("method", ["get", "post"])
def test_an_unknown_target_or_bad_values_are_a_400_writing_nothing(
    as_manager, leads, fields, message, method
):
    data = {**proposal(leads), **reviewed(leads, Priority.NORMAL), **fields}
    before = settings_rows()
    response = getattr(as_manager, method)(URL, data)
    assert response.status_code == 400
    html = response.content.decode()
    assert "Nothing was applied" in html and message in html
    assert settings_rows() == before and not CalibrationApply.objects.exists()


def test_someone_who_may_not_set_targets_can_neither_review_apply_nor_undo(
    client, as_manager, observer, leads
):
    as_manager.post(URL, {**proposal(leads), **reviewed(leads, Priority.NORMAL)})
    record = CalibrationApply.objects.get()
    observer.user_permissions.add(Permission.objects.get(codename="view_reports"))
    client.force_login(observer)
    before = settings_rows()
    assert client.get(URL, proposal(leads)).status_code == 403
    data = {**proposal(leads), **reviewed(leads, Priority.NORMAL)}
    response = client.post(URL, data)
    assert response.status_code == 403
    assert "You may not change SLA targets." in response.content.decode()
    undo = client.post(f"/reports/calibration/applied/{record.pk}/undo/", {"next": BACK})
    assert undo.status_code == 403
    page = client.get(BACK).content.decode()
    assert "Set from this page" in page and "/undo/" not in page
    assert settings_rows() == before
    record.refresh_from_db()
    assert record.undone_at is None


def test_undo_of_an_unknown_apply_is_a_404(as_manager):
    response = as_manager.post("/reports/calibration/applied/999999/undo/", {"next": BACK})
    assert response.status_code == 404


def test_undo_takes_only_post(as_manager, leads):
    as_manager.post(URL, {**proposal(leads), **reviewed(leads, Priority.NORMAL)})
    record = CalibrationApply.objects.get()
    assert as_manager.get(f"/reports/calibration/applied/{record.pk}/undo/").status_code == 405


def test_a_proposal_equal_to_the_target_applies_nothing(as_manager, leads):
    same = {**proposal(leads, resolution_seconds=16 * H), **reviewed(leads, Priority.NORMAL)}
    assert "there is nothing to change" in as_manager.get(URL, same).content.decode()
    before = settings_rows()
    response = as_manager.post(URL, same)
    assert response.status_code == 400
    assert "The target already has these values" in response.content.decode()
    assert settings_rows() == before and not CalibrationApply.objects.exists()
