"""Every API error as RFC 9457 problem details, and the limits: tokens (401, read scope),
throttling (429 + Retry-After), body size (413), parse and media type errors."""

import json
from datetime import timedelta

import pytest
from django.test import Client, override_settings
from django.utils import timezone

from tasks.api import tokens
from tasks.models import ApiToken, Task

pytestmark = pytest.mark.django_db

CARDS = "/api/v1/cards/"
PROBLEM_KEYS = {"type", "title", "status", "detail", "code", "errors"}


def assert_problem(answer, status, code=None):
    assert answer.status_code == status, answer.content
    assert answer["Content-Type"] == "application/problem+json"
    body = answer.json()
    assert set(body) == PROBLEM_KEYS
    assert body["status"] == status and body["type"] == "about:blank"
    assert body["detail"] and body["title"]
    if code:
        assert body["code"] == code
    return body


def test_validation_errors_list_each_field(api_client, dispatcher, request_type):
    answer = api_client(dispatcher).post(
        CARDS, json.dumps({"priority": "soon"}), content_type="application/json"
    )
    body = assert_problem(answer, 400, "invalid")
    assert {(e["attr"], e["code"]) for e in body["errors"]} == {
        ("title", "required"),
        ("request_type", "required"),
        ("priority", "invalid_choice"),
    }


def test_malformed_json_and_other_media_types_are_problems(api_client, dispatcher):
    client = api_client(dispatcher)
    assert_problem(
        client.post(CARDS, "{not json", content_type="application/json"), 400, "parse_error"
    )
    assert_problem(
        client.post(CARDS, "a=b", content_type="text/plain"), 415, "unsupported_media_type"
    )
    assert_problem(client.post(CARDS, "[1, 2]", content_type="application/json"), 400)
    assert_problem(client.get(CARDS, HTTP_ACCEPT="application/xml"), 406, "not_acceptable")


def test_django_level_errors_under_the_api_are_problems(api_client, dispatcher):
    client = api_client(dispatcher)
    assert_problem(client.get("/api/v1/nothing-here/"), 404, "not_found")
    assert_problem(client.get("/api/nothing/"), 404, "not_found")
    not_allowed = client.delete(CARDS)
    assert_problem(not_allowed, 405, "method_not_allowed")
    assert "POST" in not_allowed["Allow"]
    # Outside /api/ pages keep their HTML.
    assert "text/html" in Client().get("/no-such-page/")["Content-Type"]


@override_settings(API_MAX_BODY_BYTES=1000)
def test_a_body_over_the_cap_is_refused_with_413_before_it_is_read(
    api_client, dispatcher, request_type
):
    big = json.dumps({"title": "x", "request_type": request_type.pk, "description": "y" * 2000})
    assert_problem(api_client(dispatcher).post(CARDS, big, content_type="application/json"),
                   413, "request_too_large")  # fmt: skip
    assert not Task.objects.exists()


def test_a_description_longer_than_the_forms_allow_is_a_field_error(
    api_client, dispatcher, request_type
):
    body = {"title": "x", "request_type": request_type.pk, "description": "y" * 20_001}
    answer = api_client(dispatcher).post(CARDS, json.dumps(body), content_type="application/json")
    assert assert_problem(answer, 400)["errors"][0]["attr"] == "description"


def test_revoked_and_expired_tokens_are_401(dispatcher):
    revoked, secret = tokens.make_token(user=dispatcher, name="old", scope="write")
    tokens.revoke(token=revoked)
    expired, expired_secret = tokens.make_token(user=dispatcher, name="x", expires_in_days=1)
    ApiToken.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    for sent in (secret, expired_secret, "tra_made_up"):
        answer = Client(HTTP_AUTHORIZATION=f"Bearer {sent}").get(CARDS)
        assert_problem(answer, 401, "authentication_failed")
        assert answer["WWW-Authenticate"] == 'Bearer realm="api"'
    assert_problem(Client().get(CARDS), 401, "not_authenticated")


def test_a_read_token_reads_but_may_not_write(api_client, dispatcher, request_type):
    client = api_client(dispatcher, scope=ApiToken.Scope.READ)
    assert client.get(CARDS).status_code == 200
    body = {"title": "x", "request_type": request_type.pk}
    answer = client.post(CARDS, json.dumps(body), content_type="application/json")
    assert "read" in assert_problem(answer, 403, "permission_denied")["detail"]
    assert not Task.objects.exists()


@override_settings(API_THROTTLE_RATE="3/min")
def test_each_token_is_throttled_with_retry_after(api_client, dispatcher, performer):
    client = api_client(dispatcher)
    assert [client.get(CARDS).status_code for _ in range(3)] == [200, 200, 200]
    answer = client.get(CARDS)
    assert_problem(answer, 429, "throttled")
    assert 0 < int(answer["Retry-After"]) <= 60
    # Another token (even of the same user) has its own allowance.
    assert api_client(dispatcher).get(CARDS).status_code == 200
    assert api_client(performer).get(CARDS).status_code == 200
