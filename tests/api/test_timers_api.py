"""Timers over the API: a card's timers with the explanation of each deadline, and the
at-risk queue as data, in the page's order, of the cards the caller may see."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from sla.models import SlaTimer, TimerKind
from sla.queries import with_risk
from tasks import actions
from tasks.models import Priority
from tests.factories import UserFactory, make_task

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
M = timedelta(minutes=1)


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False):
        yield


def test_a_cards_timers_say_their_deadline_and_why(api_client, performer, card, clock):
    answer = api_client(performer).get(f"/api/v1/cards/{card.pk}/timers/")
    assert answer.status_code == 200
    timers = {t["kind"]: t for t in answer.json()}
    assert set(timers) == {"response", "resolution"}
    response = timers["response"]
    assert response["state"] == "running" and not response["paused"]
    assert response["target_seconds"] == 3600
    assert response["used_seconds"] == 0 and response["remaining_seconds"] == 3600
    timer = SlaTimer.objects.get(task=card, kind=TimerKind.RESPONSE)
    assert datetime.fromisoformat(response["due_at"]) == timer.due_at
    assert response["warn_at"] is not None
    assert response["explanation"]["calendar"].startswith("24/7: open 24/7")
    assert response["explanation"]["policy"] == "Default"
    assert response["explanation"]["pauses"] == []


def test_a_pause_shows_with_its_reason(api_client, performer, card, customer):
    start = NOW - 30 * M
    with time_machine.travel(start, tick=False):
        card = make_task(actor=performer, owner=performer, request_type=card.request_type)
    with time_machine.travel(start + 10 * M, tick=False):
        actions.change_status(task=card, to="in_progress", actor=performer)
        actions.change_status(task=card, to="waiting", actor=performer, blocking_reason=customer)
    with time_machine.travel(NOW, tick=False):
        timers = api_client(performer).get(f"/api/v1/cards/{card.pk}/timers/").json()
    resolution = next(t for t in timers if t["kind"] == "resolution")
    assert resolution["paused"] and resolution["due_at"] is None
    assert resolution["used_seconds"] == 600
    (pause,) = resolution["explanation"]["pauses"]
    assert pause["blocking_reason"] == "Waiting for customer" and pause["ended_at"] is None


def _queue_world(dispatcher, performer, request_type, customer):
    """Cards made at different times before NOW: breached, at risk, running and paused."""
    cards = {}
    for name, minutes_ago in (("late", 120), ("later", 90), ("close", 50), ("fresh", 5),
                              ("fresh2", 20)):  # fmt: skip
        with time_machine.travel(NOW - minutes_ago * M, tick=False):
            cards[name] = make_task(actor=dispatcher, owner=performer, title=name,
                                    request_type=request_type, priority=Priority.HIGH)  # fmt: skip
    with time_machine.travel(NOW - 10 * M, tick=False):
        actions.change_status(task=cards["fresh2"], to="waiting", actor=performer,
                              blocking_reason=customer)  # fmt: skip
    return cards


def test_the_queue_is_in_the_pages_order(
    api_client, manager, dispatcher, performer, request_type, customer, default_policy
):
    _queue_world(dispatcher, performer, request_type, customer)
    with time_machine.travel(NOW, tick=False):
        answer = api_client(manager).get("/api/v1/timers/")
        ranked = list(with_risk(SlaTimer.objects.all(), NOW).values_list("pk", flat=True))
    assert answer.status_code == 200
    body = answer.json()
    assert [row["id"] for row in body["results"]] == ranked
    assert body["count"] == len(ranked) == 10
    states = [row["state"] for row in body["results"]]
    assert states == sorted(states, key=["breached", "at_risk", "running", "paused"].index)
    assert body["counts"] == {"breached": 2, "at_risk": 1, "running": 5, "paused": 2}
    assert body["results"][0]["card"]["title"] == "late"
    assert body["results"][0]["owner"]["username"] == "paula"


@pytest.mark.parametrize(
    ("state", "titles"),
    [("breached", {"late", "later"}), ("at_risk", {"close"}), ("paused", {"fresh2"})],
)
def test_the_queue_by_state(
    api_client, manager, dispatcher, performer, request_type, customer, default_policy,
    state, titles,
):  # fmt: skip
    _queue_world(dispatcher, performer, request_type, customer)
    with time_machine.travel(NOW, tick=False):
        rows = api_client(manager).get(f"/api/v1/timers/?state={state}").json()["results"]
    assert {row["card"]["title"] for row in rows} == titles
    assert {row["state"] for row in rows} == {state}


def test_the_queue_is_paged_by_number(
    api_client, manager, dispatcher, performer, request_type, customer, default_policy
):
    _queue_world(dispatcher, performer, request_type, customer)
    client = api_client(manager)
    with time_machine.travel(NOW, tick=False):
        whole = [r["id"] for r in client.get("/api/v1/timers/").json()["results"]]
        first = client.get("/api/v1/timers/?page_size=4").json()
        second = client.get(first["next"]).json()
        last = client.get("/api/v1/timers/?page_size=4&page=3").json()
    assert first["previous"] is None
    assert [r["id"] for r in first["results"] + second["results"] + last["results"]] == whole
    assert second["previous"] and "page=" not in second["previous"]
    assert last["next"] is None and len(last["results"]) == 2


def test_the_queue_shows_only_the_cards_one_may_see(
    api_client, outsider, manager, dispatcher, performer, request_type, customer, default_policy
):
    _queue_world(dispatcher, performer, request_type, customer)
    warehouse_type = request_type.__class__.objects.create(name="Stock")
    with time_machine.travel(NOW - 100 * M, tick=False):
        mine = make_task(actor=outsider, owner=outsider, request_type=warehouse_type)
    with time_machine.travel(NOW, tick=False):
        rows = api_client(outsider).get("/api/v1/timers/").json()["results"]
    assert {row["card"]["id"] for row in rows} == {mine.pk}


def test_without_the_right_to_see_timers_the_queue_is_403(api_client, db):
    assert api_client(UserFactory(username="norole")).get("/api/v1/timers/").status_code == 403


@pytest.mark.parametrize(
    "query",
    ["state=late", "state=", "kind=", "team=", "kind=approval", "colour=red", "page=0",
     "page=x", "page_size=201", "page_size=0", "team=abc", "owner=-1", "priority=urgent",
     "state=breached&state=paused"],
)  # fmt: skip
def test_a_query_the_queue_does_not_understand_is_400(api_client, manager, query):
    answer = api_client(manager).get(f"/api/v1/timers/?{query}")
    assert answer.status_code == 400, answer.content


def test_a_page_past_the_end_is_empty(api_client, manager, card):
    body = api_client(manager).get("/api/v1/timers/?page=9").json()
    assert body["results"] == [] and body["count"] == 2 and body["next"] is None


def test_the_queue_and_card_timers_take_a_fixed_number_of_queries(
    api_client, manager, dispatcher, performer, request_type, customer, default_policy,
    django_assert_max_num_queries,
):  # fmt: skip
    cards = _queue_world(dispatcher, performer, request_type, customer)
    for n in range(20):
        with time_machine.travel(NOW - n * M, tick=False):
            make_task(actor=dispatcher, owner=performer, request_type=request_type)
    client = api_client(manager)
    with time_machine.travel(NOW, tick=False):
        client.get("/api/v1/timers/")
        with django_assert_max_num_queries(4):  # token, permissions, counts, the page
            rows = client.get("/api/v1/timers/").json()["results"]
        assert len(rows) == 50
        with django_assert_max_num_queries(8):  # as the card page's timers block
            client.get(f"/api/v1/cards/{cards['fresh2'].pk}/timers/")
