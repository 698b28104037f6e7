"""The profile's settings (/profile/): a stored timezone that pages show times in (winning
over the browser's cookie), notification preferences saved through the form, bad input
refused with a 400 in place and nothing saved; the first-use help page (/help/) per role.
Every page needs login; query counts are held."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from sla.models import NotificationPreference
from tasks import time_words
from tasks.models import Profile, Task
from tasks.profiles import SESSION_KEY
from tests.factories import UserFactory, make_task
from tests.tasks.bad_input import client_for

pytestmark = pytest.mark.django_db

EVERYTHING_ON = {
    f"{channel}_{kind}": "on"
    for kind in ("warning", "breach", "escalation", "approval_asked", "decision", "status_change")
    for channel in ("email", "slack")
}


def form(**fields) -> dict:
    data = {"timezone": "", "quiet_start": "", "quiet_end": "", "digest_hour": "", **EVERYTHING_ON}
    data.update(fields)
    return {k: v for k, v in data.items() if v is not None}


CREATED = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)


@pytest.fixture
def card(dispatcher, performer, request_type) -> Task:
    task = make_task(actor=dispatcher, owner=performer, request_type=request_type, title="Desks")
    # Created at 09:30 UTC: 10:30 in Berlin, 18:30 in Tokyo, 04:30 in New York.
    Task.objects.filter(pk=task.pk).update(created_at=CREATED)
    return task


def shows(page: str, zone: str, clock: str) -> bool:
    """The page says the card's Created in `zone` (time words: dated, it is not today), at
    `clock` o'clock there, and names that zone."""
    shown = time_words.moment(CREATED, timezone.now(), ZoneInfo(zone))
    return shown.endswith(clock) and f"<dd>{shown}</dd>" in page and f"Times in {zone}" in page


# --------------------------------------------------------------------------- login


@pytest.mark.parametrize("name", ["profile", "help"])
def test_the_settings_and_help_pages_need_login(name, performer):
    anonymous = Client()
    for answer in (anonymous.get(reverse(name)), anonymous.post(reverse(name), form())):
        assert answer.status_code == 302 and answer["Location"].startswith(reverse("login"))
    assert not Profile.objects.exists() and not NotificationPreference.objects.exists()


# --------------------------------------------------------------------------- the page


def test_the_page_states_the_rule_for_breaches_and_offers_each_kind_and_channel(performer):
    page = client_for(performer).get(reverse("profile")).content.decode()
    assert "Breaches and escalations always go out at once" in page
    assert "even during quiet hours and with a daily digest" in page
    assert "always recorded in-app" in page
    for name in EVERYTHING_ON:
        assert f'name="{name}"' in page and f'id="id_{name}" checked' in page
    assert '<option value="Asia/Tokyo">' in page  # the zone suggestions


def test_saving_stores_the_zone_and_the_preferences_and_shows_them_again(performer):
    client = client_for(performer)
    answer = client.post(
        reverse("profile"),
        form(timezone="Asia/Tokyo", quiet_start="22:00", quiet_end="07:00", digest_hour="8",
             email_decision=None, slack_status_change=None),
    )  # fmt: skip
    assert answer.status_code == 302 and answer.url == reverse("profile")
    assert Profile.objects.get(user=performer).timezone == "Asia/Tokyo"
    prefs = NotificationPreference.objects.get(user=performer)
    assert sorted(prefs.muted) == ["decision:email", "status_change:slack"]
    assert (prefs.quiet_start, prefs.quiet_end, prefs.digest_hour) == (time(22), time(7), 8)
    assert client.session[SESSION_KEY] == "Asia/Tokyo"

    page = client.get(reverse("profile")).content.decode()
    assert "Your settings are saved." in page
    assert 'value="Asia/Tokyo"' in page and 'value="22:00"' in page
    assert '<option value="8" selected>' in page
    assert 'id="id_email_decision" checked' not in page
    assert 'id="id_email_warning" checked' in page


# --------------------------------------------------------------------------- pages in her zone


def test_pages_show_times_in_the_stored_zone_rather_than_the_browsers(performer, card):
    client = client_for(performer)
    client.cookies["tz"] = "America/New_York"
    assert shows(client.get(card.get_absolute_url()).content.decode(), "America/New_York", "04:30")

    client.post(reverse("profile"), form(timezone="Asia/Tokyo"))
    page = client.get(card.get_absolute_url()).content.decode()
    assert shows(page, "Asia/Tokyo", "18:30") and "04:30" not in page

    client.post(reverse("profile"), form(timezone=""))  # follow the browser again
    assert shows(client.get(card.get_absolute_url()).content.decode(), "America/New_York", "04:30")


def test_the_stored_zone_follows_her_to_a_new_session(performer, card):
    Profile.objects.create(user=performer, timezone="Asia/Tokyo")
    performer.set_password("s3cret-pass-42")
    performer.save()
    client = Client()
    client.cookies["tz"] = "Europe/Berlin"
    logged_in = client.post(reverse("login"), {"username": "paula", "password": "s3cret-pass-42"})
    assert logged_in.status_code == 302
    assert shows(client.get(card.get_absolute_url()).content.decode(), "Asia/Tokyo", "18:30")


def test_a_session_from_before_the_setting_reads_the_stored_zone_once(performer, card):
    Profile.objects.create(user=performer, timezone="Asia/Tokyo")
    client = client_for(performer)
    session = client.session
    del session[SESSION_KEY]  # as a session made before the copy existed
    session.save()
    assert shows(client.get(card.get_absolute_url()).content.decode(), "Asia/Tokyo", "18:30")
    assert client.session[SESSION_KEY] == "Asia/Tokyo"


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"timezone": "Mars/Olympus_Mons"}, "is not a known timezone"),
        ({"timezone": "Europe/Berlin\x00"}, "not a known timezone"),
        ({"quiet_start": "22:00", "quiet_end": "22:00"}, "must end at another time"),
        ({"quiet_start": "22:00", "quiet_end": ""}, "need both a start and an end"),
        ({"quiet_start": "25:99", "quiet_end": "07:00"}, "Enter a valid time"),
        ({"digest_hour": "24"}, "Select a valid choice"),
        ({"digest_hour": "eight"}, "Select a valid choice"),
    ],
)
def test_bad_input_is_a_400_in_place_and_nothing_is_saved(performer, fields, message):
    client = client_for(performer)
    typed = form(**{"quiet_start": "06:00", "quiet_end": "07:00", "email_warning": None, **fields})
    answer = client.post(reverse("profile"), typed)
    page = answer.content.decode()
    assert answer.status_code == 400
    assert message in page
    assert 'role="alert"' in page
    # What she typed is still there to correct; nothing was stored.
    assert 'id="id_email_warning" checked' not in page and 'id="id_email_breach" checked' in page
    assert not Profile.objects.exists() and not NotificationPreference.objects.exists()


def test_a_refused_form_keeps_the_settings_saved_before(performer):
    client = client_for(performer)
    client.post(reverse("profile"), form(timezone="Asia/Tokyo", digest_hour="9"))
    refused = client.post(reverse("profile"), form(timezone="Nowhere/Land", digest_hour="7"))
    assert refused.status_code == 400 and 'value="Nowhere/Land"' in refused.content.decode()
    assert Profile.objects.get(user=performer).timezone == "Asia/Tokyo"
    assert NotificationPreference.objects.get(user=performer).digest_hour == 9
    assert client.session[SESSION_KEY] == "Asia/Tokyo"


def test_the_profile_takes_only_get_and_post(performer):
    assert client_for(performer).put(reverse("profile")).status_code == 405


# --------------------------------------------------------------------------- help


def test_help_puts_the_viewers_role_first_with_links(performer, manager):
    page = client_for(performer).get(reverse("help")).content.decode()
    assert page.index('id="help-performer"') < page.index('id="help-manager"')
    assert 'Performer <small class="muted">(you)</small>' in page
    assert f'href="{reverse("my_work")}"' in page
    assert f'href="{reverse("profile")}"' in page
    assert f'href="{reverse("help")}"' in page  # the nav's link

    boss = client_for(manager).get(reverse("help")).content.decode()
    assert boss.index('id="help-manager"') < boss.index('id="help-performer"')
    assert f'href="{reverse("approvals")}"' in boss


def test_help_for_an_admin_and_for_someone_without_a_role(db):
    admin = UserFactory(username="root", is_staff=True, is_superuser=True)
    page = client_for(admin).get(reverse("help")).content.decode()
    assert page.index('id="help-admin"') < page.index('id="help-manager"')
    assert reverse("admin:sla_slapolicy_changelist") in page
    nobody = client_for(UserFactory(username="newbie")).get(reverse("help")).content.decode()
    assert "You have no role yet" in nobody and "(you)" not in nobody


# --------------------------------------------------------------------------- query counts


def test_query_counts_of_the_profile_and_help(performer, team, django_assert_max_num_queries):
    """The profile: session, user, her zone, her preferences, roles, teams, managed teams
    and the bell (8); help: session, user, roles and the bell (4); saving: 15 (both
    writers, each row locked)."""
    client = client_for(performer)
    client.post(reverse("profile"), form(timezone="Asia/Tokyo", quiet_start="22:00",
                                         quiet_end="07:00"))  # fmt: skip
    with django_assert_max_num_queries(8):
        assert client.get(reverse("profile")).status_code == 200
    with django_assert_max_num_queries(4):
        assert client.get(reverse("help")).status_code == 200
    with django_assert_max_num_queries(15):
        assert client.post(reverse("profile"), form(timezone="Europe/Berlin")).status_code == 302
