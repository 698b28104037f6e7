"""The tokens page: my API tokens and calendar links, made with the secret shown once,
revoked by me (not by others), and by admins in the admin."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from tasks.api import tokens
from tasks.models import ApiToken
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

SCHEMA = "/api/v1/schema/?format=json"


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def shown_secret(page: str) -> str:
    return re.search(r'readonly value="([^"]+)"', page).group(1)


def test_the_page_needs_login_and_is_linked_from_the_profile(performer):
    assert Client().get(reverse("api_tokens")).status_code == 302
    assert reverse("api_tokens") in logged_in(performer).get(reverse("profile")).content.decode()


def test_a_token_made_here_is_shown_once_and_works(performer):
    client = logged_in(performer)
    made = client.post(reverse("api_tokens"), {"name": "CRM sync", "scope": "write",
                                               "expires_in_days": "30"})  # fmt: skip
    assert made.status_code == 200
    secret = shown_secret(made.content.decode())
    token = ApiToken.objects.get(user=performer)
    assert (token.name, token.scope) == ("CRM sync", "write")
    assert token.key_hash == tokens.digest(secret) and token.expires_at is not None
    assert Client(HTTP_AUTHORIZATION=f"Bearer {secret}").get(SCHEMA).status_code == 200
    again = client.get(reverse("api_tokens")).content.decode()
    assert secret not in again and "CRM sync" in again and token.prefix in again


def test_a_calendar_link_is_shown_as_its_address(performer):
    page = logged_in(performer).post(reverse("api_tokens"), {"name": "Phone", "scope": "calendar"})
    link = shown_secret(page.content.decode())
    assert link.startswith("http://testserver/calendar/tra_") and link.endswith(".ics")
    assert Client().get(link.removeprefix("http://testserver")).status_code == 200


@pytest.mark.parametrize(
    "form",
    [{"name": "", "scope": "read"}, {"name": "x" * 81, "scope": "read"},
     {"name": "ok", "scope": "admin"}, {"name": "ok", "scope": "read", "expires_in_days": "0"},
     {"name": "ok", "scope": "read", "expires_in_days": "99999"}, {"name": "  ", "scope": "read"}],
)  # fmt: skip
def test_a_bad_form_is_400_and_makes_nothing(performer, form):
    answer = logged_in(performer).post(reverse("api_tokens"), form)
    assert answer.status_code == 400
    assert 'role="alert"' in answer.content.decode()
    assert not ApiToken.objects.exists()


def test_i_revoke_my_token_and_it_stops_working(performer):
    token, secret = tokens.make_token(user=performer, name="Script")
    client = logged_in(performer)
    answer = client.post(reverse("revoke_api_token", args=[token.pk]), follow=True)
    assert "Revoked “Script”" in answer.content.decode()
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert Client(HTTP_AUTHORIZATION=f"Bearer {secret}").get(SCHEMA).status_code == 401
    assert "revoked" in client.get(reverse("api_tokens")).content.decode()


def test_nobody_revokes_anothers_token_here(performer, other_performer):
    token, _ = tokens.make_token(user=performer, name="Script")
    client = logged_in(other_performer)
    assert client.post(reverse("revoke_api_token", args=[token.pk])).status_code == 404
    assert "Script" not in client.get(reverse("api_tokens")).content.decode()
    token.refresh_from_db()
    assert token.revoked_at is None


def test_revoking_is_a_post(performer):
    token, _ = tokens.make_token(user=performer, name="Script")
    assert logged_in(performer).get(reverse("revoke_api_token", args=[token.pk])).status_code == 405


def test_the_page_takes_a_fixed_number_of_queries(performer, django_assert_max_num_queries):
    for n in range(20):
        tokens.make_token(user=performer, name=f"Token {n}")
    client = logged_in(performer)
    with django_assert_max_num_queries(5):  # session, user, the base page's, the tokens
        assert client.get(reverse("api_tokens")).status_code == 200


def test_an_admin_revokes_anyones_tokens(performer, other_performer):
    admin = UserFactory(username="root", is_staff=True, is_superuser=True)
    one, secret = tokens.make_token(user=performer, name="A")
    two, _ = tokens.make_token(user=other_performer, name="B", scope="calendar")
    client = logged_in(admin)
    assert client.get(reverse("admin:tasks_apitoken_changelist")).status_code == 200
    answer = client.post(
        reverse("admin:tasks_apitoken_changelist"),
        {"action": "revoke", "_selected_action": [one.pk, two.pk]},
        follow=True,
    )
    assert "Revoked 2 token(s)." in answer.content.decode()
    assert ApiToken.objects.filter(revoked_at=None).count() == 0
    assert Client(HTTP_AUTHORIZATION=f"Bearer {secret}").get(SCHEMA).status_code == 401
    assert client.get(reverse("admin:tasks_apitoken_add")).status_code == 403
