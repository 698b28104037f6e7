"""From the message to a card: the `make_card` shortcut opens a pre-filled modal, its
submission makes the card (once per message: its permalink is the reference) and the app
replies in the message's thread. Text is escaped per Slack's rules everywhere."""

from __future__ import annotations

import json
import time

import pytest
from django.utils import timezone

from sla.models import CardThread, SlackUser
from tasks.models import Priority, RelatedObject, Task
from tests.sla.conftest import H
from tests.sla.slack_fake import TEAM, command_body, interaction_body, post, signed_headers

pytestmark = pytest.mark.django_db

MESSAGE_TS = "1700000000.000100"
EVIL = "<!channel> deploy <http://evil|x> & co"


@pytest.fixture
def paula_on_slack(slack_api, performer):
    slack_api.users["U1"] = performer.email
    SlackUser.objects.create(
        team_id=TEAM, slack_id="U1", user=performer, email=performer.email,
        checked_at=timezone.now(),
    )  # fmt: skip
    return performer


def shortcut(text: str, *, user: str = "U1", thread_ts: str = "") -> dict:
    message = {"ts": MESSAGE_TS, "text": text, "user": "U2"}
    if thread_ts:
        message["thread_ts"] = thread_ts
    return {
        "type": "message_action", "callback_id": "make_card", "trigger_id": "trig-s",
        "team": {"id": TEAM}, "user": {"id": user}, "channel": {"id": "C1"},
        "message": message, "response_url": "",
    }  # fmt: skip


def submission(view: dict, *, user: str = "U1", **changes: str) -> dict:
    """The opened modal submitted, with its initial values (and `changes`) as the state."""
    values = {}
    for block in view["blocks"]:
        element = block["element"]
        action = element["action_id"]
        if element["type"] == "static_select":
            value = changes.get(action, (element.get("initial_option") or {}).get("value"))
            state = {
                "type": "static_select",
                "selected_option": {"value": value} if value else None,
            }
        else:
            state = {
                "type": "plain_text_input",
                "value": changes.get(action, element.get("initial_value")),
            }
        values[block["block_id"]] = {action: state}
    return {
        "type": "view_submission", "team": {"id": TEAM}, "user": {"id": user},
        "view": {"id": "V1", "callback_id": view["callback_id"],
                 "private_metadata": view["private_metadata"], "state": {"values": values}},
    }  # fmt: skip


def open_modal(client, slack_api, text: str, **kwargs) -> dict:
    assert post(client, interaction_body(shortcut(text, **kwargs))).status_code == 200
    return slack_api.of("views.open")[-1].args["view"]


def test_the_shortcut_opens_a_modal_pre_filled_from_the_message(
    client, slack_api, paula_on_slack, request_type
):
    view = open_modal(client, slack_api, "Send ACME the quote by Friday\nThey asked twice.")
    assert slack_api.of("views.open")[0].args["trigger_id"] == "trig-s"
    fields = {b["block_id"]: b["element"] for b in view["blocks"]}
    assert fields["title"]["initial_value"] == "Send ACME the quote by Friday"
    assert "They asked twice." in fields["description"]["initial_value"]
    assert fields["request_type"]["initial_option"]["value"] == str(request_type.pk)
    assert fields["priority"]["initial_option"]["value"] == Priority.NORMAL
    assert fields["owner"]["initial_option"]["value"] == str(paula_on_slack.pk)
    # a performer gives cards to herself or to dispatch, as on the web form
    assert [o["value"] for o in fields["owner"]["options"]] == ["none", str(paula_on_slack.pk)]
    assert json.loads(view["private_metadata"])["message_ts"] == MESSAGE_TS
    assert not Task.objects.exists()


def test_submitting_the_modal_makes_the_card_and_replies_in_the_thread(
    client, slack_api, paula_on_slack, request_type, make_policy, round_the_clock
):
    make_policy(round_the_clock, resolution=4 * H)
    client_object = RelatedObject.objects.create(kind=RelatedObject.Kind.CLIENT, name="ACME GmbH")
    view = open_modal(client, slack_api, "Send ACME the quote by Friday")
    body = interaction_body(submission(view, priority=Priority.HIGH, related="acme gmbh"))
    started = time.monotonic()
    response = post(client, body)
    assert time.monotonic() - started < 3
    assert response.status_code == 200 and response.content == b""  # the modal closes

    task = Task.objects.get()
    permalink = f"https://acme.slack.com/archives/C1/p{MESSAGE_TS}"
    assert task.title == "Send ACME the quote by Friday"
    assert (task.owner, task.priority, task.related_object) == (
        paula_on_slack, Priority.HIGH, client_object,
    )  # fmt: skip
    assert (task.source, task.external_ref, task.source_url) == ("slack", permalink, permalink)
    assert task.events.get(kind="created").actor == paula_on_slack
    thread = CardThread.objects.get(task=task)
    assert (thread.channel, thread.thread_ts) == ("C1", MESSAGE_TS)

    (reply,) = slack_api.of("chat.postMessage")
    due = timezone.localtime(task.timers.get(kind="resolution").due_at)
    assert reply.args["channel"] == "C1" and reply.args["thread_ts"] == MESSAGE_TS
    assert reply.args["text"].startswith("Tracked as <http")
    assert (
        f"|#{task.pk}> Send ACME the quote by Friday · Paula Performer · due " in reply.args["text"]
    )
    assert reply.args["text"].endswith(f"{due:%a %d %b %H:%M %Z} (business hours)")
    assert reply.args["metadata"]["event_payload"]["card_id"] == task.pk

    # The same submission delivered again: no second card, no second reply in the thread.
    assert post(client, body, signed_headers(body, at=time.time() + 1)).status_code == 200
    assert Task.objects.count() == 1
    assert len(slack_api.of("chat.postMessage")) == 1
    (told,) = slack_api.of("chat.postEphemeral")
    assert told.args["user"] == "U1" and "Already tracked as <" in told.args["text"]


def test_a_thread_the_app_may_not_reply_in_is_explained_to_the_sender(
    client, slack_api, paula_on_slack, request_type
):
    slack_api.errors["chat.postMessage@C1"] = "not_in_channel"
    view = open_modal(client, slack_api, "Quote")
    post(client, interaction_body(submission(view)))
    task = Task.objects.get()
    told = slack_api.of("chat.postMessage")[-1]
    assert told.args["channel"] == "U1"
    assert "Created <" in told.args["text"] and "invite me there" in told.args["text"]
    assert f"#{task.pk}>" in told.args["text"]


def test_a_card_from_a_reply_goes_to_the_reply_s_thread(
    client, slack_api, paula_on_slack, request_type
):
    view = open_modal(client, slack_api, "Also the invoice", thread_ts="1699999999.000001")
    post(client, interaction_body(submission(view)))
    assert CardThread.objects.get().thread_ts == "1699999999.000001"
    assert slack_api.of("chat.postMessage")[0].args["thread_ts"] == "1699999999.000001"


def test_a_modal_with_errors_is_answered_in_the_modal(
    client, slack_api, paula_on_slack, request_type
):
    view = open_modal(client, slack_api, "Quote")
    body = interaction_body(submission(view, title="  ", related="Nobody Inc"))
    answer = post(client, body).json()
    assert answer["response_action"] == "errors"
    assert set(answer["errors"]) == {"title", "related"}
    assert not Task.objects.exists()


def test_a_dispatcher_may_pick_any_owner(client, slack_api, dispatcher, performer, request_type):
    slack_api.users["U9"] = dispatcher.email
    SlackUser.objects.create(
        team_id=TEAM, slack_id="U9", user=dispatcher, email=dispatcher.email,
        checked_at=timezone.now(),
    )  # fmt: skip
    view = open_modal(client, slack_api, "Quote", user="U9")
    owners = {o["value"] for o in view["blocks"][3]["element"]["options"]}
    assert {str(performer.pk), str(dispatcher.pk), "none"} <= owners
    post(client, interaction_body(submission(view, user="U9", owner=str(performer.pk))))
    task = Task.objects.get()
    assert (task.owner, task.events.get(kind="created").actor) == (performer, dispatcher)


def test_a_dispatcher_may_not_give_the_card_to_another_teams_person(
    client, slack_api, dispatcher, outsider, request_type
):
    slack_api.users["U9"] = dispatcher.email
    SlackUser.objects.create(
        team_id=TEAM, slack_id="U9", user=dispatcher, email=dispatcher.email,
        checked_at=timezone.now(),
    )  # fmt: skip
    view = open_modal(client, slack_api, "Quote", user="U9")
    post(client, interaction_body(submission(view, user="U9", owner=str(outsider.pk))))
    assert not Task.objects.exists()
    (told,) = slack_api.of("chat.postEphemeral")
    assert told.args["text"].startswith("No card made: Otto Outsider is not in Sales")


def test_a_performer_may_not_give_the_card_to_someone_else(
    client, slack_api, paula_on_slack, other_performer, request_type
):
    view = open_modal(client, slack_api, "Quote")
    post(client, interaction_body(submission(view, owner=str(other_performer.pk))))
    assert not Task.objects.exists()
    (told,) = slack_api.of("chat.postEphemeral")
    assert "only dispatchers and managers assign cards to others" in told.args["text"]


def test_an_unknown_slack_user_gets_no_card_from_the_modal(
    client, slack_api, performer, request_type
):
    slack_api.users["U5"] = "nobody@elsewhere.example"
    view = open_modal(client, slack_api, "Quote", user="U5")
    assert view["blocks"][3]["element"]["initial_option"]["value"] == "none"
    post(client, interaction_body(submission(view, user="U5")))
    assert not Task.objects.exists()
    (told,) = slack_api.of("chat.postEphemeral")
    assert told.args["user"] == "U5" and told.args["text"].startswith("Sorry")


def test_titles_that_look_like_mentions_and_links_are_shown_literally(
    client, slack_api, paula_on_slack, request_type
):
    view = open_modal(client, slack_api, EVIL)
    post(client, interaction_body(submission(view)))
    task = Task.objects.get()
    assert task.title == EVIL
    reply = slack_api.of("chat.postMessage")[0].args["text"]
    assert "&lt;!channel&gt; deploy &lt;http://evil|x&gt; &amp; co" in reply
    assert "<!channel>" not in reply and "<http://evil" not in reply

    post(
        client, command_body(f"new {EVIL}", trigger="t-evil", response_url=slack_api.response_url())
    )
    answer = slack_api.of("respond")[0].args["text"]
    assert "&lt;!channel&gt; deploy &lt;http://evil|x&gt; &amp; co" in answer
    assert "<!channel>" not in answer and "<http://evil" not in answer

    post(client, command_body("mine", trigger="t-mine", response_url=slack_api.response_url(2)))
    listed = slack_api.of("respond")[1].args["text"]
    assert "<!channel>" not in listed and listed.count("&lt;!channel&gt;") == 2
