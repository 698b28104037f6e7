"""Login throttling (django-axes) and the demo-login hint of the login page."""

from __future__ import annotations

import pytest
from axes.models import AccessAttempt
from django.test import override_settings
from django.urls import reverse

from config.login import client_ip
from tests.factories import UserFactory

PASSWORD = "right horse battery"


@pytest.fixture
def alice(db):
    user = UserFactory(username="alice")
    user.set_password(PASSWORD)
    user.save()
    return user


def login(client, username: str, password: str, ip: str = "10.0.0.1"):
    return client.post(
        reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=ip
    )


def fail(client, username: str, times: int, ip: str = "10.0.0.1") -> None:
    for _ in range(times):
        response = login(client, username, "wrong", ip)
        assert response.status_code in (200, 429)


@pytest.mark.django_db
def test_wrong_passwords_below_the_limit_still_let_the_right_one_in(client, alice, settings):
    fail(client, "alice", settings.AXES_FAILURE_LIMIT - 1)
    response = login(client, "alice", PASSWORD)
    assert response.status_code == 302
    # A success resets the count: the limit starts again.
    assert not AccessAttempt.objects.filter(username="alice").exists()


@pytest.mark.django_db
def test_after_the_limit_the_right_password_is_refused_with_our_page(client, alice, settings):
    fail(client, "alice", settings.AXES_FAILURE_LIMIT)

    response = login(client, "alice", PASSWORD)

    assert response.status_code == 429
    assert "registration/login.html" in [t.name for t in response.templates]
    page = response.content.decode()
    assert 'id="lockout"' in page
    assert "Too many failed logins" in page
    assert "15 minutes" in page
    assert "_auth_user_id" not in client.session
    # The home page still asks for a login.
    assert client.get(reverse("home")).status_code == 302


@pytest.mark.django_db
def test_the_lock_lasts_the_cool_off_then_lifts(client, alice, settings):
    import time_machine
    from django.utils import timezone

    start = timezone.now()
    with time_machine.travel(start, tick=False):
        fail(client, "alice", settings.AXES_FAILURE_LIMIT)
        assert login(client, "alice", PASSWORD).status_code == 429
    with time_machine.travel(start + settings.AXES_COOLOFF_TIME * 0.9, tick=False):
        assert login(client, "alice", PASSWORD).status_code == 429
    with time_machine.travel(start + settings.AXES_COOLOFF_TIME * 2.5, tick=False):
        assert login(client, "alice", PASSWORD).status_code == 302


@pytest.mark.django_db
def test_the_lock_is_per_username_and_address(client, alice, settings):
    bob = UserFactory(username="bob")
    bob.set_password(PASSWORD)
    bob.save()
    fail(client, "alice", settings.AXES_FAILURE_LIMIT + 2)

    assert login(client, "bob", PASSWORD).status_code == 302
    client.logout()
    # The same username from another address is not locked by someone else's guesses.
    assert login(client, "alice", PASSWORD, ip="10.0.0.2").status_code == 302


@pytest.mark.django_db
def test_an_admin_unlocks_by_deleting_the_attempt(client, alice, settings):
    fail(client, "alice", settings.AXES_FAILURE_LIMIT)
    assert login(client, "alice", PASSWORD).status_code == 429
    (attempt,) = AccessAttempt.objects.filter(username="alice")

    admin = UserFactory(username="root", is_staff=True, is_superuser=True)
    client.force_login(admin)
    listing = client.get(reverse("admin:axes_accessattempt_changelist"))
    assert listing.status_code == 200
    assert "alice" in listing.content.decode()
    response = client.post(
        reverse("admin:axes_accessattempt_changelist"),
        {"action": "delete_selected", "_selected_action": [attempt.pk], "post": "yes"},
    )
    assert response.status_code == 302
    assert not AccessAttempt.objects.exists()
    client.logout()

    assert login(client, "alice", PASSWORD).status_code == 302


@pytest.mark.django_db
def test_the_client_address_is_remote_addr_unless_proxies_are_trusted(rf, settings):
    request = rf.get("/", REMOTE_ADDR="10.0.0.9", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.7")
    settings.TRUSTED_PROXY_COUNT = 0
    assert client_ip(request) == "10.0.0.9"
    settings.TRUSTED_PROXY_COUNT = 1
    # The left entry is whatever the client sent; the proxy appended the real one.
    assert client_ip(request) == "203.0.113.7"
    settings.TRUSTED_PROXY_COUNT = 3
    assert client_ip(request) == "10.0.0.9"


@pytest.mark.django_db
@override_settings(DEMO_LOGINS=False)
def test_production_login_page_shows_no_demo_logins(client):
    page = client.get(reverse("login")).content.decode()
    assert "Demo logins" not in page
    assert "demo-logins" not in page


@pytest.mark.django_db
@override_settings(DEMO_LOGINS=True)
def test_the_demo_database_login_page_shows_the_demo_logins(client):
    page = client.get(reverse("login")).content.decode()
    assert 'id="demo-logins"' in page
    assert "password <code>demo</code>" in page


def test_demo_logins_are_off_unless_the_environment_says_so():
    from django.conf import settings

    # The test settings (like production) leave DEMO_LOGINS unset.
    assert settings.DEMO_LOGINS is False
