"""`Idempotency-Key` on POSTs under /api/v1/: a retry gets the first answer, another body
with the key is refused, concurrent duplicates make one card, old keys are forgotten."""

import json
import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from tasks.api import idempotency
from tasks.models import IdempotencyKey, Task

pytestmark = pytest.mark.django_db

CARDS = "/api/v1/cards/"


def post(client, body, key):
    return client.post(
        CARDS, json.dumps(body), content_type="application/json", HTTP_IDEMPOTENCY_KEY=key
    )


def test_a_retry_with_the_same_key_and_body_gets_the_first_answer(
    api_client, dispatcher, request_type
):
    client = api_client(dispatcher)
    body = {"title": "Call ACME", "request_type": request_type.pk}
    first = post(client, body, "retry-1")
    again = post(client, body, "retry-1")
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert (again["ETag"], again["Location"]) == (first["ETag"], first["Location"])
    assert again["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first
    assert Task.objects.count() == 1
    # A new key is a new request.
    assert post(client, body, "retry-2").status_code == 201
    assert Task.objects.count() == 2


def test_the_same_key_with_another_body_is_refused_with_422(api_client, dispatcher, request_type):
    client = api_client(dispatcher)
    assert post(client, {"title": "One", "request_type": request_type.pk}, "k").status_code == 201
    answer = post(client, {"title": "Two", "request_type": request_type.pk}, "k")
    assert answer.status_code == 422
    assert answer["Content-Type"] == "application/problem+json"
    assert answer.json()["code"] == "idempotency_key_reused"
    assert list(Task.objects.values_list("title", flat=True)) == ["One"]


def test_keys_belong_to_their_token(api_client, dispatcher, request_type):
    body = {"title": "Same", "request_type": request_type.pk}
    assert post(api_client(dispatcher), body, "k").status_code == 201
    assert post(api_client(dispatcher), body, "k").status_code == 201  # another token
    assert Task.objects.count() == 2


def test_a_refusal_that_may_change_is_not_kept(api_client, observer, dispatcher, request_type):
    body = {"title": "x", "request_type": request_type.pk}
    assert post(api_client(observer), body, "k").status_code == 403
    assert not IdempotencyKey.objects.exists()
    # A bad body is kept: the same body with the key gets the same 400.
    client = api_client(dispatcher)
    bad = post(client, {"title": ""}, "bad")
    assert bad.status_code == 400
    assert post(client, {"title": ""}, "bad").json() == bad.json()


def test_a_bad_key_is_a_problem(api_client, dispatcher, request_type):
    answer = post(
        api_client(dispatcher), {"title": "x", "request_type": request_type.pk}, "k" * 201
    )
    assert answer.status_code == 400 and answer.json()["code"] == "invalid_idempotency_key"
    assert not Task.objects.exists()


def test_without_credentials_the_key_is_not_stored(request_type):
    answer = post(Client(), {"title": "x", "request_type": request_type.pk}, "k")
    assert answer.status_code == 401
    assert not IdempotencyKey.objects.exists()


def test_keys_older_than_a_day_are_forgotten(api_client, dispatcher, request_type):
    client = api_client(dispatcher)
    post(client, {"title": "Old", "request_type": request_type.pk}, "old")
    post(client, {"title": "New", "request_type": request_type.pk}, "new")
    IdempotencyKey.objects.filter(key__endswith=":old").update(
        created_at=timezone.now() - timedelta(hours=25)
    )
    assert idempotency.forget_old_keys() == 1
    assert [k.split(":", 1)[1] for k in IdempotencyKey.objects.values_list("key", flat=True)] == [
        "new"]  # fmt: skip


@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicates_make_one_card(api_client, dispatcher, request_type):
    client = api_client(dispatcher)
    body = {"title": "Twice at once", "request_type": request_type.pk}
    start = threading.Barrier(8)
    answers = []

    def send():
        try:
            start.wait()
            answers.append(post(client, body, "race"))
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert Task.objects.count() == 1
    statuses = sorted(a.status_code for a in answers)
    assert statuses.count(201) >= 1 and set(statuses) <= {201, 409}
    card = Task.objects.get()
    assert all(a.json()["id"] == card.pk for a in answers if a.status_code == 201)
    assert all(a["Retry-After"] == "1" for a in answers if a.status_code == 409)
