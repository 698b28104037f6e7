"""The type-ahead pickers' searches (tasks.pickers), the owner rule they offer
(tasks.permissions.people_who_may_own / may_own) and the owner fields that check it again."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from django.test import Client
from django.urls import reverse
from django.utils.html import escape

from tasks import actions
from tasks.forms import NOT_A_WORKER
from tasks.models import RelatedObject, Status
from tasks.permissions import may_own, people_who_may_own
from tasks.pickers import PICK_LIMIT
from tests.factories import (
    RelatedObjectFactory,
    RequestTypeFactory,
    UserFactory,
    WorkerFactory,
    make_task,
)

pytestmark = pytest.mark.django_db


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def pick(client: Client, name: str, **params):
    return client.get(f"{reverse(name)}?{urlencode(params)}")


def texts(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [row["text"] for row in response.json()["results"]]


@pytest.fixture
def admin(roles):
    return UserFactory(username="root", first_name="Ada", last_name="Admin", is_superuser=True)


@pytest.fixture
def sales_card(team, request_type, dispatcher, default_policy):
    return make_task(actor=dispatcher, request_type=request_type, title="Lead")


# The rule: the card's team's people who may work cards.


def test_people_who_may_own_a_card_are_its_teams_workers(
    team, manager, dispatcher, performer, other_performer, outsider, observer, admin, sales_card
):
    team.members.add(observer, WorkerFactory(username="gone", is_active=False))
    assert set(people_who_may_own(team)) == {manager, dispatcher, performer, other_performer}
    assert may_own(performer, sales_card) and may_own(manager, sales_card)
    # Another team's performer, an observer of the team, an admin of no team: not owners.
    assert not any(may_own(user, sales_card) for user in (outsider, observer, admin))
    # A card without a team: anyone who may work cards.
    assert {outsider, admin, performer} <= set(people_who_may_own(None))
    assert observer not in set(people_who_may_own(None))


# /pick/people/


def test_people_picker_for_a_cards_owner_offers_its_teams_workers_only(
    dispatcher, outsider, admin, observer, team, sales_card
):
    team.members.add(observer)
    response = pick(client_for(dispatcher), "pick_people", card=sales_card.pk, role="owner")
    assert texts(response) == [
        "Dan Dispatcher",
        "Maria Manager",
        "Paula Performer",
        "Pete Performer",
    ]
    assert response.json()["more"] is False
    # The role defaults to owner for a card; the search narrows by any word of the name.
    client = client_for(dispatcher)
    assert texts(pick(client, "pick_people", card=sales_card.pk, q="perf")) == [
        "Paula Performer",
        "Pete Performer",
    ]
    assert texts(pick(client, "pick_people", card=sales_card.pk, q="pete PERF")) == [
        "Pete Performer"
    ]
    assert texts(pick(client, "pick_people", card=sales_card.pk, q="otto")) == []


def test_people_picker_for_a_cards_performers_offers_whoever_may_work_cards(
    dispatcher, outsider, admin, observer, sales_card
):
    found = texts(pick(client_for(dispatcher), "pick_people", card=sales_card.pk, role="performer"))
    assert {"Otto Outsider", "Ada Admin", "Paula Performer"} <= set(found)
    assert "Olga Observer" not in found


def test_people_picker_without_a_card_offers_whom_the_viewer_may_see(
    dispatcher, performer, outsider, observer, team
):
    everyone = texts(pick(client_for(dispatcher), "pick_people"))
    assert {"Otto Outsider", "Olga Observer", "Paula Performer"} <= set(everyone)
    # A performer sees her own team's people, not Warehouse's.
    mine = texts(pick(client_for(performer), "pick_people"))
    assert mine == ["Dan Dispatcher", "Maria Manager", "Paula Performer", "Pete Performer"]
    # role=owner alone: who may own cards at all, among them.
    owners = texts(pick(client_for(dispatcher), "pick_people", role="owner"))
    assert "Otto Outsider" in owners and "Olga Observer" not in owners


def test_people_picker_is_capped_and_stable(dispatcher, team, sales_card):
    for n in range(PICK_LIMIT + 5):
        team.members.add(WorkerFactory(username=f"w{n:02}", first_name="Walt", last_name=f"{n:02}"))
    client = client_for(dispatcher)
    first = pick(client, "pick_people", card=sales_card.pk, q="walt")
    assert len(texts(first)) == PICK_LIMIT and first.json()["more"] is True
    assert texts(first) == [f"Walt {n:02}" for n in range(PICK_LIMIT)]
    assert texts(pick(client, "pick_people", card=sales_card.pk, q="walt")) == texts(first)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"card": "abc"}, "is not a card number"),
        ({"card": "-1"}, "is not a card number"),
        ({"card": "1.5"}, "is not a card number"),
        ({"card": "٣"}, "is not a card number"),
        ({"card": "9" * 40}, "is not a card number"),
        ({"role": "approver"}, "is not a role a picker offers people for: owner, performer"),
        ({"q": "x" * 101}, "longer than 100"),
        ({"q": "a\x00b"}, "NUL"),
    ],
)
def test_people_picker_refuses_bad_parameters(dispatcher, params, message):
    response = pick(client_for(dispatcher), "pick_people", **params)
    assert response.status_code == 400
    assert message in response.json()["error"]


def test_people_picker_of_a_card_the_viewer_may_not_see_is_a_404(outsider, sales_card):
    response = pick(client_for(outsider), "pick_people", card=sales_card.pk)
    assert response.status_code == 404
    assert response.json() == {"error": f"There is no card #{sales_card.pk} you may see."}
    assert pick(client_for(outsider), "pick_people", card=10**15).status_code == 404


def test_pickers_need_a_login(sales_card):
    for name in ("pick_people", "pick_related_objects", "pick_request_types"):
        response = pick(Client(), name, q="a")
        assert response.status_code == 302 and "/login/" in response["Location"]


def test_pickers_answer_get_only(dispatcher):
    assert client_for(dispatcher).post(reverse("pick_people")).status_code == 405


# /pick/related-objects/ and /pick/request-types/


def test_related_objects_picker_searches_name_reference_and_kind(dispatcher):
    acme = RelatedObjectFactory(kind=RelatedObject.Kind.CLIENT, name="Acme", external_ref="C-17")
    RelatedObjectFactory(kind=RelatedObject.Kind.ORDER, name="Acme order 5", parent=acme)
    RelatedObjectFactory(kind=RelatedObject.Kind.DOCUMENT, name="Contract", external_ref="D-9")
    client = client_for(dispatcher)
    assert texts(pick(client, "pick_related_objects", q="acme")) == [
        "Client: Acme (C-17)",
        "Order: Acme order 5",
    ]
    assert texts(pick(client, "pick_related_objects", q="d-9")) == ["Document: Contract (D-9)"]
    assert texts(pick(client, "pick_related_objects", q="client")) == ["Client: Acme (C-17)"]
    assert texts(pick(client, "pick_related_objects", q="acme", kind="order")) == [
        "Order: Acme order 5"
    ]
    bad = pick(client, "pick_related_objects", kind="planet")
    assert bad.status_code == 400 and "is not a kind of related object" in bad.json()["error"]


def test_request_types_picker_offers_active_types(dispatcher, request_type):
    RequestTypeFactory(name="Sales refund")
    RequestTypeFactory(name="Sales archive", active=False)
    client = client_for(dispatcher)
    assert texts(pick(client, "pick_request_types", q="sales")) == ["Sales lead", "Sales refund"]
    assert texts(pick(client, "pick_request_types", q="refund")) == ["Sales refund"]
    assert pick(client, "pick_request_types", q="y" * 500).status_code == 400


# Query counts: whatever the number of people or objects.


def test_pickers_query_counts(dispatcher, performer, team, sales_card, django_assert_num_queries):
    for n in range(30):
        team.members.add(WorkerFactory(username=f"q{n}"))
        RelatedObjectFactory(name=f"Object {n}")
        RequestTypeFactory(name=f"Type {n}")
    client = client_for(dispatcher)
    client.get(reverse("pick_request_types"))  # the session's first read
    # session, user, permissions (role_names), the card, the people.
    with django_assert_num_queries(5):
        assert pick(client, "pick_people", card=sales_card.pk, q="q").status_code == 200
    # session, user, the people (a dispatcher sees everyone: her groups read with the user).
    with django_assert_num_queries(4):
        assert pick(client, "pick_people", q="q").status_code == 200
    with django_assert_num_queries(3):
        assert pick(client, "pick_related_objects", q="object").status_code == 200
    with django_assert_num_queries(3):
        assert pick(client, "pick_request_types", q="type").status_code == 200
    performers = client_for(performer)
    performers.get(reverse("pick_request_types"))
    with django_assert_num_queries(4):  # session, user, permissions, the people of her teams
        assert pick(performers, "pick_people", q="q").status_code == 200


# The owner fields: the card's team's people only.


def test_card_page_offers_and_accepts_only_the_teams_owners(
    dispatcher, performer, outsider, observer, admin, sales_card
):
    client = client_for(dispatcher)
    page = client.get(reverse("task_detail", args=[sales_card.pk])).content.decode()
    owner_select = page.split('name="owner"', 1)[1].split("</select>", 1)[0]
    assert "Paula Performer" in owner_select
    assert "Otto Outsider" not in owner_select and "Ada Admin" not in owner_select
    assert f'data-picker="people" data-card="{sales_card.pk}" data-role="owner"' in page
    assert f'data-picker="people" data-card="{sales_card.pk}" data-role="performer"' in page
    url = reverse("task_assign", args=[sales_card.pk])

    def assign(owner) -> str:
        response = client.post(url, {"owner": owner.pk, "version": sales_card.version})
        assert response.status_code == 400
        sales_card.refresh_from_db()
        assert sales_card.owner is None
        return response.content.decode()

    assert "Otto Outsider is not in Sales" in assign(outsider)
    assert "Ada Admin is not in Sales" in assign(admin)
    assert NOT_A_WORKER in assign(observer)
    done = client.post(url, {"owner": performer.pk, "version": sales_card.version})
    assert done.status_code == 302
    sales_card.refresh_from_db()
    assert (sales_card.owner, sales_card.status) == (performer, Status.ASSIGNED)


def test_the_owner_field_and_the_action_refuse_in_the_same_words(dispatcher, outsider, sales_card):
    words = actions.NOT_OF_THE_TEAM.format(name="Otto Outsider", team="Sales")
    url = reverse("task_assign", args=[sales_card.pk])
    refused = client_for(dispatcher).post(url, {"owner": outsider.pk,
                                                "version": sales_card.version})  # fmt: skip
    assert refused.status_code == 400 and escape(words) in refused.content.decode()
    with pytest.raises(actions.WorkflowError) as error:
        actions.assign_owner(task=sales_card, owner=outsider, actor=dispatcher)
    assert str(error.value) == words


def test_dispatch_board_offers_each_card_its_teams_people(
    dispatcher, performer, outsider, admin, request_type, sales_card, default_policy
):
    warehouse = outsider.teams.get()
    warehouse_type = RequestTypeFactory(name="Stock check", default_team=warehouse)
    stock = make_task(actor=admin, request_type=warehouse_type, title="Stock")
    teamless = make_task(actor=admin, request_type=RequestTypeFactory(name="Misc"), title="Misc")
    html = client_for(admin).get(reverse("dispatch")).content.decode()

    def row(card) -> str:
        return html.split(f'id="dispatch-row-{card.pk}"', 1)[1].split("</tr>", 1)[0]

    assert "Paula Performer" in row(sales_card) and "Otto Outsider" not in row(sales_card)
    assert "Otto Outsider" in row(stock) and "Paula Performer" not in row(stock)
    assert "Ada Admin" not in row(sales_card) + row(stock)
    # A card without a team: anyone who may work cards.
    assert all(name in row(teamless) for name in ("Otto Outsider", "Paula Performer", "Ada Admin"))


def test_dispatch_assignment_refuses_another_teams_worker(
    dispatcher, performer, outsider, sales_card
):
    url = reverse("dispatch_assign", args=[sales_card.pk])
    client = client_for(dispatcher)
    refused = client.post(
        url, {"owner": outsider.pk, "version": sales_card.version}, HTTP_HX_REQUEST="true"
    )
    assert refused.status_code == 400
    assert "Otto Outsider is not in Sales: choose one of Sales" in refused.content.decode()
    sales_card.refresh_from_db()
    assert sales_card.owner is None
    done = client.post(
        url, {"owner": performer.pk, "version": sales_card.version}, HTTP_HX_REQUEST="true"
    )
    assert done.status_code == 200 and "Assigned to Paula Performer" in done.content.decode()


def test_new_card_form_refuses_an_owner_of_another_team_and_offers_pickers(
    dispatcher, performer, outsider, request_type, default_policy
):
    client = client_for(dispatcher)
    page = client.get(reverse("task_create")).content.decode()
    assert 'data-picker="request-types"' in page and 'data-picker="related-objects"' in page
    assert 'data-picker="people"' in page and "Nobody (to dispatch)" in page
    data = {"title": "Lead", "request_type": request_type.pk, "priority": "normal"}
    refused = client.post(reverse("task_create"), {**data, "owner": outsider.pk})
    assert refused.status_code == 400
    assert "Otto Outsider is not in Sales" in refused.content.decode()
    # Warehouse's card may be Otto's, and a Sales card Paula's.
    warehouse = outsider.teams.get()
    made = client.post(reverse("task_create"), {**data, "owner": outsider.pk, "team": warehouse.pk})
    assert made.status_code == 302
    assert client.post(reverse("task_create"), {**data, "owner": performer.pk}).status_code == 302


def test_a_card_handed_to_another_team_keeps_its_owner_in_the_owner_field(
    dispatcher, admin, performer, outsider, sales_card
):
    """The action keeps an owner left as she is when her card moves to another team; the card
    page's owner field offers her and accepts her unchanged, and no other outsider."""
    actions.assign_owner(task=sales_card, owner=performer, actor=dispatcher)
    actions.change_team(task=sales_card, team=outsider.teams.get(), actor=dispatcher)
    sales_card.refresh_from_db()
    client = client_for(admin)  # may assign cards of every team
    page = client.get(reverse("task_detail", args=[sales_card.pk])).content.decode()
    owner_select = page.split('name="owner"', 1)[1].split("</select>", 1)[0]
    assert "Paula Performer" in owner_select and "Otto Outsider" in owner_select
    url = reverse("task_assign", args=[sales_card.pk])
    kept = client.post(url, {"owner": performer.pk, "version": sales_card.version})
    assert kept.status_code == 302
    sales_card.refresh_from_db()
    assert (sales_card.owner, sales_card.team) == (performer, outsider.teams.get())
