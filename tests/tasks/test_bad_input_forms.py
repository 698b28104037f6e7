"""Bad input on the card forms posted as plain forms (no htmx), on the new-card form, in the
card admin and at the actions themselves (admin, API, import callers): a 4xx with the message
on the page, never a 500, and no row written (issue 12)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from html import unescape

import pytest
from django.urls import reverse

from tasks import actions
from tasks.models import Status, Task, TaskEvent
from tests.tasks.bad_input import (
    DATE_RANGE,
    NO_NUL,
    NOT_A_WORKER,
    assert_refused,
    card_case_params,
    client_for,
    post_data,
    rows,
)
from tests.tasks.test_admin import card_form

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(("form", "data", "status", "message"), card_case_params())
def test_a_bad_card_form_is_refused_on_the_card_page(form, data, status, message, world, card):
    before = rows(card)
    # The card's owner works it; people and classification are the team manager's.
    user = world["manager"] if form in ("task_assign", "task_classify") else world["performer"]
    response = client_for(user).post(
        reverse(form, args=[card.pk]), post_data(form, data, world, card)
    )
    assert_refused(response, status=status, message=message)
    assert b"<html" in response.content  # the whole card page, with the error on it
    assert rows(card) == before


def test_a_year_1_due_time_leaves_the_card_and_the_list_readable(world, card):
    """The issue's reproduction: year 1 underflowed to a BC timestamp, committed, and from
    then on the card and /cards/ were a 500 for everyone."""
    client = client_for(world["performer"])
    url = reverse("task_next_step", args=[card.pk])
    for due in ("0001-01-01T00:00", "9999-12-31T23:59"):
        response = client.post(url, {"text": "Call", "due": due, "version": card.version})
        assert_refused(response, status=400, message=DATE_RANGE)
    card.refresh_from_db()
    assert card.next_step_due is None
    for viewer_zone in ("Europe/Berlin", "Pacific/Kiritimati", "Pacific/Pago_Pago"):
        client.cookies["tz"] = viewer_zone
        assert client.get(card.get_absolute_url()).status_code == 200
        assert client.get(reverse("task_list")).status_code == 200
        assert client.get(reverse("my_work")).status_code == 200


def test_the_edges_of_the_sane_range_are_accepted(world, card):
    client = client_for(world["performer"])
    url = reverse("task_next_step", args=[card.pk])
    response = client.post(url, {"text": "Call", "due": "2099-12-31T23:59", "version": 1})
    assert response.status_code == 302
    card.refresh_from_db()
    assert card.next_step_due is not None and card.next_step == "Call"


# The new-card form: (what is posted over good data, the message shown).
CREATE_CASES = [
    pytest.param({"title": "Two\nlines"}, "Title: Use a single line of text", id="title-newline"),
    pytest.param({"title": "Two\rlines"}, "Title: Use a single line of text", id="title-cr"),
    pytest.param({"title": "Bell\x07"}, "Title: Use a single line of text", id="title-control"),
    pytest.param({"title": "t" * 201},
                 "Title: Ensure this value has at most 200 characters (it has 201).",
                 id="title-long"),
    pytest.param({"title": ""}, "Title: This field is required.", id="title-empty"),
    pytest.param({"title": "   "}, "Title: This field is required.", id="title-blank"),
    pytest.param({"title": "a\x00b"}, f"Title: {NO_NUL}", id="title-nul"),
    pytest.param({"description": "d" * 20_001},
                 "Description: Ensure this value has at most 20000 characters (it has 20001).",
                 id="description-long"),
    pytest.param({"description": "a\x00b"}, f"Description: {NO_NUL}", id="description-nul"),
    pytest.param({"source_url": "javascript:alert(1)"}, "Source link: Enter a valid URL.",
                 id="source-javascript"),
    pytest.param({"source_url": "https://example.com/\nX-Evil: 1"},
                 "Source link: Enter a valid URL.", id="source-newline"),
    pytest.param({"source_url": "https://example.com/" + "p" * 490},
                 "Source link: Ensure this value has at most 500 characters", id="source-long"),
    pytest.param({"request_type": "999999"}, "Request type: Choose a request type from the list.",
                 id="type-unknown"),
    pytest.param({"request_type": "abc"}, "Request type: Choose a request type from the list.",
                 id="type-garbage"),
    pytest.param({"request_type": "@retired_type"},
                 "Request type: Choose a request type from the list.", id="type-retired"),
    pytest.param({"priority": "bogus"},
                 "Priority: Select a valid choice. bogus is not one of the available choices.",
                 id="priority-bogus"),
    pytest.param({"team": "abc"}, "Team: Choose a team from the list.", id="team-garbage"),
    pytest.param({"related_object": "999999"},
                 "Related object: Choose a related object from the list.", id="related-unknown"),
    pytest.param({"owner": "@observer"}, f"Owner: {NOT_A_WORKER}", id="owner-observer"),
    pytest.param({"owner": "@nobody"}, f"Owner: {NOT_A_WORKER}", id="owner-without-role"),
    pytest.param({"owner": "@retired"}, f"Owner: {NOT_A_WORKER}", id="owner-inactive"),
    pytest.param({"owner": "9" * 25}, f"Owner: {NOT_A_WORKER}", id="owner-huge-id"),
]  # fmt: skip


@pytest.mark.parametrize(("data", "message"), CREATE_CASES)
def test_a_bad_new_card_is_refused_with_its_message(data, message, world, default_policy):
    good = {"title": "New lead", "request_type": "@request_type", "priority": "normal",
            "owner": "@performer"}  # fmt: skip
    posted = {
        k: str(world[v[1:]].pk) if v.startswith("@") else v for k, v in {**good, **data}.items()
    }
    events = TaskEvent.objects.count()
    response = client_for(world["dispatcher"]).post(reverse("task_create"), posted)
    # Each field's errors are shown under it: the message without its label, on its field.
    label, _, text = message.partition(": ")
    assert_refused(response, status=400, message=text)
    field = response.context["form"][next(iter(data))]
    assert field.label == label and any(text in error for error in field.errors)
    assert not Task.objects.exists()
    assert TaskEvent.objects.count() == events


# The card admin: its details obey the rules of tasks.actions.update_details.
ADMIN_CASES = [
    pytest.param({"title": "Two\nlines"}, "A card's title is a single line", id="title-newline"),
    pytest.param({"title": "Escape\x1b[31m"}, "A card's title is a single line",
                 id="title-control"),
    pytest.param({"title": "t" * 201}, "at most 200 characters", id="title-long"),
    pytest.param({"title": "  "}, "This field is required.", id="title-blank"),
    pytest.param({"description": "d" * 20_001}, "at most 20,000 characters",
                 id="description-long"),
    pytest.param({"description": "a\x00b"}, NO_NUL, id="description-nul"),
    pytest.param({"source_url": "https://example.com/\r\nBcc: x"}, "Enter a valid URL.",
                 id="source-newline"),
]  # fmt: skip


@pytest.mark.parametrize(("data", "message"), ADMIN_CASES)
def test_the_card_admin_refuses_bad_details_with_a_message(admin_client, data, message, card):
    before = rows(card)
    url = reverse("admin:tasks_task_change", args=[card.pk])
    response = admin_client.post(url, card_form(card, **data))
    # Django's admin answers an invalid form with the form again (200), errors on it.
    assert response.status_code == 200
    html = unescape(response.content.decode())
    assert 'class="errornote"' in html
    errors = re.findall(r'<ul class="errorlist[^"]*"[^>]*>(.*?)</ul>', html, re.S)
    assert message in "\n".join(errors)
    assert rows(card) == before


# The actions refuse what the forms refuse, for the callers without a form.
def _create(world, **kwargs):
    args = {"title": "Card", "request_type": world["request_type"], "priority": "normal",
            "actor": world["dispatcher"], **kwargs}  # fmt: skip
    return actions.create_task(**args)


ACTION_CASES = [
    pytest.param(lambda w, c: actions.assign_owner(task=c, owner=w["observer"], actor=None),
                 "may not work on cards and cannot be the owner", id="owner-observer"),
    pytest.param(lambda w, c: actions.assign_owner(task=c, owner=w["nobody"], actor=None),
                 "may not work on cards and cannot be the owner", id="owner-without-role"),
    pytest.param(lambda w, c: actions.assign_owner(task=c, owner=w["retired"], actor=None),
                 "is not an active user and cannot be the owner", id="owner-inactive"),
    pytest.param(lambda w, c: actions.set_performers(task=c, users=[w["observer"]], actor=None),
                 "cannot be the performer", id="performer-observer"),
    pytest.param(lambda w, c: actions.set_approver(task=c, approver=w["nobody"], actor=None),
                 "cannot be the approver", id="approver-without-role"),
    pytest.param(lambda w, c: actions.assign_people(task=c, owner=w["performer"],
                                                    performers=[], approver=w["observer"],
                                                    actor=None),
                 "cannot be the approver", id="people-approver-observer"),
    pytest.param(lambda w, c: _create(w, owner=w["observer"]), "cannot be the owner",
                 id="create-owner-observer"),
    pytest.param(lambda w, c: _create(w, title="One\nTwo"), "single line", id="create-title"),
    pytest.param(lambda w, c: _create(w, description="d" * 20_001), "Description: at most",
                 id="create-description"),
    pytest.param(lambda w, c: _create(w, source_url="https://x.test/\nBcc: y"),
                 "Source link: Use a single line", id="create-source"),
    pytest.param(lambda w, c: actions.update_details(task=c, actor=None, title="t" * 201),
                 "at most 200 characters", id="details-title-long"),
    pytest.param(lambda w, c: actions.update_details(task=c, actor=None, description="\x00"),
                 "Description: Text cannot contain NUL", id="details-description-nul"),
    pytest.param(lambda w, c: actions.set_next_step(
        task=c, text="Call", due=datetime(1, 1, 1, tzinfo=UTC), actor=None),
                 "Due: Enter a date between", id="next-step-year-1"),
    pytest.param(lambda w, c: actions.set_next_step(
        task=c, text="Call", due=datetime(9999, 12, 31, tzinfo=UTC), actor=None),
                 "Due: Enter a date between", id="next-step-year-9999"),
    pytest.param(lambda w, c: actions.set_next_step(task=c, text="A\nB", due=None, actor=None),
                 "Next step: Use a single line", id="next-step-two-lines"),
    pytest.param(lambda w, c: actions.add_comment(task=c, text="c" * 20_001,
                                                  actor=w["performer"]),
                 "Comment: at most 20,000 characters", id="comment-long"),
    pytest.param(lambda w, c: actions.change_status(task=c, to=Status.IN_PROGRESS, actor=None,
                                                    note="n" * 501),
                 "Note: at most 500 characters", id="status-note-long"),
]  # fmt: skip


@pytest.mark.parametrize(("act", "message"), ACTION_CASES)
def test_the_actions_refuse_what_the_forms_refuse(act, message, world, card):
    before, cards = rows(card), Task.objects.count()
    with pytest.raises(actions.WorkflowError, match=message.replace("(", r"\(")):
        act(world, card)
    assert rows(card) == before
    assert Task.objects.count() == cards


def test_people_who_may_work_cards_may_be_owner_performer_and_approver(world, card):
    actions.assign_people(
        task=card, owner=world["other_performer"], performers=[world["dispatcher"]],
        approver=world["manager"], actor=world["manager"],
    )  # fmt: skip
    card.refresh_from_db()
    assert (card.owner, card.approver) == (world["other_performer"], world["manager"])
    assert list(card.performers.all()) == [world["dispatcher"]]
