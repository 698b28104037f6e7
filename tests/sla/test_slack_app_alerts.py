"""Alerts people can act on: thresholds and decisions asked reach the owner (or approver) as
a direct message with buttons, through the outbox (exactly once); a click acts as the person
who clicked, with their permissions; a card made from a message keeps its thread informed."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import call_command
from django.utils import timezone

from sla import escalation
from sla.models import CardThread, Channel, DeliveryHold, Notification, SlackUser
from tasks import actions, profiles
from tasks.models import BlockingReason, Status
from tests.sla.conftest import MON, Clock, H, M, Trigger, berlin, scan
from tests.sla.slack_fake import TEAM, interaction_body, post

pytestmark = pytest.mark.django_db

T0 = berlin(*MON, 10)


def on_slack(slack_api, user, slack_id: str):
    slack_api.users[slack_id] = user.email
    SlackUser.objects.create(
        team_id=TEAM, slack_id=slack_id, user=user, email=user.email, checked_at=timezone.now()
    )
    return user


@pytest.fixture
def paula(slack_api, performer):
    return on_slack(slack_api, performer, "U1")


@pytest.fixture
def card(paula, make_policy, round_the_clock, new_card):
    make_policy(round_the_clock, resolution=H)
    return new_card(T0, title="Quote for <!channel> & co")


def dms(slack_api, to: str = "U1") -> list:
    return [c for c in slack_api.of("chat.postMessage") if c.args["channel"] == to]


def click(slack_api, dm, action: dict, *, user: str = "U1") -> dict:
    return {
        "type": "block_actions", "team": {"id": TEAM}, "user": {"id": user},
        "trigger_id": "trig-c", "actions": [action],
        "container": {"type": "message", "channel_id": "D1", "message_ts": "1700000001.0001"},
        "channel": {"id": "D1"}, "response_url": slack_api.response_url(),
        "message": {"ts": "1700000001.0001", "text": dm.args["text"], "blocks": dm.args["blocks"]},
    }  # fmt: skip


def elements(dm) -> dict[str, dict]:
    return {
        e["action_id"]: e
        for b in dm.args["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
    }


@pytest.mark.parametrize("set_based", [True, False], ids=["set-based", "general"])
def test_a_breach_reaches_the_owner_as_a_direct_message_with_buttons_once(
    slack_api, card, set_based
):
    reason = BlockingReason.objects.create(name="Client <documents>")
    scan(T0 + 2 * H, set_based=set_based)
    (dm,) = dms(slack_api)
    assert "Resolution SLA breached" in dm.args["text"]
    assert "&lt;!channel&gt; &amp; co" in dm.args["text"] and "<!channel>" not in str(dm.args)
    assert dm.args["metadata"]["event_payload"]["card_id"] == card.pk
    assert {b["block_id"] for b in dm.args["blocks"]} == {f"card:{card.pk}:head", f"card:{card.pk}"}
    buttons = elements(dm)
    assert buttons["card_take"]["value"] == str(card.pk)
    assert buttons["card_wait"]["options"][0]["value"] == f"{card.pk}:{reason.pk}"
    assert buttons["card_wait"]["options"][0]["text"]["type"] == "plain_text"
    assert buttons["card_open"]["url"].endswith(f"/cards/{card.pk}/")
    assert "card_approve" not in buttons

    note = Notification.objects.get(channel=Channel.SLACK_APP)
    assert (note.state, note.address, note.recipient) == ("sent", "U1", card.owner)
    scan(T0 + 3 * H, set_based=set_based)  # nothing new fires: nothing new is sent
    assert len(dms(slack_api)) == 1


def test_a_warning_is_a_direct_message_too(slack_api, card):
    scan(T0 + 50 * M)
    (dm,) = dms(slack_api)
    assert "Resolution at risk" in dm.args["text"]


def test_someone_the_app_does_not_know_on_slack_gets_no_direct_message(
    slack_api, make_policy, round_the_clock, new_card, performer
):
    make_policy(round_the_clock, resolution=H)
    new_card(T0)
    scan(T0 + 2 * H)
    assert not Notification.objects.filter(channel=Channel.SLACK_APP).exists()
    assert slack_api.calls == []


def test_a_direct_message_opens_the_conversation_when_there_is_none(slack_api, card):
    slack_api.errors["chat.postMessage"] = "channel_not_found"
    scan(T0 + 2 * H)
    assert [c.args["users"] for c in slack_api.of("conversations.open")] == ["U1"]
    assert slack_api.of("chat.postMessage")[-1].args["channel"] == "DU1"


def test_a_failed_post_is_retried_like_the_other_lanes(slack_api, card):
    slack_api.errors["chat.postMessage"] = "internal_error"
    scan(T0 + 2 * H)
    note = Notification.objects.get(channel=Channel.SLACK_APP)
    assert (note.state, note.attempts) == ("pending", 1)
    assert "internal_error" in note.last_error


def test_a_rate_limited_person_is_held_for_slack_s_retry_after(slack_api, card):
    slack_api.limited["chat.postMessage"] = 120
    scan(T0 + 2 * H)
    note = Notification.objects.get(channel=Channel.SLACK_APP)
    assert (note.state, note.attempts) == ("pending", 1)
    assert "429" in note.last_error
    hold = DeliveryHold.objects.get(channel=Channel.SLACK_APP)
    assert hold.destination == "U1"
    assert note.next_attempt_at >= T0 + 2 * H + timedelta(seconds=120)


def test_take_into_work_moves_the_card_as_the_person_who_clicked(client, slack_api, card, paula):
    scan(T0 + 2 * H)
    (dm,) = dms(slack_api)
    post(client, interaction_body(click(slack_api, dm, elements(dm)["card_take"])))
    card.refresh_from_db()
    assert card.status == Status.IN_PROGRESS
    assert card.events.filter(kind="status_changed").last().actor == paula
    (update,) = slack_api.of("chat.update")
    assert (update.args["channel"], update.args["ts"]) == ("D1", "1700000001.0001")
    shown = str(update.args["blocks"])
    assert f"#{card.pk} taken into work by Paula Performer" in shown
    assert "card_take" not in shown and "card_open" in shown
    assert slack_api.of("respond") == []


def test_a_click_by_someone_not_allowed_is_refused_and_explained(client, slack_api, card, outsider):
    on_slack(slack_api, outsider, "U3")
    scan(T0 + 2 * H)
    (dm,) = dms(slack_api)
    post(client, interaction_body(click(slack_api, dm, elements(dm)["card_take"], user="U3")))
    card.refresh_from_db()
    assert card.status == Status.ASSIGNED
    (answer,) = slack_api.of("respond")
    assert answer.args["response_type"] == "ephemeral"
    assert "You may not take it into work" in answer.args["text"]
    assert slack_api.of("chat.update") == []


def test_waiting_for_a_reason_picked_in_the_message(client, slack_api, card, paula):
    reason = BlockingReason.objects.create(name="Client documents")
    scan(T0 + 2 * H)
    (dm,) = dms(slack_api)
    picked = {"action_id": "card_wait", "type": "static_select",
              "selected_option": {"value": f"{card.pk}:{reason.pk}"}}  # fmt: skip
    post(client, interaction_body(click(slack_api, dm, picked)))
    card.refresh_from_db()
    assert (card.status, card.blocking_reason) == (Status.WAITING, reason)
    assert "Waiting for Client documents" in str(slack_api.of("chat.update")[0].args["blocks"])


def test_a_move_the_card_no_longer_allows_is_explained(client, slack_api, card, paula):
    scan(T0 + 2 * H)
    (dm,) = dms(slack_api)
    actions.change_status(task=card, to=Status.CANCELLED, actor=paula)
    post(client, interaction_body(click(slack_api, dm, elements(dm)["card_take"])))
    assert "is cancelled now" in slack_api.of("respond")[0].args["text"]


# --------------------------------------------------------------------------- decisions


@pytest.fixture
def on_approval(slack_api, card, paula, manager):
    on_slack(slack_api, manager, "U4")
    actions.change_status(task=card, to=Status.IN_PROGRESS, actor=paula)
    actions.change_status(task=card, to=Status.ON_APPROVAL, actor=paula, approver=manager)
    return card


def test_the_approver_is_asked_by_direct_message_with_approve_and_reject(
    client, slack_api, on_approval, manager
):
    (dm,) = dms(slack_api, "U4")
    assert dm.args["text"].startswith("Decision needed: #")
    buttons = elements(dm)
    assert {"card_approve", "card_reject", "card_open"} <= set(buttons)
    assert "card_take" not in buttons

    post(client, interaction_body(click(slack_api, dm, buttons["card_approve"], user="U4")))
    on_approval.refresh_from_db()
    assert on_approval.events.filter(kind="approved").get().actor == manager
    assert "Approved" in str(slack_api.of("chat.update")[0].args["blocks"])


def test_only_the_approver_may_approve(client, slack_api, on_approval):
    (dm,) = dms(slack_api, "U4")
    post(client, interaction_body(click(slack_api, dm, elements(dm)["card_approve"], user="U1")))
    on_approval.refresh_from_db()
    assert on_approval.status == Status.ON_APPROVAL
    assert (
        "only its approver or its team's manager decides" in slack_api.of("respond")[0].args["text"]
    )


def test_reject_asks_why_in_a_modal_then_decides(client, slack_api, on_approval, manager):
    (dm,) = dms(slack_api, "U4")
    post(client, interaction_body(click(slack_api, dm, elements(dm)["card_reject"], user="U4")))
    view = slack_api.of("views.open")[0].args["view"]
    assert view["callback_id"] == "reject_card"
    reason = {"reason": {"reason": {"type": "plain_text_input", "value": "Budget too high"}}}
    submitted = {
        "type": "view_submission",
        "team": {"id": TEAM},
        "user": {"id": "U4"},
        "view": {
            "id": "V2",
            "callback_id": "reject_card",
            "private_metadata": view["private_metadata"],
            "state": {"values": reason},
        },
    }
    post(client, interaction_body(submitted))
    on_approval.refresh_from_db()
    rejected = on_approval.events.get(kind="rejected")
    assert (rejected.actor, rejected.note) == (manager, "Budget too high")
    assert on_approval.status == Status.IN_PROGRESS
    assert "Rejected" in str(slack_api.of("chat.update")[0].args["blocks"])


# --------------------------------------------------------------------------- the thread


def test_a_card_made_from_a_message_keeps_its_thread_informed(slack_api, card, paula):
    CardThread.objects.create(
        task=card, team_id=TEAM, channel="C1", thread_ts="1700000000.000100", created_at=T0
    )
    with time_machine.travel(T0 + 10 * M, tick=False):
        actions.change_status(task=card, to=Status.IN_PROGRESS, actor=paula)
    scan(T0 + 2 * H)
    with time_machine.travel(T0 + 3 * H, tick=False):
        actions.change_status(task=card, to=Status.DONE, actor=paula)
    replies = [c for c in slack_api.of("chat.postMessage") if c.args["channel"] == "C1"]
    assert all(r.args["thread_ts"] == "1700000000.000100" for r in replies)
    texts = [r.args["text"] for r in replies]
    assert len(texts) == 3, texts
    assert texts[0].startswith(f"#{card.pk} moved to in progress by Paula")
    assert texts[1].startswith(":warning: SLA breached")
    assert texts[2].startswith(":white_check_mark: Resolved by Paula Performer")
    assert all("&lt;!channel&gt;" in t and "<!channel>" not in t for t in texts)


def test_an_escalation_reaches_the_owner_too(slack_api, paula, make_policy, make_rule,
                                             round_the_clock, new_card):  # fmt: skip
    policy = make_policy(round_the_clock, resolution=H)
    make_rule(
        policy, Trigger.AFTER_BREACH, minutes_after_breach=30, clock=Clock.CALENDAR,
        notify_owner=False, notify_team_manager=True,
    )  # fmt: skip
    card = new_card(T0)
    scan(T0 + 100 * M)  # breached at 11:00, escalated at 11:30 (the general path)
    texts = sorted(c.args["text"] for c in dms(slack_api))  # posted side by side: any order
    assert len(texts) == 2
    assert texts[0].startswith("Resolution SLA breached")
    assert texts[1].startswith("Resolution escalated: SLA breached")
    assert all(f"#{card.pk}" in t for t in texts)


def test_history_being_seeded_sends_no_direct_message(slack_api, card):
    with escalation.seeding_history():
        scan(T0 + 2 * H)
    note = Notification.objects.get(channel=Channel.SLACK_APP)
    assert note.state == Notification.State.SKIPPED
    assert dms(slack_api) == []


def test_slack_map_users_finds_people_by_email_so_their_alerts_come_directly(
    slack_api, performer, other_performer, observer, make_policy, round_the_clock, new_card
):
    slack_api.users.update({"U1": performer.email, "U2": other_performer.email})
    observer.email = ""
    observer.save()
    out = StringIO()
    call_command("slack_map_users", stdout=out)
    # Paula and Pete are on Slack; Maria and Dan (the team's manager and dispatcher) are not;
    # Olga has no address to look up.
    assert out.getvalue().strip() == "2 found on Slack, 2 not found."
    assert SlackUser.objects.get(slack_id="U1").user == performer
    make_policy(round_the_clock, resolution=H)
    new_card(T0)
    scan(T0 + 2 * H)
    assert len(dms(slack_api)) == 1
    call_command("slack_map_users", stdout=out)  # again: only those not found yet
    assert len(slack_api.of("users.lookupByEmail")) == 4 + 2


def test_a_direct_message_shows_the_deadline_in_the_zone_chosen_on_the_profile(
    slack_api, card, paula
):
    profiles.set_timezone(user=paula, zone="America/New_York")
    scan(T0 + 2 * H)
    (dm,) = dms(slack_api)
    due = card.timers.get(kind="resolution").due_at  # 11:00 in Berlin: 05:00 in New York
    said = str(dm.args["blocks"])
    assert f"due {due.astimezone(ZoneInfo('America/New_York')):%a %d %b %H:%M} EST" in said
    assert "CET" not in said
