"""The card page's named moves, approval decisions and following (tasks.views: task_detail,
task_status, task_decide, task_watch): buttons only for what the viewer may do, small forms
asking only what a move needs, no-JS flows (POST + redirect, GET forms opening the small
forms), forged posts 403, stale forms 409, bad input 400 with its message in place."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from tasks import actions
from tasks.models import ApprovalStep, Status, TaskEvent, Watch
from tests.factories import BlockingReasonFactory, UserFactory, make_task
from tests.tasks.bad_input import assert_refused, client_for

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def card(dispatcher, performer, request_type):
    return make_task(actor=dispatcher, owner=performer, request_type=request_type, title="Lead")


@pytest.fixture
def working(card, performer):
    return actions.change_status(task=card, to=Status.IN_PROGRESS, actor=performer)


@pytest.fixture
def on_approval(working, performer, manager):
    return actions.change_status(
        task=working, to=Status.ON_APPROVAL, actor=performer, approver=manager
    )


def page(user, card, **query) -> str:
    return client_for(user).get(reverse("task_detail", args=[card.pk]), query).content.decode()


def buttons(html: str) -> list[str]:
    """The names of the move buttons, in order."""
    section = html[html.index('id="moves"') : html.index("</section>", html.index('id="moves"'))]
    return re.findall(r"<button type=\"submit\"[^>]*>([^<]+)</button>", section)


def detail(card):
    return reverse("task_detail", args=[card.pk])


def test_the_forward_move_is_the_first_button(performer, card):
    assert buttons(page(performer, card)) == [
        "Take into work", "Done", "Waiting for…", "Send for approval", "Cancel card"
    ]  # fmt: skip
    actions.change_status(task=card, to=Status.IN_PROGRESS, actor=performer)
    names = buttons(page(performer, card))
    assert names[0] == "Done" and "Back to assigned" in names and "Move" not in names
    assert 'aria-label="New status"' not in page(performer, card)


def test_an_observer_sees_no_move_buttons(observer, card):
    html = page(observer, card)
    assert 'id="moves"' not in html and "Take into work" not in html


def test_taking_into_work_without_js_posts_and_redirects(performer, card):
    response = client_for(performer).post(
        reverse("task_status", args=[card.pk]), {"to": "in_progress", "version": card.version}
    )
    assert (response.status_code, response["Location"]) == (302, detail(card))
    card.refresh_from_db()
    assert card.status == Status.IN_PROGRESS


def test_waiting_for_opens_a_form_asking_for_the_reason_only_there(performer, working):
    reason = BlockingReasonFactory(name="Customer docs")
    closed = page(performer, working)
    assert 'name="blocking_reason"' not in closed and 'name="note"' not in closed
    opened = page(performer, working, move="wait")
    assert '<label for="move_blocking_reason">Waiting for</label>' in opened
    assert '<label for="move_note">Note (optional)</label>' in opened
    assert "Mark waiting" in opened and 'name="approver"' not in opened
    # With htmx, the same question comes as the #card partial.
    partial = client_for(performer).get(detail(working), {"move": "wait"}, **HTMX)
    assert partial.content.decode().lstrip().startswith('<div id="card">')
    assert b"Mark waiting" in partial.content
    response = client_for(performer).post(
        reverse("task_status", args=[working.pk]),
        {
            "to": "waiting",
            "blocking_reason": reason.pk,
            "note": "asked",
            "version": working.version,
        },
    )
    assert response.status_code == 302
    working.refresh_from_db()
    assert working.blocking_reason == reason


def test_waiting_without_a_reason_is_a_400_shown_in_the_waiting_form(performer, working):
    response = client_for(performer).post(
        reverse("task_status", args=[working.pk]), {"to": "waiting", "version": working.version}
    )
    assert_refused(response, status=400, message="Say what the card is waiting for.")
    html = response.content.decode()
    form = html[html.index('id="move-wait"') :]
    assert "Say what the card is waiting for." in form[: form.index("</form>")]


def test_done_asks_for_confirmation_without_js(performer, working):
    html = page(performer, working, move="done")
    assert f"Mark #{working.pk} done?" in html
    assert ">Confirm</button>" in html and ">Keep open</a>" in html
    assert 'role="button"' in html
    working.refresh_from_db()
    assert working.status == Status.IN_PROGRESS  # asking changes nothing
    response = client_for(performer).post(
        reverse("task_status", args=[working.pk]), {"to": "done", "version": working.version}
    )
    assert response.status_code == 302
    working.refresh_from_db()
    assert working.status == Status.DONE
    assert buttons(page(performer, working))[0] == "Reopen"


def test_a_move_not_offered_is_not_opened(observer, performer, working):
    assert "Mark #" not in page(observer, working, move="done")
    assert 'id="move-' not in page(performer, working, move="approve")
    assert 'id="move-' not in page(performer, working, move="x" * 500)


def test_send_for_approval_names_the_approver_and_defaults_to_the_first_step(
    performer, manager, working, request_type
):
    html = page(performer, working, move="send")
    assert '<label for="move_approver">Approver</label>' in html
    assert f'<option value="{manager.pk}">Maria Manager</option>' in html
    assert 'name="blocking_reason"' not in html
    ApprovalStep.objects.create(request_type=request_type, position=1, name="Budget",
                                approver=manager)  # fmt: skip
    html = page(performer, working, move="send")
    assert f'<option value="{manager.pk}" selected>Maria Manager</option>' in html
    response = client_for(performer).post(
        reverse("task_status", args=[working.pk]),
        {"to": "on_approval", "approver": manager.pk, "version": working.version},
    )
    assert response.status_code == 302
    working.refresh_from_db()
    assert (working.status, working.approver) == (Status.ON_APPROVAL, manager)


@pytest.mark.parametrize(
    ("approver", "message"),
    [
        ("", "Name an approver to send the card for approval."),
        ("@other_performer", "Approver: Choose someone who may decide approvals (a manager)."),
        ("abc", "Approver: Choose someone who may decide approvals (a manager)."),
        ("999999", "Approver: Choose someone who may decide approvals (a manager)."),
    ],
)
def test_sending_with_a_bad_approver_is_a_400_in_the_send_form(
    performer, other_performer, working, approver, message
):
    if approver == "@other_performer":
        approver = str(other_performer.pk)
    response = client_for(performer).post(
        reverse("task_status", args=[working.pk]),
        {"to": "on_approval", "approver": approver, "version": working.version},
        **HTMX,
    )
    assert_refused(response, status=400, message=message)
    assert 'id="move-send"' in response.content.decode()
    working.refresh_from_db()
    assert working.status == Status.IN_PROGRESS


def test_on_approval_the_page_says_who_decides_and_the_performer_has_no_buttons(
    performer, manager, on_approval
):
    html = page(performer, on_approval)
    assert "Waiting for a decision by <strong>Maria Manager</strong> since" in html
    assert 'id="moves"' not in html and ">Approve<" not in html and ">Done<" not in html
    assert buttons(page(manager, on_approval)) == ["Approve", "Reject", "Cancel card"]


def test_forged_posts_on_a_card_on_approval_are_403(performer, on_approval):
    client = client_for(performer)
    for to in ("done", "in_progress", "cancelled"):
        response = client.post(
            reverse("task_status", args=[on_approval.pk]),
            {"to": to, "version": on_approval.version},
        )
        assert response.status_code == 403
    for decision in ("approve", "reject"):
        response = client.post(
            reverse("task_decide", args=[on_approval.pk]),
            {"decision": decision, "reason": "mine", "version": on_approval.version},
        )
        assert response.status_code == 403
    on_approval.refresh_from_db()
    assert on_approval.status == Status.ON_APPROVAL


def test_a_team_lead_on_approval_gets_the_workflows_message_not_a_500(dispatcher, on_approval):
    response = client_for(dispatcher).post(
        reverse("task_status", args=[on_approval.pk]),
        {"to": "done", "version": on_approval.version},
    )
    assert_refused(response, status=400, message="A card on approval moves on by a decision")


def test_reject_then_send_again_then_approve(performer, manager, on_approval):
    mgr = client_for(manager)
    html = page(manager, on_approval, move="reject")
    assert '<label for="id_reason">Reason (the performer reads it)</label>' in html
    missing = mgr.post(
        reverse("task_decide", args=[on_approval.pk]),
        {"decision": "reject", "reason": "  ", "version": on_approval.version},
    )
    assert_refused(missing, status=400, message="Reason: Say why the card is rejected")
    assert 'id="move-reject"' in missing.content.decode()
    response = mgr.post(
        reverse("task_decide", args=[on_approval.pk]),
        {"decision": "reject", "reason": "Too <b>pricey</b>", "version": on_approval.version},
    )
    assert (response.status_code, response["Location"]) == (302, detail(on_approval))
    on_approval.refresh_from_db()
    assert on_approval.status == Status.IN_PROGRESS
    html = page(performer, on_approval)
    assert "Rejected by <strong>Maria Manager</strong>: Too &lt;b&gt;pricey&lt;/b&gt;" in html
    assert "rejected: Too &lt;b&gt;pricey&lt;/b&gt;" in html  # the timeline, in words

    client_for(performer).post(
        reverse("task_status", args=[on_approval.pk]),
        {"to": "on_approval", "approver": manager.pk, "version": on_approval.version},
    )
    on_approval.refresh_from_db()
    assert "Rejected by" not in page(performer, on_approval)
    response = mgr.post(
        reverse("task_decide", args=[on_approval.pk]),
        {"decision": "approve", "reason": "", "version": on_approval.version},
        **HTMX,
    )
    assert response.status_code == 200
    assert b"Approved: the card is in progress." in response.content
    on_approval.refresh_from_db()
    assert on_approval.status == Status.IN_PROGRESS
    assert "approved it" in page(performer, on_approval)


def test_a_chain_names_its_steps_and_asks_for_the_next_approver(
    performer, manager, working, request_type, roles
):
    legal = UserFactory(username="lena", first_name="Lena", last_name="Legal")
    legal.groups.add(roles["manager"])
    ApprovalStep.objects.create(request_type=request_type, position=1, name="Budget",
                                approver=manager)  # fmt: skip
    ApprovalStep.objects.create(request_type=request_type, position=2, name="Legal")
    actions.change_status(task=working, to=Status.ON_APPROVAL, actor=performer)
    html = page(manager, working, move="approve")
    assert "Waiting for a decision by <strong>Maria Manager</strong> — step 1 of 2 (Budget)" in html
    assert "Who decides the next step (Legal)" in html
    client = client_for(manager)
    url = reverse("task_decide", args=[working.pk])
    missing = client.post(url, {"decision": "approve", "version": working.version})
    assert_refused(missing, status=400, message="Name who decides the next step (Legal).")
    response = client.post(
        url, {"decision": "approve", "next_approver": legal.pk, "version": working.version}
    )
    assert response.status_code == 302
    working.refresh_from_db()
    assert (working.approver, working.approval_step) == (legal, 2)
    html = page(performer, working)
    assert "approved step 1 of 2 (Budget)" in html
    assert "— step 2 of 2 (Legal)" in html


def test_the_team_manager_decides_as_such(performer, manager, working, roles):
    legal = UserFactory(username="lena", first_name="Lena", last_name="Legal")
    legal.groups.add(roles["manager"])
    actions.change_status(task=working, to=Status.ON_APPROVAL, actor=performer, approver=legal)
    client_for(manager).post(
        reverse("task_decide", args=[working.pk]),
        {"decision": "reject", "reason": "No", "version": working.version},
    )
    assert "rejected: No as the team&#x27;s manager" in page(performer, working)


def test_a_decision_on_a_card_already_decided_is_a_409(manager, on_approval):
    version = on_approval.version
    actions.decide(task=on_approval, decision="approve", actor=manager)
    response = client_for(manager).post(
        reverse("task_decide", args=[on_approval.pk]),
        {"decision": "reject", "reason": "x", "version": version},
    )
    assert_refused(response, status=409, message="not waiting for a decision")


@pytest.mark.parametrize(
    ("data", "status", "message"),
    [
        ({"decision": "maybe"}, 400, "“maybe” is not a decision: approve or reject."),
        ({"decision": None}, 400, "Choose approve or reject."),
        ({"version": None}, 400, "This form is out of date"),
        ({"version": "@stale"}, 409, "changed by someone else"),
        ({"reason": "r" * 501}, 400, "Reason: Ensure this value has at most 500 characters"),
        ({"next_approver": "abc"}, 400, "Who decides the next step: Choose someone who may"),
    ],
)
def test_bad_decisions_are_4xx_with_their_message(manager, on_approval, data, status, message):
    posted = {"decision": "approve", "reason": "", "version": on_approval.version, **data}
    if posted["version"] == "@stale":
        posted["version"] = on_approval.version + 3
    posted = {k: v for k, v in posted.items() if v is not None}
    response = client_for(manager).post(reverse("task_decide", args=[on_approval.pk]), posted)
    assert_refused(response, status=status, message=message)
    on_approval.refresh_from_db()
    assert on_approval.status == Status.ON_APPROVAL


def test_decide_and_watch_need_login_and_csrf(client, performer, manager, on_approval):
    for name in ("task_decide", "task_watch"):
        response = client.post(reverse(name, args=[on_approval.pk]), {"decision": "approve"})
        assert response.status_code == 302 and "/login/" in response["Location"]
    strict = client_for(manager, enforce_csrf_checks=True)
    response = strict.post(
        reverse("task_decide", args=[on_approval.pk]),
        {"decision": "approve", "version": on_approval.version},
    )
    assert response.status_code == 403
    on_approval.refresh_from_db()
    assert on_approval.status == Status.ON_APPROVAL


def test_anyone_who_sees_the_card_may_follow_it_and_choose_events(
    manager, observer, outsider, card
):
    html = page(manager, card)
    assert '<span id="followers">0</span> followers.' in html
    assert ">Follow</button>" in html
    url = reverse("task_watch", args=[card.pk])
    response = client_for(manager).post(url, {"follow": "follow", "decisions": "on"})
    assert response.status_code == 302
    watch = Watch.objects.get(task=card, user=manager)
    assert (watch.status_changes, watch.breaches, watch.decisions) == (False, False, True)
    html = page(manager, card)
    assert '<span id="followers">1</span> follower.' in html and "You follow this card." in html
    assert ">Unfollow</button>" in html
    none = client_for(manager).post(url, {"follow": "follow"}, **HTMX)
    assert_refused(none, status=400, message="Choose at least one kind of event to follow")
    client_for(manager).post(url, {"follow": "unfollow"})
    assert not Watch.objects.filter(task=card).exists()
    assert client_for(outsider).post(url, {"follow": "follow", "breaches": "on"}).status_code == 403
    bogus = client_for(manager).post(url, {"follow": "maybe"})
    assert_refused(bogus, status=400, message="“maybe” is neither follow nor unfollow.")


def test_an_observer_follows_as_observer_and_may_mute(observer, dispatcher, card):
    card.observers.add(observer)
    html = page(observer, card)
    assert "You follow this card as an observer." in html
    assert '<span id="followers">1</span>' in html
    url = reverse("task_watch", args=[card.pk])
    client_for(observer).post(url, {"follow": "follow"})  # nothing ticked: muted
    assert "as an observer (muted)." in page(observer, card)
    assert '<span id="followers">0</span>' in page(observer, card)
    client_for(observer).post(url, {"follow": "unfollow"})
    assert not Watch.objects.filter(task=card).exists()
    assert "as an observer." in page(observer, card)


def test_card_page_queries_stay_constant_with_many_events_and_decisions(
    performer, manager, working, django_assert_max_num_queries
):
    for n in range(15):
        actions.change_status(task=working, to=Status.ON_APPROVAL, actor=performer,
                              approver=manager)  # fmt: skip
        actions.decide(task=working, decision="reject", actor=manager, reason=f"No {n}")
        actions.add_comment(task=working, text=f"Comment {n}", actor=performer)
    Watch.objects.create(task=working, user=manager, created_at=working.created_at)
    assert working.events.filter(kind=TaskEvent.Kind.REJECTED).count() == 15
    for user in (performer, manager):
        client = client_for(user)
        with django_assert_max_num_queries(24):
            response = client.get(detail(working), {"move": "send"})
        assert response.status_code == 200
    actions.change_status(task=working, to=Status.ON_APPROVAL, actor=performer, approver=manager)
    client = client_for(manager)
    with django_assert_max_num_queries(24):
        assert client.get(detail(working), {"move": "approve"}).status_code == 200
