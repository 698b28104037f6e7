"""The Slack app's endpoint: signed requests only, users mapped by email, `/turnaround`.

Requests are signed with the test secret and posted to the real endpoint; the Web API is a
local fake that records every call (tests/sla/slack_fake.py). Jobs run in-process (the test
settings' sync cluster), so the answer a job sends is recorded before the request returns.
"""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from sla.models import Notification, SlackRequest, SlackUser
from tasks import actions
from tasks.models import Priority, Status, Task
from tests.sla.conftest import H
from tests.sla.slack_fake import (
    TEAM,
    URL,
    command_body,
    interaction_body,
    post,
    signed_headers,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def paula_on_slack(slack_api, performer):
    slack_api.users["U1"] = performer.email
    return performer


def nothing_written() -> bool:
    return not (
        SlackRequest.objects.exists()
        or SlackUser.objects.exists()
        or Task.objects.exists()
        or Notification.objects.exists()
    )


# --------------------------------------------------------------------------- verification


def test_a_request_with_a_bad_signature_is_refused_and_nothing_is_written(
    client, slack_api, paula_on_slack, request_type
):
    body = command_body("new Follow up with ACME", response_url=slack_api.response_url())
    forged = signed_headers(body, secret="not-the-secret")
    response = post(client, body, forged)
    assert response.status_code == 401
    assert nothing_written()
    assert slack_api.calls == []


def test_a_request_signed_more_than_five_minutes_ago_is_refused(
    client, slack_api, paula_on_slack, request_type
):
    body = command_body("new Follow up with ACME", response_url=slack_api.response_url())
    response = post(client, body, signed_headers(body, at=time.time() - 301))
    assert response.status_code == 401
    assert nothing_written()
    assert slack_api.calls == []


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Slack-Signature": "v0=abc"},
        {"X-Slack-Request-Timestamp": "soon", "X-Slack-Signature": "v0=abc"},
    ],
    ids=["unsigned", "no-timestamp", "bad-timestamp"],
)  # fmt: skip
def test_an_unsigned_request_is_refused(client, slack_api, paula_on_slack, request_type, headers):
    body = command_body("new Follow up with ACME", response_url=slack_api.response_url())
    assert post(client, body, headers).status_code == 401
    assert nothing_written()


def test_a_request_from_another_workspace_is_refused_with_403(
    client, slack_api, paula_on_slack, request_type
):
    body = command_body("new Follow up", team="T0OTHER", response_url=slack_api.response_url())
    assert post(client, body).status_code == 403
    assert nothing_written()
    assert slack_api.calls == []


def test_a_replayed_request_is_refused(client, slack_api, paula_on_slack, request_type):
    body = command_body("new Follow up with ACME", response_url=slack_api.response_url())
    headers = signed_headers(body)
    assert post(client, body, headers).status_code == 200
    assert post(client, body, headers).status_code == 401
    assert Task.objects.count() == 1
    assert len(slack_api.of("respond")) == 1


def test_the_url_verification_challenge_is_answered(client, slack_api):
    body = json.dumps({"type": "url_verification", "challenge": "c-123"}).encode()
    response = post(client, body, content_type="application/json")
    assert response.status_code == 200
    assert response.json() == {"challenge": "c-123"}


@pytest.mark.parametrize(
    ("body", "content_type"),
    [(b"{not json", "application/json"), (b"payload=%7Bnope", "application/x-www-form-urlencoded"),
     (b"hello=world", "application/x-www-form-urlencoded"), (b"[1, 2]", "application/json")],
    ids=["bad-json", "bad-payload", "neither", "json-list"],
)  # fmt: skip
def test_a_signed_body_that_is_not_slack_s_is_a_400(client, slack_api, body, content_type):
    assert post(client, body, content_type=content_type).status_code == 400
    assert nothing_written()


@pytest.mark.parametrize(
    "payload",
    [
        {"type": "block_actions", "team": {"id": TEAM}, "actions": {"not": "a list"}},
        {"type": "block_actions", "team": {"id": TEAM}, "actions": ["card_take"]},
        {"type": "view_submission", "team": {"id": TEAM}, "view": "nope"},
        {"type": "message_action", "callback_id": "make_card", "team": {"id": TEAM},
         "message": "text"},
    ],
    ids=["actions-dict", "actions-strings", "view-string", "message-string"],
)  # fmt: skip
def test_a_signed_payload_of_the_wrong_shape_is_a_400(client, slack_api, payload):
    assert post(client, interaction_body(payload)).status_code == 400
    assert not Task.objects.exists()


def test_the_endpoint_takes_only_post(client, slack_api):
    assert client.get(URL).status_code == 405


def test_slack_s_certificate_check_is_answered_and_writes_nothing(client, slack_api):
    assert post(client, b"ssl_check=1&token=x", {}).status_code == 200
    assert nothing_written()


def test_a_multipart_body_is_refused_not_a_500(client, slack_api):
    response = client.post(URL, {"command": "/turnaround", "text": "help"})  # multipart
    assert response.status_code == 401
    assert nothing_written()


# --------------------------------------------------------------------------- /turnaround new


def test_turnaround_new_makes_exactly_that_card_once_and_answers_within_3_seconds(
    client, slack_api, paula_on_slack, request_type
):
    body = command_body("new Follow up with ACME", response_url=slack_api.response_url())
    started = time.monotonic()
    response = post(client, body)
    took = time.monotonic() - started
    assert response.status_code == 200
    assert took < 3

    task = Task.objects.get()
    assert task.title == "Follow up with ACME"
    assert task.owner == paula_on_slack  # a performer owns what she makes
    assert task.events.get(kind="created").actor == paula_on_slack
    assert task.request_type == request_type
    assert task.priority == Priority.NORMAL
    assert task.source == "slack"
    (answer,) = slack_api.of("respond")
    assert answer.args["response_type"] == "ephemeral"
    assert f"/cards/{task.pk}/|#{task.pk}>" in answer.args["text"]
    assert "Follow up with ACME" in answer.args["text"]
    assert "Paula Performer" in answer.args["text"]

    # Slack retries the same command (a new signature, X-Slack-Retry-Num): no second card.
    retry = signed_headers(body, at=time.time() + 1) | {"X-Slack-Retry-Num": "1"}
    assert post(client, body, retry).status_code == 200
    assert Task.objects.count() == 1
    assert f"#{task.pk}>" in slack_api.of("respond")[1].args["text"]


def test_the_answer_gives_the_deadline_in_business_hours(
    client, slack_api, paula_on_slack, request_type, make_policy, round_the_clock
):
    make_policy(round_the_clock, resolution=4 * H)
    post(client, command_body("new Quote for desks", response_url=slack_api.response_url()))
    task = Task.objects.get()
    (answer,) = slack_api.of("respond")
    due = timezone.localtime(task.timers.get(kind="resolution").due_at)
    assert f"due {due:%a %d %b %H:%M}" in answer.args["text"]
    assert "(business hours)" in answer.args["text"]


def test_someone_who_may_not_own_cards_makes_one_for_dispatch(
    client, slack_api, dispatcher, request_type
):
    slack_api.users["U9"] = dispatcher.email
    post(
        client,
        command_body("new Call back Müller", user="U9", response_url=slack_api.response_url()),
    )
    task = Task.objects.get()
    assert task.events.get(kind="created").actor == dispatcher
    # A dispatcher holds work_task too (tasks.roles): she owns it; an observer may not create.
    assert task.owner in (dispatcher, None)


def test_a_card_of_another_team_than_the_senders_goes_to_dispatch(
    client, slack_api, outsider, request_type
):
    slack_api.users["U8"] = outsider.email
    post(client, command_body("new Count desks", user="U8", response_url=slack_api.response_url()))
    task = Task.objects.get()  # a Sales card: Otto is in Warehouse, so it is not his
    assert (task.team.name, task.owner, task.status) == ("Sales", None, "new")


def test_an_observer_may_not_make_cards(client, slack_api, observer, request_type):
    slack_api.users["U7"] = observer.email
    post(client, command_body("new Anything", user="U7", response_url=slack_api.response_url()))
    assert not Task.objects.exists()
    assert "may not create cards" in slack_api.of("respond")[0].args["text"]


def test_an_unknown_slack_user_is_answered_politely_and_nothing_is_made(
    client, slack_api, performer, request_type
):
    slack_api.users["U5"] = "stranger@elsewhere.example"
    post(client, command_body("new Follow up", user="U5", response_url=slack_api.response_url()))
    assert not Task.objects.exists()
    (answer,) = slack_api.of("respond")
    assert answer.args["response_type"] == "ephemeral"
    assert answer.args["text"].startswith("Sorry, I could not find a Turnaround account")
    assert "stranger@elsewhere.example" in answer.args["text"]
    assert SlackUser.objects.get(slack_id="U5").user is None


def test_the_mapping_is_cached_users_info_is_asked_once_a_day(
    client, slack_api, paula_on_slack, request_type
):
    for n in range(3):
        post(
            client,
            command_body(f"new Card {n}", trigger=f"t{n}", response_url=slack_api.response_url()),
        )
    assert Task.objects.count() == 3
    assert len(slack_api.of("users.info")) == 1
    assert SlackUser.objects.get(slack_id="U1").user == paula_on_slack


def test_new_without_a_title_asks_for_one(client, slack_api, paula_on_slack, request_type):
    response = post(client, command_body("new   "))
    assert "Give the card a title" in response.json()["text"]
    assert not Task.objects.exists()


def test_help_is_answered_at_once(client, slack_api, django_assert_max_num_queries):
    with django_assert_max_num_queries(4):  # the replay guard's insert (in a savepoint)
        response = post(client, command_body("help"))
    assert response.json()["response_type"] == "ephemeral"
    assert "/turnaround new" in response.json()["text"]
    assert slack_api.calls == []


# --------------------------------------------------------------------------- /turnaround mine


def test_mine_lists_my_open_cards_most_urgent_first(
    client, slack_api, paula_on_slack, other_performer, dispatcher, request_type,
    make_policy, round_the_clock,
):  # fmt: skip
    make_policy(round_the_clock, resolution=4 * H)
    now = timezone.now()

    def card(title, *, owner=paula_on_slack, at=now):
        return actions.create_task(
            title=title, request_type=request_type, priority=Priority.NORMAL,
            actor=dispatcher, owner=owner, at=at,
        )  # fmt: skip

    later = card("Due later")
    sooner = card("Due sooner", at=now - 3 * H)
    card("Pete's card", owner=other_performer)
    done = card("Finished")
    actions.change_status(task=done, to=Status.IN_PROGRESS, actor=paula_on_slack)
    actions.change_status(task=done, to=Status.DONE, actor=paula_on_slack)

    post(client, command_body("mine", response_url=slack_api.response_url()))
    text = slack_api.of("respond")[0].args["text"]
    assert text.index("Due sooner") < text.index("Due later")
    assert "Pete" not in text and "Finished" not in text
    assert f"#{sooner.pk}>" in text and f"#{later.pk}>" in text


def test_mine_reads_a_fixed_number_of_queries_whatever_the_cards(
    client, slack_api, paula_on_slack, dispatcher, request_type, make_policy, round_the_clock,
    django_assert_max_num_queries,
):  # fmt: skip
    make_policy(round_the_clock, resolution=4 * H)
    for n in range(12):
        actions.create_task(
            title=f"Card {n}", request_type=request_type, priority=Priority.NORMAL,
            actor=dispatcher, owner=paula_on_slack,
        )  # fmt: skip
    post(client, command_body("help"))  # the Slack user is not known yet: look up first
    post(client, command_body("mine", trigger="t0", response_url=slack_api.response_url()))
    # guard insert, job row, forgetting old signatures, the user, the cards (+ savepoints)
    with django_assert_max_num_queries(12):
        post(client, command_body("mine", trigger="t1", response_url=slack_api.response_url()))
    text = slack_api.of("respond")[-1].args["text"]
    assert text.count("• ") == 10 and "…and more on" in text


def test_mine_with_no_open_cards(client, slack_api, paula_on_slack):
    post(client, command_body("mine", response_url=slack_api.response_url()))
    assert "no open cards" in slack_api.of("respond")[0].args["text"]


def test_an_unknown_word_gets_the_help(client, slack_api):
    response = post(client, command_body("frobnicate"))
    assert "did not understand" in response.json()["text"]


def test_bare_turnaround_opens_the_modal(client, slack_api, paula_on_slack, request_type):
    assert post(client, command_body("", trigger="trig-9")).status_code == 200
    (opened,) = slack_api.of("views.open")
    assert opened.args["trigger_id"] == "trig-9"
    assert opened.args["view"]["callback_id"] == "make_card"
    assert not Task.objects.exists()


def test_interactions_from_another_workspace_are_refused(client, slack_api):
    body = interaction_body({"type": "block_actions", "team": {"id": "T0OTHER"}, "actions": []})
    assert post(client, body).status_code == 403
    assert nothing_written()


def test_old_replay_guard_rows_are_forgotten(client, slack_api, paula_on_slack, request_type):
    SlackRequest.objects.create(signature="v0=old", received_at=timezone.now() - timedelta(hours=1))
    post(client, command_body("mine", response_url=slack_api.response_url()))
    assert not SlackRequest.objects.filter(signature="v0=old").exists()
