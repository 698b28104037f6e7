"""A card's moves, comments and history over the API: the page's rules (who may, which
moves), 409 for a move the workflow forbids, 412 for a stale If-Match, 404 for a card one
may not see, 403 for a write one may not do."""

import json

import pytest

from tasks import actions
from tasks.api import tokens
from tasks.models import ApiToken, Status, Task, TaskEvent
from tests.api.conftest import problem
from tests.factories import make_task

pytestmark = pytest.mark.django_db


def url(card, what):
    return f"/api/v1/cards/{card.pk}/{what}/"


def post(client, path, body, **headers):
    return client.post(path, json.dumps(body), content_type="application/json", **headers)


def test_the_owner_takes_her_card_into_work(api_client, performer, card):
    answer = post(api_client(performer), url(card, "transitions"), {"to": "in_progress"})
    assert answer.status_code == 200, answer.content
    card.refresh_from_db()
    assert card.status == Status.IN_PROGRESS and card.first_response_at is not None
    assert answer.json() == {"id": card.pk, "title": "Lead", "status": "in_progress",
                             "version": card.version}  # fmt: skip
    assert answer["ETag"] == f'"{card.version}"'
    moved = card.events.get(kind=TaskEvent.Kind.STATUS_CHANGED)
    assert (moved.old_value, moved.new_value, moved.actor) == ("assigned", "in_progress", performer)


def test_a_move_the_workflow_forbids_is_409_with_its_message(api_client, performer, card):
    answer = post(api_client(performer), url(card, "transitions"), {"to": "new"})
    assert answer.status_code == 409
    assert "A card cannot move from assigned to new." in problem(answer)
    card.refresh_from_db()
    assert card.status == Status.ASSIGNED and card.version == 1


def test_moving_to_the_status_it_has_is_409(api_client, performer, card):
    answer = post(api_client(performer), url(card, "transitions"), {"to": "assigned"})
    assert answer.status_code == 409
    assert "already assigned" in problem(answer)


def test_waiting_without_a_blocking_reason_is_a_field_error(api_client, performer, card):
    answer = post(api_client(performer), url(card, "transitions"), {"to": "waiting"})
    assert answer.status_code == 400
    assert "blocking_reason" in problem(answer)
    assert "Say what the card is waiting for" in problem(answer)
    assert Task.objects.get(pk=card.pk).status == Status.ASSIGNED


def test_waiting_for_the_customer_records_the_reason(api_client, performer, card, customer):
    body = {"to": "waiting", "blocking_reason": customer.pk, "note": "Asked for the PO"}
    answer = post(api_client(performer), url(card, "transitions"), body)
    assert answer.status_code == 200, answer.content
    card.refresh_from_db()
    assert (card.status, card.blocking_reason) == (Status.WAITING, customer)
    assert card.events.get(kind=TaskEvent.Kind.STATUS_CHANGED).note == "Asked for the PO"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"to": "flying"}, "to"),
        ({}, "to"),
        ({"to": "waiting", "blocking_reason": 999999}, "blocking_reason"),
        ({"to": "in_progress", "blocking_reason": "x"}, "blocking_reason"),
        ({"to": "in_progress", "note": "n" * 501}, "note"),
        ({"to": "in_progress", "note": "a\x00b"}, "note"),
        ({"to": "on_approval", "approver": "nobody"}, "approver"),
        ({"to": "waiting", "blocking_reason": "1"}, "blocking_reason"),  # an id is a number
        ({"to": "in_progress", "note": 5}, "note"),  # text is a string
        ({"to": "in_progress", "note": "\ud800"}, "note"),  # not Unicode
        ({"to": 1}, "to"),
    ],
)
def test_bad_input_is_400_naming_the_field(api_client, performer, card, body, field):
    answer = post(api_client(performer), url(card, "transitions"), body)
    # 400 where the schema says what is wrong, 422 for a well-formed request naming what
    # cannot be (a retired reason, nobody who may approve: tasks.api.exceptions)
    assert answer.status_code in (400, 422), answer.content
    assert field in problem(answer)


def test_a_retired_blocking_reason_is_refused(api_client, performer, card, customer):
    customer.active = False
    customer.save()
    body = {"to": "waiting", "blocking_reason": customer.pk}
    answer = post(api_client(performer), url(card, "transitions"), body)
    assert answer.status_code == 422  # well-formed, naming a reason no longer in use
    assert "in use" in problem(answer)


def test_sending_for_approval_names_someone_who_may_approve(
    api_client, performer, other_performer, manager, card
):
    client = api_client(performer)
    refused = post(client, url(card, "transitions"),
                   {"to": "on_approval", "approver": other_performer.pk})  # fmt: skip
    assert refused.status_code == 422 and "approver" in problem(refused)
    sent = post(client, url(card, "transitions"), {"to": "on_approval", "approver": manager.pk})
    assert sent.status_code == 200, sent.content
    card.refresh_from_db()
    assert (card.status, card.approver) == (Status.ON_APPROVAL, manager)
    # Waiting for its decision, the performer may not move it on any more.
    assert post(client, url(card, "transitions"), {"to": "done"}).status_code == 403


def test_a_stale_if_match_is_412_and_changes_nothing(api_client, performer, card, customer):
    client = api_client(performer)
    assert post(client, url(card, "transitions"), {"to": "in_progress"}).status_code == 200
    stale = post(client, url(card, "transitions"), {"to": "done"}, HTTP_IF_MATCH='"1"')
    assert stale.status_code == 412
    card.refresh_from_db()
    assert card.status == Status.IN_PROGRESS and card.version == 2
    fresh = post(client, url(card, "transitions"), {"to": "done"}, HTTP_IF_MATCH='W/"2"')
    assert fresh.status_code == 200
    assert fresh["ETag"] == '"3"'


@pytest.mark.parametrize("value", ["abc", '"1", "2"', "-1", 'W/""', " 1"])
def test_an_if_match_that_is_no_version_is_400(api_client, performer, card, value):
    answer = post(api_client(performer), url(card, "transitions"), {"to": "in_progress"},
                  HTTP_IF_MATCH=value)  # fmt: skip
    assert answer.status_code == 400
    assert "If-Match" in problem(answer)
    assert Task.objects.get(pk=card.pk).status == Status.ASSIGNED


def test_if_match_star_matches_any_version(api_client, performer, card):
    answer = post(api_client(performer), url(card, "transitions"), {"to": "in_progress"},
                  HTTP_IF_MATCH="*")  # fmt: skip
    assert answer.status_code == 200


def test_a_card_of_another_team_is_404_for_every_endpoint(api_client, outsider, card):
    client = api_client(outsider)
    for what in ("comments", "events", "timers"):
        assert client.get(url(card, what)).status_code == 404
    assert post(client, url(card, "transitions"), {"to": "in_progress"}).status_code == 404
    assert post(client, url(card, "comments"), {"text": "hi"}).status_code == 404
    assert client.get("/api/v1/cards/999999/events/").status_code == 404
    assert Task.objects.get(pk=card.pk).status == Status.ASSIGNED


def test_who_sees_but_may_not_move_the_card_gets_403(api_client, observer, other_performer, card):
    for user in (observer, other_performer):
        answer = post(api_client(user), url(card, "transitions"), {"to": "in_progress"})
        assert answer.status_code == 403, user
        assert "owner, performers, approver or team lead" in problem(answer)
    assert Task.objects.get(pk=card.pk).status == Status.ASSIGNED


def test_a_read_token_may_not_move_nor_comment(api_client, performer, card):
    client = api_client(performer, scope=ApiToken.Scope.READ)
    assert post(client, url(card, "transitions"), {"to": "in_progress"}).status_code == 403
    assert post(client, url(card, "comments"), {"text": "hi"}).status_code == 403
    assert client.get(url(card, "comments")).status_code == 200
    assert Task.objects.get(pk=card.pk).version == 1


def test_a_revoked_token_gets_401(api_client, performer, card):
    client = api_client(performer)
    tokens.revoke(token=client.token)
    assert post(client, url(card, "transitions"), {"to": "in_progress"}).status_code == 401
    assert client.get(url(card, "events")).status_code == 401


def test_comments_are_added_and_listed_oldest_first(api_client, performer, dispatcher, card):
    client = api_client(performer)
    first = post(client, url(card, "comments"), {"text": "  Called the client  "})
    assert first.status_code == 201, first.content
    assert first.json()["text"] == "Called the client"
    assert first.json()["author"] == {"id": performer.pk, "username": "paula",
                                      "name": "Paula Performer"}  # fmt: skip
    actions.add_comment(task=card, text="Thanks", actor=dispatcher)
    listed = client.get(url(card, "comments")).json()
    assert [c["text"] for c in listed["results"]] == ["Called the client", "Thanks"]
    assert card.events.filter(kind=TaskEvent.Kind.COMMENTED).count() == 2


@pytest.mark.parametrize("body", [{}, {"text": ""}, {"text": "   "}, {"text": "x" * 20_001}])
def test_an_empty_or_huge_comment_is_refused(api_client, performer, card, body):
    answer = post(api_client(performer), url(card, "comments"), body)
    # missing, blank once trimmed or too long: 400 (the schema says so); empty: 422
    assert answer.status_code == (422 if body.get("text") == "" else 400)
    assert "text" in problem(answer)
    assert not card.comments.exists()


def test_an_observer_reads_comments_but_may_not_comment(api_client, observer, card):
    client = api_client(observer)
    assert client.get(url(card, "comments")).status_code == 200
    assert post(client, url(card, "comments"), {"text": "hi"}).status_code == 403


def test_the_history_is_typed_and_paged_oldest_first(api_client, performer, card, customer):
    actions.change_status(task=card, to="in_progress", actor=performer)
    actions.change_status(task=card, to="waiting", actor=performer, blocking_reason=customer)
    client = api_client(performer)
    first = client.get(url(card, "events") + "?page_size=2").json()
    kinds = [e["kind"] for e in first["results"]]
    assert kinds == ["created", "status_changed"]
    moved = first["results"][1]
    assert (moved["field"], moved["old_value"], moved["new_value"]) == (
        "status", "assigned", "in_progress")  # fmt: skip
    assert moved["actor"]["username"] == "paula"
    rest = client.get(first["next"]).json()
    assert [(e["kind"], e["new_value"]) for e in rest["results"]] == [
        ("status_changed", "waiting"), ("blocking_reason_set", customer.pk)]  # fmt: skip
    assert rest["next"] is None


def test_reads_take_a_fixed_number_of_queries(
    api_client, performer, dispatcher, card, customer, django_assert_max_num_queries
):
    for n in range(30):
        actions.add_comment(task=card, text=f"Note {n}", actor=dispatcher if n % 2 else performer)
    client = api_client(performer)
    client.get(url(card, "events"))  # the token's last use is noted once a minute
    # The token, the card (with what its page reads), the user's roles, the page of events.
    with django_assert_max_num_queries(4):
        events = client.get(url(card, "events"))
    assert len(events.json()["results"]) == 31
    with django_assert_max_num_queries(4):
        comments = client.get(url(card, "comments"))
    assert len(comments.json()["results"]) == 30


def test_a_move_takes_a_bounded_number_of_queries(
    api_client, performer, card, django_assert_num_queries
):
    client = api_client(performer)
    client.get(url(card, "events"))
    # The permission, the lock, the save, the events, the SLA listener: as on the page. 23
    # before sync_timers ran without a savepoint and the webhook endpoints were kept with the
    # policies (sla.actions.active_settings).
    with django_assert_num_queries(17):
        assert post(client, url(card, "transitions"), {"to": "in_progress"}).status_code == 200


def test_a_card_made_elsewhere_is_moved_like_any_other(api_client, performer, request_type):
    card = make_task(actor=performer, owner=performer, request_type=request_type,
                     source="crm", external_ref="D-1")  # fmt: skip
    answer = post(api_client(performer), url(card, "transitions"), {"to": "done"})
    assert answer.status_code == 200
    assert Task.objects.get(source="crm", external_ref="D-1").status == Status.DONE


@pytest.mark.parametrize(
    ("what", "query", "name"),
    [("events", "?colour=red", "colour"), ("comments", "?page_size=1&page_size=2", "page_size"),
     ("events", "?page_size=0", "page_size"), ("events", "?page_size=201", "page_size"),
     ("comments", "?cursor=zz", "cursor"), ("timers", "?page=1", "page")],
)  # fmt: skip
def test_a_query_an_endpoint_does_not_take_is_400(api_client, performer, card, what, query, name):
    answer = api_client(performer).get(url(card, what) + query)
    # a cursor the server did not issue is well-formed but not processable: 422
    assert answer.status_code == (422 if name == "cursor" else 400)
    assert name in problem(answer)


def test_a_method_an_endpoint_does_not_have_is_405(api_client, performer, card):
    client = api_client(performer)
    assert client.get(url(card, "transitions")).status_code == 405
    assert client.delete(url(card, "comments") + "?x=1").status_code == 405
    assert client.generic("TRACE", url(card, "events")).status_code == 405


def test_the_schema_describes_these_endpoints_and_the_bearer_token(api_client, performer):
    schema = api_client(performer).get("/api/v1/schema/?format=json").json()
    assert schema["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    paths = schema["paths"]
    for path in ("/api/v1/cards/{id}/transitions/", "/api/v1/cards/{id}/comments/",
                 "/api/v1/cards/{id}/events/", "/api/v1/cards/{id}/timers/", "/api/v1/timers/",
                 "/api/v1/request-types/", "/api/v1/teams/", "/api/v1/blocking-reasons/",
                 "/api/v1/people/", "/api/v1/related-objects/"):  # fmt: skip
        assert path in paths, path
    move = paths["/api/v1/cards/{id}/transitions/"]["post"]
    assert {"200", "400", "403", "404", "409", "412"} <= set(move["responses"])
    (if_match,) = [p for p in move["parameters"] if p["name"] == "If-Match"]
    assert if_match["in"] == "header" and if_match["schema"]["pattern"]
    tracked = paths["/api/v1/related-objects/"]["post"]["responses"]
    assert {"200", "201"} <= set(tracked)


def test_a_comment_takes_a_bounded_number_of_queries(
    api_client, performer, card, django_assert_max_num_queries
):
    client = api_client(performer)
    client.get(url(card, "events"))
    # The token, the card, the permission, the lock, the comment, its event, the search vector.
    with django_assert_max_num_queries(9):
        assert post(client, url(card, "comments"), {"text": "Called"}).status_code == 201
