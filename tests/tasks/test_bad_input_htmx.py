"""Bad input on the htmx endpoints: the card page's forms (the card partial they swap), My
work's quick actions and the dispatch board's assignment (with htmx, the row or card they
swap; without, the page again with the error on it). A 4xx with the message in what is
returned, never a 500, nothing written (issue 12)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tasks.models import Status
from tests.factories import make_task
from tests.tasks.bad_input import (
    CHANGED,
    NOT_A_WORKER,
    STALE_FORM,
    assert_refused,
    card_case_params,
    client_for,
    post_data,
    resolve,
    rows,
)

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.mark.parametrize(("form", "data", "status", "message"), card_case_params())
def test_a_bad_card_form_is_refused_in_the_card_partial(form, data, status, message, world, card):
    before = rows(card)
    user = world["manager"] if form in ("task_assign", "task_classify") else world["performer"]
    response = client_for(user).post(
        reverse(form, args=[card.pk]), post_data(form, data, world, card), **HTMX
    )
    assert_refused(response, status=status, message=message)
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="card">') and "<html" not in html
    assert rows(card) == before


# My work's quick actions: (what is posted over a good "take into work", status, message).
QUICK_CASES = [
    pytest.param({"to": "bogus"}, 400, "Move to: “bogus” is not a status a card can move to.",
                 id="to-bogus"),
    pytest.param({"to": None}, 400, "Move to: Choose the status to move the card to.",
                 id="to-missing"),
    pytest.param({"to": "new"}, 400, "A card cannot move from assigned to new.",
                 id="move-not-allowed"),
    pytest.param({"version": None}, 400, STALE_FORM, id="no-version"),
    pytest.param({"version": "abc"}, 400, STALE_FORM, id="version-garbage"),
    pytest.param({"version": "@stale"}, 409, CHANGED, id="stale"),
    pytest.param({"to": "waiting"}, 400, "Blocking reason: Say what the card is waiting for.",
                 id="waiting-without-reason"),
    pytest.param({"to": "waiting", "blocking_reason": "999999"}, 400,
                 "Blocking reason: Choose a blocking reason that is in use from the list.",
                 id="waiting-unknown-reason"),
    pytest.param({"to": "waiting", "blocking_reason": "@retired_reason"}, 400,
                 "Blocking reason: Choose a blocking reason that is in use from the list.",
                 id="waiting-retired-reason"),
]  # fmt: skip


@pytest.mark.parametrize("htmx", [True, False], ids=["htmx", "plain"])
@pytest.mark.parametrize(("data", "status", "message"), QUICK_CASES)
def test_a_bad_quick_action_on_my_work_shows_its_error(data, status, message, htmx, world, card):
    before = rows(card)
    posted = {"to": "in_progress", "version": "@version", **data}
    posted = {k: resolve(v, world, card) for k, v in posted.items() if v is not None}
    response = client_for(world["performer"]).post(
        reverse("my_work_status", args=[card.pk]), posted, **(HTMX if htmx else {})
    )
    assert_refused(response, status=status, message=message)
    html = response.content.decode()
    if htmx:  # the card, to swap in place
        assert html.lstrip().startswith(f'<article id="work-{card.pk}"')
    else:  # the page again, the error on it: never dropped silently behind a redirect
        assert "<html" in html and "<h1>My work</h1>" in html
        assert f"Card #{card.pk}: {message}" in html.replace("&#x27;", "'")
    assert rows(card) == before


# The dispatch board's assignment: (what is posted over a good assignment, status, message).
DISPATCH_CASES = [
    pytest.param({"owner": None}, 400, "Owner: Choose who should own this card.",
                 id="owner-missing"),
    pytest.param({"owner": ""}, 400, "Owner: Choose who should own this card.",
                 id="owner-empty"),
    pytest.param({"owner": "abc"}, 400, f"Owner: {NOT_A_WORKER}", id="owner-garbage"),
    pytest.param({"owner": "999999"}, 400, f"Owner: {NOT_A_WORKER}", id="owner-unknown"),
    pytest.param({"owner": "-3"}, 400, f"Owner: {NOT_A_WORKER}", id="owner-negative"),
    pytest.param({"owner": "@observer"}, 400, f"Owner: {NOT_A_WORKER}", id="owner-observer"),
    pytest.param({"owner": "@nobody"}, 400, f"Owner: {NOT_A_WORKER}", id="owner-without-role"),
    pytest.param({"owner": "@retired"}, 400, f"Owner: {NOT_A_WORKER}", id="owner-inactive"),
    # The stale-version check is never skipped: no version, no assignment.
    pytest.param({"version": None}, 400, STALE_FORM, id="version-missing"),
    pytest.param({"version": ""}, 400, STALE_FORM, id="version-empty"),
    pytest.param({"version": "abc"}, 400, STALE_FORM, id="version-garbage"),
    pytest.param({"version": "-1"}, 400, STALE_FORM, id="version-negative"),
    pytest.param({"version": "@stale"}, 409, CHANGED, id="version-stale"),
]  # fmt: skip


@pytest.fixture
def unowned(world, default_policy):
    return make_task(actor=world["dispatcher"], request_type=world["request_type"],
                     title="Unowned")  # fmt: skip


@pytest.mark.parametrize("htmx", [True, False], ids=["htmx", "plain"])
@pytest.mark.parametrize(("data", "status", "message"), DISPATCH_CASES)
def test_a_bad_assignment_on_the_dispatch_board_shows_its_error(
    data, status, message, htmx, world, unowned
):
    before = rows(unowned)
    posted = {"owner": "@performer", "version": "@version", **data}
    posted = {k: resolve(v, world, unowned) for k, v in posted.items() if v is not None}
    response = client_for(world["dispatcher"]).post(
        reverse("dispatch_assign", args=[unowned.pk]), posted, **(HTMX if htmx else {})
    )
    assert_refused(response, status=status, message=message)
    html = response.content.decode()
    if htmx:  # the row, to swap in place
        assert html.lstrip().startswith(f'<tr id="dispatch-row-{unowned.pk}"')
    else:
        assert "<html" in html and "<h1>Dispatch board</h1>" in html
    assert rows(unowned) == before
    unowned.refresh_from_db()
    assert (unowned.owner, unowned.status) == (None, Status.NEW)


def test_a_good_assignment_and_quick_action_still_go_through(world, unowned, card):
    client = client_for(world["dispatcher"])
    response = client.post(
        reverse("dispatch_assign", args=[unowned.pk]),
        {"owner": world["performer"].pk, "version": unowned.version},
    )
    assert response.status_code == 302
    unowned.refresh_from_db()
    assert unowned.owner == world["performer"]
    response = client_for(world["performer"]).post(
        reverse("my_work_status", args=[card.pk]), {"to": "in_progress", "version": card.version}
    )
    assert response.status_code == 302
    card.refresh_from_db()
    assert card.status == Status.IN_PROGRESS


CARD_URLS = [
    ("get", "/cards/{}/"),
    ("get", "/cards/{}/timers/"),
    ("post", "/cards/{}/status/"),
    ("post", "/cards/{}/comment/"),
    ("post", "/cards/{}/assign/"),
    ("post", "/cards/{}/classify/"),
    ("post", "/cards/{}/next-step/"),
    ("post", "/cards/{}/decide/"),
    ("post", "/cards/{}/watch/"),
    ("post", "/dispatch/{}/assign/"),
    ("post", "/my-work/{}/status/"),
]


@pytest.mark.parametrize("pk", ["999999", "9" * 25], ids=["unknown", "beyond-any-key"])
@pytest.mark.parametrize(("method", "url"), CARD_URLS)
def test_a_card_that_does_not_exist_is_a_404(method, url, pk, world, card):
    before = rows(card)
    client = client_for(world["manager"])
    response = getattr(client, method)(url.format(pk), {"version": "1", "text": "x"}, **HTMX)
    assert response.status_code == 404
    assert rows(card) == before
