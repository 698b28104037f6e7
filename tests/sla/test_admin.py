"""The SLA admin: calendars (validation, recompute, holiday import), policies (validation,
deadline preview) and the read-only timer pages."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.messages import get_messages
from django.urls import reverse

from sla.holiday_import import UnknownHolidayRegion, import_public_holidays
from sla.models import (
    BusinessCalendar,
    Channel,
    Holiday,
    Notification,
    PolicyMode,
    SlaEvent,
    SlaPause,
    SlaPolicy,
    SlaTarget,
    TimerKind,
)
from tasks import actions
from tasks.models import Priority, Status
from tests.factories import BlockingReasonFactory, make_task

BERLIN = ZoneInfo("Europe/Berlin")
H = timedelta(hours=1)


def berlin(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN)


@pytest.fixture
def policy(office) -> SlaPolicy:
    policy = SlaPolicy.objects.create(name="Standard", is_default=True, calendar=office)
    SlaTarget.objects.create(
        policy=policy,
        priority=Priority.NORMAL,
        response_target=1 * H,
        resolution_target=4 * H,
        warn_pct=None,
    )
    return policy


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def calendar_data(
    calendar: BusinessCalendar | None = None,
    *,
    name: str = "Berlin office",
    tz: str = "Europe/Berlin",
    always_open: bool = False,
    intervals: list[tuple[int, str, str]] = (),
    holidays: list[tuple[str, str]] = (),
) -> dict:
    """POST data for the calendar change form: the existing intervals are deleted and
    `intervals` added; existing holidays are kept and `holidays` added."""
    data = {"name": name, "timezone": tz}
    if always_open:
        data["always_open"] = "on"
    old = list(calendar.intervals.all()) if calendar else []
    rows = [
        {"id": iv.pk, "calendar": calendar.pk, "weekday": iv.weekday, "start": iv.start,
         "end": iv.end, "DELETE": "on"}
        for iv in old
    ] + [{"weekday": wd, "start": start, "end": end} for wd, start, end in intervals]  # fmt: skip
    data.update(_formset("intervals", rows, initial=len(old)))
    kept = list(calendar.holidays.all()) if calendar else []
    rows = [
        {"id": h.pk, "calendar": calendar.pk, "date": h.date.isoformat(), "name": h.name}
        for h in kept
    ] + [{"date": day, "name": name} for day, name in holidays]
    data.update(_formset("holidays", rows, initial=len(kept)))
    return data


def _formset(prefix: str, rows: list[dict], *, initial: int) -> dict:
    data = {
        f"{prefix}-TOTAL_FORMS": len(rows),
        f"{prefix}-INITIAL_FORMS": initial,
        f"{prefix}-MIN_NUM_FORMS": 0,
        f"{prefix}-MAX_NUM_FORMS": 1000,
    }
    for i, row in enumerate(rows):
        data.update({f"{prefix}-{i}-{key}": value for key, value in row.items()})
    return data


def office_hours(*days: int, start: str = "09:00", end: str = "17:00"):
    return [(day, start, end) for day in days or range(5)]


ADD_CALENDAR = reverse("admin:sla_businesscalendar_add")


def change_calendar(calendar: BusinessCalendar) -> str:
    return reverse("admin:sla_businesscalendar_change", args=[calendar.pk])


# ------------------------------------------------------------------ changelists


def test_sla_changelists_load_in_a_bounded_number_of_queries(
    admin_client, policy, performer, django_assert_max_num_queries
):
    for n in range(12):
        task = make_task(actor=performer, owner=performer, title=f"Card {n}")
        actions.change_status(
            task=task, to=Status.WAITING, actor=performer, blocking_reason=BlockingReasonFactory()
        )
    for n in range(12):
        BusinessCalendar.objects.create(name=f"Calendar {n}", always_open=True)
    for name in ["businesscalendar", "slapolicy", "slatimer", "slapause"]:
        with django_assert_max_num_queries(12):
            response = admin_client.get(reverse(f"admin:sla_{name}_changelist"))
        assert response.status_code == 200, name
    assert SlaPause.objects.count() == 24


def test_timer_and_pause_pages_are_read_only(admin_client, policy, performer):
    task = make_task(actor=performer, owner=performer)
    actions.change_status(
        task=task, to=Status.WAITING, actor=performer, blocking_reason=BlockingReasonFactory()
    )
    timer = task.timers.get(kind=TimerKind.RESOLUTION)
    page = admin_client.get(reverse("admin:sla_slatimer_change", args=[timer.pk]))
    assert page.status_code == 200
    assert b"Pause" in page.content
    assert admin_client.get(reverse("admin:sla_slatimer_add")).status_code == 403
    assert admin_client.post(reverse("admin:sla_slatimer_delete", args=[timer.pk])).status_code == (
        403
    )
    pause = SlaPause.objects.first()
    assert admin_client.get(reverse("admin:sla_slapause_change", args=[pause.pk])).status_code == (
        200
    )
    assert admin_client.post(reverse("admin:sla_slapause_delete", args=[pause.pk])).status_code == (
        403
    )


def breach_with_notifications(task, *, failed: bool) -> tuple[SlaEvent, Notification]:
    timer = task.timers.get(kind=TimerKind.RESPONSE)
    event = SlaEvent.objects.create(
        timer=timer, key="breach", kind=SlaEvent.Kind.BREACH, at=timer.due_at,
        recorded_at=timer.due_at,
    )  # fmt: skip
    note = Notification.objects.create(
        event=event, recipient=task.owner, channel=Channel.EMAIL,
        recipient_key=str(task.owner_id), address="paula@example.com",
        state=Notification.State.FAILED if failed else Notification.State.SENT,
        attempts=5 if failed else 1, last_error="SMTP down" if failed else "",
        created_at=timer.due_at,
    )  # fmt: skip
    return event, note


def test_events_and_notifications_are_listed_read_only(
    admin_client, policy, performer, django_assert_max_num_queries
):
    for n in range(12):
        breach_with_notifications(make_task(actor=performer, owner=performer), failed=n % 2)
    for name in ["slaevent", "notification"]:
        with django_assert_max_num_queries(10):
            response = admin_client.get(reverse(f"admin:sla_{name}_changelist"))
        assert response.status_code == 200
        assert len(response.context["cl"].result_list) == 12
    event = SlaEvent.objects.first()
    page = admin_client.get(reverse("admin:sla_slaevent_change", args=[event.pk]))
    assert b"paula@example.com" in page.content
    assert admin_client.get(reverse("admin:sla_notification_add")).status_code == 403


def test_failed_notifications_can_be_queued_again(admin_client, policy, performer):
    _event, failed = breach_with_notifications(
        make_task(actor=performer, owner=performer), failed=True
    )
    _event, sent = breach_with_notifications(
        make_task(actor=performer, owner=performer), failed=False
    )
    response = admin_client.post(
        reverse("admin:sla_notification_changelist"),
        {"action": "resend_failed", "_selected_action": [failed.pk, sent.pk]},
    )
    assert response.status_code == 302
    failed.refresh_from_db()
    sent.refresh_from_db()
    assert (failed.state, failed.attempts) == (Notification.State.PENDING, 0)
    assert sent.state == Notification.State.SENT
    assert "Queued 1 failed notification(s) for another try." in messages_of(response)


# ------------------------------------------------------------------ calendar validation


def test_a_calendar_with_office_hours_is_created(admin_client):
    data = calendar_data(intervals=office_hours(), holidays=[("2026-12-25", "Christmas")])
    response = admin_client.post(ADD_CALENDAR, data)
    assert response.status_code == 302
    calendar = BusinessCalendar.objects.get(name="Berlin office")
    assert calendar.intervals.count() == 5
    assert calendar.work_calendar().weekly[0] == ((time(9), time(17)),)


def test_overlapping_intervals_on_the_same_weekday_are_refused(admin_client):
    data = calendar_data(intervals=[(0, "09:00", "17:00"), (0, "12:00", "13:00")])
    response = admin_client.post(ADD_CALENDAR, data)
    assert response.status_code == 200
    errors = response.context["inline_admin_formsets"][0].formset.non_form_errors()
    assert errors == ["Monday 09:00-17:00 overlaps Monday 12:00-13:00."]
    assert not BusinessCalendar.objects.exists()


def test_an_overnight_shift_overlapping_the_next_morning_is_refused(admin_client):
    data = calendar_data(intervals=[(4, "20:00", "04:00"), (5, "02:00", "06:00")])
    response = admin_client.post(ADD_CALENDAR, data)
    errors = response.context["inline_admin_formsets"][0].formset.non_form_errors()
    assert errors == ["Friday 20:00-04:00 (until 04:00 on Saturday) overlaps Saturday 02:00-06:00."]


def test_an_overnight_shift_may_touch_the_next_mornings_shift_and_midnight_ends_a_day(
    admin_client,
):
    data = calendar_data(
        intervals=[(4, "20:00", "04:00"), (5, "04:00", "08:00"), (6, "18:00", "00:00")]
    )
    response = admin_client.post(ADD_CALENDAR, data)
    assert response.status_code == 302
    weekly = BusinessCalendar.objects.get().work_calendar().weekly
    assert weekly[5] == ((time(0), time(8)),)
    assert weekly[6] == ((time(18), time(0)),)


def test_an_interval_ending_when_it_starts_is_refused(admin_client):
    response = admin_client.post(ADD_CALENDAR, calendar_data(intervals=[(0, "09:00", "09:00")]))
    assert response.status_code == 200
    assert b"An interval must not start and end at the same time." in response.content


def test_a_calendar_without_hours_is_refused_unless_it_is_always_open(admin_client):
    response = admin_client.post(ADD_CALENDAR, calendar_data())
    assert response.status_code == 200
    assert b"An empty calendar has no open time" in response.content
    assert not BusinessCalendar.objects.exists()

    response = admin_client.post(ADD_CALENDAR, calendar_data(always_open=True))
    assert response.status_code == 302
    assert BusinessCalendar.objects.get().always_open


def test_an_unknown_timezone_is_refused(admin_client):
    data = calendar_data(tz="Europe/Atlantis", intervals=office_hours())
    response = admin_client.post(ADD_CALENDAR, data)
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["timezone"] == [
        "'Europe/Atlantis' is not a known timezone (e.g. Europe/Berlin)."
    ]


def test_the_same_holiday_twice_is_refused(admin_client):
    data = calendar_data(
        intervals=office_hours(), holidays=[("2026-12-25", "Xmas"), ("2026-12-25", "Again")]
    )
    response = admin_client.post(ADD_CALENDAR, data)
    assert response.status_code == 200
    assert not BusinessCalendar.objects.exists()


# ------------------------------------------------------------------ recompute on change


@time_machine.travel(berlin(2026, 3, 2, 10, 0), tick=False)  # a Monday
def test_changing_a_calendars_hours_recomputes_the_deadlines_of_open_timers(
    admin_client, office, policy, performer
):
    task = make_task(actor=performer, owner=performer)
    resolution = task.timers.get(kind=TimerKind.RESOLUTION)
    assert resolution.due_at == berlin(2026, 3, 2, 14, 0)
    revision = office.revision

    lunch_break = [(0, "09:00", "12:00"), (0, "13:00", "17:00"), *office_hours(1, 2, 3, 4)]
    response = admin_client.post(
        change_calendar(office), calendar_data(office, intervals=lunch_break)
    )

    assert response.status_code == 302
    resolution.refresh_from_db()
    assert resolution.due_at == berlin(2026, 3, 2, 15, 0)  # one hour of lunch later
    office.refresh_from_db()
    assert office.revision == revision + 1
    assert "recomputed the deadlines of 2 open timer(s)" in " ".join(messages_of(response))


@time_machine.travel(berlin(2026, 3, 2, 10, 0), tick=False)
def test_renaming_a_calendar_leaves_its_revision_and_timers_alone(
    admin_client, office, policy, performer
):
    task = make_task(actor=performer, owner=performer)
    revision = office.revision
    data = calendar_data(office, name="Head office", intervals=office_hours())
    response = admin_client.post(change_calendar(office), data)
    assert response.status_code == 302
    office.refresh_from_db()
    assert (office.name, office.revision) == ("Head office", revision)
    assert task.timers.get(kind=TimerKind.RESOLUTION).due_at == berlin(2026, 3, 2, 14, 0)


@time_machine.travel(berlin(2026, 3, 2, 10, 0), tick=False)
def test_a_holiday_added_in_the_admin_moves_a_deadline_past_it(
    admin_client, office, policy, performer
):
    task = make_task(actor=performer, owner=performer, at=berlin(2026, 3, 2, 9, 0))
    data = calendar_data(office, intervals=office_hours(), holidays=[("2026-03-02", "Closed")])
    admin_client.post(change_calendar(office), data)
    # Monday 09:00-10:00 was used before the change; the rest runs from Tuesday.
    assert task.timers.get(kind=TimerKind.RESOLUTION).due_at == berlin(2026, 3, 3, 12, 0)


# ------------------------------------------------------------------ holiday import


def import_url(calendar: BusinessCalendar) -> str:
    return reverse("admin:sla_businesscalendar_import_holidays", args=[calendar.pk])


def test_the_calendar_page_links_to_the_holiday_import(admin_client, office):
    page = admin_client.get(change_calendar(office))
    assert import_url(office).encode() in page.content


def test_importing_berlin_holidays_adds_them_once(admin_client, office):
    data = {"country": "de", "subdiv": "BE", "years": "2026"}
    response = admin_client.post(import_url(office), data)
    assert response.status_code == 302
    dates = set(office.holidays.values_list("date", flat=True))
    assert {date(2026, 12, 25), date(2026, 3, 8), date(2026, 10, 3)} <= dates
    assert len(dates) == 10
    assert "Added 10 public holiday(s) of DE-BE for 2026" in messages_of(response)[0]

    again = admin_client.post(import_url(office), data)
    assert again.status_code == 302
    assert office.holidays.count() == 10
    assert "Added 0 public holiday(s)" in messages_of(again)[-1]


def test_the_import_page_offers_a_form(admin_client, office):
    page = admin_client.get(import_url(office))
    assert page.status_code == 200
    assert b'name="country"' in page.content


@pytest.mark.parametrize(
    ("data", "field", "error"),
    [
        ({"country": "XX", "years": "2026"}, "country", "No public holidays are known"),
        ({"country": "DE", "subdiv": "ZZ", "years": "2026"}, "subdiv", "no subdivision 'ZZ'"),
        ({"country": "DE", "years": "next year"}, "years", "is not a year"),
        ({"country": "DE", "years": "2028-2026"}, "years", "runs backwards"),
    ],
)
def test_bad_holiday_import_input_is_a_form_error(admin_client, office, data, field, error):
    response = admin_client.post(import_url(office), data)
    assert response.status_code == 200
    assert error in " ".join(response.context["form"].errors[field])
    assert not office.holidays.exists()


def test_import_public_holidays_keeps_a_name_typed_by_hand(office):
    Holiday.objects.create(calendar=office, date=date(2026, 12, 25), name="Office closed")
    added = import_public_holidays(calendar=office, country="DE", subdiv=None, years=[2026])
    assert added == 8  # Germany-wide: 9 holidays in 2026, one already there
    assert office.holidays.get(date=date(2026, 12, 25)).name == "Office closed"


def test_import_public_holidays_refuses_an_unknown_country(office):
    with pytest.raises(UnknownHolidayRegion):
        import_public_holidays(calendar=office, country="XX", subdiv=None, years=[2026])


def test_imported_holidays_move_running_deadlines(office, policy, performer):
    # Thursday before Easter 16:00: 1 h left that day, then Good Friday and Easter Monday.
    task = make_task(actor=performer, owner=performer, at=berlin(2026, 4, 2, 16, 0))
    timer = task.timers.get(kind=TimerKind.RESOLUTION)
    assert timer.due_at == berlin(2026, 4, 3, 12, 0)

    import_public_holidays(
        calendar=office, country="DE", subdiv="BE", years=[2026], at=berlin(2026, 4, 2, 16, 30)
    )

    timer.refresh_from_db()
    assert timer.due_at == berlin(2026, 4, 7, 12, 0)


# ------------------------------------------------------------------ policies


def policy_data(
    policy: SlaPolicy | None = None, *, targets: list[dict], rules: list[dict] = (), **fields
) -> dict:
    data = {
        "name": "Standard",
        "order": 100,
        "mode": PolicyMode.ENFORCE,
        "active": "on",
        "pause_on_flagged_reasons": "on",
        **fields,
    }
    data = {k: v for k, v in data.items() if v is not None}
    old = list(policy.targets.all()) if policy else []
    rows = [
        {"id": t.pk, "policy": policy.pk, "priority": t.priority, "DELETE": "on"} for t in old
    ] + targets
    data.update(_formset("targets", rows, initial=len(old)))
    old_rules = list(policy.rules.all()) if policy else []
    rows = [{"id": r.pk, "policy": policy.pk, "DELETE": "on"} for r in old_rules] + list(rules)
    data.update(_formset("rules", rows, initial=len(old_rules)))
    return data


ADD_POLICY = reverse("admin:sla_slapolicy_add")


def test_a_policy_is_created_with_targets_and_pausing_statuses(admin_client, office):
    reason = BlockingReasonFactory(name="Waiting for customer")
    data = policy_data(
        calendar=office.pk,
        is_default="on",
        pausing_statuses=[Status.WAITING, Status.ON_APPROVAL],
        pausing_reasons=[reason.pk],
        targets=[
            {"priority": Priority.HIGH, "response_target": "1:00:00", "warn_pct": "75"},
            {"priority": Priority.NORMAL, "resolution_target": "1 00:00:00"},
        ],
    )
    response = admin_client.post(ADD_POLICY, data)
    assert response.status_code == 302
    policy = SlaPolicy.objects.get()
    assert policy.pausing_statuses == ["waiting", "on_approval"]
    assert list(policy.pausing_reasons.all()) == [reason]
    assert policy.target_for(Priority.NORMAL).resolution_target == timedelta(days=1)
    assert policy.target_for(Priority.HIGH).response_target == H


def test_escalation_rules_are_edited_under_their_policy(admin_client, office, manager):
    rule = {
        "active": "on",
        "trigger": "after_breach",
        "minutes_after_breach": "30",
        "clock": "business",
        "notify_team_manager": "on",
        "notify_user": manager.pk,
        "email": "on",
        "action": "raise_priority",
    }
    data = policy_data(
        calendar=office.pk,
        is_default="on",
        targets=[{"priority": "normal", "response_target": "1:00:00"}],
        rules=[rule],
    )
    response = admin_client.post(ADD_POLICY, data)
    assert response.status_code == 302
    saved = SlaPolicy.objects.get().rules.get()
    assert (saved.minutes_after_breach, saved.notify_user, saved.email, saved.in_app) == (
        30,
        manager,
        True,
        False,
    )


def test_an_escalation_rule_without_minutes_after_a_breach_is_refused(admin_client, office):
    rule = {"active": "on", "trigger": "after_breach", "minutes_after_breach": "0",
            "clock": "business", "notify_owner": "on", "in_app": "on"}  # fmt: skip
    data = policy_data(
        calendar=office.pk,
        is_default="on",
        targets=[{"priority": "normal", "response_target": "1:00:00"}],
        rules=[rule],
    )
    response = admin_client.post(ADD_POLICY, data)
    assert response.status_code == 200
    assert "Say how many minutes after the breach." in response.content.decode()
    assert not SlaPolicy.objects.exists()


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"notify_user": "NOADDRESS", "email": "on"}, "has no email address"),
        ({"slack": "on", "slack_webhook_url": "not a url"}, "Enter a valid URL."),
        ({"in_app": "on"}, "Choose at least one recipient"),
    ],
    ids=["email_recipient_without_address", "slack_url_not_a_url", "no_recipients"],
)
def test_a_bad_escalation_rule_is_refused_with_a_clear_error(admin_client, office, fields, error):
    from tests.factories import UserFactory

    silent = UserFactory(username="silent", email="")
    rule = {"active": "on", "trigger": "breach", "minutes_after_breach": "0",
            "clock": "business"}  # fmt: skip
    rule.update({k: (silent.pk if v == "NOADDRESS" else v) for k, v in fields.items()})
    data = policy_data(
        calendar=office.pk,
        is_default="on",
        targets=[{"priority": "normal", "response_target": "1:00:00"}],
        rules=[rule],
    )
    response = admin_client.post(ADD_POLICY, data)
    assert response.status_code == 200
    assert error in response.content.decode()
    assert not SlaPolicy.objects.exists()


def test_the_add_page_offers_one_target_row_per_priority(admin_client):
    page = admin_client.get(ADD_POLICY)
    formset = page.context["inline_admin_formsets"][0].formset
    assert [f.initial["priority"] for f in formset.forms] == [p.value for p in Priority]


@pytest.mark.parametrize(
    ("target", "error"),
    [
        (
            {"priority": "high", "response_target": "1:00:00", "warn_lead": "2:00:00"},
            "The warning would come at or after the deadline",
        ),
        ({"priority": "high", "resolution_target": "0:00:00"}, "must be a positive duration"),
        ({"priority": "high", "warn_pct": "50"}, "Set a response target, a resolution target"),
    ],
)
def test_a_bad_target_row_is_shown_with_its_error(admin_client, office, target, error):
    data = policy_data(calendar=office.pk, is_default="on", targets=[target])
    response = admin_client.post(ADD_POLICY, data)
    assert response.status_code == 200
    assert error in response.content.decode()
    assert not SlaPolicy.objects.exists()


def test_two_target_rows_for_one_priority_are_refused(admin_client, office):
    row = {"priority": "high", "response_target": "1:00:00"}
    data = policy_data(calendar=office.pk, is_default="on", targets=[row, dict(row)])
    response = admin_client.post(ADD_POLICY, data)
    assert response.status_code == 200
    errors = response.context["inline_admin_formsets"][0].formset.non_form_errors()
    assert errors == ["Two rows for priority High: keep one row per priority."]


def test_the_default_cannot_be_unticked_but_moves_to_another_policy(admin_client, policy, office):
    change = reverse("admin:sla_slapolicy_change", args=[policy.pk])
    keep = [{"id": t.pk, "policy": policy.pk, "priority": t.priority, "response_target":
             "1:00:00"} for t in policy.targets.all()]  # fmt: skip
    data = policy_data(calendar=office.pk, targets=[])
    data.update(_formset("targets", keep, initial=len(keep)))
    data.update(_formset("rules", [], initial=0))
    response = admin_client.post(change, data)
    assert response.status_code == 200
    assert "This is the default policy" in " ".join(
        response.context["adminform"].form.errors["is_default"]
    )

    data = policy_data(
        name="Everything else",
        calendar=office.pk,
        is_default="on",
        targets=[{"priority": "normal", "response_target": "2:00:00"}],
    )
    response = admin_client.post(ADD_POLICY, data)
    assert response.status_code == 302
    assert SlaPolicy.objects.get(is_default=True).name == "Everything else"
    assert "Everything else is now the default policy instead of Standard." in messages_of(response)


def test_saving_a_policy_warns_when_no_active_default_policy_exists(admin_client, office):
    data = policy_data(
        name="Urgent", calendar=office.pk, priority="critical",
        targets=[{"priority": "critical", "response_target": "0:30:00"}],
    )  # fmt: skip
    response = admin_client.post(ADD_POLICY, data)
    assert response.status_code == 302
    assert any("There is no active default policy" in m for m in messages_of(response))


def test_saving_a_policy_does_not_warn_when_an_active_default_exists(admin_client, policy, office):
    data = policy_data(
        name="Urgent", calendar=office.pk, priority="critical",
        targets=[{"priority": "critical", "response_target": "0:30:00"}],
    )  # fmt: skip
    response = admin_client.post(ADD_POLICY, data)
    assert response.status_code == 302
    assert not any("no active default" in m for m in messages_of(response))


# ------------------------------------------------------------------ deadline preview


def preview_url(policy: SlaPolicy) -> str:
    return reverse("admin:sla_slapolicy_preview", args=[policy.pk])


def test_the_policy_page_links_to_the_preview(admin_client, policy):
    page = admin_client.get(reverse("admin:sla_slapolicy_change", args=[policy.pk]))
    assert preview_url(policy).encode() in page.content


def test_the_preview_lays_targets_onto_business_hours(admin_client, policy):
    # Friday 16:00 local: response 1 h → Friday 17:00; resolution 4 h → Monday 12:00.
    response = admin_client.get(
        preview_url(policy), {"start": "2026-03-06 16:00", "priority": "normal"}
    )
    assert response.status_code == 200
    preview = response.context["preview"]
    due = {d.label: (d.due_local, d.due_utc) for d in preview.deadlines}
    assert due["First response: due"] == (berlin(2026, 3, 6, 17, 0), berlin(2026, 3, 6, 17, 0))
    assert due["Resolution: due"][0] == berlin(2026, 3, 9, 12, 0)
    assert due["Resolution: due"][1].tzinfo is not None
    assert due["Resolution: due"][1] == datetime(2026, 3, 9, 11, 0, tzinfo=UTC)
    html = response.content.decode()
    assert "Mon 2026-03-09 12:00 CET" in html
    assert "2026-03-09 11:00 UTC" in html


def test_the_add_page_offers_a_time_to_decision_and_the_preview_names_it(admin_client, policy):
    assert b'name="targets-0-approval_target"' in admin_client.get(ADD_POLICY).content
    SlaTarget.objects.filter(policy=policy).update(approval_target=2 * H)
    response = admin_client.get(
        preview_url(policy), {"start": "2026-03-06 16:00", "priority": "normal"}
    )
    due = {d.label: d.due_local for d in response.context["preview"].deadlines}
    # Sent for approval Friday 16:00: 1 h on Friday, 1 h on Monday.
    assert due["Time to decision (if sent for approval then): due"] == berlin(2026, 3, 9, 10, 0)
    assert "Time to decision (if sent for approval then): due" in response.content.decode()


def test_the_preview_shows_the_warning_and_the_holidays_skipped(admin_client, policy, office):
    target = policy.targets.get()
    target.warn_lead = timedelta(minutes=30)
    target.save()
    import_public_holidays(calendar=office, country="DE", subdiv="BE", years=[2026])
    response = admin_client.get(
        preview_url(policy), {"start": "2026-04-02 16:00", "priority": "normal"}
    )
    preview = response.context["preview"]
    due = {d.label: d.due_local for d in preview.deadlines}
    assert due["First response: warning"] == berlin(2026, 4, 2, 16, 30)
    assert due["Resolution: warning"] == berlin(2026, 4, 7, 11, 30)
    assert due["Resolution: due"] == berlin(2026, 4, 7, 12, 0)
    assert [h.date for h in preview.holidays] == [date(2026, 4, 3), date(2026, 4, 6)]
    assert "Good Friday" in response.content.decode()


def test_the_preview_reads_an_offset_as_given(admin_client, policy):
    response = admin_client.get(
        preview_url(policy), {"start": "2026-03-06T15:00:00+00:00", "priority": "normal"}
    )
    assert response.context["preview"].start_local == berlin(2026, 3, 6, 16, 0)


def test_the_preview_says_when_a_priority_has_no_target(admin_client, policy):
    response = admin_client.get(
        preview_url(policy), {"start": "2026-03-06 16:00", "priority": "low"}
    )
    assert response.context["preview"].deadlines == []
    assert b"This policy sets no target for low cards." in response.content


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"start": "someday", "priority": "normal"}, "start"),
        ({"start": "2026-03-29 02:30", "priority": "normal"}, "start"),  # skipped by DST
        ({"start": "2026-03-06 16:00", "priority": "urgent"}, "priority"),
    ],
)
def test_bad_preview_input_is_a_form_error(admin_client, policy, params, field):
    response = admin_client.get(preview_url(policy), params)
    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert response.context["preview"] is None


def test_the_calendar_add_page_loads(admin_client, db):
    response = admin_client.get(ADD_CALENDAR)
    assert response.status_code == 200
    prefixes = [inline.formset.prefix for inline in response.context["inline_admin_formsets"]]
    assert prefixes == ["intervals", "holidays"]  # what calendar_data() posts


# ------------------------------------------------------ policy edits reach running timers


def change_policy(policy: SlaPolicy) -> str:
    return reverse("admin:sla_slapolicy_change", args=[policy.pk])


def standard_data(policy: SlaPolicy, office, *, resolution: str = "4:00:00", **fields) -> dict:
    """The `policy` fixture as the admin form posts it, with the NORMAL row's targets set."""
    row = {"priority": "normal", "response_target": "1:00:00", "resolution_target": resolution}
    return policy_data(policy, calendar=office.pk, is_default="on", targets=[row], **fields)


def test_a_longer_target_set_in_the_admin_moves_running_deadlines_keeping_time_used(
    admin_client, office, policy, performer, django_capture_on_commit_callbacks
):
    with time_machine.travel(berlin(2026, 3, 2, 10, 0), tick=False):  # a Monday
        task = make_task(actor=performer, owner=performer)
    resolution = task.timers.get(kind=TimerKind.RESOLUTION)
    assert resolution.due_at == berlin(2026, 3, 2, 14, 0)

    with (
        time_machine.travel(berlin(2026, 3, 2, 11, 0), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = admin_client.post(
            change_policy(policy), standard_data(policy, office, resolution="8:00:00")
        )

    assert response.status_code == 302
    assert "the open cards it times are brought in line" in " ".join(messages_of(response))
    resolution.refresh_from_db()
    # 1 h used by 11:00, 7 h left: 6 h on Monday, 1 h on Tuesday.
    assert resolution.target == 8 * H
    assert resolution.due_at == berlin(2026, 3, 3, 10, 0)
    retarget = resolution.retargets.get()
    assert (retarget.old_target, retarget.new_target, retarget.consumed) == (4 * H, 8 * H, H)
    assert task.timers.get(kind=TimerKind.RESPONSE).target == H  # unchanged: not re-targeted


def test_a_pausing_status_added_in_the_admin_pauses_cards_already_in_it(
    admin_client, office, policy, performer, django_capture_on_commit_callbacks
):
    reason = BlockingReasonFactory(name="Waiting for parts", pauses_sla=False)
    with time_machine.travel(berlin(2026, 3, 2, 10, 0), tick=False):
        task = make_task(actor=performer, owner=performer)
        actions.change_status(task=task, to=Status.WAITING, blocking_reason=reason, actor=performer)
    resolution = task.timers.get(kind=TimerKind.RESOLUTION)
    assert resolution.state == "running"

    with (
        time_machine.travel(berlin(2026, 3, 2, 12, 0), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        data = standard_data(policy, office, pausing_statuses=[Status.WAITING])
        assert admin_client.post(change_policy(policy), data).status_code == 302

    resolution.refresh_from_db()
    assert resolution.state == "paused"
    assert resolution.due_at is None
    assert resolution.consumed == 2 * H
    pause = SlaPause.objects.get(timer=resolution)
    assert (pause.started_at, pause.ended_at, pause.status) == (
        berlin(2026, 3, 2, 12, 0), None, Status.WAITING
    )  # fmt: skip


def test_a_new_policy_takes_over_the_open_cards_it_matches_from_now_on(
    admin_client, office, policy, performer, django_capture_on_commit_callbacks
):
    with time_machine.travel(berlin(2026, 3, 2, 10, 0), tick=False):
        urgent = make_task(actor=performer, owner=performer, priority=Priority.HIGH)
        normal = make_task(actor=performer, owner=performer)
    assert not urgent.timers.exists()  # the standard policy sets no target for HIGH

    with (
        time_machine.travel(berlin(2026, 3, 2, 11, 0), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        data = policy_data(
            name="Urgent", calendar=office.pk, priority="high", order=10,
            targets=[{"priority": "high", "resolution_target": "2:00:00"}],
        )  # fmt: skip
        response = admin_client.post(ADD_POLICY, data)

    assert response.status_code == 302
    assert "the open cards are matched to the policies again" in " ".join(messages_of(response))
    timer = urgent.timers.get()
    assert (timer.policy.name, timer.started_at) == ("Urgent", berlin(2026, 3, 2, 11, 0))
    assert timer.due_at == berlin(2026, 3, 2, 13, 0)
    assert {t.policy_id for t in normal.timers.all()} == {policy.pk}


def test_a_policy_recompute_out_of_time_hands_the_rest_to_a_new_job(office, policy, performer):
    from sla.jobs import recompute_policy_timers

    with time_machine.travel(berlin(2026, 3, 2, 10, 0), tick=False):
        cards = [make_task(actor=performer, owner=performer) for _ in range(3)]
    for target in SlaTarget.objects.filter(policy=policy):  # saved: the policies version moves
        target.resolution_target = 8 * H
        target.save()

    with time_machine.travel(berlin(2026, 3, 2, 11, 0), tick=False):
        # Out of time at once: this job visits nothing and queues the rest (run at once
        # here, Q_SYNC), which visits all three.
        assert recompute_policy_timers(policy_id=policy.pk, budget=-1) == 0

    for card in cards:
        assert card.timers.get(kind=TimerKind.RESOLUTION).due_at == berlin(2026, 3, 3, 10, 0)
