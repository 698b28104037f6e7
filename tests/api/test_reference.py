"""Reference data over the API: lists with filters, paged; related objects found or made by
kind + external reference (upsert), through `tasks.actions.track_related_object`."""

import json

import pytest

from tasks import actions
from tasks.api import tokens
from tasks.models import ApiToken, RelatedObject
from tests.api.conftest import problem
from tests.factories import BlockingReasonFactory, RelatedObjectFactory, RequestTypeFactory

pytestmark = pytest.mark.django_db

RELATED = "/api/v1/related-objects/"


def post(client, path, body):
    return client.post(path, json.dumps(body), content_type="application/json")


def names(answer):
    assert answer.status_code == 200, answer.content
    return [row["username"] if "username" in row else row["name"]
            for row in answer.json()["results"]]  # fmt: skip


def test_request_types_by_name_with_filters(api_client, performer, request_type, team):
    RequestTypeFactory(name="Contract review")
    RequestTypeFactory(name="Old type", active=False)
    client = api_client(performer)
    assert names(client.get("/api/v1/request-types/")) == ["Contract review", "Old type",
                                                           "Sales lead"]  # fmt: skip
    assert names(client.get("/api/v1/request-types/?active=true")) == ["Contract review",
                                                                       "Sales lead"]  # fmt: skip
    assert names(client.get("/api/v1/request-types/?q=sales")) == ["Sales lead"]
    row = client.get(f"/api/v1/request-types/?default_team={team.pk}").json()["results"][0]
    assert row == {"id": request_type.pk, "name": "Sales lead", "description": "",
                   "default_team": team.pk, "active": True,
                   "approved_status": "in_progress"}  # fmt: skip


def test_teams_and_blocking_reasons(api_client, performer, team, outsider):
    BlockingReasonFactory(name="Waiting for customer")
    BlockingReasonFactory(name="Needs a decision", pauses_sla=False)
    client = api_client(performer)
    assert names(client.get("/api/v1/teams/")) == ["Sales", "Warehouse"]
    assert names(client.get("/api/v1/blocking-reasons/?pauses_sla=false")) == ["Needs a decision"]


def test_people_by_team_and_who_may_work(api_client, performer, team, observer, outsider):
    client = api_client(performer)
    assert names(client.get(f"/api/v1/people/?team={team.pk}")) == ["dan", "maria", "paula",
                                                                     "pete"]  # fmt: skip
    assert "olga" not in names(client.get("/api/v1/people/?may_work=true"))
    assert names(client.get("/api/v1/people/?may_work=false")) == ["olga"]
    assert names(client.get("/api/v1/people/?q=outs")) == ["otto"]


def test_reference_lists_are_paged_with_a_cursor(api_client, performer):
    for n in range(7):
        BlockingReasonFactory(name=f"Reason {n}")
    client = api_client(performer)
    first = client.get("/api/v1/blocking-reasons/?page_size=5").json()
    rest = client.get(first["next"]).json()
    got = [r["name"] for r in first["results"] + rest["results"]]
    assert got == [f"Reason {n}" for n in range(7)] and rest["next"] is None


@pytest.mark.parametrize(
    ("query", "status"),
    [("/api/v1/request-types/?active=maybe", 400), ("/api/v1/people/?team=abc", 400),
     ("/api/v1/people/?may_work=1x", 400), ("/api/v1/related-objects/?kind=planet", 400),
     ("/api/v1/teams/?q=" + "x" * 101, 400), ("/api/v1/teams/?q=a%00b", 422),
     ("/api/v1/blocking-reasons/?cursor=zz", 422), ("/api/v1/teams/?colour=red", 400),
     ("/api/v1/teams/?q=a&q=b", 400), ("/api/v1/request-types/?default_team=-1", 400),
     ("/api/v1/request-types/?active=", 400), ("/api/v1/related-objects/?kind=", 400),
     ("/api/v1/related-objects/?external_ref=&q=", 200),
     # An id that names nothing filters everything out.
     ("/api/v1/request-types/?default_team=99999", 200), ("/api/v1/people/?team=99999", 200)],
)  # fmt: skip
def test_a_filter_that_is_not_understood_is_400(api_client, performer, query, status):
    answer = api_client(performer).get(query)
    assert answer.status_code == status, answer.content
    if status == 200 and "99999" in query:
        assert answer.json()["results"] == []


def test_related_objects_by_kind_and_reference(api_client, performer):
    acme = RelatedObjectFactory(name="ACME", external_ref="C-1")
    RelatedObjectFactory(name="Order 7", kind=RelatedObject.Kind.ORDER, parent=acme)
    client = api_client(performer)
    assert names(client.get("/api/v1/related-objects/?kind=client&external_ref=C-1")) == ["ACME"]
    assert names(client.get(f"/api/v1/related-objects/?parent={acme.pk}")) == ["Order 7"]


def test_posting_a_related_object_twice_makes_one(api_client, performer):
    client = api_client(performer)
    body = {
        "kind": "client",
        "external_ref": "crm-42",
        "name": "ACME",
        "url": "https://crm.example.com/42",
    }
    made = post(client, RELATED, body)
    assert made.status_code == 201, made.content
    again = post(client, RELATED, {**body, "name": "ACME Corp"})
    assert again.status_code == 200
    assert again.json() == made.json()
    assert again.json()["name"] == "ACME"  # an existing one keeps its name
    only = RelatedObject.objects.get(kind="client", external_ref="crm-42")
    assert only.pk == made.json()["id"] and only.root_id == only.pk
    # The same reference of another kind is another object.
    assert post(client, RELATED, {**body, "kind": "deal"}).status_code == 201


def test_an_existing_object_is_found_without_a_name(api_client, performer):
    RelatedObjectFactory(name="ACME", external_ref="C-1")
    answer = post(api_client(performer), RELATED, {"kind": "client", "external_ref": "C-1"})
    assert answer.status_code == 200 and answer.json()["name"] == "ACME"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"kind": "client", "external_ref": "new"}, "needs a name"),
        ({"kind": "planet", "external_ref": "x", "name": "n"}, "kind"),
        ({"kind": "client", "external_ref": "", "name": "n"}, "external_ref"),
        ({"kind": "client", "external_ref": "a\nb", "name": "n"}, "single line"),
        ({"kind": "client", "external_ref": "   ", "name": "n"}, "not blank"),
        ({"kind": "client", "external_ref": 42, "name": "n"}, "string"),
        ({"kind": "client", "external_ref": "x", "name": "n", "parent": "1"}, "parent"),
        ({"kind": "client", "external_ref": "x" * 101, "name": "n"}, "external_ref"),
        ({"kind": "client", "external_ref": "x", "name": "n", "url": "not a url"}, "url"),
        ({"kind": "client", "external_ref": "x", "name": "n", "parent": 999999}, "parent"),
    ],
)
def test_bad_related_objects_are_refused(api_client, performer, body, message):
    answer = post(api_client(performer), RELATED, body)
    # 400 where the schema says what is wrong; 422 for a blank reference, a parent that
    # does not exist or a new one without a name (well-formed, cannot be: SCHEMA_CODES)
    semantic = body["external_ref"] == "" or body.get("parent") == 999999 or "name" not in body
    expected = 422 if semantic else 400
    assert answer.status_code == expected, answer.content
    assert message in problem(answer)
    assert not RelatedObject.objects.exists()


def test_making_related_objects_needs_write_scope_and_the_right_to_create_cards(
    api_client, performer, observer
):
    body = {"kind": "client", "external_ref": "x", "name": "n"}
    assert post(api_client(performer, scope=ApiToken.Scope.READ), RELATED, body).status_code == 403
    assert post(api_client(observer), RELATED, body).status_code == 403
    revoked = api_client(performer)
    tokens.revoke(token=revoked.token)
    assert post(revoked, RELATED, body).status_code == 401
    assert not RelatedObject.objects.exists()


def test_the_action_hands_back_the_existing_object():
    first, made = actions.track_related_object(kind="client", external_ref="R", name="A")
    again, made_again = actions.track_related_object(kind="client", external_ref=" R ", name="B")
    assert (made, made_again) == (True, False) and again == first


def test_reference_lists_take_a_fixed_number_of_queries(
    api_client, performer, team, django_assert_max_num_queries
):
    parent = RelatedObjectFactory(name="ACME")
    for n in range(40):
        RelatedObjectFactory(name=f"Site {n}", kind="site", parent=parent)
        RequestTypeFactory(name=f"Type {n}")
    client = api_client(performer)
    client.get("/api/v1/teams/")
    for path in ("related-objects", "request-types", "teams", "blocking-reasons", "people"):
        with django_assert_max_num_queries(2):
            assert client.get(f"/api/v1/{path}/").status_code == 200


def test_finding_or_making_a_related_object_takes_a_few_queries(
    api_client, performer, django_assert_max_num_queries
):
    client = api_client(performer)
    client.get("/api/v1/teams/")
    body = {"kind": "client", "external_ref": "crm-1", "name": "ACME"}
    with django_assert_max_num_queries(10):
        assert post(client, RELATED, body).status_code == 201
    with django_assert_max_num_queries(5):
        assert post(client, RELATED, body).status_code == 200
