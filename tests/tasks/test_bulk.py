"""Bulk actions (issue 15): assign, priority and simple moves on many cards, each through
`tasks.actions`, with per-card permission and version checks and a summary."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tasks.actions import NOT_OF_THE_TEAM
from tasks.bulk import MAX_CARDS, BadBulkRequest, apply_bulk, parse_cards
from tasks.models import Priority, Status, Task
from tests.factories import RequestTypeFactory, TeamFactory, make_task

pytestmark = pytest.mark.django_db


@pytest.fixture
def cards(world, default_policy):
    return [
        make_task(actor=world["dispatcher"], request_type=world["request_type"], title=f"C{i}")
        for i in range(3)
    ]


def refs(tasks):
    return [(t.pk, t.version) for t in tasks]


def test_assign_owner_to_each_card(world, cards):
    result = apply_bulk(world["dispatcher"], refs(cards), "assign", str(world["performer"].pk))
    assert result.done == [c.pk for c in cards] and result.refused == []
    assert {t.owner_id for t in Task.objects.filter(pk__in=result.done)} == {world["performer"].pk}


def test_assigning_another_teams_person_refuses_the_cards_of_other_teams_only(
    world, cards, outsider
):
    loose = make_task(actor=world["dispatcher"], request_type=RequestTypeFactory(name="Loose"))
    result = apply_bulk(world["dispatcher"], refs([cards[0], loose]), "assign", str(outsider.pk))
    assert result.done == [loose.pk]
    assert result.refused == [(cards[0].pk, NOT_OF_THE_TEAM.format(name="Otto Outsider",
                                                                   team="Sales"))]  # fmt: skip
    assert "1 refused: #" in result.summary()
    assert Task.objects.get(pk=cards[0].pk).owner is None
    assert Task.objects.get(pk=loose.pk).owner == outsider


def test_set_priority(world, cards):
    result = apply_bulk(world["dispatcher"], refs(cards), "priority", Priority.HIGH)
    assert len(result.done) == 3
    assert set(Task.objects.values_list("priority", flat=True)) == {Priority.HIGH}


def test_move_cancel_and_stale_and_forged(world, cards):
    cards[0].title = "x"
    stale = [(cards[0].pk, cards[0].version - 1)]  # an older version than the card's
    result = apply_bulk(
        world["dispatcher"], stale + refs(cards[1:]) + [(999999, 1)], "move", "cancel"
    )
    assert result.done == [cards[1].pk, cards[2].pk]
    assert dict(result.refused) == {cards[0].pk: "changed meanwhile", 999999: "not found"}
    assert Task.objects.get(pk=cards[1].pk).status == Status.CANCELLED
    assert "2 refused" in result.summary()


def test_not_allowed_and_invisible(world, default_policy, card):
    legal = TeamFactory(name="Legal")
    other = make_task(
        actor=world["manager"],
        request_type=RequestTypeFactory(name="Contract", default_team=legal),
    )
    result = apply_bulk(world["performer"], refs([card, other]), "priority", Priority.HIGH)
    assert result.done == []
    assert dict(result.refused)[card.pk] == "not allowed"
    assert dict(result.refused)[other.pk] in {"not found", "not allowed"}
    assert Task.objects.get(pk=card.pk).priority == Priority.NORMAL


def test_parse_and_bad_values(world, cards):
    assert parse_cards(["3:1", "3:2", "4:1"]) == [(3, 1), (4, 1)]
    for bad in ([], ["x"], ["3"], ["3:a"], [f"{i}:1" for i in range(MAX_CARDS + 1)]):
        with pytest.raises(BadBulkRequest):
            parse_cards(bad)
    for action, value in (("assign", str(world["observer"].pk)), ("priority", "urgent!"),
                          ("move", "approve"), ("move", "wait"), ("explode", "1")):  # fmt: skip
        with pytest.raises(BadBulkRequest):
            apply_bulk(world["dispatcher"], refs(cards), action, value)


def test_no_js_post_redirects_with_summary(client, world, cards):
    client.force_login(world["dispatcher"])
    data = {
        "action": "assign",
        "assign": world["performer"].pk,
        "card": [f"{c.pk}:{c.version}" for c in cards],
        "next": "/cards/?status=new",
    }
    response = client.post(reverse("task_bulk"), data, follow=True)
    assert response.redirect_chain[-1][0] == "/cards/?status=new"
    text = response.content.decode()
    assert "Assigned to" in text and "3 cards" in text


def test_htmx_post_redirects(client, world, cards):
    client.force_login(world["dispatcher"])
    data = {"action": "move", "move": "take", "card": [f"{cards[0].pk}:{cards[0].version}"]}
    response = client.post(reverse("task_bulk"), data, headers={"HX-Request": "true"})
    assert response.status_code == 204 and response["HX-Redirect"] == "/cards/"


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"action": "assign", "assign": "abc", "card": ["1:1"]},
        {"action": "nope", "card": ["1:1"]},
        {"action": "priority", "priority": "high", "card": ["1;1"]},
        {"action": "priority", "priority": "high", "card": [f"{i}:1" for i in range(201)]},
    ],
)
def test_bad_input_is_400(client, world, data):
    client.force_login(world["dispatcher"])
    response = client.post(reverse("task_bulk"), data)
    assert response.status_code == 400 and response.content


def test_login_required_and_get_refused(client, world):
    assert client.post(reverse("task_bulk"), {}).status_code == 302
    client.force_login(world["dispatcher"])
    assert client.get(reverse("task_bulk")).status_code == 405


def test_queries_grow_linearly(client, world, default_policy):
    """Per card: permission, row lock, save, events and the SLA listener: a fixed number of
    queries per card (20 for a priority change, measured: one of them reads the active
    outgoing webhook endpoints, sla.webhooks), plus a fixed overhead of 4 (session,
    user, owner check, the visible cards in one query)."""
    client.force_login(world["dispatcher"])

    def count(n):
        tasks = [
            make_task(actor=world["dispatcher"], request_type=world["request_type"])
            for _ in range(n)
        ]
        data = {"action": "priority", "priority": Priority.HIGH,
                "card": [f"{t.pk}:{t.version}" for t in tasks]}  # fmt: skip
        with CaptureQueriesContext(connection) as ctx:
            assert client.post(reverse("task_bulk"), data).status_code == 302
        return len(ctx.captured_queries)

    one, three, five = count(1), count(3), count(5)
    per_card = (five - three) // 2
    assert five - three == three - one  # linear
    assert per_card <= 20, per_card  # measured: 1 card 24, 3 cards 64, 5 cards 104
    assert one - per_card <= 4  # fixed: session, user, owner check, the visible cards


def test_card_list_offers_the_bulk_bar(client, world, cards):
    client.force_login(world["dispatcher"])
    text = client.get(reverse("task_list")).content.decode()
    assert f'aria-label="Select #{cards[0].pk}"' in text
    assert f'value="{cards[0].pk}:{cards[0].version}"' in text
    assert 'aria-label="Select all on this page"' in text
    assert 'action="/cards/bulk/"' in text


def test_dispatch_board_offers_the_bulk_bar(client, world, cards):
    client.force_login(world["dispatcher"])
    text = client.get(reverse("dispatch")).content.decode()
    assert f'aria-label="Select #{cards[0].pk}"' in text
    assert "Select all on this page" in text and 'action="/cards/bulk/"' in text


def test_the_card_list_offers_no_bulk_bar_to_whoever_may_not_assign(observer, performer):
    from django.test import Client
    from django.urls import reverse

    for user in (observer, performer):
        client = Client()
        client.force_login(user)
        html = client.get(reverse("task_list")).content.decode()
        assert 'id="bulk"' not in html and "Select all on this page" not in html
