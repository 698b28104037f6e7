"""A person's own account: profile, password change, password reset by email (not for
staff), each refusal a 400 with its message, every page but the reset ones behind login."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client
from django.urls import reverse

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def paula(performer, team):
    performer.email = "paula@example.com"
    performer.set_password("old-secret-42")
    performer.save()
    return performer


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_profile_needs_login_and_shows_roles_and_teams(paula):
    assert Client().get(reverse("profile")).status_code == 302
    page = logged_in(paula).get(reverse("profile")).content.decode()
    assert "performer" in page and "Sales" in page and "paula@example.com" in page
    assert reverse("password_change") in page


def test_changing_the_password_needs_the_old_one(paula):
    client = logged_in(paula)
    refused = client.post(
        reverse("password_change"),
        {
            "old_password": "wrong",
            "new_password1": "n3w-Secret-99",
            "new_password2": "n3w-Secret-99",
        },
    )
    assert refused.status_code == 400
    assert "old password was entered incorrectly" in refused.content.decode()
    done = client.post(
        reverse("password_change"),
        {"old_password": "old-secret-42", "new_password1": "n3w-Secret-99",
         "new_password2": "n3w-Secret-99"},
    )  # fmt: skip
    assert done.status_code == 302 and done.url == reverse("password_change_done")
    paula.refresh_from_db()
    assert paula.check_password("n3w-Secret-99")
    assert client.get(reverse("profile")).status_code == 200  # still logged in


def test_a_forgotten_password_is_reset_through_the_emailed_link(paula):
    client = Client()
    assert client.get(reverse("login")).content.decode().count(reverse("password_reset")) == 1
    sent = client.post(reverse("password_reset"), {"email": "PAULA@example.com"})
    assert sent.status_code == 302 and sent.url == reverse("password_reset_done")
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["paula@example.com"]
    link = re.search(r"https?://[^/]+(/password-reset/\S+)", mail.outbox[0].body).group(1)
    form_url = client.get(link).url  # Django swaps the token for a session marker
    weak = client.post(form_url, {"new_password1": "123", "new_password2": "123"})
    assert weak.status_code == 400 and "too short" in weak.content.decode()
    done = client.post(form_url, {"new_password1": "Br4nd-new-pw", "new_password2": "Br4nd-new-pw"})
    assert done.url == reverse("password_reset_complete")
    paula.refresh_from_db()
    assert paula.check_password("Br4nd-new-pw")
    assert client.get(link).status_code == 200  # used: the page says the link is spent
    assert "has been used already" in client.get(link).content.decode()


def test_staff_and_unknown_addresses_get_the_same_answer_and_no_mail(paula):
    UserFactory(username="root", email="root@example.com", is_staff=True)
    client = Client()
    for email in ("root@example.com", "nobody@example.com"):
        answer = client.post(reverse("password_reset"), {"email": email})
        assert answer.status_code == 302 and answer.url == reverse("password_reset_done")
    assert mail.outbox == []
    bad = client.post(reverse("password_reset"), {"email": "not an address"})
    assert bad.status_code == 400 and "valid email" in bad.content.decode()
    assert get_user_model().objects.get(username="paula").check_password("old-secret-42")


def _plain_routes(patterns, prefix=""):
    """(name, path) of every named route without parameters, outside the admin."""
    for p in patterns:
        route = prefix + str(p.pattern)
        if hasattr(p, "url_patterns"):
            if getattr(p, "namespace", None) != "admin":
                yield from _plain_routes(p.url_patterns, route)
        elif p.name and "<" not in route:
            yield p.name, "/" + route.lstrip("^").rstrip("$")


# Pages anyone may open: logging in, the health probe, and resetting a forgotten password.
PUBLIC = {"login", "health", "password_reset", "password_reset_done", "password_reset_complete"}


def test_every_page_but_the_public_ones_sends_an_anonymous_visitor_to_log_in(db):
    from django.urls import get_resolver

    routes = dict(_plain_routes(get_resolver().url_patterns))
    assert {"profile", "password_change", "home", "at_risk"} <= routes.keys()
    client = Client()
    for name, url in routes.items():
        response = client.get(url)
        if name in PUBLIC:
            assert response.status_code in (200, 503), name  # health may say unhealthy
        elif name == "slack_events":
            # Slack's endpoint takes only POSTs signed with the app's secret (docs/slack.md).
            assert response.status_code == 405, name
            assert client.post(url).status_code == 401, name
        elif url.startswith("/api/") and name != "docs":
            # Machine endpoints ask for credentials instead of sending to the login page.
            assert response.status_code == 401, name
            assert response["WWW-Authenticate"].startswith("Bearer"), name
        else:
            assert response.status_code == 302, name
            assert response["Location"].startswith(reverse("login")), name
