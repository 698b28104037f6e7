"""Personal API tokens: Bearer authentication, scope, expiry, revocation, the command."""

import json
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from tasks.api import tokens
from tasks.models import ApiToken

pytestmark = pytest.mark.django_db

SCHEMA = "/api/v1/schema/?format=json"


def test_a_token_is_stored_only_as_its_hash(performer):
    token, secret = tokens.make_token(user=performer, name="CRM")
    assert secret.startswith("tra_") and len(secret) > 40
    assert token.key_hash == tokens.digest(secret) != secret
    assert secret.startswith(token.prefix)
    assert tokens.find_active(secret) == token
    assert tokens.find_active(secret + "x") is None


def test_without_a_token_the_api_answers_401_with_the_scheme(db):
    answer = Client().get(SCHEMA)
    assert answer.status_code == 401
    assert answer["WWW-Authenticate"] == 'Bearer realm="api"'


def test_a_valid_token_reads_the_schema_and_notes_its_use(api_client, performer):
    client = api_client(performer, scope=ApiToken.Scope.READ)
    answer = client.get(SCHEMA)
    assert answer.status_code == 200
    assert b"Turnaround API" in answer.content
    client.token.refresh_from_db()
    assert client.token.last_used_at is not None


@pytest.mark.parametrize(
    "header",
    ["Bearer", "Bearer a b", "Bearer tra_unknown", "Bearer \xff"],
)
def test_bad_credentials_get_401(db, header):
    answer = Client(HTTP_AUTHORIZATION=header).get(SCHEMA)
    assert answer.status_code == 401
    assert "detail" in json.loads(answer.content)


def test_a_revoked_token_gets_401(api_client, performer):
    client = api_client(performer)
    assert tokens.revoke(token=client.token)
    assert not tokens.revoke(token=client.token)
    answer = client.get(SCHEMA)
    assert answer.status_code == 401
    assert "revoked" in json.loads(answer.content)["detail"]


def test_an_expired_token_gets_401(api_client, performer):
    client = api_client(performer, expires_in_days=1)
    ApiToken.objects.filter(pk=client.token.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert client.get(SCHEMA).status_code == 401


def test_the_token_of_a_deactivated_user_gets_401(api_client, performer):
    client = api_client(performer)
    performer.is_active = False
    performer.save()
    assert client.get(SCHEMA).status_code == 401


def test_a_calendar_token_is_no_api_token(api_client, performer):
    assert api_client(performer, scope=ApiToken.Scope.CALENDAR).get(SCHEMA).status_code == 401


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"name": " "}, "name"),
        ({"name": "x" * 81}, "name"),
        ({"name": "ok", "scope": "admin"}, "Scope"),
        ({"name": "ok", "expires_in_days": 0}, "Expiry"),
    ],
)
def test_bad_token_options_are_refused(performer, options, message):
    with pytest.raises(ValueError, match=message):
        tokens.make_token(user=performer, **options)
    assert not ApiToken.objects.exists()


def test_the_command_prints_the_token_alone_on_its_last_line(performer, capsys):
    call_command("create_api_token", performer.username, "--scope", "write", "--expires", "30")
    secret = capsys.readouterr().out.strip().splitlines()[-1]
    token = tokens.find_active(secret)
    assert token.user == performer
    assert token.scope == "write"
    assert token.name == "Command line"
    assert timedelta(days=29) < token.expires_at - timezone.now() <= timedelta(days=30)


def test_the_command_refuses_an_unknown_user(db):
    with pytest.raises(CommandError, match="No active user"):
        call_command("create_api_token", "nobody")


def test_the_docs_page_needs_a_login_and_is_served_without_a_cdn(client, performer):
    assert client.get("/api/v1/docs/").status_code == 302
    client.force_login(performer)
    page = client.get("/api/v1/docs/")
    assert page.status_code == 200
    assert b"cdn" not in page.content.lower()
