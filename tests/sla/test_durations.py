"""Durations typed as "2h", "1h 30m" or "3d": the pure parser and formatter (sla.durations)
and the admin's target rows that use them (calibration's are in tests/reports)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from hypothesis import given
from hypothesis import strategies as st

from sla.duration_field import BusinessDurationField
from sla.durations import BUSINESS_TIME_HELP, LONGEST, format_duration, parse_duration
from sla.models import MAX_TARGET, SlaPolicy, SlaTarget
from tasks.models import Priority
from tests.sla.test_admin import change_policy, policy_data

M = timedelta(minutes=1)
H = timedelta(hours=1)
D = timedelta(days=1)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90m", 90 * M), ("2h", 2 * H), ("1h 30m", 90 * M), ("1.5h", 90 * M), ("3d", 3 * D),
        ("1d 4h", D + 4 * H), ("45 min", 45 * M), ("2 hours", 2 * H), ("1 day", D),
        ("2:30", 2 * H + 30 * M), ("1h30m", 90 * M), ("1h, 30m", 90 * M), ("1h and 30m", 90 * M),
        (" 2H ", 2 * H), ("0.5d", 12 * H), ("30s", timedelta(seconds=30)),
        # Django's own format, as the admin showed saved values before.
        ("04:00:00", 4 * H), ("2 00:00:00", 2 * D), ("1 day, 4:00:00", D + 4 * H),
        ("2 days, 0:00:00", 2 * D), ("0:00:30.5", timedelta(seconds=30.5)),
    ],
)  # fmt: skip
def test_typed_durations_are_read(text, expected):
    assert parse_duration(text) == expected


def test_a_day_is_24_hours_of_business_time_and_the_help_says_so():
    assert parse_duration("1d") == parse_duration("24h")
    assert "1d = 24 working hours, not a calendar day" in BUSINESS_TIME_HELP


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "Enter a duration, e.g. 90m, 2h, 1h 30m or 3d."),
        ("soon", "'soon' is not a duration; write it e.g. 90m, 2h, 1h 30m or 3d."),
        ("4h tomorrow", "is not a duration"),
        ("90", "Say which unit 90 is in: 90m, 90h or 90d"),
        ("2 weeks", "'weeks' is not a unit; use d (days), h (hours), m (minutes) or s"),
        ("1h 2h", "gives the hours twice"),
        ("-2h", "A duration cannot be negative."),
        ("−1:00:00", "A duration cannot be negative."),
        ("2:75", "minutes and seconds run from 00 to 59"),
        ("9999999999d", "is longer than any target can be"),
        ("1" * 500, "That is too long to be a duration"),
        ("٣h", "is not a duration"),  # digits other than 0-9 are not read
    ],
)
def test_unreadable_durations_are_refused_with_a_message(text, message):
    with pytest.raises(ValueError, match=r"\w") as error:
        parse_duration(text)
    assert message in str(error.value)


@pytest.mark.parametrize(
    ("value", "text"),
    [(2 * H, "2h"), (D + 4 * H, "1d 4h"), (90 * M, "1h 30m"), (3 * D, "3d"), (45 * M, "45m"),
     (timedelta(0), "0m"), (D + timedelta(seconds=1.5), "1d 1.5s"), (-2 * H, "-2h")],
)  # fmt: skip
def test_values_are_shown_in_the_short_form(value, text):
    assert format_duration(value) == text


durations = st.timedeltas(min_value=timedelta(0), max_value=LONGEST)


@given(durations)
def test_format_then_parse_gives_back_the_value(value):
    assert parse_duration(format_duration(value)) == value


@given(st.text(max_size=60))
def test_any_text_is_read_or_refused_with_a_value_error(text):
    try:
        value = parse_duration(text)
    except ValueError as error:
        assert str(error)
    else:
        assert timedelta(0) <= value <= LONGEST


@given(
    st.lists(
        st.sampled_from(["1", "2.5", "90", ".5", "0", "d", "h", "m", "min", "hours", "day", ":",
                         " ", ",", "and", "-", "00", "x", "s"]),
        max_size=12,
    ).map("".join)
)  # fmt: skip
def test_near_misses_are_read_or_refused_with_a_value_error(text):
    try:
        parse_duration(text)
    except ValueError as error:
        assert str(error)


@given(st.text(max_size=30))
def test_the_form_field_refuses_only_with_a_validation_error(text):
    field = BusinessDurationField(required=False)
    try:
        field.clean(text)
    except ValidationError as error:
        assert error.messages


# ------------------------------------------------------------------------ the admin


@pytest.fixture
def policy(office) -> SlaPolicy:
    """The default policy, normal: 1h / 4h."""
    policy = SlaPolicy.objects.create(name="Standard", is_default=True, calendar=office)
    SlaTarget.objects.create(
        policy=policy, priority=Priority.NORMAL, response_target=H, resolution_target=4 * H
    )
    return policy


def test_targets_typed_as_2h_and_3d_are_saved_in_the_admin(admin_client, office, policy):
    row = {"priority": "normal", "response_target": "2h", "resolution_target": "3d",
           "warn_lead": "1h 30m"}  # fmt: skip
    data = policy_data(policy, calendar=office.pk, is_default="on", targets=[row])
    response = admin_client.post(change_policy(policy), data)
    assert response.status_code == 302
    target = SlaPolicy.objects.get(pk=policy.pk).target_for(Priority.NORMAL)
    assert (target.response_target, target.resolution_target) == (2 * H, 3 * D)
    assert target.warn_lead == 90 * M


def test_the_admin_shows_saved_targets_short_with_what_a_day_means(admin_client, policy):
    target = policy.target_for(Priority.NORMAL)
    target.resolution_target = D + 4 * H
    target.save()
    html = admin_client.get(change_policy(policy)).content.decode()
    assert 'value="1h"' in html and 'value="1d 4h"' in html
    assert "1d = 24 working hours, not a calendar day" in html


def test_garbage_in_a_target_is_refused_with_the_message_and_nothing_saved(
    admin_client, office, policy
):
    row = {"priority": "normal", "response_target": "2 hrs ish", "resolution_target": "400d"}
    data = policy_data(policy, calendar=office.pk, is_default="on", targets=[row])
    response = admin_client.post(change_policy(policy), data)
    assert response.status_code == 200
    html = response.content.decode()
    assert "&#x27;2 hrs ish&#x27; is not a duration; write it e.g. 90m" in html
    assert f"A target may be at most {MAX_TARGET.days} days of business time." in html
    target = SlaPolicy.objects.get(pk=policy.pk).target_for(Priority.NORMAL)
    assert (target.response_target, target.resolution_target) == (H, 4 * H)
