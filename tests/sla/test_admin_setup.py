"""SLA setup without traps (issue 15): a policy shadowed by an earlier one says so on save
and names the cards that stay with the other; deadlines previewed from the unsaved form;
"Copy Monday's hours to Tue–Fri" on the calendar admin."""

from __future__ import annotations

import itertools
from datetime import time, timedelta

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from sla.actions import active_policies, match_policy
from sla.models import BusinessCalendar, SlaPolicy, SlaTarget, WorkingInterval
from sla.policies import shadowed_cards
from tasks.models import Priority, RelatedObject, Task
from tests.factories import RelatedObjectFactory, RequestTypeFactory, TeamFactory, make_task
from tests.rows import settings_rows
from tests.sla.test_admin import (
    ADD_POLICY,
    change_policy,
    messages_of,
    policy_data,
)

pytestmark = pytest.mark.django_db

H = timedelta(hours=1)


@pytest.fixture
def standard(office) -> SlaPolicy:
    policy = SlaPolicy.objects.create(name="Standard", is_default=True, calendar=office)
    SlaTarget.objects.create(
        policy=policy, priority=Priority.NORMAL, response_target=H, resolution_target=4 * H
    )
    return policy


@pytest.fixture
def sales_policy(office, request_type) -> SlaPolicy:
    """An older policy for every Sales lead, tried early (order 10)."""
    policy = SlaPolicy.objects.create(
        name="Sales leads", calendar=office, request_type=request_type, order=10
    )
    SlaTarget.objects.create(policy=policy, priority=Priority.HIGH, resolution_target=8 * H)
    return policy


# ------------------------------------------------------------------ shadowed policies


def test_a_new_policy_shadowed_by_an_earlier_one_says_so_and_names_the_cards(
    admin_client, office, standard, sales_policy, request_type, performer
):
    shadowed = [
        make_task(actor=performer, owner=performer, request_type=request_type,
                  priority=Priority.HIGH)
        for _ in range(2)
    ]  # fmt: skip
    other = make_task(actor=performer, owner=performer, priority=Priority.HIGH)  # not a lead
    data = policy_data(
        name="Urgent", calendar=office.pk, priority="high", order=50,
        targets=[{"priority": "high", "resolution_target": "2h"}],
    )  # fmt: skip
    response = admin_client.post(ADD_POLICY, data)
    assert response.status_code == 302
    text = " ".join(messages_of(response))
    ids = ", ".join(f"#{card.pk}" for card in shadowed)
    assert f"2 open card(s) that Urgent matches stay with Sales leads: {ids}." in text
    assert "Sales leads is tried first (order 10, this policy 50;" in text
    assert "give Urgent a lower order than Sales leads" in text
    assert f"#{other.pk}" not in text  # Urgent times it: not shadowed
    assert "every open card is matched again" not in text
    # What the message says is what the matching does.
    policies = active_policies()
    assert {match_policy(card, policies).name for card in shadowed} == {"Sales leads"}
    assert match_policy(other, policies).name == "Urgent"


def test_saving_it_with_a_lower_order_takes_the_cards_and_says_nothing_of_shadows(
    admin_client, office, standard, sales_policy, request_type, performer
):
    make_task(actor=performer, owner=performer, request_type=request_type, priority="high")
    data = policy_data(
        name="Urgent", calendar=office.pk, priority="high", order=5,
        targets=[{"priority": "high", "resolution_target": "2h"}],
    )  # fmt: skip
    response = admin_client.post(ADD_POLICY, data)
    assert response.status_code == 302
    assert "stay with" not in " ".join(messages_of(response))


def test_a_shadow_is_flagged_also_when_only_targets_change_and_lists_at_most_ten(
    admin_client, office, standard, sales_policy, request_type, performer
):
    urgent = SlaPolicy.objects.create(name="Urgent", calendar=office, priority="high", order=100)
    cards = [
        make_task(actor=performer, owner=performer, request_type=request_type, priority="high")
        for _ in range(12)
    ]
    data = policy_data(
        urgent, name="Urgent", calendar=office.pk, priority="high", order=100,
        targets=[{"priority": "high", "resolution_target": "3d"}],
    )  # fmt: skip
    response = admin_client.post(change_policy(urgent), data)
    assert response.status_code == 302
    text = " ".join(messages_of(response))
    first_ten = ", ".join(f"#{card.pk}" for card in cards[:10])
    assert (
        f"12 open card(s) that Urgent matches stay with Sales leads: {first_ten} and 2 more."
        in text
    )


def test_an_equal_order_is_explained_by_the_name(office, standard, request_type, performer):
    SlaPolicy.objects.create(name="A leads", calendar=office, request_type=request_type)
    later = SlaPolicy.objects.create(name="B high", calendar=office, priority="high")
    make_task(actor=performer, owner=performer, request_type=request_type, priority="high")
    [shadow] = shadowed_cards(later)
    assert (shadow.winner.name, shadow.count) == ("A leads", 1)


def test_closed_cards_inactive_and_default_policies_are_not_shadows(
    office, standard, sales_policy, request_type, performer
):
    card = make_task(actor=performer, owner=performer, request_type=request_type, priority="high")
    Task.objects.filter(pk=card.pk).update(status="done")
    urgent = SlaPolicy.objects.create(name="Urgent", calendar=office, priority="high")
    assert shadowed_cards(urgent) == []
    make_task(actor=performer, owner=performer, request_type=request_type, priority="high")
    assert len(shadowed_cards(urgent)) == 1
    urgent.active = False
    urgent.save()
    assert shadowed_cards(urgent) == []
    assert shadowed_cards(standard) == []


def test_the_policy_criteria_filter_agrees_with_matches(office, performer, team):
    """SlaPolicy.criteria (SQL, for the shadow check) and SlaPolicy.matches (Python, used by
    the engine) accept the same cards."""
    lead, other_type = RequestTypeFactory(name="Lead"), RequestTypeFactory(name="Other")
    other_team = TeamFactory(name="Other team")
    site = RelatedObjectFactory(kind=RelatedObject.Kind.SITE)
    cards = [
        make_task(actor=performer, request_type=kind, priority=priority, team=t, related_object=o)
        for kind, priority, t, o in itertools.product(
            (lead, other_type), ("high", "normal"), (team, other_team), (site, None)
        )
    ]
    for request_type, priority, policy_team, kind in itertools.product(
        (None, lead), ("", "high"), (None, team), ("", RelatedObject.Kind.SITE, "client")
    ):
        policy = SlaPolicy(
            calendar=office, request_type=request_type, priority=priority, team=policy_team,
            related_object_kind=kind,
        )  # fmt: skip
        by_sql = set(Task.objects.filter(policy.criteria()).values_list("pk", flat=True))
        by_python = {card.pk for card in cards if policy.matches(card)}
        assert by_sql == by_python, (request_type, priority, policy_team, kind)


# ------------------------------------------------------------------ preview of the unsaved form

FORM_PREVIEW = reverse("admin:sla_slapolicy_form_preview")


def unsaved(office, **preview) -> dict:
    data = policy_data(
        name="Not saved", calendar=office.pk, priority="high",
        targets=[{"priority": "high", "response_target": "2h", "resolution_target": "3d"}],
    )  # fmt: skip
    data.update({"preview-start": "2026-03-06 16:00", "preview-priority": "high"})
    data.update(preview)
    return data


def test_the_policy_form_offers_a_preview_of_its_unsaved_values(admin_client, standard):
    html = admin_client.get(change_policy(standard)).content.decode()
    assert f'formaction="{FORM_PREVIEW}"' in html and 'name="preview-start"' in html
    assert 'formtarget="_blank"' in html


def test_deadlines_are_previewed_from_the_unsaved_form_without_writing(admin_client, office):
    before = settings_rows()
    response = admin_client.post(FORM_PREVIEW, unsaved(office))
    assert response.status_code == 200
    due = {d.label: d.due_local for d in response.context["preview"].deadlines}
    # Friday 16:00 Berlin, Mon–Fri 9–17: 2h → Monday 10:00. 3d = 72 working hours: 1h on
    # Friday, 8 full days (64h) to Wednesday 18th, 7h on Thursday 19th → 16:00.
    assert due["First response: due"].strftime("%a %Y-%m-%d %H:%M") == "Mon 2026-03-09 10:00"
    assert due["Resolution: due"].strftime("%a %Y-%m-%d %H:%M") == "Thu 2026-03-19 16:00"
    html = response.content.decode()
    assert "not saved" in html and "Mon 2026-03-09 10:00" in html
    assert settings_rows() == before


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"calendar": ""}, "choose the policy&#x27;s calendar first"),
        ({"calendar": "999999"}, "Select a valid choice"),
        ({"preview-start": "soon"}, "Enter a valid date/time"),
        ({"preview-priority": "urgent"}, "Select a valid choice"),
        ({"targets-0-resolution_target": "2 hrs ish"}, "is not a duration"),
        ({"targets-TOTAL_FORMS": "many"}, "cannot be read"),
    ],
)
def test_a_preview_of_a_bad_form_is_a_400_with_the_reason(admin_client, office, change, message):
    before = settings_rows()
    response = admin_client.post(FORM_PREVIEW, unsaved(office, **change))
    assert response.status_code == 400
    assert message in response.content.decode()
    assert settings_rows() == before


def test_the_form_preview_needs_the_change_permission_and_a_post(client, office, manager):
    manager.is_staff = True
    manager.save()
    manager.user_permissions.add(Permission.objects.get(codename="view_slapolicy"))
    client.force_login(manager)
    assert client.post(FORM_PREVIEW, unsaved(office)).status_code == 403
    manager.user_permissions.add(Permission.objects.get(codename="change_slapolicy"))
    assert client.post(FORM_PREVIEW, unsaved(office)).status_code == 200
    assert client.get(FORM_PREVIEW).status_code == 405


# ------------------------------------------------------------------ copy Monday's hours


@pytest.fixture
def lunch_week(db) -> BusinessCalendar:
    """Monday 09:00–12:30 and 13:30–17:00; Tuesday 10:00–14:00; Saturday 10:00–12:00."""
    calendar = BusinessCalendar.objects.create(name="Shop", timezone="Europe/Berlin")
    for weekday, start, end in ((0, 9, 12.5), (0, 13.5, 17), (1, 10, 14), (5, 10, 12)):
        WorkingInterval.objects.create(
            calendar=calendar, weekday=weekday,
            start=time(int(start), int(start % 1 * 60)), end=time(int(end), int(end % 1 * 60)),
        )  # fmt: skip
    return calendar


def week(calendar) -> set[tuple[int, str, str]]:
    return {
        (row.weekday, f"{row.start:%H:%M}", f"{row.end:%H:%M}") for row in calendar.intervals.all()
    }


def copy_url(calendar) -> str:
    return reverse("admin:sla_businesscalendar_copy_monday", args=[calendar.pk])


def test_copy_monday_gives_tuesday_to_friday_mondays_hours(admin_client, lunch_week, performer):
    revision = lunch_week.revision
    page = admin_client.get(reverse("admin:sla_businesscalendar_change", args=[lunch_week.pk]))
    assert copy_url(lunch_week) in page.content.decode()
    assert "Copy Monday's hours to Tue–Fri" in page.content.decode()

    response = admin_client.post(copy_url(lunch_week))
    assert response.status_code == 302
    monday = {("09:00", "12:30"), ("13:30", "17:00")}
    assert week(lunch_week) == {(d, s, e) for d in range(5) for s, e in monday} | {
        (5, "10:00", "12:00")
    }
    text = " ".join(messages_of(response))
    assert "Tuesday to Friday of Shop now have Monday's hours (09:00–12:30, 13:30–17:00)" in text
    lunch_week.refresh_from_db()
    assert lunch_week.revision == revision + 1  # every process rebuilds the calendar
    # The history names who did it.
    assert WorkingInterval.history.filter(history_user__isnull=False).count() >= 8


def test_copy_monday_with_no_monday_hours_changes_nothing(admin_client, lunch_week):
    lunch_week.intervals.filter(weekday=0).delete()
    before = settings_rows()
    response = admin_client.post(copy_url(lunch_week), follow=True)
    assert "Nothing was copied: Monday has no working hours to copy." in response.content.decode()
    assert settings_rows() == before


def test_copy_monday_refuses_a_week_that_would_overlap(admin_client, lunch_week):
    # Monday's night shift runs into Tuesday morning; copied, Friday's would run into
    # Saturday's 10:00 interval? No: it ends at 11:00 on the next day, overlapping it.
    WorkingInterval.objects.create(calendar=lunch_week, weekday=0, start=time(20), end=time(11))
    lunch_week.intervals.filter(weekday=0, start=time(9)).delete()
    before = settings_rows()
    response = admin_client.post(copy_url(lunch_week), follow=True)
    html = response.content.decode()
    assert "Nothing was copied:" in html and "overlaps" in html
    assert settings_rows() == before


def test_copy_monday_takes_a_post_and_the_change_permission(client, lunch_week, manager):
    manager.is_staff = True
    manager.save()
    manager.user_permissions.add(Permission.objects.get(codename="view_businesscalendar"))
    client.force_login(manager)
    before = settings_rows()
    assert client.post(copy_url(lunch_week)).status_code == 403
    assert settings_rows() == before
    manager.user_permissions.add(Permission.objects.get(codename="change_businesscalendar"))
    assert client.get(copy_url(lunch_week)).status_code == 405
    assert client.post(copy_url(lunch_week)).status_code == 302
